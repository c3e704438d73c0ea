// Bus: the message stream between the engine's gateway half and logic half (docs/architecture.md §1, §3.2).
// In-process for imd and embedded hosts (NewInProcessBus); Kafka for the split deployment
// (im/kafka_bus.h). Both pass the conformance suite in im/testing/bus_conformance.h.
//
// Contract:
//  - Publish is thread-safe and does not wait for consumers. It returns once the bus has taken
//    the record; when the record is durable depends on the bus (the in-process bus: never; Kafka:
//    once the brokers acknowledge it, which Drain waits for). Records with the same key on the
//    same topic are delivered in publish order. There is no order across keys or across topics.
//  - Subscribe delivers every record published to the topic after Subscribe returned to one
//    subscriber of each `group` (consumer-group semantics): the subscribers of a group share the
//    records, every group gets all of them. Records published before Subscribe returned may or
//    may not be delivered (the in-process bus drops records nobody subscribes to; Kafka keeps
//    them, and a group that has never committed starts at the oldest retained record).
//  - At-least-once. A handler that returns a non-ok Status gets the same record again, with
//    `attempt` incremented, after a backoff and before any later record of its key, until it
//    succeeds or the bus gives up after `max_attempts` and publishes it to the dead-letter topic.
//    A record can also come again (with attempt 1, possibly to another subscriber of the group)
//    when subscribers of the group join or leave, or after a crash. Handlers must therefore be
//    idempotent. Even then no record is handled before every earlier record of its key has
//    been handled at least once.
//  - Handlers of one subscription run one at a time, on a bus-owned thread. A handler may
//    Publish; it must not Drain or destroy its own subscription.
//  - SubscribeBatch hands a handler up to `max_batch` records in one call: what is waiting when
//    it is called, never waiting for more. Records of one key are in publish order within a
//    batch and across batches. A non-ok Status from a batch handler delivers each record of the
//    batch again, alone (a batch of one), with the retry and dead-letter rules above, so one bad
//    record neither holds up nor dead-letters its neighbours. Handlers must therefore be
//    idempotent per record, as above.
//  - Dead letters go to topics::kDeadLetter with key "<origin topic>/<origin key>" (topic names
//    contain no '/'), the original payload, and the headers named in dead_letter:: below. A
//    record of the dead-letter topic that fails max_attempts times is dropped, not dead-lettered
//    again. The task workers publish their own dead letters there too (include/im/task.h), keyed
//    "im-task/<key>", without headers: their TaskMessage payload carries the error.
#ifndef IM_BUS_H_
#define IM_BUS_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "im/status.h"

namespace im {

namespace topics {
inline constexpr std::string_view kUpstream = "im-upstream";
inline constexpr std::string_view kTask = "im-task";
// Tasks waiting for their next attempt (include/im/task.h).
inline constexpr std::string_view kTaskRetry = "im-task-retry";
inline constexpr std::string_view kDeadLetter = "im-dead-letter";
// Downstream records for one gateway: "im-downstream-<gateway_id>".
std::string Downstream(std::string_view gateway_id);
}  // namespace topics

// Headers of a dead-letter record.
namespace dead_letter {
inline constexpr std::string_view kOriginTopic = "im-origin-topic";
inline constexpr std::string_view kOriginKey = "im-origin-key";
inline constexpr std::string_view kError = "im-error";        // Status::ToString() of the last failure
inline constexpr std::string_view kAttempts = "im-attempts";  // deliveries that failed, in decimal
}  // namespace dead_letter

struct BusRecord {
  std::string topic;
  std::string key;
  std::string payload;  // a serialized im.v1 record (proto/im/v1/records.proto)
  int attempt = 1;      // 1 on first delivery
  // Set by the bus, never by Publish: the origin of a dead letter (dead_letter::); a Kafka bus
  // also passes on headers that other producers put on the record.
  std::vector<std::pair<std::string, std::string>> headers = {};

  // The value of the first header named `name`, or nullptr.
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

// Ends the subscription on destruction; after the destructor returns the handler is not running
// and will not be called again.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class Bus {
 public:
  using Handler = std::function<Status(const BusRecord&)>;
  // `records` is valid for the call only; never empty.
  using BatchHandler = std::function<Status(std::span<const BusRecord> records)>;
  virtual ~Bus() = default;

  virtual Status Publish(std::string_view topic, std::string_view key, std::string payload) = 0;
  virtual Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                          Handler handler) = 0;
  // Like Subscribe, with batches of up to `max_batch` (>= 1) records (see the contract above), so
  // that a consumer does its per-batch work once: one store commit, one record per gateway.
  // Added after 1.0: the default subscribes with Subscribe and hands over batches of one.
  virtual Result<std::unique_ptr<Subscription>> SubscribeBatch(std::string_view topic, std::string_view group,
                                                               size_t max_batch, BatchHandler handler);
  // Waits until every record published through this Bus object so far has been handled (or
  // dead-lettered) by every group subscribed through it, including records those handlers
  // publish meanwhile. Records of topics nobody subscribes to through this object are waited for
  // only until the bus has stored them (Kafka: acknowledged by the brokers). A bus may give up
  // after a deadline (deadline_exceeded) or report records it failed to store (unavailable).
  virtual Status Drain() = 0;
};

// Forwards every call to `target`; subclass it to decorate (metrics, tracing).
class BusWrapper : public Bus {
 public:
  explicit BusWrapper(std::shared_ptr<Bus> target) : target_(std::move(target)) {}
  Status Publish(std::string_view topic, std::string_view key, std::string payload) override {
    return target_->Publish(topic, key, std::move(payload));
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  Handler handler) override {
    return target_->Subscribe(topic, group, std::move(handler));
  }
  Result<std::unique_ptr<Subscription>> SubscribeBatch(std::string_view topic, std::string_view group, size_t max_batch,
                                                       BatchHandler handler) override {
    return target_->SubscribeBatch(topic, group, max_batch, std::move(handler));
  }
  Status Drain() override { return target_->Drain(); }

 private:
  std::shared_ptr<Bus> target_;
};

struct InProcessBusOptions {
  int max_attempts = 5;         // deliveries before a record goes to the dead-letter topic
  int initial_backoff_ms = 10;  // doubles per attempt
};

std::shared_ptr<Bus> NewInProcessBus(InProcessBusOptions options = {});

}  // namespace im

#endif  // IM_BUS_H_
