#include "redis/redis_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace im::test {
namespace {

namespace fs = std::filesystem;

std::string FindInPath(const std::string& name) {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string d; std::getline(dirs, d, ':');) {
      fs::path p = fs::path(d.empty() ? "." : d) / name;
      if (::access(p.c_str(), X_OK) == 0) return p.string();
    }
  }
  for (const char* d : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    fs::path p = fs::path(d) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// True when a server on the loopback port answers PING with PONG (what `redis-cli ping` checks).
bool AnswersPing(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
    char buf[16] = {};
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    ok = n >= 5 && std::string(buf, size_t(n)).rfind("+PONG", 0) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> s(new RedisServer());
  if (const char* env = std::getenv("IM_REDIS_SERVER"); env != nullptr && *env != '\0') {
    s->server_ = env;
  } else {
    s->server_ = FindInPath("redis-server");
  }
  if (s->server_.empty() || ::access(s->server_.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition(
        "redis-server not found ($IM_REDIS_SERVER or PATH): install it (Debian: apt-get install redis-server, or "
        "run scripts/install-deps.sh)");
  }
  char tmpl[] = "/tmp/im-redis-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status::Internal(std::string("mkdtemp: ") + std::strerror(errno));
  s->dir_ = tmpl;
  // A port can be taken between FreePort() and the server's bind: try a few.
  for (int attempt = 0;; ++attempt) {
    s->port_ = FreePort();
    Status st = s->Launch();
    if (st.ok()) break;
    if (attempt == 2) return st;
  }
  return s;
}

Status RedisServer::Launch() {
  const std::string log = dir_ + "/redis.log";
  std::vector<std::string> args = {
      server_, "--bind", "127.0.0.1", "--port", std::to_string(port_), "--save", "", "--appendonly", "no",
      "--dir", dir_,     "--logfile", log,      "--daemonize",         "no"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("redis-server exited on port " + std::to_string(port_) + ": " + LogTail());
    }
    if (AnswersPing(port_)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return Status::Unavailable("redis-server did not accept connections on port " + std::to_string(port_) +
                             " within 20 s: " + LogTail());
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void RedisServer::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

Status RedisServer::Restart() {
  Kill();
  // The port was ours a moment ago; if another process took it meanwhile, say so.
  return Launch();
}

RedisServer::~RedisServer() {
  Kill();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

RedisPresenceOptions RedisServer::PresenceOptions() const {
  RedisPresenceOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.pool_size = 4;
  o.connect_timeout_ms = 1000;
  o.command_timeout_ms = 2000;
  return o;
}

std::string RedisServer::LogTail(size_t bytes) const {
  std::ifstream in(dir_ + "/redis.log", std::ios::binary);
  if (!in) return "(no redis.log)";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? "…" + text.substr(text.size() - bytes) : text;
}

}  // namespace im::test
