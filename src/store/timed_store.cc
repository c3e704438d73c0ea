#include "store/timed_store.h"

#include <chrono>

#include "common/metrics.h"

namespace im {
namespace {

template <typename F>
auto Timed(metrics::Histogram& h, F&& f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  h.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

class TimedStore final : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  Result<AppendResult> AppendMessage(const NewMessage& m) override {
    return Timed(metrics::Default().store_append_latency, [&] { return StoreWrapper::AppendMessage(m); });
  }
  Result<User> GetUser(UserId id) override {
    return Timed(metrics::Default().store_read_latency, [&] { return StoreWrapper::GetUser(id); });
  }
  Result<GroupMember> GetGroupMember(GroupId g, UserId u) override {
    return Timed(metrics::Default().store_read_latency, [&] { return StoreWrapper::GetGroupMember(g, u); });
  }
  Result<Group> GetGroup(GroupId g) override {
    return Timed(metrics::Default().store_read_latency, [&] { return StoreWrapper::GetGroup(g); });
  }
  Result<std::vector<Message>> ListMessages(const ConversationId& c, const MessageRange& r) override {
    return Timed(metrics::Default().store_read_latency, [&] { return StoreWrapper::ListMessages(c, r); });
  }
};

}  // namespace

std::shared_ptr<Store> NewTimedStore(std::shared_ptr<Store> target) {
  return std::make_shared<TimedStore>(std::move(target));
}

}  // namespace im
