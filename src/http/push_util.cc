#include "http/push_util.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/clock.h"

namespace im::http {
namespace json = boost::json;

int64_t NowMs(const std::function<int64_t()>& clock) { return clock ? clock() : SystemNowMs(); }

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026
  size_t cut = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  // Back up over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out(text.substr(0, cut));
  if (max_bytes >= kEllipsis.size()) out += kEllipsis;
  return out;
}

std::optional<json::object> ParseJsonObject(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string StringField(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

PushResult MakePushResult(PushResult::Kind kind, int http_status, std::string reason, int64_t retry_after_ms) {
  PushResult r;
  r.kind = kind;
  r.http_status = http_status;
  r.reason = std::move(reason);
  r.retry_after_ms = retry_after_ms;
  return r;
}

PushResult TransportFailure(const Status& status) {
  return MakePushResult(PushResult::Kind::kRetry, 0, status.message());
}

bool IsHttpsUrl(std::string_view url) { return url.starts_with("https://") && url.size() > 8; }

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace im::http
