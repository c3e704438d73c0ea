// Presence: which gateway holds which user's sessions. The logic half reads it to route fanout
// per gateway; the gateway half writes it as sessions attach and detach, and re-registers every
// local route periodically (the heartbeat) so that routes outlive their TTL only while their
// gateway is alive.
//
// Contract (the executable form is im/testing/presence_conformance.h):
//  - Thread-safe: any method may be called from any thread at any time.
//  - A route is identified by (user, device, gateway_id). A device registered on two gateways
//    has two routes until one is unregistered or expires.
//  - A route expires `ttl_ms` after its last Register (a later Register with a shorter TTL
//    shortens it). Expired routes are never returned, so a crashed gateway's users go offline by
//    themselves.
//  - Errors: invalid_argument for an invalid user, an empty gateway id or a negative TTL;
//    unavailable when a remote backend cannot be reached (the call fails, nothing hangs); no
//    error for unregistering a route that does not exist.
#ifndef IM_PRESENCE_H_
#define IM_PRESENCE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
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
  // Registers or refreshes one route. `ttl_ms` 0 means the backend's default TTL.
  virtual Status Register(const Route& route, int64_t ttl_ms) = 0;
  virtual Status Unregister(const Route& route) = 0;
  // Every live route of every user in `users` (offline users contribute nothing), each route of
  // a user once per occurrence of the user in `users`, in no particular order.
  virtual Result<std::vector<Route>> Lookup(std::span<const UserId> users) = 0;

  // Added later (non-pure, docs/architecture.md §3.3):

  // out[i] is true when users[i] has at least one live route. The default asks Lookup.
  virtual Result<std::vector<bool>> Online(std::span<const UserId> users);
  // Removes every route of `gateway_id` (a gateway shutting down, or an operator cleaning up
  // after one that died). Default: not_supported.
  virtual Status UnregisterGateway(std::string_view gateway_id);
};

class PresenceWrapper : public Presence {
 public:
  explicit PresenceWrapper(std::shared_ptr<Presence> target) : target_(std::move(target)) {}
  Status Register(const Route& r, int64_t ttl) override { return target_->Register(r, ttl); }
  Status Unregister(const Route& r) override { return target_->Unregister(r); }
  Result<std::vector<Route>> Lookup(std::span<const UserId> u) override { return target_->Lookup(u); }
  Result<std::vector<bool>> Online(std::span<const UserId> u) override { return target_->Online(u); }
  Status UnregisterGateway(std::string_view g) override { return target_->UnregisterGateway(g); }

 private:
  std::shared_ptr<Presence> target_;
};

// Routes in process memory; expiry on a steady clock. `default_ttl_ms` serves Register(…, 0).
std::shared_ptr<Presence> NewMemoryPresence(int64_t default_ttl_ms = 120'000);

}  // namespace im

#endif  // IM_PRESENCE_H_
