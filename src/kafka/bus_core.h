// BusCore: what a Kafka bus and its subscriptions share, and what outlives the bus object while
// subscriptions remain: the options, the producer, the topic manager, the commits the consumers
// made (for Drain), and the dead-letter path.
#ifndef IM_SRC_KAFKA_BUS_CORE_H_
#define IM_SRC_KAFKA_BUS_CORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "im/bus.h"
#include "im/kafka_bus.h"
#include "kafka/client.h"
#include "kafka/producer.h"
#include "kafka/topics.h"

namespace im::kafka {

class BusCore {
 public:
  using Clock = std::chrono::steady_clock;

  static Result<std::shared_ptr<BusCore>> Open(const KafkaBusOptions& options);
  ~BusCore();

  const KafkaBusOptions& options() const { return options_; }
  TopicManager& topics() { return *topics_; }

  Status Publish(std::string_view topic, std::string_view key, std::string_view payload);
  // Produces the dead letter of `record` (which came from `partition` at `offset`) and waits for
  // the brokers to acknowledge it.
  Status DeadLetter(const BusRecord& record, int32_t partition, int64_t offset, const Status& error);

  // A subscription of `group` to `topic` runs (Drain waits for its commits) / has ended.
  void Register(const std::string& topic, const std::string& group);
  void Unregister(const std::string& topic, const std::string& group);
  // A consumer of `group` committed `offset` (the next one to read) for a partition of `topic`.
  void Committed(const std::string& group, const std::string& topic, int32_t partition, int64_t offset);

  Status Drain();
  Status Flush(std::chrono::milliseconds timeout);
  KafkaBusStats Stats();

  std::atomic<uint64_t> handled{0}, redeliveries{0}, dead_lettered{0};

 private:
  // Offset `offset` of `topic`'s `partition` must be committed by `group`.
  struct Target {
    std::string group, topic;
    int32_t partition;
    int64_t offset;
  };
  explicit BusCore(const KafkaBusOptions& options) : options_(options) {}
  Status WaitCommitted(std::vector<Target> targets, Clock::time_point deadline);
  int64_t CommittedLocked(const Target& t) const;
  // Asks the group coordinator what `group` committed for the targets' partitions.
  void QueryCommitted(const std::vector<Target>& targets, Clock::time_point deadline);

  const KafkaBusOptions options_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<TopicManager> topics_;

  std::mutex mu_;
  std::condition_variable committed_cv_;
  std::map<std::pair<std::string, std::string>, int> subscribed_;                  // (topic, group) -> subscriptions
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> committed_;  // (group, topic) -> by partition

  std::mutex readers_mu_;
  std::map<std::string, HandlePtr> readers_;  // group -> a consumer that only asks for committed offsets
};

}  // namespace im::kafka

#endif  // IM_SRC_KAFKA_BUS_CORE_H_
