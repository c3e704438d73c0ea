// Two Kafka buses in one consumer group, as two processes of one service would be; one goes away
// in the middle of a stream. The group rebalances and the other takes over its partitions.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "im/kafka_bus.h"
#include "kafka/mock_kafka.h"

using namespace im;
using im::test::MockBusOptions;
using im::test::UniqueName;
using namespace std::chrono_literals;

namespace {

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 90s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Checks, as records are handled: record n of a key (the n-th published with it) is handled only
// once records 0..n-1 have all been handled, by either member; and each member sees the records
// it gets for the first time in increasing n (a redelivery may repeat records it already saw).
struct Views {
  std::mutex mu;
  std::array<std::atomic<long>, 2> calls{};
  std::map<std::string, int64_t> prefix;  // records 0..prefix of the key were handled
  std::map<std::string, std::set<int64_t>> beyond;
  std::array<std::map<std::string, std::set<int64_t>>, 2> seen;
  std::array<std::map<std::string, int64_t>, 2> max_first;
  std::vector<std::string> violations;
  long redeliveries = 0;

  void Add(int who, const BusRecord& r) {
    const int64_t n = std::stoll(r.payload);
    std::lock_guard lock(mu);
    calls[who]++;
    auto p = prefix.try_emplace(r.key, -1).first;
    auto& later = beyond[r.key];
    if (n > p->second + 1) {
      violations.push_back(r.key + ": record " + std::to_string(n) + " before " + std::to_string(p->second + 1));
      later.insert(n);
    } else if (n == p->second + 1) {
      p->second = n;
      while (later.erase(p->second + 1)) p->second++;
    }
    if (!seen[who][r.key].insert(n).second) {
      redeliveries++;
      return;
    }
    auto m = max_first[who].try_emplace(r.key, -1).first;
    if (n < m->second) {
      violations.push_back("member " + std::to_string(who) + " " + r.key + ": new record " + std::to_string(n) +
                           " after " + std::to_string(m->second));
    }
    m->second = std::max(m->second, n);
  }
};

}  // namespace

TEST_CASE("kafka bus: a group member's bus goes away mid-stream and every record is still handled in key order") {
  constexpr int kKeys = 32;
  const std::string topic = UniqueName("rebalance"), group = topic + "-g";
  auto views = std::make_shared<Views>();
  auto publisher_bus = OpenKafkaBus(MockBusOptions()).value();
  auto bus_a = OpenKafkaBus(MockBusOptions()).value();
  auto bus_b = OpenKafkaBus(MockBusOptions()).value();
  auto sub_a = bus_a
                   ->Subscribe(topic, group,
                               [views](const BusRecord& r) {
                                 views->Add(0, r);
                                 return Status::Ok();
                               })
                   .value();
  auto sub_b = bus_b
                   ->Subscribe(topic, group,
                               [views](const BusRecord& r) {
                                 views->Add(1, r);
                                 return Status::Ok();
                               })
                   .value();

  std::atomic<int64_t> rounds{0};
  std::atomic<bool> publish_failed{false};
  std::jthread publisher([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const int64_t r = rounds.load();
      for (int k = 0; k < kKeys; ++k) {
        if (!publisher_bus->Publish(topic, "key-" + std::to_string(k), std::to_string(r)).ok()) publish_failed = true;
      }
      rounds = r + 1;
      std::this_thread::sleep_for(20ms);
    }
  });

  // Both members have partitions once the group has formed.
  REQUIRE(WaitFor([&] { return views->calls[0] >= 2 * kKeys && views->calls[1] >= 2 * kKeys; }));
  // Member A's process ends: its subscription closes (commits, leaves the group), its bus goes.
  const auto left_at = std::chrono::steady_clock::now();
  sub_a.reset();
  bus_a.reset();
  const long b_at_leave = views->calls[1];
  // B takes over A's partitions and goes on.
  REQUIRE(WaitFor([&] { return views->calls[1] >= b_at_leave + 8 * kKeys; }));
  publisher.request_stop();
  publisher.join();
  CHECK(!publish_failed);
  REQUIRE(publisher_bus->Drain().ok());  // nobody subscribes through it: every record is stored
  const int64_t total_rounds = rounds;

  // Every record of every key is handled at least once.
  auto handled_all = [&] {
    std::lock_guard lock(views->mu);
    for (int k = 0; k < kKeys; ++k) {
      auto it = views->prefix.find("key-" + std::to_string(k));
      if (it == views->prefix.end() || it->second + 1 < total_rounds) return false;
    }
    return true;
  };
  REQUIRE(WaitFor(handled_all));
  std::lock_guard lock(views->mu);
  MESSAGE("B took over within "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - left_at).count()
          << " ms after A left; " << total_rounds * kKeys << " records, " << views->redeliveries << " redelivered");
  for (const auto& v : views->violations) FAIL_CHECK(v);
  CHECK(views->violations.empty());
}
