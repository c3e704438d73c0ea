// MemoryPresence: routes in a map keyed by user; expiry is checked on lookup, and a full sweep
// every few thousand registrations drops the expired routes of users nobody looks up.
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "im/presence.h"

namespace im {

Result<std::vector<bool>> Presence::Online(std::span<const UserId> users) {
  IM_ASSIGN_OR_RETURN(std::vector<Route> routes, Lookup(users));
  std::unordered_map<int64_t, bool> online;
  for (const Route& r : routes) online[r.user.value] = true;
  std::vector<bool> out(users.size(), false);
  for (size_t i = 0; i < users.size(); ++i) out[i] = online.count(users[i].value) > 0;
  return out;
}

Status Presence::UnregisterGateway(std::string_view) {
  return Status::NotSupported("this presence backend cannot unregister a whole gateway");
}

namespace {

Status ValidateRoute(const Route& route) {
  if (!route.user.valid()) return Status::InvalidArgument("invalid user id in route");
  if (route.gateway_id.empty()) return Status::InvalidArgument("route without a gateway id");
  return Status::Ok();
}

class MemoryPresence final : public Presence {
 public:
  explicit MemoryPresence(int64_t default_ttl_ms) : default_ttl_ms_(default_ttl_ms) {}

  Status Register(const Route& route, int64_t ttl_ms) override {
    IM_RETURN_IF_ERROR(ValidateRoute(route));
    if (ttl_ms < 0) return Status::InvalidArgument("negative presence TTL");
    auto now = Now();
    auto expires = now + std::chrono::milliseconds(ttl_ms == 0 ? default_ttl_ms_ : ttl_ms);
    std::lock_guard lock(mu_);
    if (++registers_ % kSweepEvery == 0) Sweep(now);
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
    IM_RETURN_IF_ERROR(ValidateRoute(route));
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
      if (it->second.empty()) routes_.erase(it);
    }
    return out;
  }

  Status UnregisterGateway(std::string_view gateway_id) override {
    if (gateway_id.empty()) return Status::InvalidArgument("empty gateway id");
    std::lock_guard lock(mu_);
    EraseEntries([&](const Entry& e) { return e.route.gateway_id == gateway_id; });
    return Status::Ok();
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Route route;
    Clock::time_point expires;
  };
  static constexpr uint64_t kSweepEvery = 4096;
  static Clock::time_point Now() { return Clock::now(); }

  void Sweep(Clock::time_point now) {  // under mu_
    EraseEntries([&](const Entry& e) { return e.expires <= now; });
  }
  template <typename Pred>
  void EraseEntries(Pred pred) {  // under mu_
    for (auto it = routes_.begin(); it != routes_.end();) {
      std::erase_if(it->second, pred);
      it = it->second.empty() ? routes_.erase(it) : std::next(it);
    }
  }

  const int64_t default_ttl_ms_;
  std::mutex mu_;
  uint64_t registers_ = 0;
  std::unordered_map<UserId, std::vector<Entry>> routes_;
};

}  // namespace

std::shared_ptr<Presence> NewMemoryPresence(int64_t default_ttl_ms) {
  return std::make_shared<MemoryPresence>(default_ttl_ms > 0 ? default_ttl_ms : 120'000);
}

}  // namespace im
