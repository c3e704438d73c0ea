#include "engine/fanout.h"

#include <algorithm>
#include <map>
#include <span>

#include "common/log.h"
#include "engine/push_sender.h"
#include "engine/task_dispatcher.h"

namespace im {

// ---- FanoutBatch ----

void FanoutBatch::AddEvent(const v1::Event& event, std::vector<v1::Target> targets, const std::string& trace_id) {
  google::protobuf::RepeatedPtrField<v1::Target> field;
  field.Reserve(static_cast<int>(targets.size()));
  for (auto& t : targets) *field.Add() = std::move(t);
  AddEvent(event, std::move(field), trace_id);
}

void FanoutBatch::AddEvent(const v1::Event& event, google::protobuf::RepeatedPtrField<v1::Target>&& targets,
                           const std::string& trace_id) {
  if (targets.empty()) return;
  Item item;
  *item.record.mutable_event() = event;
  item.record.mutable_targets()->Swap(&targets);  // no copy of a large group's targets
  item.record.set_trace_id(trace_id);
  items_.push_back(std::move(item));
}

Status FanoutBatch::AddGroup(const Group& group, const v1::Event& event, UserId exclude_user,
                             const std::string& exclude_device, const std::string& trace_id) {
  Fanout& f = fanout_;
  if (group.member_count > f.realtime_max_members_) {
    v1::FanoutTask task;
    task.set_group_id(group.id.value);
    *task.mutable_event() = event;
    task.set_exclude_user_id(exclude_user.value);
    task.set_exclude_device(exclude_device);
    return EnqueueTask(*f.bus_, Task{std::string(Fanout::kTaskType), ConversationId::Group(group.id).str(),
                                     task.SerializeAsString(), trace_id});
  }
  google::protobuf::RepeatedPtrField<v1::Target> targets;
  UserId after;
  do {
    IM_ASSIGN_OR_RETURN(
        after, f.MemberTargets(group.id, exclude_user, exclude_device, after, f.realtime_max_members_ + 1, &targets));
  } while (after.valid());
  AddEvent(event, std::move(targets), trace_id);
  return Status::Ok();
}

void FanoutBatch::AddResult(const std::string& gateway, v1::SendResult result, const std::string& trace_id) {
  Item item;
  item.gateway = gateway;
  *item.record.mutable_send_result() = std::move(result);
  item.record.set_trace_id(trace_id);
  items_.push_back(std::move(item));
}

Status FanoutBatch::Publish(const std::string& key) {
  if (items_.empty()) return Status::Ok();
  Fanout& f = fanout_;

  // One lookup for every user of every event.
  std::vector<UserId> users;
  for (const Item& item : items_) {
    if (!item.gateway.empty()) continue;
    for (const auto& t : item.record.targets()) users.emplace_back(t.user_id());
  }
  std::sort(users.begin(), users.end(), [](UserId a, UserId b) { return a.value < b.value; });
  users.erase(std::unique(users.begin(), users.end()), users.end());
  std::vector<Route> routes;
  if (!users.empty()) {
    auto found = f.presence_->Lookup(users);
    if (found.ok()) {
      routes = std::move(found).value();
    } else {
      // The results still go out; the events are lost for now (clients recover them with sync).
      lookup_ = found.status();
      log::Warn("fanout.lookup_failed", {{"error", lookup_.ToString()}});
    }
  }
  // (user, gateway) for every route, sorted by user, each gateway named once in `gateways`: a
  // flat table instead of a map of lists, so a lookup for a thousand users costs no allocation
  // per user. (A Presence adapter might also answer for users it was not asked about: they
  // match no target and are ignored.)
  std::vector<const std::string*> gateways;
  std::vector<std::pair<int64_t, uint32_t>> gateway_of;  // (user, index into gateways)
  gateway_of.reserve(routes.size());
  for (const Route& r : routes) {
    auto g = std::find_if(gateways.begin(), gateways.end(), [&](const std::string* n) { return *n == r.gateway_id; });
    if (g == gateways.end()) g = gateways.insert(gateways.end(), &r.gateway_id);
    gateway_of.emplace_back(r.user.value, static_cast<uint32_t>(g - gateways.begin()));
  }
  std::sort(gateway_of.begin(), gateway_of.end());
  gateway_of.erase(std::unique(gateway_of.begin(), gateway_of.end()), gateway_of.end());
  auto routes_of = [&](int64_t user) {
    auto first = std::lower_bound(gateway_of.begin(), gateway_of.end(), std::pair<int64_t, uint32_t>(user, 0));
    auto last = first;
    while (last != gateway_of.end() && last->first == user) ++last;
    return std::span<const std::pair<int64_t, uint32_t>>(first, last);
  };

  Status failed;
  if (f.push_offline_ && lookup_.ok()) {
    for (const Item& item : items_) {
      if (!item.gateway.empty() || !item.record.event().has_new_message()) continue;
      const v1::Message& m = item.record.event().new_message();
      for (const auto& t : item.record.targets()) {
        if (t.user_id() == m.sender_id() || !routes_of(t.user_id()).empty()) continue;
        Status s = EnqueueTask(*f.bus_, PushSender::MakeTask(m, UserId(t.user_id())));
        if (!s.ok() && failed.ok()) failed = s;
      }
    }
  }

  std::map<std::string, v1::DownstreamMessage, std::less<>> out;       // gateway -> its batch record
  std::vector<std::vector<const v1::Target*>> share(gateways.size());  // an event's targets per gateway
  for (Item& item : items_) {
    if (!item.gateway.empty()) {
      *out[item.gateway].add_items() = std::move(item.record);
      continue;
    }
    for (auto& list : share) list.clear();
    size_t routed = 0;  // (target, gateway) pairs
    for (const auto& t : item.record.targets()) {
      for (const auto& [user, g] : routes_of(t.user_id())) {
        auto& list = share[g];
        if (list.empty() || list.back()->user_id() != user) {  // one target per user and gateway
          list.push_back(&t);
          ++routed;
        }
      }
    }
    for (size_t g = 0; g < gateways.size(); ++g) {
      const auto& targets = share[g];
      if (targets.empty()) continue;
      v1::DownstreamMessage* copy = out[*gateways[g]].add_items();
      if (routed == targets.size() && targets.size() == static_cast<size_t>(item.record.targets_size())) {
        // Every target is online here and at no other gateway (always so in imd): the item goes
        // as it is, without copying its targets.
        copy->Swap(&item.record);
        break;
      }
      *copy->mutable_event() = item.record.event();
      copy->set_trace_id(item.record.trace_id());
      copy->mutable_targets()->Reserve(static_cast<int>(targets.size()));
      for (const v1::Target* t : targets) *copy->add_targets() = *t;
    }
  }
  items_.clear();

  for (auto& [gateway, record] : out) {
    std::string payload = record.items_size() == 1 ? record.items(0).SerializeAsString() : record.SerializeAsString();
    Status s = f.bus_->Publish(topics::Downstream(gateway), key, std::move(payload));
    if (!s.ok() && failed.ok()) failed = s;
  }
  return failed;
}

// ---- Fanout ----

Fanout::Fanout(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus, std::shared_ptr<Presence> presence,
               uint32_t realtime_max_members, uint32_t batch_size, bool push_offline)
    : store_(std::move(store)),
      bus_(std::move(bus)),
      presence_(std::move(presence)),
      realtime_max_members_(realtime_max_members),
      batch_size_(batch_size),
      push_offline_(push_offline) {}

Status Fanout::ToUsers(const v1::Event& event, const std::vector<v1::Target>& targets, const std::string& key) {
  FanoutBatch batch(*this);
  batch.AddEvent(event, targets, {});
  IM_RETURN_IF_ERROR(batch.Publish(key));
  return batch.lookup_status();
}

Status Fanout::ToUsers(const v1::Event& event, google::protobuf::RepeatedPtrField<v1::Target>&& targets,
                       const std::string& key) {
  FanoutBatch batch(*this);
  batch.AddEvent(event, std::move(targets), {});
  IM_RETURN_IF_ERROR(batch.Publish(key));
  return batch.lookup_status();
}

Status Fanout::ToGroup(const Group& group, const v1::Event& event, UserId exclude_user,
                       const std::string& exclude_device) {
  FanoutBatch batch(*this);
  IM_RETURN_IF_ERROR(batch.AddGroup(group, event, exclude_user, exclude_device, {}));
  IM_RETURN_IF_ERROR(batch.Publish(ConversationId::Group(group.id).str()));
  return batch.lookup_status();
}

TaskOutcome Fanout::Process(const Task& task) {
  v1::FanoutTask f;
  if (!f.ParseFromString(task.payload)) return Status::InvalidArgument("malformed im.fanout payload");
  google::protobuf::RepeatedPtrField<v1::Target> targets;
  IM_ASSIGN_OR_RETURN(UserId last, MemberTargets(GroupId(f.group_id()), UserId(f.exclude_user_id()), f.exclude_device(),
                                                 UserId(f.after_user_id()), batch_size_, &targets));
  IM_RETURN_IF_ERROR(ToUsers(f.event(), std::move(targets), task.key));
  if (!last.valid()) return Status::Ok();
  f.set_after_user_id(last.value);
  return EnqueueTask(*bus_, Task{task.type, task.key, f.SerializeAsString(), task.trace_id});
}

Result<UserId> Fanout::MemberTargets(GroupId group, UserId exclude_user, const std::string& exclude_device,
                                     UserId after, uint32_t limit,
                                     google::protobuf::RepeatedPtrField<v1::Target>* targets) {
  IM_ASSIGN_OR_RETURN(std::vector<GroupMember> members, store_->ListGroupMembers(group, after, limit));
  targets->Reserve(targets->size() + static_cast<int>(members.size()));
  for (const GroupMember& m : members) {
    v1::Target& t = *targets->Add();
    t.set_user_id(m.user.value);
    if (m.user == exclude_user) t.set_exclude_device(exclude_device);
  }
  return members.size() < limit ? UserId() : members.back().user;
}

}  // namespace im
