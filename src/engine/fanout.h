// Fanout: routes one event to the online sessions of a set of users, one downstream record per
// gateway (never one per recipient), and processes large-group fanout tasks (im.fanout) in
// batches. Recipients of a new message with no online session get an im.push task when
// push_offline is on.
#ifndef IM_SRC_ENGINE_FANOUT_H_
#define IM_SRC_ENGINE_FANOUT_H_

#include <memory>
#include <vector>

#include "im/bus.h"
#include "im/presence.h"
#include "im/store.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

class Fanout final : public TaskProcessor {
 public:
  static constexpr std::string_view kTaskType = "im.fanout";

  Fanout(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus, std::shared_ptr<Presence> presence,
         uint32_t realtime_max_members, uint32_t batch_size, bool push_offline);

  // Sends `event` to every online session of `targets` (each may exclude one device).
  Status ToUsers(const v1::Event& event, const std::vector<v1::Target>& targets, const std::string& key);

  // Sends `event` to the members of `group`: directly when it has at most realtime_max_members
  // members, else as an im.fanout task processed in batches by Process.
  Status ToGroup(const Group& group, const v1::Event& event, UserId exclude_user, const std::string& exclude_device);

  // One im.fanout batch (idempotent: a redelivered batch only repeats deliveries).
  std::string_view type() const override { return kTaskType; }
  TaskOutcome Process(const Task& task) override;

 private:
  // Delivers to one page of members after `after`; returns the last member seen (invalid when the
  // page was the last).
  Result<UserId> GroupBatch(GroupId group, const v1::Event& event, UserId exclude_user,
                            const std::string& exclude_device, UserId after, uint32_t limit);

  std::shared_ptr<Store> store_;
  std::shared_ptr<Bus> bus_;
  std::shared_ptr<Presence> presence_;
  const uint32_t realtime_max_members_;
  const uint32_t batch_size_;
  const bool push_offline_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_FANOUT_H_
