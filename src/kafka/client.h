// What every librdkafka client of the Kafka bus shares: handle ownership, configuration (the bus's
// defaults, the user's properties, the properties the bus manages), error mapping and logging.
#ifndef IM_SRC_KAFKA_CLIENT_H_
#define IM_SRC_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>

#include "im/kafka_bus.h"
#include "im/status.h"

namespace im::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

enum class ClientKind { kProducer, kConsumer };

// Checks option ranges and that no extra property overrides one the bus manages.
Status ValidateOptions(const KafkaBusOptions& options);

// The configuration of one client: defaults, then options.extra_config and the kind's own map,
// then the managed properties. `group` is the consumer group (consumers only). The log and error
// callbacks are installed; the caller sets the opaque and its own callbacks.
Result<ConfPtr> MakeConf(const KafkaBusOptions& options, ClientKind kind, const std::string& group = "");

// Creates a client from `conf` (taking it).
Result<HandlePtr> NewClient(ClientKind kind, ConfPtr conf);

// Maps a librdkafka error onto a Status code; `what` says what failed.
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view what);

// Kafka's legal topic names: [a-zA-Z0-9._-]{1,249}.
Status CheckTopicName(std::string_view topic);

}  // namespace im::kafka

#endif  // IM_SRC_KAFKA_CLIENT_H_
