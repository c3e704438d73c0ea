// The Bus conformance suite (target im::testing): the contract of include/im/bus.h as code. Every
// bus in libim runs it, and so can a bus of your own: it depends on no test framework.
//
//   for (auto& c : im::testing::BusConformanceCases()) {
//     auto bus = MakeMyBus();                  // a fresh bus per case
//     im::Status s = c.run(*bus);
//     EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
//   }
//
// A case returns ok, or internal with "file:line: what was expected" for the first violated
// expectation.
//
// What the cases need from the bus under test:
//  - max_attempts >= 3 and a backoff short enough that 3 attempts fit well within `timeout`;
//  - nothing else on the topics they use: every case makes up its own topic and group names
//    ("conformance-<random>-…"), so buses sharing one broker (Kafka) can run the cases at the
//    same time. The dead-letter case subscribes to topics::kDeadLetter under a fresh group and
//    ignores dead letters from other topics.
// Cases wait for what they expect by polling with a deadline (`timeout`), never by sleeping a
// fixed time, so a slow bus (a Kafka group join takes seconds) or a loaded machine only makes
// them slower. Only "nothing more happens" checks wait a short fixed time after a Drain.
#ifndef IM_TESTING_BUS_CONFORMANCE_H_
#define IM_TESTING_BUS_CONFORMANCE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/bus.h"
#include "im/status.h"

namespace im::testing {

struct BusConformanceOptions {
  // The longest a case waits for any one thing (a delivery, a redelivery, a rebalance).
  std::chrono::milliseconds timeout{60'000};
};

struct BusConformanceCase {
  std::string name;
  std::function<Status(Bus&)> run;
};

std::vector<BusConformanceCase> BusConformanceCases(BusConformanceOptions options = {});

// Runs every case on a new bus from `make_bus`; returns "name: message" for each failure.
// `parallel` runs the cases at the same time, each on its own thread and bus: worth it for a bus
// whose cases mostly wait (Kafka group joins).
std::vector<std::string> RunBusConformance(const std::function<std::shared_ptr<Bus>()>& make_bus,
                                           BusConformanceOptions options = {}, bool parallel = false);

}  // namespace im::testing

#endif  // IM_TESTING_BUS_CONFORMANCE_H_
