// InProcessBus: the Bus contract inside one process.
//
// A consumer group splits its topic into kSlots slots by the hash of the key, like a Kafka
// topic's partitions. Each slot is owned by one member of the group at a time; a member's thread
// takes records from the slots it owns, oldest first: one at a time, or for a batch subscription
// everything waiting in its slots up to max_batch (each slot's records in order). When a member joins or
// leaves, the slots are dealt again. Records stay in their slot until a member takes them, so a
// member that leaves loses nothing, and a slot changes hands only once its previous owner has
// finished the record it was handling, so a key's records are handled in publish order across
// membership changes.
//
// Records published to a topic nobody subscribes to are dropped: there is no retention in process.
// A failing record is retried by the member that took it, with backoff, blocking that member's
// other slots meanwhile.
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/log.h"
#include "im/bus.h"

namespace im {

std::string topics::Downstream(std::string_view gateway_id) { return "im-downstream-" + std::string(gateway_id); }

namespace {

constexpr size_t kSlots = 64;

class InProcessBus;
class Member;

struct Slot {
  std::deque<BusRecord> queue;
  Member* owner = nullptr;
  bool busy = false;  // a member (maybe a previous owner) is handling a record taken from here
};

struct Group {
  std::vector<Member*> members;
  std::array<Slot, kSlots> slots;

  void Deal();
  size_t Queued() const {
    size_t n = 0;
    for (const Slot& s : slots) n += s.queue.size();
    return n;
  }
};

class Member final : public Subscription {
 public:
  Member(std::shared_ptr<InProcessBus> bus, std::string topic, std::string group, Bus::Handler handler,
         Bus::BatchHandler batch_handler, size_t max_batch);
  ~Member() override;

  void Start();
  const std::string& topic() const { return topic_; }
  const std::string& group() const { return group_; }
  // Guarded by the bus mutex.
  std::condition_variable& cv() { return cv_; }

 private:
  void Run();
  // With the bus mutex held: moves up to max_batch_ waiting records of this member's free slots
  // into batch_ (slot of each in from_) and marks those slots busy. False when none is waiting.
  bool TakeLocked();
  // Handles batch_; returns how many records (a prefix) are finished. Fewer than all only when
  // the member stops while a record waits for its retry.
  size_t HandleBatch();
  // Runs the handler until it succeeds or the record is dead-lettered (true), or the member
  // stops while waiting to retry (false).
  bool Handle(BusRecord& record);

  std::shared_ptr<InProcessBus> bus_;
  const std::string topic_, group_;
  Bus::Handler handler_;             // one record (a batch subscription: a batch of one)
  Bus::BatchHandler batch_handler_;  // batch subscriptions only
  const size_t max_batch_;
  std::vector<BusRecord> batch_;  // member thread only
  std::vector<Slot*> from_;       // the slot of each record of batch_
  std::condition_variable cv_;    // waits on the bus mutex
  bool stopping_ = false;         // guarded by the bus mutex
  size_t cursor_ = 0;             // round-robin start among the slots (member thread only)
  std::thread thread_;
};

class InProcessBus final : public Bus, public std::enable_shared_from_this<InProcessBus> {
 public:
  explicit InProcessBus(InProcessBusOptions options) : options_(options) {}

  Status Publish(std::string_view topic, std::string_view key, std::string payload) override {
    std::lock_guard lock(mu_);
    PublishLocked(BusRecord{std::string(topic), std::string(key), std::move(payload)});
    return Status::Ok();
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  Handler handler) override {
    if (!handler) return Status::InvalidArgument("subscription without a handler");
    return Join(std::make_unique<Member>(shared_from_this(), std::string(topic), std::string(group), std::move(handler),
                                         nullptr, 1));
  }

  Result<std::unique_ptr<Subscription>> SubscribeBatch(std::string_view topic, std::string_view group, size_t max_batch,
                                                       BatchHandler handler) override {
    if (!handler) return Status::InvalidArgument("subscription without a handler");
    if (max_batch == 0) return Status::InvalidArgument("max_batch must be at least 1");
    Handler one = [handler](const BusRecord& r) { return handler(std::span<const BusRecord>(&r, 1)); };
    return Join(std::make_unique<Member>(shared_from_this(), std::string(topic), std::string(group), std::move(one),
                                         std::move(handler), max_batch));
  }

  Status Drain() override {
    std::unique_lock lock(mu_);
    drained_.wait(lock, [&] { return in_flight_ == 0; });
    return Status::Ok();
  }

  void PublishDeadLetter(const BusRecord& r, const Status& error) {
    if (r.topic == topics::kDeadLetter) {
      log::Error("bus.dead_letter_dropped", {{"key", r.key}, {"error", error.ToString()}});
      return;
    }
    BusRecord dead{std::string(topics::kDeadLetter), r.topic + "/" + r.key, r.payload};
    dead.headers = {{std::string(dead_letter::kOriginTopic), r.topic},
                    {std::string(dead_letter::kOriginKey), r.key},
                    {std::string(dead_letter::kError), error.ToString()},
                    {std::string(dead_letter::kAttempts), std::to_string(r.attempt)}};
    std::lock_guard lock(mu_);
    PublishLocked(std::move(dead));
  }

