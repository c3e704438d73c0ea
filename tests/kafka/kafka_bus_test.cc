// The Kafka bus against librdkafka's mock cluster: the bus conformance suite, and what is
// particular to Kafka (options, topic creation, Flush, Stats).
#include <doctest/doctest.h>

#include <chrono>

#include "im/kafka_bus.h"
#include "im/testing/bus_conformance.h"
#include "kafka/mock_kafka.h"

using namespace im;
using im::test::MockBusOptions;
using im::test::UniqueName;
using namespace std::chrono_literals;

TEST_CASE("kafka bus passes the bus conformance suite (every case at once)") {
  // The cases mostly wait for group joins and rebalances (seconds each on the mock cluster), so
  // they run side by side, each on its own bus, under unique topic and group names.
  const auto started = std::chrono::steady_clock::now();
  auto failures = testing::RunBusConformance(
      []() -> std::shared_ptr<Bus> {
        auto bus = OpenKafkaBus(MockBusOptions());
        return bus.ok() ? bus.value() : nullptr;  // the suite reports a missing bus
      },
      testing::BusConformanceOptions{90'000ms}, /*parallel=*/true);
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
  MESSAGE("conformance on kafka took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
          << " ms");
}

TEST_CASE("kafka bus: bad options, properties and topic names are invalid_argument") {
  KafkaBusOptions o = MockBusOptions();
  o.bootstrap_servers.clear();
  CHECK(OpenKafkaBus(o).status().code() == StatusCode::kInvalidArgument);
  o = MockBusOptions();
  o.max_attempts = 0;
  CHECK(OpenKafkaBus(o).status().code() == StatusCode::kInvalidArgument);
  o = MockBusOptions();
  o.extra_config["enable.auto.commit"] = "true";  // managed by the bus
  auto managed = OpenKafkaBus(o);
  CHECK(managed.status().code() == StatusCode::kInvalidArgument);
  CHECK(managed.status().message().find("enable.auto.commit") != std::string::npos);
  o = MockBusOptions();
  o.consumer_config["no.such.property"] = "1";
  CHECK(OpenKafkaBus(o).status().code() == StatusCode::kInvalidArgument);
  o = MockBusOptions();
  o.extra_config["security.protocol"] = "plaintext";  // an ordinary property passes
  auto bus = OpenKafkaBus(o);
  REQUIRE(bus.ok());
  CHECK((*bus)->Publish("a topic with spaces", "k", "x").code() == StatusCode::kInvalidArgument);
  CHECK((*bus)->Publish("", "k", "x").code() == StatusCode::kInvalidArgument);
  CHECK((*bus)->Subscribe("im-downstream-gw/1", "g", [](const BusRecord&) { return Status::Ok(); }).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK((*bus)->Subscribe("t", "", [](const BusRecord&) { return Status::Ok(); }).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK((*bus)->Subscribe("t", "g", nullptr).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("kafka bus: Flush waits for the brokers' acknowledgements and Stats count them") {
  auto bus = KafkaBus::Open(MockBusOptions());
  REQUIRE(bus.ok());
  const std::string topic = UniqueName("flush");
  for (int i = 0; i < 50; ++i) REQUIRE((*bus)->Publish(topic, "k" + std::to_string(i % 7), std::to_string(i)).ok());
  REQUIRE((*bus)->Flush(30s).ok());
  KafkaBusStats stats = (*bus)->Stats();
  CHECK(stats.published == 50);
  CHECK(stats.delivered == 50);
  CHECK(stats.delivery_errors == 0);
  // Nobody subscribes through this bus: Drain is a flush.
  CHECK((*bus)->Drain().ok());
}

TEST_CASE("kafka bus: topic creation modes") {
  SUBCASE("kNone: a missing topic is not_found") {
    KafkaBusOptions o = MockBusOptions();
    o.create_topic = nullptr;
    o.topic_creation = KafkaTopicCreation::kNone;
    auto bus = OpenKafkaBus(o).value();
    CHECK(bus->Publish(UniqueName("none"), "k", "x").code() == StatusCode::kNotFound);
  }
  SUBCASE("kNone: an existing topic is used") {
    KafkaBusOptions o = MockBusOptions();
    const std::string topic = UniqueName("existing");
    REQUIRE(o.create_topic(topic, 2).ok());
    o.create_topic = nullptr;
    o.topic_creation = KafkaTopicCreation::kNone;
    auto bus = KafkaBus::Open(o).value();
    CHECK(bus->Publish(topic, "k", "x").ok());
    CHECK(bus->Flush(30s).ok());
  }
  SUBCASE("kAutoCreate: the broker creates it") {
    KafkaBusOptions o = MockBusOptions();
    o.create_topic = nullptr;
    o.topic_creation = KafkaTopicCreation::kAutoCreate;
    auto bus = KafkaBus::Open(o).value();
    CHECK(bus->Publish(UniqueName("auto"), "k", "x").ok());
    CHECK(bus->Flush(30s).ok());
  }
  SUBCASE("kAdminApi: the mock cluster has no admin API, so the first use fails, saying why") {
    KafkaBusOptions o = MockBusOptions();
    o.create_topic = nullptr;
    o.topic_creation = KafkaTopicCreation::kAdminApi;
    o.operation_timeout_ms = 1500;
    auto bus = OpenKafkaBus(o).value();
    const std::string topic = UniqueName("admin");
    Status s = bus->Publish(topic, "k", "x");
    CHECK(!s.ok());
    CHECK(s.message().find(topic) != std::string::npos);
  }
}
