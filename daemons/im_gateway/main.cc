// im-gateway: the gateway half of the split deployment. Holds the clients' WebSocket and REST
// connections (the same im::beast transport as imd), registers routes in Redis, publishes sends
// to im-upstream, delivers im-downstream-<gateway_id>, and calls im-logic over gRPC for
// everything else. docs/deploy.md.
#include <cstdio>

#include "common/readiness_probe.h"
#include "common/services.h"
#include "im/engine.h"
#include "im/gateway.h"
#include "im/remote_logic.h"

namespace {

const im::GatewayOptions kDefaults;

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string admin_listen;  // empty: /metrics stays on the public port
  std::string gateway_id;
  std::vector<std::string> logic_addresses;
  int64_t send_timeout_ms = 10'000;
  int64_t presence_ttl_seconds = 120;
  std::string web_root, tls_certificate_file, tls_private_key_file;
  std::vector<std::string> allowed_origins;
  int max_frame_bytes = 128 * 1024;
  int max_queued_frames = 1024;
  int max_queued_bytes = 4 * 1024 * 1024;
  int idle_timeout_seconds = 60;
  int network_threads = 0;
  int worker_threads = 32;
  int max_pending_requests = 8192;
  int connection_frames_per_second = 50;
  int user_frames_per_second = 100;
  // Abuse limits, with the defaults of im::GatewayOptions (include/im/gateway.h).
  int auth_requests_per_minute_per_ip = static_cast<int>(kDefaults.auth_requests_per_minute_per_ip);
  int auth_burst_per_ip = static_cast<int>(kDefaults.auth_burst_per_ip);
  int login_failures_per_minute_per_account = static_cast<int>(kDefaults.login_failures_per_minute_per_account);
  int login_failure_burst_per_account = static_cast<int>(kDefaults.login_failure_burst_per_account);
  int auth_threads = kDefaults.auth_threads;
  int max_queued_auth_requests = static_cast<int>(kDefaults.max_queued_auth_requests);
  int max_connections = static_cast<int>(kDefaults.max_connections);
  int max_connections_per_ip = static_cast<int>(kDefaults.max_connections_per_ip);
  std::vector<std::string> trusted_proxies;
  im::daemon::KafkaSettings kafka;
  im::daemon::RedisSettings redis;
  im::LogLevel log_level = im::LogLevel::kInfo;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "im-gateway";
  im::daemon::MakeFilesPrivate();
  im::daemon::BlockStopSignals();
  Config c;
  im::daemon::Settings s(program, "IM_GATEWAY");
  s.Address("listen", &c.listen, "HTTP and WebSocket address (port 0: any free port)");
  s.Address("admin_listen", &c.admin_listen,
            "HTTP /healthz, /readyz, /metrics on their own address; then /metrics leaves the public port (default: off)");
  s.RequiredString("gateway_id", &c.gateway_id, "unique per gateway: its downstream topic is im-downstream-<id>");
  s.List("logic.addresses", &c.logic_addresses, "im-logic servers, host:port,… (required)");
  s.Int("send_timeout_ms", &c.send_timeout_ms, 100, 600'000, "a send with no ack from im-logic fails after this");
  s.Int("presence_ttl_seconds", &c.presence_ttl_seconds, 1, 3600, "route lifetime without heartbeat");
  s.String("web_root", &c.web_root, "serve the web page from this directory instead of the built-in copy");
  s.String("tls_certificate_file", &c.tls_certificate_file, "PEM chain: serve https and wss");
  s.String("tls_private_key_file", &c.tls_private_key_file, "PEM key for the certificate");
  s.List("allowed_origins", &c.allowed_origins, "browser origins allowed to connect (empty: any)");
  s.Int("limits.max_frame_bytes", &c.max_frame_bytes, 1024, 16 << 20, "larger WebSocket frames close with 1009");
  s.Int("limits.max_queued_frames", &c.max_queued_frames, 16, 1 << 20, "per session; a slower consumer is closed");
  s.Int("limits.max_queued_bytes", &c.max_queued_bytes, 64 * 1024, 1 << 30,
        "per session, bytes not yet written; a slower consumer is closed");
  s.Int("limits.idle_timeout_seconds", &c.idle_timeout_seconds, 2, 3600, "heartbeat: silent peers are closed");
  s.Int("limits.network_threads", &c.network_threads, 0, 64, "socket threads (0: one per CPU of the affinity mask)");
  s.Int("limits.worker_threads", &c.worker_threads, 1, 1024, "threads for blocking im-logic calls");
  s.Int("limits.max_pending_requests", &c.max_pending_requests, 1, 1 << 24, "beyond it: unavailable");
  s.Int("limits.connection_frames_per_second", &c.connection_frames_per_second, 1, 1'000'000, "per connection");
  s.Int("limits.user_frames_per_second", &c.user_frames_per_second, 1, 1'000'000, "per user on this gateway");
  s.Int("limits.auth_requests_per_minute_per_ip", &c.auth_requests_per_minute_per_ip, 0, 1'000'000,
        "register/login/refresh per client address (0: off)");
  s.Int("limits.auth_burst_per_ip", &c.auth_burst_per_ip, 0, 1'000'000, "burst of the above");
  s.Int("limits.login_failures_per_minute_per_account", &c.login_failures_per_minute_per_account, 0, 1'000'000,
        "failed logins per account once its burst is spent (0: off)");
  s.Int("limits.login_failure_burst_per_account", &c.login_failure_burst_per_account, 0, 1'000'000,
        "failed logins per account before it is throttled");
  s.Int("limits.auth_threads", &c.auth_threads, 1, 256, "threads for the auth routes (im-logic calls)");
  s.Int("limits.max_queued_auth_requests", &c.max_queued_auth_requests, 0, 1 << 24, "beyond it: 503");
  s.Int("limits.max_connections", &c.max_connections, 0, 1 << 24, "open connections (0: from RLIMIT_NOFILE)");
  s.Int("limits.max_connections_per_ip", &c.max_connections_per_ip, 0, 1 << 24, "per client address (0: off)");
  s.List("trusted_proxies", &c.trusted_proxies, "proxies whose X-Forwarded-For is believed (addresses or CIDRs)");
  im::daemon::AddKafkaSettings(s, &c.kafka);
  im::daemon::AddRedisSettings(s, &c.redis);
  s.LogLevel("log_level", &c.log_level, "debug, info, warn or error");
  if (auto exit_code = im::daemon::LoadSettings(s, argc, argv)) return *exit_code;
  im::SetLogSink(nullptr, c.log_level);
  if (c.logic_addresses.empty()) {
    return im::daemon::Fail(program, im::Status::InvalidArgument("logic.addresses is required"));
  }
  if (c.tls_certificate_file.empty() != c.tls_private_key_file.empty()) {
    return im::daemon::Fail(
        program, im::Status::InvalidArgument("TLS needs both tls_certificate_file and tls_private_key_file"));
  }

  auto logic = im::OpenRemoteLogic({.addresses = c.logic_addresses});
  if (!logic.ok()) return im::daemon::Fail(program, logic.status());
  auto bus = im::daemon::OpenKafka(c.kafka, "im-gateway-" + c.gateway_id);
  if (!bus.ok()) return im::daemon::Fail(program, bus.status());
  auto presence = im::daemon::OpenRedis(c.redis, c.presence_ttl_seconds * 1000);
  if (!presence.ok()) return im::daemon::Fail(program, presence.status());

  im::Options o;
  o.logic = *logic;
  o.bus = *bus;
  o.presence = *presence;
  o.run_gateway = true;
  o.run_logic = false;
  o.run_tasks = false;
  o.gateway_id = c.gateway_id;
  o.send_timeout_ms = c.send_timeout_ms;
  o.presence_ttl_ms = c.presence_ttl_seconds * 1000;
  auto engine = im::Engine::Open(o);
  if (!engine.ok()) return im::daemon::Fail(program, engine.status());

  // Any answer from im-logic, even "bad token", means it is reachable.
  im::daemon::ReadinessProbe probe([logic = *logic]() -> im::Status {
    auto r = logic->Authenticate("readiness-probe");
    im::StatusCode code = r.ok() ? im::StatusCode::kOk : r.status().code();
    if (code != im::StatusCode::kUnavailable && code != im::StatusCode::kDeadlineExceeded) return im::Status::Ok();
    return im::Status(code, "im-logic: " + r.status().message());
  });
  im::GatewayOptions g;
  if (im::Status st = im::daemon::SplitAddress(c.listen, &g.listen_host, &g.listen_port); !st.ok()) {
    return im::daemon::Fail(program, im::Status::InvalidArgument("listen " + st.message()));
  }
  g.web_root = c.web_root;
  g.tls_certificate_file = c.tls_certificate_file;
  g.tls_private_key_file = c.tls_private_key_file;
  g.allowed_origins = c.allowed_origins;
  g.max_frame_bytes = static_cast<uint32_t>(c.max_frame_bytes);
  g.max_queued_frames = static_cast<uint32_t>(c.max_queued_frames);
  g.max_queued_bytes = static_cast<uint32_t>(c.max_queued_bytes);
  g.idle_timeout_seconds = c.idle_timeout_seconds;
  g.network_threads = c.network_threads;
  g.worker_threads = c.worker_threads;
  g.max_pending_requests = static_cast<uint32_t>(c.max_pending_requests);
  g.connection_frames_per_second = c.connection_frames_per_second;
  g.connection_frame_burst = 2.0 * c.connection_frames_per_second;
  g.user_frames_per_second = c.user_frames_per_second;
  g.user_frame_burst = 2.0 * c.user_frames_per_second;
  g.auth_requests_per_minute_per_ip = c.auth_requests_per_minute_per_ip;
  g.auth_burst_per_ip = c.auth_burst_per_ip;
  g.login_failures_per_minute_per_account = c.login_failures_per_minute_per_account;
  g.login_failure_burst_per_account = c.login_failure_burst_per_account;
  g.auth_threads = c.auth_threads;
  g.max_queued_auth_requests = static_cast<uint32_t>(c.max_queued_auth_requests);
  g.max_connections = static_cast<uint32_t>(c.max_connections);
  g.max_connections_per_ip = static_cast<uint32_t>(c.max_connections_per_ip);
  g.trusted_proxies = c.trusted_proxies;
  g.ready = [&probe] { return probe.Get(); };
  // With an admin listener, scrapers and probes use it and the public port does not show metrics.
  std::unique_ptr<im::AdminServer> admin_server;
  if (!c.admin_listen.empty()) {
    auto admin = im::daemon::StartAdmin(c.admin_listen, [&probe] { return probe.Get(); });
    if (!admin.ok()) return im::daemon::Fail(program, admin.status());
    admin_server = std::move(admin).value();
    g.serve_metrics = false;
  }
  auto gateway = im::Gateway::Start(**engine, g);
  if (!gateway.ok()) return im::daemon::Fail(program, gateway.status());
  std::printf("im-gateway %s listening on %s://%s:%u/\n", c.gateway_id.c_str(),
              c.tls_certificate_file.empty() ? "http" : "https", g.listen_host.c_str(), (*gateway)->port());
  std::fflush(stdout);

  im::daemon::WaitForStopSignal();
  (*gateway)->Stop();  // /readyz 503, sessions closed with 1001: clients reconnect to another gateway
  gateway->reset();
  admin_server.reset();
  engine->reset();  // routes unregistered, pending sends failed, downstream offsets committed
  std::printf("im-gateway stopped\n");
  return 0;
}
