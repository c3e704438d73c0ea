// The Bus conformance cases of Bus::SubscribeBatch.
#include <atomic>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "bus_conformance_check.h"

namespace im::testing::bus_conformance {

// A batch subscription gets every record once, each key's records in order, never more than
// max_batch at a time. (A bus may hand over batches of one: that is what the default does.)
Status BatchesKeepEveryRecordInOrder(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("batch");
  constexpr size_t kMaxBatch = 8;
  constexpr int kRecords = 300, kKeys = 5;
  auto log = std::make_shared<Log>();
  auto largest = std::make_shared<std::atomic<size_t>>(0);
  auto empty_batches = std::make_shared<std::atomic<int>>(0);
  ASSIGN_OK(auto sub,
            bus.SubscribeBatch(topic, topic + "-g", kMaxBatch,
                               [log, largest, empty_batches](std::span<const BusRecord> batch) {
                                 if (batch.empty()) empty_batches->fetch_add(1);
                                 size_t seen = largest->load();
                                 while (batch.size() > seen && !largest->compare_exchange_weak(seen, batch.size())) {
                                 }
                                 for (const BusRecord& r : batch) log->Add(r);
                                 return Status::Ok();
                               }));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_OK(bus.Publish(topic, "k" + std::to_string(i % kKeys), std::to_string(i)));
  }
  WAIT(log->Size() >= kRecords);
  EXPECT_OK(bus.Drain());
  EXPECT(empty_batches->load() == 0);
  EXPECT_MSG(largest->load() <= kMaxBatch, "a batch of " + std::to_string(largest->load()));
  auto seen = log->Snapshot();
  EXPECT_MSG(seen.size() == kRecords, std::to_string(seen.size()) + " deliveries");
  std::map<std::string, int> last;  // key -> last payload seen
  for (const BusRecord& r : seen) {
    int n = std::stoi(r.payload);
    auto [it, first] = last.try_emplace(r.key, n);
    EXPECT_MSG(first || n > it->second,
               "key " + r.key + ": record " + r.payload + " after " + std::to_string(it->second));
    it->second = n;
  }
  return Status::Ok();
}

// A batch that fails is delivered again record by record: the good records of it succeed alone,
// and the bad one is retried and dead-lettered alone.
Status FailedBatchIsRetriedRecordByRecord(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("batch-poison");
  auto ok = std::make_shared<Log>(), dead = std::make_shared<Log>();
  ASSIGN_OK(auto dlq, bus.Subscribe(topics::kDeadLetter, topic + "-dlq", [dead, topic](const BusRecord& r) {
    const std::string* origin = r.header(dead_letter::kOriginTopic);
    if (origin && *origin == topic) dead->Add(r);
    return Status::Ok();
  }));
  ASSIGN_OK(auto sub, bus.SubscribeBatch(topic, topic + "-g", 64, [ok](std::span<const BusRecord> batch) {
    for (const BusRecord& r : batch) {
      if (r.payload == "poison") return Status::Internal("poisoned batch");
    }
    for (const BusRecord& r : batch) ok->Add(r);
    return Status::Ok();
  }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_OK(bus.Publish(topic, "k" + std::to_string(i % 3), i == 7 ? "poison" : "good-" + std::to_string(i)));
  }
  WAIT(dead->Size() >= 1 && ok->CountByPayload("good-").size() == 19);
  EXPECT_OK(bus.Drain());
  EXPECT(!ok->SawPayload("poison"));
  auto letters = dead->Snapshot();
  EXPECT_MSG(letters.size() == 1, std::to_string(letters.size()) + " dead letters");
  EXPECT(letters[0].payload == "poison");
  return Status::Ok();
}

}  // namespace im::testing::bus_conformance
