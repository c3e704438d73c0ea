// Bus: the message stream between the engine's gateway half and logic half (DESIGN.md §1).
// In-process for imd and embedded hosts; Kafka for the split deployment.
//
// Contract:
//  - Publish is thread-safe and does not wait for consumers. Records with the same key on the
//    same topic are delivered in publish order.
//  - Subscribe delivers every record published to the topic after the subscription started to
//    exactly one subscriber of each `group` (consumer-group semantics). At-least-once: a handler
//    that returns a non-ok Status gets the record again (after a backoff) until it succeeds or the
//    bus gives up after `max_attempts` and publishes it to the dead-letter topic. Handlers must
//    therefore be idempotent.
//  - Handlers of one subscription run one at a time, on a bus-owned thread.
#ifndef IM_BUS_H_
#define IM_BUS_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "im/status.h"

namespace im {

namespace topics {
inline constexpr std::string_view kUpstream = "im-upstream";
inline constexpr std::string_view kTask = "im-task";
inline constexpr std::string_view kDeadLetter = "im-dead-letter";
// Downstream records for one gateway: "im-downstream-<gateway_id>".
std::string Downstream(std::string_view gateway_id);
}  // namespace topics

struct BusRecord {
  std::string topic;
  std::string key;
  std::string payload;  // a serialized im.v1 record (proto/im/v1/records.proto)
  int attempt = 1;      // 1 on first delivery
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
  virtual ~Bus() = default;

  virtual Status Publish(std::string_view topic, std::string_view key, std::string payload) = 0;
  virtual Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                          Handler handler) = 0;
  // Waits until every record published so far has been handled (or dead-lettered).
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
