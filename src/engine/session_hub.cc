#include "engine/session_hub.h"

#include <algorithm>
#include <chrono>

#include "engine/records.h"

namespace im {

SessionHub::SessionHub(std::shared_ptr<Presence> presence, std::string gateway_id, int64_t presence_ttl_ms,
                       PresenceChanged on_change)
    : presence_(std::move(presence)),
      gateway_id_(std::move(gateway_id)),
      presence_ttl_ms_(presence_ttl_ms),
      on_change_(std::move(on_change)) {
  refresher_ = std::thread([this] { RefreshLoop(); });
}

SessionHub::~SessionHub() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  refresher_.join();
}

Result<SessionId> SessionHub::Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink) {
  if (!sink) return Status::InvalidArgument("session without a sink");
  Session s{user, device, std::move(sink)};
  std::lock_guard order(presence_mu_);
  IM_RETURN_IF_ERROR(presence_->Register(RouteOf(s), presence_ttl_ms_));
  SessionId id;
  bool first;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    auto& list = by_user_[user];
    first = list.empty();
    list.push_back(id);
    sessions_.emplace(id, std::move(s));
  }
  if (first && on_change_) on_change_(user, true);
  return id;
}

void SessionHub::Detach(SessionId id) {
  std::lock_guard order(presence_mu_);
  Session gone;
  bool device_left, last;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    gone = std::move(it->second);
    sessions_.erase(it);
    auto& list = by_user_[gone.user];
    std::erase(list, id);
    last = list.empty();
    device_left =
        std::none_of(list.begin(), list.end(), [&](SessionId o) { return sessions_[o].device == gone.device; });
    if (last) by_user_.erase(gone.user);
  }
  if (device_left) (void)presence_->Unregister(RouteOf(gone));
  if (last && on_change_) on_change_(gone.user, false);
}

void SessionHub::DetachAll() {
  std::vector<SessionId> ids;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) ids.push_back(id);
  }
  for (SessionId id : ids) Detach(id);
}

void SessionHub::Deliver(const v1::DownstreamMessage& msg) {
  auto event = FromProto(msg.event());
  if (!event.ok()) return;  // undecodable: clients recover gaps with sync
  auto shared = std::make_shared<const Event>(std::move(event).value());

  std::vector<std::shared_ptr<SessionSink>> sinks;
  {
    std::lock_guard lock(mu_);
    for (const auto& t : msg.targets()) {
      if (t.exclude_device() == "*") continue;
      auto it = by_user_.find(UserId(t.user_id()));
      if (it == by_user_.end()) continue;
      for (SessionId id : it->second) {
        const Session& s = sessions_[id];
        if (s.device != t.exclude_device()) sinks.push_back(s.sink);
      }
    }
  }
  for (auto& sink : sinks) sink->Deliver(shared);
}

void SessionHub::RefreshLoop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(presence_ttl_ms_ / 3, 10));
  std::unique_lock stop_lock(stop_mu_);
  while (!stop_cv_.wait_for(stop_lock, period, [&] { return stopping_; })) {
    stop_lock.unlock();
    {
      std::lock_guard order(presence_mu_);
      std::vector<Route> routes;
      {
        std::lock_guard lock(mu_);
        for (auto& [id, s] : sessions_) routes.push_back(RouteOf(s));
      }
      for (const Route& r : routes) (void)presence_->Register(r, presence_ttl_ms_);
    }
    stop_lock.lock();
  }
}

}  // namespace im
