// Producer: the Kafka bus's one idempotent producer, the thread that serves its delivery reports,
// and what those reports tell: the highest acknowledged offset per partition (for Drain), and
// the records that failed.
#ifndef IM_SRC_KAFKA_PRODUCER_H_
#define IM_SRC_KAFKA_PRODUCER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "im/kafka_bus.h"
#include "kafka/client.h"

namespace im::kafka {

class Producer {
 public:
  using Clock = std::chrono::steady_clock;
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // Acknowledged offsets: topic -> partition -> highest offset.
  using Offsets = std::map<std::string, std::vector<int64_t>, std::less<>>;

  static Result<std::unique_ptr<Producer>> Open(const KafkaBusOptions& options);
  // Waits up to operation_timeout_ms for records still in flight, then drops them.
  ~Producer();

  // Queues a record (the topic must exist). Waits while the local queue is full, up to
  // publish_timeout_ms.
  Status Produce(std::string_view topic, std::string_view key, std::string_view payload,
                 const Headers* headers = nullptr);
  // Produces and waits for the brokers' acknowledgement, up to `deadline`.
  Status ProduceAndWait(std::string_view topic, std::string_view key, std::string_view payload, const Headers& headers,
                        Clock::time_point deadline);

  // Waits until no record is in flight; deadline_exceeded at `deadline`.
  Status WaitInFlight(Clock::time_point deadline);
  // Records Produce accepted so far.
  uint64_t Published() const { return published_.load(); }
  Offsets Acknowledged();
  // unavailable if a record failed since the last call, naming the last failure.
  Status TakeFailures();
  void AddStats(KafkaBusStats* stats);

  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  struct Waiter;
  explicit Producer(const KafkaBusOptions& options) : options_(options) {}
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  void Delivered(const rd_kafka_message_t* msg);
  Status ProduceImpl(std::string_view topic, std::string_view key, std::string_view payload, const Headers* headers,
                     void* msg_opaque);
  rd_kafka_topic_t* Topic(std::string_view topic);

  const KafkaBusOptions options_;
  HandlePtr rk_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};

  std::mutex topics_mu_;
  std::map<std::string, rd_kafka_topic_t*, std::less<>> topics_;  // owned: rd_kafka_topic_destroy

  std::mutex mu_;
  std::condition_variable cv_;  // a delivery report arrived
  uint64_t in_flight_ = 0;
  uint64_t delivered_ = 0, failed_ = 0, failed_since_take_ = 0;
  std::string last_failure_;
  Offsets acknowledged_;
};

}  // namespace im::kafka

#endif  // IM_SRC_KAFKA_PRODUCER_H_
