// KafkaBus (include/im/kafka_bus.h): the public object over BusCore (producer, topics, Drain)
// and Consumer (one per subscription).
#include "im/kafka_bus.h"

#include "kafka/bus_core.h"
#include "kafka/client.h"
#include "kafka/consumer.h"

namespace im {
namespace {

class KafkaBusImpl final : public KafkaBus {
 public:
  explicit KafkaBusImpl(std::shared_ptr<kafka::BusCore> core) : core_(std::move(core)) {}

  Status Publish(std::string_view topic, std::string_view key, std::string payload) override {
    return core_->Publish(topic, key, payload);
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  Handler handler) override {
    if (!handler) return Status::InvalidArgument("subscription without a handler");
    if (group.empty()) return Status::InvalidArgument("kafka: the consumer group must not be empty");
    IM_RETURN_IF_ERROR(kafka::CheckTopicName(topic));
    IM_RETURN_IF_ERROR(core_->topics().Ensure(topic));
    return kafka::Consumer::Start(core_, std::string(topic), std::string(group), std::move(handler));
  }

  Status Drain() override { return core_->Drain(); }
  Status Flush(std::chrono::milliseconds timeout) override { return core_->Flush(timeout); }
  KafkaBusStats Stats() override { return core_->Stats(); }

 private:
  std::shared_ptr<kafka::BusCore> core_;
};

}  // namespace

Result<std::shared_ptr<KafkaBus>> KafkaBus::Open(const KafkaBusOptions& options) {
  IM_ASSIGN_OR_RETURN(auto core, kafka::BusCore::Open(options));
  return std::shared_ptr<KafkaBus>(std::make_shared<KafkaBusImpl>(std::move(core)));
}

Result<std::shared_ptr<Bus>> OpenKafkaBus(const KafkaBusOptions& options) {
  IM_ASSIGN_OR_RETURN(auto bus, KafkaBus::Open(options));
  return std::shared_ptr<Bus>(std::move(bus));
}

}  // namespace im
