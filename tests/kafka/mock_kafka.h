// The Kafka broker of the Kafka bus tests: librdkafka's mock cluster, one per test process,
// started on first use inside the process (it serves the real protocol on loopback ports).
#ifndef IM_TESTS_KAFKA_MOCK_KAFKA_H_
#define IM_TESTS_KAFKA_MOCK_KAFKA_H_

#include <string>

#include "im/kafka_bus.h"

namespace im::test {

class MockKafka {
 public:
  static MockKafka& Get();  // lives until the process exits
  const std::string& bootstrap() const { return bootstrap_; }
  // Creates a topic through the mock cluster's API (it has no admin API).
  Status CreateTopic(const std::string& topic, int partitions);

 private:
  MockKafka();
  struct Impl;
  Impl* impl_;
  std::string bootstrap_;
};

// A bus on the shared mock cluster: topics created with 8 partitions through the mock's API,
// backoffs short enough for tests, 6 s group sessions.
KafkaBusOptions MockBusOptions();

// A topic, group or gateway name that no other test (or run) uses.
std::string UniqueName(const std::string& tag);

}  // namespace im::test

#endif  // IM_TESTS_KAFKA_MOCK_KAFKA_H_
