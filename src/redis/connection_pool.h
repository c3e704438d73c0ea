// A small pool of blocking hiredis connections with a per-call deadline, and the one primitive
// the presence needs: a pipelined round trip (append N commands, read N replies).
#ifndef IM_SRC_REDIS_CONNECTION_POOL_H_
#define IM_SRC_REDIS_CONNECTION_POOL_H_

#include <hiredis/hiredis.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "im/redis_presence.h"
#include "im/status.h"

namespace im::redis {

using Clock = std::chrono::steady_clock;

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Command = std::vector<std::string>;  // argv, binary-safe

// "NOSCRIPT …" and the like: Redis's error reply, mapped to a Status (unavailable for LOADING,
// BUSY, READONLY, MASTERDOWN, TRYAGAIN; internal otherwise).
Status ErrorReplyStatus(const redisReply& reply);

class ConnectionPool {
 public:
  explicit ConnectionPool(const RedisPresenceOptions& options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Sends `commands` in one write and reads one reply per command into `replies` (error replies
  // included: the caller looks at them). Unavailable when Redis cannot be reached, the deadline
  // passes or the connection breaks. A pooled connection that turns out broken is replaced and
  // the round trip tried once more (every command the presence sends is idempotent).
  Status RoundTrip(const std::vector<Command>& commands, std::vector<Reply>* replies, Clock::time_point deadline);

 private:
  Result<redisContext*> Take(Clock::time_point deadline, bool* reused);
  void Give(redisContext* c, bool broken);
  Result<redisContext*> Connect(Clock::time_point deadline);
  Status Exchange(redisContext* c, const std::vector<Command>& commands, std::vector<Reply>* replies,
                  Clock::time_point deadline);

  const RedisPresenceOptions options_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<redisContext*> idle_;
  int leased_ = 0;
};

}  // namespace im::redis

#endif  // IM_SRC_REDIS_CONNECTION_POOL_H_
