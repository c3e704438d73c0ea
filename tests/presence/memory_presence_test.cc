#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "im/presence.h"
#include "im/testing/presence_conformance.h"

TEST_CASE("memory presence passes the presence conformance suite") {
  for (auto& c : im::testing::PresenceConformanceCases()) {
    auto presence = im::NewMemoryPresence();
    im::Status s = c.run(*presence);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
}

TEST_CASE("memory presence passes the presence conformance suite with every case at once, on one presence") {
  auto shared = im::NewMemoryPresence();
  auto failures = im::testing::RunPresenceConformance([&] { return shared; }, {}, /*parallel=*/true);
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

TEST_CASE("memory presence: TTL 0 takes the default given at construction") {
  auto presence = im::NewMemoryPresence(/*default_ttl_ms=*/50);
  im::Route r{im::UserId(7), "phone", "gw"};
  REQUIRE(presence->Register(r, 0).ok());
  std::vector<im::UserId> users{im::UserId(7)};
  // Expires by itself (polled: a loaded machine may take longer to get here than 50 ms).
  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    auto routes = presence->Lookup(users);
    REQUIRE(routes.ok());
    gone = routes->empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(gone);
}

namespace {

// Broken presences the suite must catch.
class IgnoresTtl : public im::PresenceWrapper {
 public:
  using PresenceWrapper::PresenceWrapper;
  im::Status Register(const im::Route& r, int64_t) override { return PresenceWrapper::Register(r, 3'600'000); }
};
class IgnoresUnregister : public im::PresenceWrapper {
 public:
  using PresenceWrapper::PresenceWrapper;
  im::Status Unregister(const im::Route&) override { return im::Status::Ok(); }
};

bool AnyStartsWith(const std::vector<std::string>& failures, const std::string& prefix) {
  for (const auto& f : failures) {
    if (f.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the presence conformance suite fails presences that break the contract") {
  im::testing::PresenceConformanceOptions o;
  o.timeout = std::chrono::milliseconds(1500);  // the broken one never expires: do not wait long
  auto ttl = im::testing::RunPresenceConformance([] { return std::make_shared<IgnoresTtl>(im::NewMemoryPresence()); },
                                                 o, /*parallel=*/true);
  CHECK(AnyStartsWith(ttl, "ttl: routes expire when not refreshed"));
  CHECK(AnyStartsWith(ttl, "ttl: a heartbeat moves the expiry"));
  CHECK(AnyStartsWith(ttl, "ttl: a gateway that stops heartbeating loses its routes"));
  CHECK_FALSE(AnyStartsWith(ttl, "routes: register, lookup, unregister"));

  auto unreg = im::testing::RunPresenceConformance(
      [] { return std::make_shared<IgnoresUnregister>(im::NewMemoryPresence()); }, o);
  CHECK(AnyStartsWith(unreg, "routes: register, lookup, unregister"));
  CHECK(AnyStartsWith(unreg, "concurrency: several gateways update the same users"));
}
