// imd: the all-in-one libim daemon — the engine on the embedded SQLite store behind the
// WebSocket + REST gateway, in one process.
//
//   imd [--config FILE] [--listen HOST:PORT] [--data-dir DIR]   (see config.h)
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "config.h"
#include "crypto/random.h"
#include "im/admin_server.h"
#include "im/engine.h"
#include "im/gateway.h"
#include "im/sqlite_store.h"
#ifdef IMD_WITH_ROCKSDB
#include "im/rocksdb_store.h"
#endif
#include "store/timed_store.h"

namespace {

// The HS256 key: generated once, kept in the data directory (mode 0600).
im::Result<std::string> LoadOrCreateJwtKey(const std::filesystem::path& dir) {
  auto path = dir / "jwt.key";
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (key.size() < 32) return im::Status::FailedPrecondition(path.string() + " holds fewer than 32 bytes");
    return key;
  }
  std::string key = im::crypto::RandomToken(48);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ::write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return im::Status::Unavailable("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  ::close(fd);
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything imd creates (the data directory, databases, logs of the stores, the key) is the
  // owner's alone: messages and password hashes are not for other local users.
  ::umask(0077);
  // SIGINT/SIGTERM are taken by sigwait below, not by a handler: blocked here, before any thread
  // starts, so every thread inherits the mask and no signal can slip between a check and a wait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto config = imd::LoadConfig(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::fprintf(stderr, "imd: %s\n%s", config.status().message().c_str(), imd::Usage());
    return 2;
  }
  if (config->help) {
    std::fputs(imd::Usage(), stdout);
    return 0;
  }
  const std::string& data_dir = config->data_dir;
  im::SetLogSink(nullptr, config->log_level);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto key = LoadOrCreateJwtKey(data_dir);
  if (!key.ok()) {
    std::fprintf(stderr, "imd: %s\n", key.status().ToString().c_str());
    return 1;
  }
  const std::filesystem::path dir(data_dir);
  im::Result<std::shared_ptr<im::Store>> store = im::Status::InvalidArgument("no store");
#ifdef IMD_WITH_ROCKSDB
  if (config->store == "rocksdb") store = im::OpenRocksDbStore({.path = (dir / "rocksdb").string()});
#endif
  if (config->store == "sqlite") store = im::OpenSqliteStore({.path = (dir / "im.db").string()});
  if (!store.ok()) {
    std::fprintf(stderr, "imd: %s\n", store.status().ToString().c_str());
    return 1;
  }
  im::Options options;
  options.store = im::NewTimedStore(*store);  // im_store_latency_seconds on /metrics
  options.jwt_secret = *key;
  options.password_iterations = config->password_iterations;
  options.access_token_ttl_ms = config->access_token_ttl_seconds * 1000;
  options.login_cache_ms = config->login_cache_seconds * 1000;
  im::daemon::FeaturesConfig features = config->features;
  features.search_sqlite_path = (dir / "search.db").string();
  if (auto st = im::daemon::ApplyFeatures(features, /*open_push_providers=*/true, &options); !st.ok()) {
    std::fprintf(stderr, "imd: %s\n", st.ToString().c_str());
    return 1;
  }
  auto engine = im::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "imd: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  im::GatewayOptions gateway_options = config->gateway;
  std::unique_ptr<im::AdminServer> admin;
  if (config->admin_listen) {
    // /metrics, the probes and the dead-letter API on their own port; the public port keeps the
    // probes (load balancers use them) but not the rest.
    im::AdminServerOptions admin_options;
    admin_options.listen_host = config->admin_host;
    admin_options.listen_port = config->admin_port;
    admin_options.admin_token = gateway_options.admin_token;
    if (!admin_options.admin_token.empty()) admin_options.dead_letters = engine->get();
    gateway_options.admin_token.clear();
    auto started = im::StartAdminServer(std::move(admin_options));
    if (!started.ok()) {
      std::fprintf(stderr, "imd: admin listener: %s\n", started.status().ToString().c_str());
      return 1;
    }
    admin = std::move(started).value();
  }
  auto gateway = im::Gateway::Start(**engine, gateway_options);
  if (!gateway.ok()) {
    std::fprintf(stderr, "imd: %s\n", gateway.status().ToString().c_str());
    return 1;
  }
  std::printf("imd listening on %s://%s:%u/ (data in %s)\n",
              gateway_options.tls_certificate_file.empty() ? "http" : "https", gateway_options.listen_host.c_str(),
              (*gateway)->port(), data_dir.c_str());
  if (admin) std::printf("imd admin listening on http://%s:%u/\n", config->admin_host.c_str(), admin->port());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*gateway)->Stop();  // stop accepting, close sessions with going-away
  gateway->reset();
  admin.reset();
  engine->reset();  // drains the bus and flushes the store
  std::printf("imd stopped\n");
  return 0;
}
