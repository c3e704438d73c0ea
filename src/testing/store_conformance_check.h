// What the files of the Store conformance suite share (internal to im::testing): the fixtures
// (the expectation macros are in conformance_check.h).
#ifndef IM_SRC_TESTING_STORE_CONFORMANCE_CHECK_H_
#define IM_SRC_TESTING_STORE_CONFORMANCE_CHECK_H_

#include <string>
#include <vector>

#include "im/status.h"
#include "im/store.h"
#include "im/testing/store_conformance.h"
#include "conformance_check.h"

namespace im::testing::conformance {

constexpr TimestampMs kT0 = 1'700'000'000'000;

inline Result<User> MakeUser(Store& s, const std::string& name) {
  return s.CreateUser(NewUser{name, "Name of " + name, "hash-" + name, kT0});
}

// The cases of store_conformance_push.cc: device tokens, push settings, dead letters.
std::vector<StoreConformanceCase> PushAndDeadLetterCases();
// The cases of store_conformance_group_policy.cc: group settings, joined seqs, invitations, join
// requests, bans.
std::vector<StoreConformanceCase> GroupPolicyCases();

}  // namespace im::testing::conformance

#endif  // IM_SRC_TESTING_STORE_CONFORMANCE_CHECK_H_
