// What the Bus conformance cases share (internal to im::testing): the expectation macros of
// every suite plus a message and a polling form, unique topic names, and a recording handler.
// Handlers capture their state by shared_ptr, so a case that returns early (a failed
// expectation) can destroy its subscriptions in any order.
#ifndef IM_SRC_TESTING_BUS_CONFORMANCE_CHECK_H_
#define IM_SRC_TESTING_BUS_CONFORMANCE_CHECK_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance_check.h"
#include "im/bus.h"
#include "im/testing/bus_conformance.h"

namespace im::testing::bus_conformance {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using conformance::Fail;

#define EXPECT_MSG(cond, msg) \
  if (!(cond)) return ::im::testing::conformance::Fail(__FILE__, __LINE__, std::string(#cond) + " (" + (msg) + ")")
// Polls `cond` until it holds or opts.timeout passes.
#define WAIT(cond)                                                                                 \
  if (!::im::testing::bus_conformance::WaitUntil([&] { return static_cast<bool>(cond); }, opts.timeout)) \
  return ::im::testing::conformance::Fail(__FILE__, __LINE__,                                      \
                                          std::string(#cond) + " within " + std::to_string(opts.timeout.count()) + " ms")

template <typename Pred>
bool WaitUntil(Pred pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// A topic (or group) name no other run of any case uses: buses that share a broker keep their
// records, so names must never repeat.
inline std::string Unique(const std::string& tag) {
  static std::atomic<unsigned> counter{0};
  static const unsigned seed = std::random_device()();
  std::mt19937_64 rng(seed ^ (uint64_t(counter++) << 32) ^ uint64_t(Clock::now().time_since_epoch().count()));
  char buf[24];
  std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return "conformance-" + std::string(buf) + "-" + tag;
}

// Every delivery a handler saw, in order.
class Log {
 public:
  void Add(const BusRecord& r) {
    std::lock_guard lock(mu_);
    seen_.push_back(r);
  }
  std::vector<BusRecord> Snapshot() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t Size() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  // Deliveries whose payload starts with `prefix`, counted per payload.
  std::map<std::string, int> CountByPayload(const std::string& prefix = "") {
    std::lock_guard lock(mu_);
    std::map<std::string, int> out;
    for (const auto& r : seen_) {
      if (r.payload.starts_with(prefix)) out[r.payload]++;
    }
    return out;
  }
  bool SawPayload(const std::string& payload) {
    std::lock_guard lock(mu_);
    return std::any_of(seen_.begin(), seen_.end(), [&](const BusRecord& r) { return r.payload == payload; });
  }

 private:
  std::mutex mu_;
  std::vector<BusRecord> seen_;
};

inline Bus::Handler Recorder(std::shared_ptr<Log> log) {
  return [log](const BusRecord& r) {
    log->Add(r);
    return Status::Ok();
  };
}

// The cases of bus_conformance_batch.cc (Bus::SubscribeBatch).
Status BatchesKeepEveryRecordInOrder(Bus& bus, const BusConformanceOptions& opts);
Status FailedBatchIsRetriedRecordByRecord(Bus& bus, const BusConformanceOptions& opts);

}  // namespace im::testing::bus_conformance

#endif  // IM_SRC_TESTING_BUS_CONFORMANCE_CHECK_H_
