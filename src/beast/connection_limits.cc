#include "beast/connection_limits.h"

#include <sys/resource.h>

#include <algorithm>

namespace im::gateway {

uint32_t DefaultMaxConnections() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1u << 20;
  // The engine's stores, logs and clients need descriptors too (imd: a few dozen; RocksDB keeps
  // its table files open): keep 1/64 (at least 256) for them, but never fewer than half for
  // connections (a tiny limit still serves a few). Beyond the reserve, accept backs off.
  const auto soft = static_cast<uint64_t>(std::min<rlim_t>(limit.rlim_cur, 1u << 24));
  const uint64_t reserve = std::max<uint64_t>(256, soft / 64);
  return static_cast<uint32_t>(
      std::max<uint64_t>(soft > reserve ? soft - reserve : 0, std::max<uint64_t>(1, soft / 2)));
}

ConnectionLimits::ConnectionLimits(uint32_t max_total, uint32_t max_per_ip)
    : max_total_(max_total != 0 ? max_total : DefaultMaxConnections()), max_per_ip_(max_per_ip) {}

ConnectionLimits::Slot ConnectionLimits::TryAcquire(const std::string& client, bool per_ip, Refused* why) {
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) {
    *why = Refused::kTotal;
    return {};
  }
  const bool counted = per_ip && max_per_ip_ != 0;
  if (counted) {
    uint32_t& n = per_ip_[client];
    if (n >= max_per_ip_) {
      *why = Refused::kPerIp;
      return {};  // `n` is not 0 here: its entry belongs to open connections
    }
    ++n;
  }
  ++total_;
  *why = Refused::kNo;
  return Slot(this, counted ? client : std::string());
}

void ConnectionLimits::Release(const std::string& key) {
  std::lock_guard lock(mu_);
  --total_;
  if (key.empty()) return;
  auto it = per_ip_.find(key);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

ConnectionLimits::Slot::~Slot() {
  if (limits_ != nullptr) limits_->Release(key_);
}

}  // namespace im::gateway