  // Called by a member's destructor once its thread has stopped: the member's slots go to the
  // others; without others, the group's queued records are dropped.
  void Leave(Member* m) {
    std::lock_guard lock(mu_);
    auto& by_group = groups_[m->topic()];
    auto it = by_group.find(m->group());
    Group& g = *it->second;
    std::erase(g.members, m);
    if (g.members.empty()) {
      DoneLocked(g.Queued());
      by_group.erase(it);
      if (by_group.empty()) groups_.erase(m->topic());
      return;
    }
    g.Deal();
    for (Member* other : g.members) other->cv().notify_one();
  }

  Result<std::unique_ptr<Subscription>> Join(std::unique_ptr<Member> member) {
    {
      std::lock_guard lock(mu_);
      auto& g = groups_[member->topic()][member->group()];
      if (!g) g = std::make_unique<Group>();
      g->members.push_back(member.get());
      g->Deal();
      for (Member* m : g->members) m->cv().notify_one();
    }
    member->Start();
    return std::unique_ptr<Subscription>(std::move(member));
  }

  Group& GroupOf(const Member& m) { return *groups_.find(m.topic())->second.find(m.group())->second; }

  // One record taken from a slot is finished (handled or dead-lettered).
  void DoneLocked(size_t n = 1) {
    in_flight_ -= n;
    if (in_flight_ == 0) drained_.notify_all();
  }

  const InProcessBusOptions& options() const { return options_; }
  std::mutex& mu() { return mu_; }

 private:
  void PublishLocked(BusRecord record) {
    auto it = groups_.find(record.topic);
    if (it == groups_.end()) return;
    const size_t slot = std::hash<std::string>()(record.key) % kSlots;
    size_t fanout = it->second.size();
    for (auto& [name, group] : it->second) {
      Slot& s = group->slots[slot];
      in_flight_++;
      if (--fanout == 0) {
        s.queue.push_back(std::move(record));
      } else {
        s.queue.push_back(record);
      }
      s.owner->cv().notify_one();
    }
  }

  const InProcessBusOptions options_;
  std::mutex mu_;
  std::condition_variable drained_;
  size_t in_flight_ = 0;  // records queued in a slot or being handled
  // topic -> group -> slots and members
  std::map<std::string, std::map<std::string, std::unique_ptr<Group>>, std::less<>> groups_;
};

void Group::Deal() {
  for (size_t i = 0; i < kSlots; ++i) slots[i].owner = members[i % members.size()];
}

Member::Member(std::shared_ptr<InProcessBus> bus, std::string topic, std::string group, Bus::Handler handler,
               Bus::BatchHandler batch_handler, size_t max_batch)
    : bus_(std::move(bus)),
      topic_(std::move(topic)),
      group_(std::move(group)),
      handler_(std::move(handler)),
      batch_handler_(std::move(batch_handler)),
      max_batch_(max_batch) {}

void Member::Start() {
  thread_ = std::thread([this] { Run(); });
}

Member::~Member() {
  {
    std::lock_guard lock(bus_->mu());
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  bus_->Leave(this);
}

void Member::Run() {
  std::unique_lock lock(bus_->mu());
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || TakeLocked(); });
    if (stopping_ && batch_.empty()) return;
    lock.unlock();
    const size_t finished = HandleBatch();
    lock.lock();
    for (Slot* slot : from_) slot->busy = false;
    // Records not finished go back to the front of their slots, in order, as new deliveries for
    // the slots' next owners.
    for (size_t i = batch_.size(); i-- > finished;) {
      batch_[i].attempt = 1;
      from_[i]->queue.push_front(std::move(batch_[i]));
    }
    bus_->DoneLocked(finished);
    const bool stopped = finished < batch_.size();
    // A slot may have been dealt to another member while this one handled its records.
    for (Slot* slot : from_) {
      if (slot->owner != this && !slot->queue.empty()) slot->owner->cv().notify_one();
    }
    batch_.clear();
    from_.clear();
    if (stopped) return;
  }
}

bool Member::TakeLocked() {
  Group& g = bus_->GroupOf(*this);
  size_t next_cursor = cursor_;
  for (size_t i = 0; i < kSlots && batch_.size() < max_batch_; ++i) {
    const size_t index = (cursor_ + i) % kSlots;
    Slot& s = g.slots[index];
    if (s.owner != this || s.busy || s.queue.empty()) continue;
    s.busy = true;
    while (!s.queue.empty() && batch_.size() < max_batch_) {
      batch_.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
      from_.push_back(&s);
    }
    next_cursor = (index + 1) % kSlots;
  }
  cursor_ = next_cursor;
  return !batch_.empty();
}

size_t Member::HandleBatch() {
  if (batch_handler_ && batch_.size() > 1) {
    if (batch_handler_(std::span<const BusRecord>(batch_)).ok()) return batch_.size();
    // Each record again, alone: one bad record must not hold up or dead-letter the others.
    for (BusRecord& r : batch_) r.attempt++;
  }
  for (size_t i = 0; i < batch_.size(); ++i) {
    if (!Handle(batch_[i])) return i;
  }
  return batch_.size();
}

bool Member::Handle(BusRecord& record) {
  const auto& opts = bus_->options();
  int backoff_ms = opts.initial_backoff_ms;
  for (;;) {
    Status s = handler_(record);
    if (s.ok()) return true;
    if (record.attempt >= opts.max_attempts) {
      bus_->PublishDeadLetter(record, s);
      return true;
    }
    {
      std::unique_lock lock(bus_->mu());
      if (cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; })) return false;
    }
    record.attempt++;
    backoff_ms *= 2;
  }
}

}  // namespace

std::shared_ptr<Bus> NewInProcessBus(InProcessBusOptions options) { return std::make_shared<InProcessBus>(options); }

}  // namespace im
