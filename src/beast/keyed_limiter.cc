#include "beast/keyed_limiter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace im::gateway {

KeyedLimiter::KeyedLimiter(double rate_per_second, double burst)
    : rate_(rate_per_second), burst_(burst), enabled_(rate_per_second > 0 && burst >= 1) {}

void KeyedLimiter::Refill(Bucket& b, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.last = std::max(b.last, now);
}

int KeyedLimiter::SecondsUntilToken(const Bucket& b) const {
  if (b.tokens >= 1) return 0;
  return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)));
}

KeyedLimiter::Bucket& KeyedLimiter::Get(std::string_view key, Clock::time_point now) {
  if (buckets_.size() >= prune_at_) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      Refill(it->second, now);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
    // Amortized O(1) per call: the next sweep waits until the map has doubled again.
    prune_at_ = std::max<size_t>(1024, 2 * buckets_.size());
  }
  auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{burst_, now});
  if (!inserted) Refill(it->second, now);
  return it->second;
}

int KeyedLimiter::TryTake(std::string_view key, Clock::time_point now) {
  if (!enabled_) return 0;
  std::lock_guard lock(mu_);
  Bucket& b = Get(key, now);
  if (int wait = SecondsUntilToken(b); wait > 0) return wait;
  b.tokens -= 1;
  return 0;
}

int KeyedLimiter::Wait(std::string_view key, Clock::time_point now) {
  if (!enabled_) return 0;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return 0;
  Refill(it->second, now);
  return SecondsUntilToken(it->second);
}

void KeyedLimiter::Charge(std::string_view key, Clock::time_point now) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  Bucket& b = Get(key, now);
  if (b.tokens >= 1) b.tokens -= 1;
}

size_t KeyedLimiter::size() {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace im::gateway
