// Token buckets for frame rate limits: one per connection (owned by the session) and one per
// user shared by all of the user's connections on this gateway.
#ifndef IM_SRC_BEAST_RATE_LIMITER_H_
#define IM_SRC_BEAST_RATE_LIMITER_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <mutex>
#include <unordered_map>

#include "im/ids.h"

namespace im::gateway {

class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst,
              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now())
      : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {}

  // Takes `cost` tokens if there are that many. Not thread-safe.
  bool TryTake(std::chrono::steady_clock::time_point now, double cost = 1) {
    Refill(now);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

  // Whether the bucket has refilled to its burst by `now`: it then behaves exactly like a new
  // one and may be forgotten.
  bool Full(std::chrono::steady_clock::time_point now) {
    Refill(now);
    return tokens_ >= burst_;
  }

 private:
  void Refill(std::chrono::steady_clock::time_point now) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = std::max(last_, now);
  }

  double rate_, burst_, tokens_;
  std::chrono::steady_clock::time_point last_;
};

// One bucket per user. Memory stays bounded by the users active within one refill time: a bucket
// that has refilled to its burst is forgotten when the map has doubled since the last sweep
// (amortized O(1) per call), like KeyedLimiter's.
class PerUserLimiter {
 public:
  PerUserLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

  bool TryTake(UserId user, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    std::lock_guard lock(mu_);
    if (buckets_.size() >= prune_at_) {
      for (auto it = buckets_.begin(); it != buckets_.end();) {
        it = it->second.Full(now) ? buckets_.erase(it) : std::next(it);
      }
      prune_at_ = std::max<size_t>(kMinPruneAt, 2 * buckets_.size());
    }
    auto it = buckets_.try_emplace(user, rate_, burst_, now).first;
    return it->second.TryTake(now);
  }

  size_t size() {  // buckets held, for tests
    std::lock_guard lock(mu_);
    return buckets_.size();
  }

  static constexpr size_t kMinPruneAt = 1024;

 private:
  const double rate_, burst_;
  std::mutex mu_;
  std::unordered_map<UserId, TokenBucket> buckets_;
  size_t prune_at_ = kMinPruneAt;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_RATE_LIMITER_H_
