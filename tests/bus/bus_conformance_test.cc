#include <doctest/doctest.h>

#include "im/bus.h"
#include "im/testing/bus_conformance.h"

TEST_CASE("in-process bus passes the bus conformance suite") {
  for (auto& c : im::testing::BusConformanceCases()) {
    auto bus = im::NewInProcessBus();
    im::Status s = c.run(*bus);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
}

TEST_CASE("in-process bus passes the bus conformance suite with every case at once") {
  auto failures = im::testing::RunBusConformance([] { return im::NewInProcessBus(); }, {}, /*parallel=*/true);
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}
