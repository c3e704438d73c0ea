#include "kafka/mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace im::test {

struct MockKafka::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
};

MockKafka& MockKafka::Get() {
  static MockKafka* mock = new MockKafka();  // never destroyed: buses may still talk to it at exit
  return *mock;
}

MockKafka::MockKafka() : impl_(new Impl) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!impl_->rk) throw std::runtime_error(std::string("mock kafka: ") + err);
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->rk, 3);
  if (!impl_->cluster) throw std::runtime_error("mock kafka: cannot start the cluster");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

Status MockKafka::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 3);
  // Buses that share the cluster create a topic on first use, maybe at the same moment (the
  // conformance cases run side by side, two of them on im-dead-letter): there is nothing to do,
  // as with the admin API's answer.
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return Status::Ok();
  if (err) return Status::Unavailable("mock kafka: creating " + topic + ": " + rd_kafka_err2str(err));
  return Status::Ok();
}

KafkaBusOptions MockBusOptions() {
  KafkaBusOptions o;
  o.bootstrap_servers = MockKafka::Get().bootstrap();
  o.client_id = "im-kafka-tests";
  o.max_attempts = 3;
  o.initial_backoff_ms = 20;
  o.session_timeout_ms = 6000;
  o.create_topic = [](const std::string& topic, int partitions) {
    return MockKafka::Get().CreateTopic(topic, partitions);
  };
  return o;
}

std::string UniqueName(const std::string& tag) {
  static std::atomic<unsigned> counter{0};
  static const unsigned seed = std::random_device()();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x%04x", seed, counter++);
  return "test-" + std::string(buf) + "-" + tag;
}

}  // namespace im::test
