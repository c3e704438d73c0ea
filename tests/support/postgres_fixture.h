// A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a new directory under /tmp,
// a server on a free loopback port (and a Unix socket in that directory), one new database per
// test case, and everything stopped and removed at the end — also when the process dies without
// running destructors (a watchdog process outlives it just long enough to clean up).
//
// Needs the PostgreSQL server binaries (Debian: postgresql; $IM_PG_BINDIR overrides the search
// of /usr/lib/postgresql/*/bin and PATH). Without them Start() fails with a message saying so:
// tests must fail, not skip. As root, initdb and pg_ctl run as the `postgres` user (runuser).
// Framework-free (returns Status), so bench/ can use it too.
#ifndef IM_TESTS_SUPPORT_POSTGRES_FIXTURE_H_
#define IM_TESTS_SUPPORT_POSTGRES_FIXTURE_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "im/status.h"

namespace im::test {

class PostgresCluster {
 public:
  struct Options {
    // false: fsync=off, for speed where durability across a crash is not what is tested.
    bool fsync = false;
  };

  static Result<std::unique_ptr<PostgresCluster>> Start(const Options& options);
  ~PostgresCluster();  // stops the server (immediate) and removes the directory
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // Creates a new empty database (UTF8, from template0) and returns its libpq conninfo.
  Result<std::string> CreateDatabase();
  // The conninfo of database `dbname` (TCP on 127.0.0.1, user postgres, trust auth).
  std::string ConnInfo(const std::string& dbname) const;

  // pg_ctl stop -m `mode` (smart, fast, immediate) / start again on the same port and data /
  // restart -m `mode`. Each waits until the server is down or accepting connections.
  Status Stop(const std::string& mode = "fast");
  Status StartAgain();
  Status Restart(const std::string& mode = "fast");

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The last lines of the server log (for failure messages).
  std::string LogTail(size_t bytes = 2000) const;

 private:
  PostgresCluster() = default;
  Status StartServer();
  // Runs a PostgreSQL binary (as user postgres when root), output appended to `log`.
  Status RunServerTool(const std::vector<std::string>& args, const std::string& log) const;

  Options options_;
  std::string bindir_;
  std::string dir_;
  std::string data_;
  int port_ = 0;
  pid_t watchdog_ = -1;
  std::atomic<int> next_db_{0};
};

// One cluster (fsync off) per process, started on first use and removed at exit. Most test cases
// need only a fresh database in it.
Result<PostgresCluster*> SharedPostgresCluster();

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_POSTGRES_FIXTURE_H_
