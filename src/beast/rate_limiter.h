// Token buckets for frame rate limits: one per connection (owned by the session) and one per
// user shared by all of the user's connections on this gateway.
#ifndef IM_SRC_BEAST_RATE_LIMITER_H_
#define IM_SRC_BEAST_RATE_LIMITER_H_

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "im/ids.h"

namespace im::gateway {

class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst), tokens_(burst) {}

  // Takes `cost` tokens if there are that many. Not thread-safe.
  bool TryTake(std::chrono::steady_clock::time_point now, double cost = 1) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

 private:
  double rate_, burst_, tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

class PerUserLimiter {
 public:
  PerUserLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

  bool TryTake(UserId user) {
    std::lock_guard lock(mu_);
    auto it = buckets_.try_emplace(user, rate_, burst_).first;
    return it->second.TryTake(std::chrono::steady_clock::now());
  }

 private:
  const double rate_, burst_;
  std::mutex mu_;
  std::unordered_map<UserId, TokenBucket> buckets_;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_RATE_LIMITER_H_
