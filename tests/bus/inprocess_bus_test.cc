#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "im/bus.h"

using namespace im;

TEST_CASE("in-process bus: each group gets every record once, in order per key") {
  auto bus = NewInProcessBus();
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> seen_by_key;  // group "a"
  std::atomic<int> group_a{0}, group_b{0};
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int member = 0; member < 3; ++member) {
    subs.push_back(bus->Subscribe("t", "a",
                                  [&](const BusRecord& r) {
                                    std::lock_guard lock(mu);
                                    seen_by_key[r.key].push_back(r.payload);
                                    group_a++;
                                    return Status::Ok();
                                  })
                       .value());
  }
  subs.push_back(bus->Subscribe("t", "b",
                                [&](const BusRecord&) {
                                  group_b++;
                                  return Status::Ok();
                                })
                     .value());
  for (int i = 0; i < 300; ++i) {
    REQUIRE(bus->Publish("t", "key" + std::to_string(i % 7), std::to_string(i)).ok());
  }
  REQUIRE(bus->Publish("other-topic", "k", "nobody listens").ok());
  REQUIRE(bus->Drain().ok());
  CHECK(group_a.load() == 300);
  CHECK(group_b.load() == 300);
  for (auto& [key, payloads] : seen_by_key) {
    for (size_t i = 1; i < payloads.size(); ++i) CHECK(std::stoi(payloads[i - 1]) < std::stoi(payloads[i]));
  }
}

TEST_CASE("in-process bus: a failing handler is retried, then the record is dead-lettered") {
  auto bus = NewInProcessBus(InProcessBusOptions{3, 1});
  std::atomic<int> attempts{0}, flaky_attempts{0};
  std::vector<BusRecord> dead;
  std::mutex mu;
  auto failing = bus->Subscribe("work", "w",
                                [&](const BusRecord& r) {
                                  if (r.payload == "poison") {
                                    attempts++;
                                    return Status::Internal("cannot process");
                                  }
                                  // Fails once, then succeeds: retried without reaching the dead letters.
                                  return ++flaky_attempts == 1 ? Status::Unavailable("try again") : Status::Ok();
                                })
                     .value();
  auto dlq = bus->Subscribe(topics::kDeadLetter, "ops",
                            [&](const BusRecord& r) {
                              std::lock_guard lock(mu);
                              dead.push_back(r);
                              return Status::Ok();
                            })
                 .value();
  REQUIRE(bus->Publish("work", "k", "flaky").ok());
  REQUIRE(bus->Publish("work", "k", "poison").ok());
  REQUIRE(bus->Drain().ok());
  CHECK(flaky_attempts.load() == 2);
  CHECK(attempts.load() == 3);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].payload == "poison");
  CHECK(dead[0].key == "work/k");
  REQUIRE(dead[0].header(dead_letter::kOriginTopic));
  CHECK(*dead[0].header(dead_letter::kOriginTopic) == "work");
  CHECK(*dead[0].header(dead_letter::kOriginKey) == "k");
  CHECK(*dead[0].header(dead_letter::kError) == "internal: cannot process");
  CHECK(*dead[0].header(dead_letter::kAttempts) == "3");
}

TEST_CASE("in-process bus: after unsubscribe the handler is never called again") {
  auto bus = NewInProcessBus();
  std::atomic<int> calls{0};
  auto sub = bus->Subscribe("t", "g",
                            [&](const BusRecord&) {
                              calls++;
                              return Status::Ok();
                            })
                 .value();
  REQUIRE(bus->Publish("t", "k", "1").ok());
  REQUIRE(bus->Drain().ok());
  sub.reset();
  REQUIRE(bus->Publish("t", "k", "2").ok());
  REQUIRE(bus->Drain().ok());
  CHECK(calls.load() == 1);
  CHECK(bus->Subscribe("t", "g", nullptr).status().code() == StatusCode::kInvalidArgument);
}
