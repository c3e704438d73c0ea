#include "support/postgres_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <pqxx/nontransaction>
#include <pqxx/pqxx>
#include <sstream>
#include <system_error>

extern char** environ;

namespace im::test {
namespace {

namespace fs = std::filesystem;

bool IsExecutable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

// The directory holding initdb and pg_ctl: $IM_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin, else PATH.
Result<std::string> FindBinDir() {
  if (const char* env = std::getenv("IM_PG_BINDIR"); env != nullptr && *env != '\0') {
    if (IsExecutable(fs::path(env) / "initdb") && IsExecutable(fs::path(env) / "pg_ctl")) return std::string(env);
    return Status::FailedPrecondition(std::string("IM_PG_BINDIR=") + env + " holds no initdb and pg_ctl");
  }
  std::error_code ec;
  int best_version = -1;
  std::string best;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    fs::path bin = entry.path() / "bin";
    int version = std::atoi(name.c_str());
    if (version > best_version && IsExecutable(bin / "initdb") && IsExecutable(bin / "pg_ctl")) {
      best_version = version;
      best = bin.string();
    }
  }
  if (!best.empty()) return best;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string d; std::getline(dirs, d, ':');) {
      if (!d.empty() && IsExecutable(fs::path(d) / "initdb") && IsExecutable(fs::path(d) / "pg_ctl")) return d;
    }
  }
  return Status::FailedPrecondition(
      "PostgreSQL server binaries (initdb, pg_ctl) not found in $IM_PG_BINDIR, /usr/lib/postgresql/*/bin or PATH: "
      "install them (Debian: apt-get install postgresql, or run scripts/install-deps.sh)");
}

std::string FindRunuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"}) {
    if (IsExecutable(p)) return p;
  }
  return {};
}

// Spawns argv (argv[0] an absolute path) with stdin from /dev/null and stdout+stderr appended to
// `log` (or /dev/null). Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log, bool new_session) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.empty() ? "/dev/null" : log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (new_session) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A loopback TCP port nobody listens on right now.
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

std::string Tail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no " + path + ")";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? "…" + text.substr(text.size() - bytes) : text;
}

}  // namespace

Result<std::unique_ptr<PostgresCluster>> PostgresCluster::Start(const Options& options) {
  auto bindir = FindBinDir();
  if (!bindir.ok()) return bindir.status();
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  cluster->options_ = options;
  cluster->bindir_ = *bindir;

  char tmpl[] = "/tmp/im-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status::Internal(std::string("mkdtemp: ") + std::strerror(errno));
  cluster->dir_ = tmpl;
  cluster->data_ = cluster->dir_ + "/data";
  if (::geteuid() == 0) {
    // initdb refuses to run as root: the cluster belongs to `postgres`.
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return Status::FailedPrecondition("running as root, but there is no `postgres` user for initdb");
    if (FindRunuser().empty()) return Status::FailedPrecondition("running as root, but runuser is missing");
    if (::chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) {
      return Status::Internal(std::string("chown ") + tmpl + ": " + std::strerror(errno));
    }
  }
  // The watchdog: once this process is gone, stop the server and remove the directory.
  {
    std::vector<std::string> argv = {"/bin/sh",
                                     "-c",
                                     "pid=$1; dir=$2; shift 2; while kill -0 \"$pid\" 2>/dev/null; do sleep 1; done; "
                                     "\"$@\"; rm -rf \"$dir\"",
                                     "im-pg-watchdog",
                                     std::to_string(::getpid()),
                                     cluster->dir_};
    if (::geteuid() == 0) argv.insert(argv.end(), {FindRunuser(), "-u", "postgres", "--"});
    argv.insert(argv.end(), {cluster->bindir_ + "/pg_ctl", "-D", cluster->data_, "-m", "immediate", "-w", "stop"});
    cluster->watchdog_ = Spawn(argv, "", /*new_session=*/true);
  }

  Status s = cluster->RunServerTool({cluster->bindir_ + "/initdb", "-D", cluster->data_, "-A", "trust", "--no-sync",
                                     "-U", "postgres", "-E", "UTF8", "--locale=C"},
                                    cluster->dir_ + "/initdb.log");
  if (!s.ok()) return Status::Internal("initdb failed: " + Tail(cluster->dir_ + "/initdb.log", 2000));
  // A port can be taken between FreePort() and the server's bind: try a few.
  for (int attempt = 0;; ++attempt) {
    cluster->port_ = FreePort();
    s = cluster->StartServer();
    if (s.ok()) break;
    if (attempt == 2) return s;
  }
  return cluster;
}

