// The expectation macros every conformance suite uses (internal to im::testing): each returns
// internal with "file:line: expected …" from the case that failed.
#ifndef IM_SRC_TESTING_CONFORMANCE_CHECK_H_
#define IM_SRC_TESTING_CONFORMANCE_CHECK_H_

#include <string>
#include <utility>

#include "im/status.h"

namespace im::testing::conformance {

inline Status Fail(const char* file, int line, const std::string& what) {
  return Status::Internal(std::string(file) + ":" + std::to_string(line) + ": expected " + what);
}

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define EXPECT(cond) \
  if (!(cond)) return ::im::testing::conformance::Fail(__FILE__, __LINE__, #cond)
#define EXPECT_OK(expr)                                                                                    \
  do {                                                                                                     \
    auto im_s_ = (expr);                                                                                   \
    if (!::im::testing::conformance::StatusOf(im_s_).ok())                                                 \
      return ::im::testing::conformance::Fail(                                                             \
          __FILE__, __LINE__, #expr " ok, got " + ::im::testing::conformance::StatusOf(im_s_).ToString()); \
  } while (0)
#define EXPECT_CODE(expr, want)                                                                            \
  do {                                                                                                     \
    auto im_s_ = (expr);                                                                                   \
    if (::im::testing::conformance::StatusOf(im_s_).code() != (want))                                      \
      return ::im::testing::conformance::Fail(                                                             \
          __FILE__, __LINE__,                                                                              \
          #expr " to fail with " #want ", got " + ::im::testing::conformance::StatusOf(im_s_).ToString()); \
  } while (0)
// Declares `lhs` from a Result that must be ok.
#define ASSIGN_OK(lhs, expr) ASSIGN_OK_IMPL_(IM_CONCAT_(conf_r_, __LINE__), lhs, expr)
#define ASSIGN_OK_IMPL_(tmp, lhs, expr)                                                                       \
  auto tmp = (expr);                                                                                          \
  if (!tmp.ok())                                                                                              \
    return ::im::testing::conformance::Fail(__FILE__, __LINE__, #expr " ok, got " + tmp.status().ToString()); \
  lhs = std::move(tmp).value()

}  // namespace im::testing::conformance

#endif  // IM_SRC_TESTING_CONFORMANCE_CHECK_H_
