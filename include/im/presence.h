// Presence: which gateway holds which user's sessions. The logic half reads it to route fanout
// per gateway; the gateway half writes it as sessions attach and detach.
//
// Contract: thread-safe; a registration expires `ttl_ms` after its last Register unless
// refreshed (so a crashed gateway's users go offline by themselves).
#ifndef IM_PRESENCE_H_
#define IM_PRESENCE_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "im/ids.h"
#include "im/status.h"

namespace im {

struct Route {
  UserId user;
  DeviceId device;
  std::string gateway_id;
};

class Presence {
 public:
  virtual ~Presence() = default;
  // Registers or refreshes one device's route.
  virtual Status Register(const Route& route, int64_t ttl_ms) = 0;
  virtual Status Unregister(const Route& route) = 0;
  // Every live route of every user in `users` (offline users contribute nothing).
  virtual Result<std::vector<Route>> Lookup(std::span<const UserId> users) = 0;
};

class PresenceWrapper : public Presence {
 public:
  explicit PresenceWrapper(std::shared_ptr<Presence> target) : target_(std::move(target)) {}
  Status Register(const Route& r, int64_t ttl) override { return target_->Register(r, ttl); }
  Status Unregister(const Route& r) override { return target_->Unregister(r); }
  Result<std::vector<Route>> Lookup(std::span<const UserId> u) override { return target_->Lookup(u); }

 private:
  std::shared_ptr<Presence> target_;
};

std::shared_ptr<Presence> NewMemoryPresence();

}  // namespace im

#endif  // IM_PRESENCE_H_
