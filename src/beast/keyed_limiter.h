// Token buckets keyed by a string (a client address, an account name) for the gateway's abuse
// limits. Thread-safe. Memory stays bounded by what the limits let through: a bucket that has
// refilled to its burst behaves exactly like a missing one, so such buckets are forgotten.
#ifndef IM_SRC_BEAST_KEYED_LIMITER_H_
#define IM_SRC_BEAST_KEYED_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace im::gateway {

class KeyedLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate_per_second` <= 0 or `burst` < 1: no limit (TryTake always succeeds, Wait is 0).
  KeyedLimiter(double rate_per_second, double burst);

  // Takes a token of `key`: 0 when there was one, else the whole seconds (>= 1) until there is.
  [[nodiscard]] int TryTake(std::string_view key, Clock::time_point now = Clock::now());
  // The whole seconds until `key` has a token (0: it has one now), taking nothing.
  [[nodiscard]] int Wait(std::string_view key, Clock::time_point now = Clock::now());
  // Takes a token of `key` if it has one: for an event that already happened (a failed login).
  void Charge(std::string_view key, Clock::time_point now = Clock::now());

  bool enabled() const { return enabled_; }
  size_t size();  // buckets held, for tests

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  // Refills `b` up to `now`.
  void Refill(Bucket& b, Clock::time_point now) const;
  int SecondsUntilToken(const Bucket& b) const;
  // The bucket of `key`, created full; forgets refilled buckets once the map has doubled.
  Bucket& Get(std::string_view key, Clock::time_point now);

  const double rate_, burst_;
  const bool enabled_;
  struct Hash {  // lets find() take a string_view
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, Bucket, Hash, std::equal_to<>> buckets_;
  size_t prune_at_ = 1024;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_KEYED_LIMITER_H_
