// SessionHub: the gateway half of the engine. Holds the local sessions, keeps their routes in
// Presence (refreshed before the TTL runs out), and delivers downstream event records addressed
// to this gateway to the sessions of the targeted users.
#ifndef IM_SRC_ENGINE_SESSION_HUB_H_
#define IM_SRC_ENGINE_SESSION_HUB_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "im/engine.h"
#include "im/presence.h"
#include "im/v1/records.pb.h"

namespace im {

class SessionHub {
 public:
  // Called when a user's first local session attaches (true) or their last detaches (false).
  using PresenceChanged = std::function<void(UserId, bool online)>;

  SessionHub(std::shared_ptr<Presence> presence, std::string gateway_id, int64_t presence_ttl_ms,
             PresenceChanged on_change);
  ~SessionHub();

  Result<SessionId> Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink);
  void Detach(SessionId id);
  void DetachAll();

  // Delivers a downstream event record (im-downstream-<gateway_id>) to the targeted sessions.
  void Deliver(const v1::DownstreamMessage& record);

 private:
  struct Session {
    UserId user;
    DeviceId device;
    std::shared_ptr<SessionSink> sink;
  };
  void RefreshLoop();
  Route RouteOf(const Session& s) const { return Route{s.user, s.device, gateway_id_}; }

  const std::shared_ptr<Presence> presence_;
  const std::string gateway_id_;
  const int64_t presence_ttl_ms_;
  const PresenceChanged on_change_;

  // Serializes attach, detach and the periodic refresh, so that a route is never unregistered
  // under a session that still needs it and presence changes are announced in order. Presence
  // calls happen under this lock, never under mu_ (which event delivery takes).
  std::mutex presence_mu_;
  std::mutex mu_;
  SessionId next_id_ = 1;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_map<UserId, std::vector<SessionId>> by_user_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_SESSION_HUB_H_
