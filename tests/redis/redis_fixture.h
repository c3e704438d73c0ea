// A throwaway redis-server for tests: a free loopback port, a new directory under /tmp, no
// persistence. The server dies with the test process (PR_SET_PDEATHSIG), and the destructor
// kills it and removes the directory.
//
// Needs redis-server and redis-cli (Debian: redis-server; $IM_REDIS_SERVER overrides the search
// of PATH). Without them Start() fails with a message saying so: tests must fail, not skip.
#ifndef IM_TESTS_REDIS_REDIS_FIXTURE_H_
#define IM_TESTS_REDIS_REDIS_FIXTURE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "im/redis_presence.h"
#include "im/status.h"

namespace im::test {

class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> Start();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Kills the server (SIGKILL: a crash, not a shutdown) and waits until it is gone.
  void Kill();
  // SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing.
  void Pause();
  void Resume();
  // Starts the server again on the same port (with no data: nothing is persisted).
  Status Restart();

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }
  // Options for a presence on this server, with short timeouts.
  RedisPresenceOptions PresenceOptions() const;
  std::string LogTail(size_t bytes = 2000) const;

 private:
  RedisServer() = default;
  Status Launch();

  std::string server_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace im::test

#endif  // IM_TESTS_REDIS_REDIS_FIXTURE_H_
