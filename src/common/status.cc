#include "im/status.h"

#include <array>
#include <utility>

namespace im {
namespace {

constexpr std::array<std::pair<StatusCode, std::string_view>, 12> kNames = {{
    {StatusCode::kOk, "ok"},
    {StatusCode::kInvalidArgument, "invalid_argument"},
    {StatusCode::kDeadlineExceeded, "deadline_exceeded"},
    {StatusCode::kNotFound, "not_found"},
    {StatusCode::kAlreadyExists, "already_exists"},
    {StatusCode::kPermissionDenied, "permission_denied"},
    {StatusCode::kResourceExhausted, "resource_exhausted"},
    {StatusCode::kFailedPrecondition, "failed_precondition"},
    {StatusCode::kNotSupported, "not_supported"},
    {StatusCode::kInternal, "internal"},
    {StatusCode::kUnavailable, "unavailable"},
    {StatusCode::kUnauthenticated, "unauthenticated"},
}};

}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "internal";
}

std::optional<StatusCode> StatusCodeFromName(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace im
