// The Store conformance suite (target im::testing). Every backend in libim runs it, and so can a
// store adapter of your own: it depends on no test framework.
//
//   for (auto& c : im::testing::StoreConformanceCases()) {
//     auto store = MakeMyStore();              // a fresh, empty store per case
//     im::Status s = c.run(*store);
//     EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
//   }
//
// A case returns ok, or internal with "file:line: what was expected" for the first violated
// expectation. Cases run concurrent writers, so the store must be thread-safe.
#ifndef IM_TESTING_STORE_CONFORMANCE_H_
#define IM_TESTING_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/status.h"
#include "im/store.h"

namespace im::testing {

struct StoreConformanceCase {
  std::string name;
  std::function<Status(Store&)> run;
};

std::vector<StoreConformanceCase> StoreConformanceCases();

// Runs every case on a new store from `make_store`; returns "name: message" for each failure.
std::vector<std::string> RunStoreConformance(const std::function<std::shared_ptr<Store>()>& make_store);

}  // namespace im::testing

#endif  // IM_TESTING_STORE_CONFORMANCE_H_
