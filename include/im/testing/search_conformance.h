// The SearchIndex conformance suite (target im::testing): the contract of include/im/search.h as
// code. Every search backend in libim runs it, and so can an adapter of your own: it depends on no
// test framework.
//
//   im::testing::SearchConformanceOptions options{.folds_diacritics = true, .highlights = true};
//   for (auto& c : im::testing::SearchConformanceCases(options)) {
//     auto index = MakeMyIndex();              // a fresh, empty index per case
//     im::Status s = c.run(*index);
//     EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
//   }
//
// A case returns ok, or internal with "file:line: what was expected" for the first violated
// expectation.
//
// What the cases need from the index under test:
//  - read-your-writes: a search started after Index or Remove returned sees its effect (an
//    Elasticsearch adapter writes with refresh=wait_for);
//  - thread safety: one case indexes and searches from 4 threads at once;
//  - room for ~1,000 small documents per case.
#ifndef IM_TESTING_SEARCH_CONFORMANCE_H_
#define IM_TESTING_SEARCH_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/search.h"
#include "im/status.h"

namespace im::testing {

// What the backend declares it can do beyond the core contract; the cases for a capability the
// backend does not declare are skipped (they pass).
struct SearchConformanceOptions {
  // "cafe" finds "café", "CAFÉ" finds "cafe".
  bool folds_diacritics = true;
  // SearchHit::highlight wraps every matched word in <mark>…</mark>.
  bool highlights = true;
};

struct SearchConformanceCase {
  std::string name;
  std::function<Status(SearchIndex&)> run;
};

std::vector<SearchConformanceCase> SearchConformanceCases(SearchConformanceOptions options = {});

// Runs every case on a new index from `make_index`; returns "name: message" for each failure.
std::vector<std::string> RunSearchConformance(const std::function<std::shared_ptr<SearchIndex>()>& make_index,
                                              SearchConformanceOptions options = {});

}  // namespace im::testing

#endif  // IM_TESTING_SEARCH_CONFORMANCE_H_
