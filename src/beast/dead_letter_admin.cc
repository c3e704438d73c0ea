#include "beast/dead_letter_admin.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <charconv>

#include "crypto/base64url.h"
#include "im/v1/records.pb.h"

namespace im::gateway {
namespace {

namespace json = boost::json;

bool TokenMatches(std::string_view authorization, std::string_view admin_token) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (!authorization.starts_with(kPrefix)) return false;
  std::string_view given = authorization.substr(kPrefix.size());
  return given.size() == admin_token.size() && CRYPTO_memcmp(given.data(), admin_token.data(), given.size()) == 0;
}

std::optional<int64_t> ParseNumber(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) return std::nullopt;
  return n;
}

json::object LetterJson(const DeadLetter& d) {
  json::object o{{"id", std::to_string(d.id)},
                 {"topic", d.topic},
                 {"key", d.key},
                 {"error", d.error},
                 {"attempts", d.attempts},
                 {"created_at_ms", d.created_at_ms},
                 {"payload_base64url", crypto::Base64UrlEncode(d.payload)}};
  v1::TaskMessage task;
  if ((d.topic == topics::kTask || d.topic == topics::kTaskRetry) && task.ParseFromString(d.payload)) {
    o["task_type"] = task.type();
    o["trace_id"] = task.trace_id();
  }
  return o;
}

Result<RestResponse> Route(Engine& engine, const RestRequest& r, std::string_view path) {
  constexpr std::string_view kBase = "/admin/dead-letters";
  if (path == kBase && r.method == "GET") {
    auto after = ParseNumber(QueryParam(r.target, "after").empty() ? "0" : QueryParam(r.target, "after"));
    auto limit = ParseNumber(QueryParam(r.target, "limit").empty() ? "100" : QueryParam(r.target, "limit"));
    if (!after || !limit) return Status::InvalidArgument("after and limit must be non-negative integers");
    IM_ASSIGN_OR_RETURN(auto letters, engine.ListDeadLetters(*after, static_cast<uint32_t>(std::min<int64_t>(*limit, 1000))));
    json::array out;
    for (const auto& d : letters) out.push_back(LetterJson(d));
    json::value next = letters.empty() ? json::value(nullptr) : json::value(std::to_string(letters.back().id));
    return RestResponse{200, json::serialize(json::object{{"dead_letters", std::move(out)}, {"next_after", next}})};
  }
  if (path.starts_with(std::string(kBase) + "/") && path.ends_with("/redrive") && r.method == "POST") {
    std::string_view id_text = path.substr(kBase.size() + 1);
    id_text.remove_suffix(std::string_view("/redrive").size());
    auto id = ParseNumber(id_text);
    if (!id) return Status::InvalidArgument("malformed dead-letter id");
    IM_RETURN_IF_ERROR(engine.RedriveDeadLetter(*id));
    return RestResponse{204, ""};
  }
  if (path.starts_with(std::string(kBase) + "/") && r.method == "DELETE") {
    auto id = ParseNumber(path.substr(kBase.size() + 1));
    if (!id) return Status::InvalidArgument("malformed dead-letter id");
    IM_RETURN_IF_ERROR(engine.DiscardDeadLetter(*id));
    return RestResponse{204, ""};
  }
  return Status::NotFound("no route for " + std::string(r.method) + " " + std::string(path));
}

}  // namespace

std::optional<RestResponse> HandleDeadLetterAdmin(Engine& engine, const RestRequest& r, std::string_view admin_token) {
  std::string_view path = r.target.substr(0, r.target.find('?'));
  if (!path.starts_with("/admin/")) return std::nullopt;
  if (admin_token.empty()) return ErrorResponse(Status::NotFound("no route for " + std::string(path)));
  if (!TokenMatches(r.authorization, admin_token)) {
    return ErrorResponse(Status::Unauthenticated("the admin endpoints need the admin bearer token"));
  }
  auto out = Route(engine, r, path);
  return out.ok() ? std::move(out).value() : ErrorResponse(out.status());
}

}  // namespace im::gateway
