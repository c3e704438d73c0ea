// KafkaBus: the Bus (im/bus.h) on Apache Kafka through librdkafka, for the split deployment
// (docs/architecture.md §3.2). Target im::kafka. It passes the bus conformance suite against librdkafka's mock
// cluster (tests/kafka/).
//
// Topics and keys. A Bus topic is the Kafka topic of the same name (letters, digits, '.', '_',
// '-'; at most 249 characters; anything else is invalid_argument). The record key is the Kafka
// message key, partitioned by murmur2 like the Java client, so a key's records share a partition
// and keep their order. A topic is made to exist on its first Publish or Subscribe through this
// bus (see topic_creation).
//
// Publish hands the record to one idempotent producer per bus (enable.idempotence=true,
// acks=all) and returns: the record is durable once the brokers have acknowledged it, which
// Flush and Drain wait for. When the producer's queue is full, Publish waits up to
// publish_timeout_ms, then fails with resource_exhausted. A record that librdkafka could not
// deliver (after its own retries, within message.timeout.ms) is counted in Stats and reported as
// unavailable by the next Flush or Drain.
//
// Subscribe starts one consumer, with its own thread, in consumer group `group`. Offsets are
// committed only after the handler succeeded or the record was dead-lettered (at-least-once;
// enable.auto.commit=false), in batches: when the consumer is idle or every commit_interval_ms,
// and synchronously when partitions are revoked and when the subscription ends. A group that has
// never committed starts at the oldest retained record (auto.offset.reset=earliest), so nothing
// published after Subscribe returns is missed while the group forms (that takes seconds).
// A failed record is retried in place: its partition is paused and the same record is delivered
// again after initial_backoff_ms, doubling up to max_backoff_ms, while the consumer's other
// partitions go on; after max_attempts failed deliveries it is dead-lettered. If its partition
// moves to another consumer meanwhile, that consumer starts again from the last commit (attempt 1).
// Destroying the subscription waits for a running handler, commits, and leaves the group
// (rd_kafka_consumer_close), so the group rebalances at once instead of after the session timeout.
//
// Dead letters: produced to topics::kDeadLetter, and acknowledged by the brokers before the
// failed record's offset is committed. Key "<origin topic>/<origin key>", value the original
// payload, headers im-origin-topic, im-origin-key, im-error, im-attempts (bus.h), plus
// im-origin-partition and im-origin-offset.
//
// Drain waits, up to drain_timeout_ms (then deadline_exceeded), until every record published
// through this bus has been acknowledged by the brokers and, for each topic subscribed through
// this bus, committed by every group subscribed to it: the group's commits are followed as this
// process's consumers make them, and asked of the group coordinator for partitions that other
// processes consume. It then reports delivery failures since the last Flush or Drain.
//
// Thread safety: every method is thread-safe. A handler may Publish; it must not Drain, Flush or
// destroy its own subscription. Subscriptions may outlive the bus object.
#ifndef IM_KAFKA_BUS_H_
#define IM_KAFKA_BUS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "im/bus.h"
#include "im/status.h"

namespace im {

enum class KafkaTopicCreation {
  // CreateTopics through the admin API with topic_partitions and topic_replication_factor (the
  // client needs the CREATE permission); a topic that already exists is fine.
  kAdminApi,
  // The brokers create the topic when the producer first asks for its metadata
  // (auto.create.topics.enable on the brokers; partitions: their num.partitions). The mode for
  // librdkafka's mock cluster, which has no admin API (it makes 4 partitions).
  kAutoCreate,
  // Topics must exist: naming a missing one fails with not_found.
  kNone,
};

struct KafkaBusOptions {
  std::string bootstrap_servers;  // "host:port,host:port"; required
  std::string client_id = "libim";
  // librdkafka properties for every client of the bus (security.protocol, sasl.*, ssl.*, …),
  // then for the producer or the consumers only. They override the bus's defaults
  // (partitioner=murmur2_random, auto.offset.reset=earliest, heartbeat.interval.ms, …) but not the
  // properties the bus manages: bootstrap.servers, client.id, group.id, enable.idempotence, acks,
  // enable.auto.commit, enable.auto.offset.store (invalid_argument).
  std::map<std::string, std::string> extra_config;
  std::map<std::string, std::string> producer_config;
  std::map<std::string, std::string> consumer_config;

  int max_attempts = 5;          // failed deliveries before a record is dead-lettered (>= 1)
  int initial_backoff_ms = 100;  // before the 2nd delivery; doubles per attempt
  int max_backoff_ms = 10'000;
  int session_timeout_ms = 10'000;  // consumer group session; heartbeats every fifth of it
  int commit_interval_ms = 200;     // longest a handled record waits for its commit while busy

  KafkaTopicCreation topic_creation = KafkaTopicCreation::kAdminApi;
  int topic_partitions = 8;           // for kAdminApi
  int topic_replication_factor = -1;  // for kAdminApi; -1: the brokers' default
  // Replaces topic_creation when set: called at most once per missing topic and bus, then the
  // bus waits for the topic to show up in the cluster's metadata. Tests create topics through
  // the mock cluster's API with it.
  std::function<Status(const std::string& topic, int partitions)> create_topic;

  int publish_timeout_ms = 10'000;    // Publish's wait while the producer queue is full
  int drain_timeout_ms = 30'000;      // Drain's deadline
  int operation_timeout_ms = 10'000;  // metadata, topic creation, dead letters, closing
};

struct KafkaBusStats {
  uint64_t published = 0;        // records Publish handed to the producer
  uint64_t delivered = 0;        // records the brokers acknowledged
  uint64_t delivery_errors = 0;  // records librdkafka gave up on
  uint64_t handled = 0;          // deliveries to handlers that succeeded
  uint64_t redeliveries = 0;     // deliveries with attempt > 1
  uint64_t dead_lettered = 0;
  std::string last_delivery_error;
};

class KafkaBus : public Bus {
 public:
  // Connects lazily: an unreachable cluster shows up as failures of Publish (topic metadata),
  // Subscribe, Flush or Drain, not here. Fails with invalid_argument for bad options or
  // librdkafka properties.
  static Result<std::shared_ptr<KafkaBus>> Open(const KafkaBusOptions& options);

  // Waits until every record published so far has been acknowledged by the brokers (or failed);
  // unavailable if any record failed since the last Flush or Drain, deadline_exceeded after
  // `timeout`. Under a constant stream of Publish calls it may time out.
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;
  virtual KafkaBusStats Stats() = 0;
};

// KafkaBus::Open as a plain Bus.
Result<std::shared_ptr<Bus>> OpenKafkaBus(const KafkaBusOptions& options);

}  // namespace im

#endif  // IM_KAFKA_BUS_H_
