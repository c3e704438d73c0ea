#include "engine/fanout.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "engine/push_sender.h"
#include "engine/task_dispatcher.h"

namespace im {

Fanout::Fanout(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus, std::shared_ptr<Presence> presence,
               uint32_t realtime_max_members, uint32_t batch_size, bool push_offline)
    : store_(std::move(store)),
      bus_(std::move(bus)),
      presence_(std::move(presence)),
      realtime_max_members_(realtime_max_members),
      batch_size_(batch_size),
      push_offline_(push_offline) {}

Status Fanout::ToUsers(const v1::Event& event, const std::vector<v1::Target>& targets, const std::string& key) {
  if (targets.empty()) return Status::Ok();
  std::vector<UserId> users;
  users.reserve(targets.size());
  for (const auto& t : targets) users.emplace_back(t.user_id());
  IM_ASSIGN_OR_RETURN(std::vector<Route> routes, presence_->Lookup(users));
  if (push_offline_ && event.has_new_message()) {
    std::unordered_set<int64_t> online;
    for (const Route& r : routes) online.insert(r.user.value);
    for (const auto& t : targets) {
      if (t.user_id() == event.new_message().sender_id() || online.contains(t.user_id())) continue;
      IM_RETURN_IF_ERROR(EnqueueTask(*bus_, PushSender::MakeTask(event.new_message(), UserId(t.user_id()))));
    }
  }
  if (routes.empty()) return Status::Ok();

  // gateway -> users with a session there (a user on two gateways appears under both).
  std::map<std::string, std::vector<int64_t>> by_gateway;
  for (const Route& r : routes) {
    auto& list = by_gateway[r.gateway_id];
    if (list.empty() || list.back() != r.user.value) list.push_back(r.user.value);
  }
  std::unordered_map<int64_t, const v1::Target*> target_of;
  for (const auto& t : targets) target_of.emplace(t.user_id(), &t);

  for (auto& [gateway, gateway_users] : by_gateway) {
    v1::DownstreamMessage record;
    *record.mutable_event() = event;
    std::sort(gateway_users.begin(), gateway_users.end());
    gateway_users.erase(std::unique(gateway_users.begin(), gateway_users.end()), gateway_users.end());
    for (int64_t u : gateway_users) {
      // A Presence adapter might answer for users it was not asked about: skip them.
      if (auto it = target_of.find(u); it != target_of.end()) *record.add_targets() = *it->second;
    }
    if (record.targets_size() == 0) continue;
    IM_RETURN_IF_ERROR(bus_->Publish(topics::Downstream(gateway), key, record.SerializeAsString()));
  }
  return Status::Ok();
}

Status Fanout::ToGroup(const Group& group, const v1::Event& event, UserId exclude_user,
                       const std::string& exclude_device) {
  if (group.member_count <= realtime_max_members_) {
    UserId after;
    do {
      IM_ASSIGN_OR_RETURN(after,
                          GroupBatch(group.id, event, exclude_user, exclude_device, after, realtime_max_members_ + 1));
    } while (after.valid());
    return Status::Ok();
  }
  v1::FanoutTask f;
  f.set_group_id(group.id.value);
  *f.mutable_event() = event;
  f.set_exclude_user_id(exclude_user.value);
  f.set_exclude_device(exclude_device);
  return EnqueueTask(*bus_, Task{std::string(kTaskType), ConversationId::Group(group.id).str(), f.SerializeAsString()});
}

TaskOutcome Fanout::Process(const Task& task) {
  v1::FanoutTask f;
  if (!f.ParseFromString(task.payload)) return Status::InvalidArgument("malformed im.fanout payload");
  IM_ASSIGN_OR_RETURN(UserId last, GroupBatch(GroupId(f.group_id()), f.event(), UserId(f.exclude_user_id()),
                                              f.exclude_device(), UserId(f.after_user_id()), batch_size_));
  if (!last.valid()) return Status::Ok();
  f.set_after_user_id(last.value);
  return EnqueueTask(*bus_, Task{task.type, task.key, f.SerializeAsString(), task.trace_id});
}

Result<UserId> Fanout::GroupBatch(GroupId group, const v1::Event& event, UserId exclude_user,
                                  const std::string& exclude_device, UserId after, uint32_t limit) {
  IM_ASSIGN_OR_RETURN(std::vector<GroupMember> members, store_->ListGroupMembers(group, after, limit));
  std::vector<v1::Target> targets;
  targets.reserve(members.size());
  for (const GroupMember& m : members) {
    v1::Target t;
    t.set_user_id(m.user.value);
    if (m.user == exclude_user) t.set_exclude_device(exclude_device);
    targets.push_back(std::move(t));
  }
  IM_RETURN_IF_ERROR(ToUsers(event, targets, ConversationId::Group(group).str()));
  return members.size() < limit ? UserId() : members.back().user;
}

}  // namespace im
