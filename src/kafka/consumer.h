// Consumer: one subscription of the Kafka bus. A consumer in the subscription's group and a thread
// that polls it, runs the handler one record at a time, retries a failed record in place (its
// partition paused, later records of that partition held back, other partitions going on),
// dead-letters it after max_attempts, and commits the offsets of finished records.
#ifndef IM_SRC_KAFKA_CONSUMER_H_
#define IM_SRC_KAFKA_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "im/bus.h"
#include "kafka/bus_core.h"
#include "kafka/client.h"

namespace im::kafka {

class Consumer final : public Subscription {
 public:
  // The topic must exist.
  static Result<std::unique_ptr<Subscription>> Start(std::shared_ptr<BusCore> core, std::string topic,
                                                     std::string group, Bus::Handler handler);
  // Stops the thread after the running handler, commits, leaves the group.
  ~Consumer() override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {  // a record waiting to be delivered again (or dead-lettered again)
    BusRecord record;
    int64_t offset = 0;
    Status error;
    bool dead = false;  // attempts are used up; the dead letter failed
    Clock::time_point due;
  };
  struct Held {  // a later record of a partition that waits for its Pending
    BusRecord record;
    int64_t offset = 0;
  };
  struct Partition {
    int64_t done = -1;  // the next offset to commit
    bool dirty = false;
    bool paused = false;
    std::optional<Pending> retry;
    std::deque<Held> held;
  };

  Consumer(std::shared_ptr<BusCore> core, std::string topic, std::string group, Bus::Handler handler)
      : core_(std::move(core)), topic_(std::move(topic)), group_(std::move(group)), handler_(std::move(handler)) {}

  void Run();
  void OnMessage(rd_kafka_message_t* m);
  // Runs the handler; false when the record now waits for a retry.
  bool Deliver(int32_t partition, Partition& st, BusRecord record, int64_t offset);
  bool Failed(int32_t partition, Partition& st, Pending pending);
  bool TryDeadLetter(int32_t partition, Partition& st, const Pending& pending);
  void RunDueRetries();
  void MarkDone(Partition& st, int64_t offset);
  void SetPaused(int32_t partition, Partition& st, bool paused);
  // Commits the done offsets of every partition (or of `only`).
  void Commit(bool sync, const std::set<int32_t>* only = nullptr);
  void CommitResult(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets);
  bool CommitDue(bool idle) const;
  int PollTimeoutMs() const;
  std::chrono::milliseconds Backoff(int attempt) const;
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  BusRecord ToRecord(const rd_kafka_message_t* m) const;

  static void OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque);
  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque);

  const std::shared_ptr<BusCore> core_;
  const std::string topic_, group_;
  const Bus::Handler handler_;
  HandlePtr rk_;
  bool registered_ = false, closed_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // The consumer thread's own (rebalance and commit callbacks run on it, inside poll and close).
  std::map<int32_t, Partition> partitions_;
  bool dirty_ = false;  // a partition has a done offset not yet committed
  Clock::time_point last_commit_{}, commit_retry_at_{};
};

}  // namespace im::kafka

#endif  // IM_SRC_KAFKA_CONSUMER_H_
