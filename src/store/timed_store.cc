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
  // Every message of a batch waited as long as the batch: one observation each.
  std::vector<Result<AppendResult>> AppendMessages(std::span<const NewMessage> m) override {
    auto start = std::chrono::steady_clock::now();
    auto results = StoreWrapper::AppendMessages(m);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < m.size(); ++i) metrics::Default().store_append_latency.Observe(seconds);
    return results;
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
