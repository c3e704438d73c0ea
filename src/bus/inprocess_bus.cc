// InProcessBus: the Bus contract inside one process. Each subscription owns a queue and a thread;
// within a consumer group, a record goes to the member chosen by its key's hash, so records of one
// key stay in order (like a Kafka partition). Records published to a topic nobody subscribes to
// are dropped: there is no retention in process.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "im/bus.h"

namespace im {

std::string topics::Downstream(std::string_view gateway_id) { return "im-downstream-" + std::string(gateway_id); }

namespace {

class InProcessBus;

class Member final : public Subscription {
 public:
  Member(std::shared_ptr<InProcessBus> bus, std::string topic, std::string group, Bus::Handler handler);
  ~Member() override;

  void Push(BusRecord record);
  const std::string& topic() const { return topic_; }
  const std::string& group() const { return group_; }

 private:
  void Run();

  std::shared_ptr<InProcessBus> bus_;
  const std::string topic_, group_;
  Bus::Handler handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BusRecord> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

class InProcessBus final : public Bus, public std::enable_shared_from_this<InProcessBus> {
 public:
  explicit InProcessBus(InProcessBusOptions options) : options_(options) {}

  Status Publish(std::string_view topic, std::string_view key, std::string payload) override {
    BusRecord record{std::string(topic), std::string(key), std::move(payload), 1};
    std::lock_guard lock(mu_);
    auto it = groups_.find(record.topic);
    if (it == groups_.end()) return Status::Ok();
    size_t hash = std::hash<std::string>()(record.key);
    size_t fanout = it->second.size();
    for (auto& [group, members] : it->second) {
      Member* target = members[hash % members.size()];
      in_flight_++;
      if (--fanout == 0) {
        target->Push(std::move(record));
        break;
      }
      target->Push(record);
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  Handler handler) override {
    if (!handler) return Status::InvalidArgument("subscription without a handler");
    auto member =
        std::make_unique<Member>(shared_from_this(), std::string(topic), std::string(group), std::move(handler));
    std::lock_guard lock(mu_);
    groups_[member->topic()][member->group()].push_back(member.get());
    return std::unique_ptr<Subscription>(std::move(member));
  }

  Status Drain() override {
    std::unique_lock lock(mu_);
    drained_.wait(lock, [&] { return in_flight_ == 0; });
    return Status::Ok();
  }

  void Leave(Member* m) {
    std::lock_guard lock(mu_);
    auto& members = groups_[m->topic()][m->group()];
    std::erase(members, m);
    if (members.empty()) groups_[m->topic()].erase(m->group());
  }

  // Called once per pushed record when its member is done with it (handled, dead-lettered or
  // dropped at unsubscribe).
  void Done(size_t n = 1) {
    std::lock_guard lock(mu_);
    in_flight_ -= n;
    if (in_flight_ == 0) drained_.notify_all();
  }

  const InProcessBusOptions& options() const { return options_; }

 private:
  const InProcessBusOptions options_;
  std::mutex mu_;
  std::condition_variable drained_;
  size_t in_flight_ = 0;
  // topic -> group -> members
  std::map<std::string, std::map<std::string, std::vector<Member*>>, std::less<>> groups_;
};

Member::Member(std::shared_ptr<InProcessBus> bus, std::string topic, std::string group, Bus::Handler handler)
    : bus_(std::move(bus)), topic_(std::move(topic)), group_(std::move(group)), handler_(std::move(handler)) {
  thread_ = std::thread([this] { Run(); });
}

Member::~Member() {
  bus_->Leave(this);
  size_t dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();
  }
  cv_.notify_all();
  thread_.join();
  if (dropped) bus_->Done(dropped);
}

void Member::Push(BusRecord record) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(record));
  }
  cv_.notify_one();
}

void Member::Run() {
  const auto& opts = bus_->options();
  for (;;) {
    BusRecord record;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      record = std::move(queue_.front());
      queue_.pop_front();
    }
    int backoff_ms = opts.initial_backoff_ms;
    for (;;) {
      Status s = handler_(record);
      if (s.ok()) break;
      if (record.attempt >= opts.max_attempts) {
        // The dead-letter record keeps the original payload; its key names where it came from.
        (void)bus_->Publish(topics::kDeadLetter, record.topic + "/" + record.key, record.payload);
        break;
      }
      record.attempt++;
      bool stop;
      {
        std::unique_lock lock(mu_);
        stop = cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      }
      if (stop) {
        bus_->Done();
        return;
      }
      backoff_ms *= 2;
    }
    bus_->Done();
  }
}

}  // namespace

std::shared_ptr<Bus> NewInProcessBus(InProcessBusOptions options) { return std::make_shared<InProcessBus>(options); }

}  // namespace im
