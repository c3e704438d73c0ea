// TopicManager: makes sure a topic exists before the bus first uses it, in the way
// KafkaBusOptions asks for (create_topic, admin API, broker auto-creation, or not at all), and
// remembers the topics it has seen.
#ifndef IM_SRC_KAFKA_TOPICS_H_
#define IM_SRC_KAFKA_TOPICS_H_

#include <librdkafka/rdkafka.h>

#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "im/kafka_bus.h"

namespace im::kafka {

class TopicManager {
 public:
  // `rk` (a producer) must outlive this object.
  TopicManager(rd_kafka_t* rk, const KafkaBusOptions& options) : rk_(rk), options_(options) {}

  // ok once `topic` has partitions in the cluster's metadata. Costs a metadata round trip the
  // first time per topic; concurrent first uses wait for each other.
  Status Ensure(std::string_view topic);

 private:
  // The topic's partition count; 0 when the cluster does not have it. Lists every topic: asking
  // for one topic by name may make a broker create it.
  Result<int> Partitions(const std::string& topic, int timeout_ms);
  Status CreateWithAdminApi(const std::string& topic, int timeout_ms);
  Status AskBrokerToAutoCreate(const std::string& topic, int timeout_ms);

  rd_kafka_t* const rk_;
  const KafkaBusOptions& options_;
  std::mutex mu_;
  std::set<std::string, std::less<>> known_;
  std::mutex create_mu_;
};

}  // namespace im::kafka

#endif  // IM_SRC_KAFKA_TOPICS_H_
