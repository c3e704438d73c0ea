// MemoryPresence: routes in a map keyed by user; expiry is checked on lookup.
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "im/presence.h"

namespace im {
namespace {

class MemoryPresence final : public Presence {
 public:
  Status Register(const Route& route, int64_t ttl_ms) override {
    auto expires = Now() + std::chrono::milliseconds(ttl_ms);
    std::lock_guard lock(mu_);
    auto& entries = routes_[route.user];
    for (auto& e : entries) {
      if (e.route.device == route.device && e.route.gateway_id == route.gateway_id) {
        e.expires = expires;
        return Status::Ok();
      }
    }
    entries.push_back({route, expires});
    return Status::Ok();
  }

  Status Unregister(const Route& route) override {
    std::lock_guard lock(mu_);
    auto it = routes_.find(route.user);
    if (it == routes_.end()) return Status::Ok();
    std::erase_if(it->second, [&](const Entry& e) {
      return e.route.device == route.device && e.route.gateway_id == route.gateway_id;
    });
    if (it->second.empty()) routes_.erase(it);
    return Status::Ok();
  }

  Result<std::vector<Route>> Lookup(std::span<const UserId> users) override {
    auto now = Now();
    std::vector<Route> out;
    std::lock_guard lock(mu_);
    for (UserId u : users) {
      auto it = routes_.find(u);
      if (it == routes_.end()) continue;
      std::erase_if(it->second, [&](const Entry& e) { return e.expires <= now; });
      for (auto& e : it->second) out.push_back(e.route);
    }
    return out;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Route route;
    Clock::time_point expires;
  };
  static Clock::time_point Now() { return Clock::now(); }

  std::mutex mu_;
  std::unordered_map<UserId, std::vector<Entry>> routes_;
};

}  // namespace

std::shared_ptr<Presence> NewMemoryPresence() { return std::make_shared<MemoryPresence>(); }

}  // namespace im
