// Fanout: routes events to the online sessions of a set of users, one downstream record per
// gateway (never one per recipient), and processes large-group fanout tasks (im.fanout) in
// batches. Recipients of a new message with no online session get an im.push task when
// push_offline is on.
//
// A FanoutBatch gathers the events and send results of a whole batch of upstream records and
// publishes them with one Presence lookup and one downstream record per gateway, whatever the
// number of events: that is what the logic half does per batch of sends.
#ifndef IM_SRC_ENGINE_FANOUT_H_
#define IM_SRC_ENGINE_FANOUT_H_

#include <memory>
#include <string>
#include <vector>

#include "im/bus.h"
#include "im/presence.h"
#include "im/store.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

class Fanout;

// Not thread-safe: one batch per handling thread. Publish once.
class FanoutBatch {
 public:
  explicit FanoutBatch(Fanout& fanout) : fanout_(fanout) {}

  // `event` for every online session of `targets` (each may exclude one device).
  void AddEvent(const v1::Event& event, std::vector<v1::Target> targets, const std::string& trace_id);
  void AddEvent(const v1::Event& event, google::protobuf::RepeatedPtrField<v1::Target>&& targets,
                const std::string& trace_id);
  // `event` for the members of `group`: added here when it has at most realtime_max_members
  // members, else published at once as an im.fanout task (processed in batches by Fanout).
  Status AddGroup(const Group& group, const v1::Event& event, UserId exclude_user, const std::string& exclude_device,
                  const std::string& trace_id);
  // A send result for the sender's gateway.
  void AddResult(const std::string& gateway, v1::SendResult result, const std::string& trace_id);

  // Looks up the routes of every target user at once and publishes, for each gateway concerned,
  // one record keyed `key` with its share of the items in the order they were added (the item
  // itself when there is only one). Records with one key keep their order on the bus, so a
  // caller that always uses the same key keeps its events in order at every gateway.
  // Fails when a record (or an im.push task) could not be published; a failed Presence lookup
  // does not fail it (the send results still go out), see lookup_status().
  Status Publish(const std::string& key);
  // After Publish: the Presence lookup's failure, if any (the events found no route).
  const Status& lookup_status() const { return lookup_; }

 private:
  struct Item {
    std::string gateway;  // a send result's gateway; empty for an event
    v1::DownstreamMessage record;
  };
  Fanout& fanout_;
  std::vector<Item> items_;
  Status lookup_;
};

class Fanout final : public TaskProcessor {
 public:
  static constexpr std::string_view kTaskType = "im.fanout";

  Fanout(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus, std::shared_ptr<Presence> presence,
         uint32_t realtime_max_members, uint32_t batch_size, bool push_offline);

  // Sends `event` to every online session of `targets` (each may exclude one device).
  Status ToUsers(const v1::Event& event, const std::vector<v1::Target>& targets, const std::string& key);
  Status ToUsers(const v1::Event& event, google::protobuf::RepeatedPtrField<v1::Target>&& targets,
                 const std::string& key);

  // Sends `event` to the members of `group`: directly when it has at most realtime_max_members
  // members, else as an im.fanout task processed in batches by Process.
  Status ToGroup(const Group& group, const v1::Event& event, UserId exclude_user, const std::string& exclude_device);

  // One im.fanout batch (idempotent: a redelivered batch only repeats deliveries).
  std::string_view type() const override { return kTaskType; }
  TaskOutcome Process(const Task& task) override;

 private:
  friend class FanoutBatch;
  // Targets for the members of `group` after `after` (at most `limit`); returns the last member
  // seen (invalid when the page was the last).
  Result<UserId> MemberTargets(GroupId group, UserId exclude_user, const std::string& exclude_device, UserId after,
                               uint32_t limit, google::protobuf::RepeatedPtrField<v1::Target>* targets);

  std::shared_ptr<Store> store_;
  std::shared_ptr<Bus> bus_;
  std::shared_ptr<Presence> presence_;
  const uint32_t realtime_max_members_;
  const uint32_t batch_size_;
  const bool push_offline_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_FANOUT_H_
