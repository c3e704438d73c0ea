#include "redis/connection_pool.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace im::redis {
namespace {

// hiredis writes with write(2): a write to a connection the server closed raises SIGPIPE, which
// kills a host that did not ignore it. Block SIGPIPE on this thread for the exchange and consume
// one it raised (the write then fails with EPIPE, which hiredis reports).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// The time left until `deadline` as a timeval; false when none is left.
bool Remaining(Clock::time_point deadline, int cap_ms, timeval* tv) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  if (cap_ms > 0) left = std::min<int64_t>(left, int64_t(cap_ms) * 1000);
  tv->tv_sec = left / 1'000'000;
  tv->tv_usec = left % 1'000'000;
  return true;
}

std::string ContextError(const redisContext* c) {
  if (c == nullptr) return "cannot allocate a redis context";
  std::string what = c->errstr;
  if (c->err == REDIS_ERR_IO &&
      (what.find("temporarily unavailable") != std::string::npos || what.find("timed out") != std::string::npos)) {
    what = "timed out (" + what + ")";
  }
  return what;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Status ErrorReplyStatus(const redisReply& reply) {
  std::string_view msg(reply.str, reply.len);
  for (std::string_view transient : {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (StartsWith(msg, transient)) return Status::Unavailable("redis: " + std::string(msg));
  }
  return Status::Internal("redis: " + std::string(msg));
}

ConnectionPool::ConnectionPool(const RedisPresenceOptions& options) : options_(options) {}

ConnectionPool::~ConnectionPool() {
  std::lock_guard lock(mu_);
  for (redisContext* c : idle_) redisFree(c);
}

Status ConnectionPool::RoundTrip(const std::vector<Command>& commands, std::vector<Reply>* replies,
                                 Clock::time_point deadline) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    IM_ASSIGN_OR_RETURN(redisContext * c, Take(deadline, &reused));
    Status s = Exchange(c, commands, replies, deadline);
    const bool broken = c->err != 0;
    Give(c, broken);
    // A pooled connection may have died while idle (Redis restarted): try once on a new one.
    if (s.ok() || !broken || !reused || attempt > 0) return s;
  }
}

Result<redisContext*> ConnectionPool::Take(Clock::time_point deadline, bool* reused) {
  {
    std::unique_lock lock(mu_);
    if (!freed_.wait_until(lock, deadline, [&] { return leased_ < options_.pool_size; })) {
      return Status::Unavailable("redis: no free connection within the command timeout (pool_size " +
                                 std::to_string(options_.pool_size) + ")");
    }
    ++leased_;
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      *reused = true;
      return c;
    }
  }
  *reused = false;
  auto c = Connect(deadline);
  if (!c.ok()) Give(nullptr, true);
  return c;
}

void ConnectionPool::Give(redisContext* c, bool broken) {
  std::vector<redisContext*> drop;
  {
    std::lock_guard lock(mu_);
    --leased_;
    if (broken) {
      // One broken connection usually means all of them are (the server went away): drop the idle
      // ones too, so the calls after this one connect afresh instead of failing on stale sockets.
      drop.swap(idle_);
      if (c != nullptr) drop.push_back(c);
    } else {
      idle_.push_back(c);
    }
  }
  freed_.notify_one();
  for (redisContext* d : drop) redisFree(d);
}

Result<redisContext*> ConnectionPool::Connect(Clock::time_point deadline) {
  const std::string where = "redis " + options_.host + ":" + std::to_string(options_.port) + ": ";
  timeval tv;
  if (!Remaining(deadline, options_.connect_timeout_ms, &tv)) return Status::Unavailable(where + "connect timed out");
  redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
  if (c == nullptr || c->err != 0) {
    Status s = Status::Unavailable(where + "cannot connect: " + ContextError(c));
    if (c != nullptr) redisFree(c);
    return s;
  }
  (void)redisEnableKeepAlive(c);
  std::vector<Command> setup;
  if (!options_.password.empty()) setup.push_back({"AUTH", options_.password});
  if (options_.db != 0) setup.push_back({"SELECT", std::to_string(options_.db)});
  if (!setup.empty()) {
    std::vector<Reply> replies;
    Status s = Exchange(c, setup, &replies, deadline);
    for (const Reply& r : replies) {
      if (s.ok() && r->type == REDIS_REPLY_ERROR) {
        s = Status::Unavailable(where + setup[&r - &replies[0]][0] + " refused: " + std::string(r->str, r->len));
      }
    }
    if (!s.ok()) {
      redisFree(c);
      return s;
    }
  }
  return c;
}

Status ConnectionPool::Exchange(redisContext* c, const std::vector<Command>& commands, std::vector<Reply>* replies,
                                Clock::time_point deadline) {
  replies->clear();
  timeval tv;
  if (!Remaining(deadline, 0, &tv)) return Status::Unavailable("redis: command timed out");
  if (redisSetTimeout(c, tv) != REDIS_OK) return Status::Unavailable("redis: " + ContextError(c));
  SigpipeGuard no_sigpipe;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Command& cmd : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c, int(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
      return Status::Unavailable("redis: " + ContextError(c));
    }
  }
  replies->reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      if (c->err == 0) c->err = REDIS_ERR_OTHER;  // never reuse a connection with replies in flight
      return Status::Unavailable("redis " + options_.host + ":" + std::to_string(options_.port) + ": " +
                                 ContextError(c));
    }
    replies->emplace_back(static_cast<redisReply*>(raw));
  }
  return Status::Ok();
}

}  // namespace im::redis
