// The Presence conformance suite (target im::testing): the contract of include/im/presence.h as
// code. Every presence backend in libim runs it, and so can an adapter of your own: it depends on
// no test framework.
//
//   for (auto& c : im::testing::PresenceConformanceCases()) {
//     auto presence = MakeMyPresence();        // a fresh presence per case
//     im::Status s = c.run(*presence);
//     EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
//   }
//
// A case returns ok, or internal with "file:line: what was expected" for the first violated
// expectation.
//
// Cases make up their own user ids and gateway names (random per case), so presences sharing
// one server (Redis) can run them side by side, and leave nothing behind but routes that expire.
// Expiry is tested with `short_ttl` and waited for by polling with a deadline (`timeout`), never
// by sleeping a fixed time: a loaded machine only makes a case slower. Routes that must stay
// alive are registered with `long_ttl`, far beyond any wait.
#ifndef IM_TESTING_PRESENCE_CONFORMANCE_H_
#define IM_TESTING_PRESENCE_CONFORMANCE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/presence.h"
#include "im/status.h"

namespace im::testing {

struct PresenceConformanceOptions {
  // TTL of routes a case waits to see expire.
  std::chrono::milliseconds short_ttl{200};
  // TTL of routes that must outlive the case.
  std::chrono::milliseconds long_ttl{600'000};
  // The longest a case waits for an expiry.
  std::chrono::milliseconds timeout{30'000};
  // Run the UnregisterGateway case (an adapter that answers not_supported turns this off).
  bool unregister_gateway = true;
};

struct PresenceConformanceCase {
  std::string name;
  std::function<Status(Presence&)> run;
};

std::vector<PresenceConformanceCase> PresenceConformanceCases(PresenceConformanceOptions options = {});

// Runs every case on a new presence from `make_presence`; returns "name: message" per failure.
// `parallel` runs the cases at the same time, each on its own thread and presence.
std::vector<std::string> RunPresenceConformance(const std::function<std::shared_ptr<Presence>()>& make_presence,
                                                PresenceConformanceOptions options = {}, bool parallel = false);

}  // namespace im::testing

#endif  // IM_TESTING_PRESENCE_CONFORMANCE_H_
