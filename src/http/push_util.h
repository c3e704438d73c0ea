// Small helpers shared by the APNs and FCM providers.
#ifndef IM_SRC_HTTP_PUSH_UTIL_H_
#define IM_SRC_HTTP_PUSH_UTIL_H_

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "im/push.h"
#include "im/status.h"

namespace im::http {

// Longest title and body put into a notification: both services cap the payload at 4 KB.
inline constexpr size_t kMaxPushTitleBytes = 256;
inline constexpr size_t kMaxPushBodyBytes = 1024;

// `clock()` when set, else the system clock (ms since the Unix epoch).
int64_t NowMs(const std::function<int64_t()>& clock);

// `text` cut to at most `max_bytes` at a UTF-8 character boundary, with "…" appended when cut.
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// A JSON object, or nullopt for anything else (never throws).
std::optional<boost::json::object> ParseJsonObject(std::string_view text);

// obj[key] when it is a string, else "".
std::string StringField(const boost::json::object& obj, std::string_view key);

// A PushResult with the given fields.
PushResult MakePushResult(PushResult::Kind kind, int http_status, std::string reason, int64_t retry_after_ms = 0);

// kRetry for a transport failure (no HTTP response): the client's error as the reason.
PushResult TransportFailure(const Status& status);

// True for "https://" followed by at least one character (the scheme is all that is checked).
bool IsHttpsUrl(std::string_view url);

// `url` without trailing slashes.
std::string TrimTrailingSlashes(std::string url);

}  // namespace im::http

#endif  // IM_SRC_HTTP_PUSH_UTIL_H_
