// imd: the all-in-one libim daemon — the engine on the embedded SQLite store behind the
// WebSocket + REST gateway, in one process.
//
//   imd [--listen HOST:PORT] [--data-dir DIR]
//
// First milestone of the imd issue: flags only (TOML config and environment come next).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "crypto/random.h"
#include "im/engine.h"
#include "im/gateway.h"
#include "im/sqlite_store.h"
#include "store/timed_store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: imd [--listen HOST:PORT] [--data-dir DIR]\n"
               "  --listen    address to serve HTTP and WebSocket on (default 127.0.0.1:8080; port 0 = any)\n"
               "  --data-dir  where the database and the JWT key live (default ./data)\n");
}

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
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "data";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      std::fprintf(stderr, "imd: unknown or incomplete argument \"%s\"\n", arg.c_str());
      Usage(stderr);
      return 2;
    }
  }
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (...) {
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535) {
    std::fprintf(stderr, "imd: --listen wants HOST:PORT, got \"%s\"\n", listen.c_str());
    return 2;
  }

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto key = LoadOrCreateJwtKey(data_dir);
  if (!key.ok()) {
    std::fprintf(stderr, "imd: %s\n", key.status().ToString().c_str());
    return 1;
  }
  auto store = im::OpenSqliteStore({.path = (std::filesystem::path(data_dir) / "im.db").string()});
  if (!store.ok()) {
    std::fprintf(stderr, "imd: %s\n", store.status().ToString().c_str());
    return 1;
  }
  im::Options options;
  options.store = im::NewTimedStore(*store);  // im_store_latency_seconds on /metrics
  options.jwt_secret = *key;
  if (const char* iterations = std::getenv("IM_PASSWORD_ITERATIONS"))
    options.password_iterations = std::atoi(iterations);
  auto engine = im::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "imd: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  im::GatewayOptions gateway_options;
  gateway_options.listen_host = listen.substr(0, colon);
  gateway_options.listen_port = static_cast<uint16_t>(port);
  auto gateway = im::Gateway::Start(**engine, gateway_options);
  if (!gateway.ok()) {
    std::fprintf(stderr, "imd: %s\n", gateway.status().ToString().c_str());
    return 1;
  }
  std::printf("imd listening on http://%s:%u/ (data in %s)\n", gateway_options.listen_host.c_str(), (*gateway)->port(),
              data_dir.c_str());
  std::fflush(stdout);

  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  while (!g_stop) ::pause();
  (*gateway)->Stop();  // stop accepting, close sessions with going-away
  gateway->reset();
  engine->reset();  // drains the bus and flushes the store
  std::printf("imd stopped\n");
  return 0;
}
