#include "engine/login_cache.h"

#include <iterator>

namespace im {

uint64_t LoginCache::Epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

void LoginCache::Remember(const std::string& family, UserId user, uint64_t epoch, int64_t now_ms) {
  if (ttl_ms_ <= 0) return;
  std::lock_guard lock(mu_);
  if (epoch != epoch_) return;  // a revocation finished meanwhile: the store's answer may be stale
  if (live_.size() >= kMaxEntries) {
    for (auto it = live_.begin(); it != live_.end();)
      it = it->second.until_ms <= now_ms ? live_.erase(it) : std::next(it);
    if (live_.size() >= kMaxEntries) live_.clear();
  }
  live_[family] = Entry{user, now_ms + ttl_ms_};
}

bool LoginCache::Live(const std::string& family, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(family);
  return it != live_.end() && it->second.until_ms > now_ms;
}

void LoginCache::Revoked(const std::string& family) {
  std::lock_guard lock(mu_);
  ++epoch_;
  live_.erase(family);
}

void LoginCache::RevokedAllOf(UserId user, const std::string& keep_family) {
  std::lock_guard lock(mu_);
  ++epoch_;
  for (auto it = live_.begin(); it != live_.end();) {
    it = it->second.user == user && it->first != keep_family ? live_.erase(it) : std::next(it);
  }
}

}  // namespace im
