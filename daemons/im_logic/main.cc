// im-logic: the logic half of the split deployment. Consumes im-upstream (sends: persist first
// through im-repo, then ack and fan out per gateway), serves the LogicApi over gRPC to the
// gateways (auth, history, groups, sync, read state). docs/deploy.md.
#include <cstdio>

#include "common/readiness_probe.h"
#include "common/services.h"
#include "im/engine.h"
#include "im/logic_server.h"
#include "im/remote_store.h"

namespace {

struct Config {
  im::daemon::FeaturesConfig features;
  std::string listen = "127.0.0.1:50052";
  std::string admin_listen = "127.0.0.1:9102";
  std::vector<std::string> repo_addresses;
  std::string jwt_key_file;
  int node_id = 0;
  int upstream_consumers = 8;
  int password_iterations = 600'000;
  int64_t access_token_ttl_seconds = 15 * 60;
  int realtime_fanout_max_members = 500;
  int fanout_batch_size = 1000;
  int64_t presence_ttl_seconds = 120;
  int threads = 64;
  im::daemon::KafkaSettings kafka;
  im::daemon::RedisSettings redis;
  im::LogLevel log_level = im::LogLevel::kInfo;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "im-logic";
  im::daemon::MakeFilesPrivate();
  im::daemon::BlockStopSignals();
  Config c;
  im::daemon::Settings s(program, "IM_LOGIC");
  s.Address("listen", &c.listen, "gRPC address for the gateways");
  s.Address("admin_listen", &c.admin_listen, "HTTP /healthz, /readyz, /metrics");
  s.List("repo.addresses", &c.repo_addresses, "im-repo servers, host:port,… (required)");
  s.RequiredString("jwt_key_file", &c.jwt_key_file, "file with the HS256 key, the same for every im-logic");
  s.Int("node_id", &c.node_id, 0, 1023, "unique per im-logic instance: message ids never collide");
  s.Int("upstream_consumers", &c.upstream_consumers, 1, 1024, "im-upstream partitions handled at once");
  s.Int("password_iterations", &c.password_iterations, 1000, 10'000'000, "PBKDF2 iterations for new hashes");
  s.Int("access_token_ttl_seconds", &c.access_token_ttl_seconds, 1, 24 * 3600, "access token lifetime");
  s.Int("realtime_fanout_max_members", &c.realtime_fanout_max_members, 0, 100'000,
        "larger groups are fanned out by im-task");
  s.Int("fanout_batch_size", &c.fanout_batch_size, 1, 100'000, "members per fanout task batch");
  s.Int("presence_ttl_seconds", &c.presence_ttl_seconds, 1, 3600, "route lifetime without heartbeat");
  s.Int("threads", &c.threads, 2, 4'096, "gRPC calls served at once");
  im::daemon::AddKafkaSettings(s, &c.kafka);
  im::daemon::AddRedisSettings(s, &c.redis);
  im::daemon::AddFeatureSettings(s, &c.features, /*push_and_tasks=*/false);
  s.LogLevel("log_level", &c.log_level, "debug, info, warn or error");
  if (auto exit_code = im::daemon::LoadSettings(s, argc, argv)) return *exit_code;
  im::SetLogSink(nullptr, c.log_level);
  if (c.repo_addresses.empty()) {
    return im::daemon::Fail(program, im::Status::InvalidArgument("repo.addresses is required"));
  }

  auto key = im::daemon::ReadJwtKey(c.jwt_key_file);
  if (!key.ok()) return im::daemon::Fail(program, key.status());
  auto store = im::OpenRemoteStore({.addresses = c.repo_addresses});
  if (!store.ok()) return im::daemon::Fail(program, store.status());
  auto bus = im::daemon::OpenKafka(c.kafka, "im-logic-" + std::to_string(c.node_id));
  if (!bus.ok()) return im::daemon::Fail(program, bus.status());
  auto presence = im::daemon::OpenRedis(c.redis, c.presence_ttl_seconds * 1000);
  if (!presence.ok()) return im::daemon::Fail(program, presence.status());

  im::Options o;
  o.store = *store;
  o.bus = *bus;
  o.presence = *presence;
  o.run_gateway = false;
  o.run_logic = true;
  o.run_tasks = false;  // im-task's job
  o.node_id = c.node_id;
  o.jwt_secret = *key;
  o.password_iterations = c.password_iterations;
  o.access_token_ttl_ms = c.access_token_ttl_seconds * 1000;
  o.realtime_fanout_max_members = static_cast<uint32_t>(c.realtime_fanout_max_members);
  o.fanout_batch_size = static_cast<uint32_t>(c.fanout_batch_size);
  o.presence_ttl_ms = c.presence_ttl_seconds * 1000;
  o.upstream_consumers = c.upstream_consumers;
  if (auto st = im::daemon::ApplyFeatures(c.features, /*open_push_providers=*/false, &o); !st.ok()) {
    return im::daemon::Fail(program, st);
  }
  auto opened = im::Engine::Open(o);
  if (!opened.ok()) return im::daemon::Fail(program, opened.status());
  std::shared_ptr<im::Engine> engine = std::move(opened).value();

  auto server = im::StartLogicServer(engine, {.listen_address = c.listen, .threads = c.threads});
  if (!server.ok()) return im::daemon::Fail(program, server.status());
  im::daemon::ReadinessProbe probe(im::daemon::StoreReadiness(*store));
  auto admin_server = im::daemon::StartAdmin(c.admin_listen, [&probe] { return probe.Get(); });
  if (!admin_server.ok()) return im::daemon::Fail(program, admin_server.status());
  std::printf("im-logic node %d serving on %s (grpc port %d, admin port %u)\n", c.node_id, c.listen.c_str(),
              (*server)->port(), (*admin_server)->port());
  std::fflush(stdout);

  im::daemon::WaitForStopSignal();
  (*server)->Shutdown(5'000);
  engine.reset();  // leaves the consumer group after committing what was handled
  std::printf("im-logic stopped\n");
  return 0;
}
