#include <doctest/doctest.h>

#include "im/store.h"
#include "im/testing/store_conformance.h"

TEST_CASE("memory store passes the store conformance suite") {
  for (auto& c : im::testing::StoreConformanceCases()) {
    auto store = im::NewMemoryStore();
    im::Status s = c.run(*store);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
}