PostgresCluster::~PostgresCluster() {
  if (!data_.empty() && fs::exists(data_ + "/postmaster.pid")) {
    (void)RunServerTool({bindir_ + "/pg_ctl", "-D", data_, "-m", "immediate", "-w", "stop"}, dir_ + "/pg_ctl.log");
  }
  if (watchdog_ > 0) {
    ::kill(watchdog_, SIGKILL);
    Wait(watchdog_);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status PostgresCluster::RunServerTool(const std::vector<std::string>& args, const std::string& log) const {
  std::vector<std::string> argv;
  if (::geteuid() == 0) argv = {FindRunuser(), "-u", "postgres", "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = Spawn(argv, log, false);
  if (pid < 0) return Status::Internal("cannot run " + args[0]);
  int code = Wait(pid);
  if (code != 0) return Status::Internal(args[0] + " exited with " + std::to_string(code));
  return Status::Ok();
}

Status PostgresCluster::StartServer() {
  std::string server_options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_ +
                               " -c fsync=" + (options_.fsync ? "on" : "off") + " -c max_connections=100";
  Status s = RunServerTool({bindir_ + "/pg_ctl", "-D", data_, "-l", dir_ + "/server.log", "-w", "-t", "60", "-o",
                            server_options, "start"},
                           dir_ + "/pg_ctl.log");
  if (!s.ok()) return Status::Unavailable("pg_ctl start failed on port " + std::to_string(port_) + ": " + LogTail());
  return Status::Ok();
}

Status PostgresCluster::Stop(const std::string& mode) {
  return RunServerTool({bindir_ + "/pg_ctl", "-D", data_, "-m", mode, "-w", "-t", "60", "stop"}, dir_ + "/pg_ctl.log");
}

Status PostgresCluster::StartAgain() { return StartServer(); }

Status PostgresCluster::Restart(const std::string& mode) {
  std::string server_options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_ +
                               " -c fsync=" + (options_.fsync ? "on" : "off") + " -c max_connections=100";
  return RunServerTool({bindir_ + "/pg_ctl", "-D", data_, "-l", dir_ + "/server.log", "-m", mode, "-w", "-t", "60",
                        "-o", server_options, "restart"},
                       dir_ + "/pg_ctl.log");
}

std::string PostgresCluster::ConnInfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname + " connect_timeout=10";
}

Result<std::string> PostgresCluster::CreateDatabase() {
  const std::string name = "im_test_" + std::to_string(next_db_++);
  try {
    pqxx::connection admin(ConnInfo("postgres"));
    pqxx::nontransaction txn(admin);
    txn.exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8' STRATEGY file_copy");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("CREATE DATABASE ") + name + ": " + e.what());
  }
  return ConnInfo(name);
}

std::string PostgresCluster::LogTail(size_t bytes) const { return Tail(dir_ + "/server.log", bytes); }

Result<PostgresCluster*> SharedPostgresCluster() {
  static std::mutex mu;
  static std::unique_ptr<PostgresCluster> cluster;
  static Status failure;
  std::lock_guard lock(mu);
  if (cluster) return cluster.get();
  if (!failure.ok()) return failure;
  auto started = PostgresCluster::Start({});
  if (!started.ok()) {
    failure = started.status();
    return failure;
  }
  cluster = std::move(started).value();
  return cluster.get();
}

}  // namespace im::test
