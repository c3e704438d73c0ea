// FCM HTTP v1 with an OAuth2 access token from a service account (JWT bearer grant, RFC 7523).
// See im/push_providers.h.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <mutex>
#include <string>
#include <variant>

#include "http/http_client.h"
#include "http/jws.h"
#include "http/push_util.h"
#include "im/push_providers.h"

namespace im {
namespace {
namespace json = boost::json;
using Kind = PushResult::Kind;

constexpr const char* kScope = "https://www.googleapis.com/auth/firebase.messaging";
constexpr int64_t kAssertionLifetimeS = 3600;
// An access token is replaced this long before Google says it expires.
constexpr int64_t kTokenRefreshMarginMs = 60 * 1000;

struct ServiceAccount {
  std::string project_id;
  std::string private_key_id;
  std::string client_email;
  std::string token_uri;
};

// Project ids are letters, digits and '-' (domain-scoped ones add '.' and ':'); nothing that
// could change the URL's path.
bool IsProjectId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != ':') return false;
  }
  return true;
}

// The outcome of getting an access token: the token, or the result to give the caller.
using TokenOrFailure = std::variant<std::string, PushResult>;

class FcmProvider final : public PushProvider {
 public:
  FcmProvider(FcmOptions options, ServiceAccount account, http::JwsKey key)
      : options_(std::move(options)),
        account_(std::move(account)),
        key_(std::move(key)),
        send_url_(http::TrimTrailingSlashes(options_.endpoint) + "/v1/projects/" + account_.project_id +
                  "/messages:send"),
        token_url_(options_.token_uri.empty() ? account_.token_uri : options_.token_uri),
        client_(http::ClientOptions{.http2 = true, .ca_file = options_.ca_file, .timeout_ms = options_.timeout_ms}) {}

  PushResult Send(const PushNotification& n) override {
    TokenOrFailure token = AccessToken();
    if (auto* failure = std::get_if<PushResult>(&token)) return std::move(*failure);
    const std::string& access_token = std::get<std::string>(token);

    http::Request request;
    request.method = "POST";
    request.url = send_url_;
    request.headers = {{"authorization", "Bearer " + access_token},
                       {"content-type", "application/json; charset=utf-8"}};
    request.body = Payload(n);
    Result<http::Response> response = client_.Send(request);
    if (!response.ok()) return http::TransportFailure(response.status());
    return Classify(*response, access_token);
  }

 private:
  static std::string Payload(const PushNotification& n) {
    const std::string message_id = std::to_string(n.message_id.value);
    json::object notification;
    notification["title"] = http::TruncateUtf8(n.title, http::kMaxPushTitleBytes);
    notification["body"] = http::TruncateUtf8(n.body, http::kMaxPushBodyBytes);
    json::object data;  // FCM data values must be strings
    data["conversation_id"] = n.conversation_id;
    data["message_id"] = message_id;
    data["seq"] = std::to_string(n.seq);
    json::object android;
    android["collapse_key"] = message_id;
    android["priority"] = "high";
    json::object apns_headers;
    apns_headers["apns-collapse-id"] = message_id;
    json::object apns;
    apns["headers"] = std::move(apns_headers);
    json::object message;
    message["token"] = n.token;
    message["notification"] = std::move(notification);
    message["data"] = std::move(data);
    message["android"] = std::move(android);
    message["apns"] = std::move(apns);
    json::object root;
    root["message"] = std::move(message);
    return json::serialize(root);
  }

  PushResult Classify(const http::Response& response, const std::string& access_token) {
    const int status = static_cast<int>(response.status);
    if (status == 200) return http::MakePushResult(Kind::kDelivered, status, {});

    // {"error":{"code":404,"message":"…","status":"NOT_FOUND","details":[{"@type":"…FcmError","errorCode":"UNREGISTERED"}]}}
    std::string error_status, message, error_code;
    if (auto body = http::ParseJsonObject(response.body)) {
      if (const json::value* error = body->if_contains("error"); error != nullptr && error->is_object()) {
        error_status = http::StringField(error->as_object(), "status");
        message = http::StringField(error->as_object(), "message");
        if (const json::value* details = error->as_object().if_contains("details");
            details != nullptr && details->is_array()) {
          for (const json::value& d : details->as_array()) {
            if (d.is_object() && error_code.empty()) error_code = http::StringField(d.as_object(), "errorCode");
          }
        }
      }
    }
    std::string reason = !error_code.empty()     ? error_code
                         : !error_status.empty() ? error_status
                                                 : "HTTP " + std::to_string(status);
    if (!message.empty()) reason += ": " + message;

    if (status == 404 || (status == 400 && error_code == "UNREGISTERED")) {
      return http::MakePushResult(Kind::kInvalidToken, status, reason);
    }
    if (status == 401) {
      DropToken(access_token);
      return http::MakePushResult(Kind::kRetry, status, reason);
    }
    if (status == 429 || status >= 500)
      return http::MakePushResult(Kind::kRetry, status, reason, http::RetryAfterMs(response));
    return http::MakePushResult(Kind::kRejected, status, reason);
  }

  // The cached access token, or a fresh one; one refresh at a time, others wait and reuse it.
  TokenOrFailure AccessToken() {
    {
      std::lock_guard lock(mu_);
      if (!token_.empty() && http::NowMs(options_.clock_ms) < token_refresh_at_ms_) return token_;
    }
    std::lock_guard refresh(refresh_mu_);
    const int64_t now_ms = http::NowMs(options_.clock_ms);
    {
      std::lock_guard lock(mu_);
      if (!token_.empty() && now_ms < token_refresh_at_ms_) return token_;
    }
    int64_t expires_in_s = 0;
    TokenOrFailure fetched = FetchToken(now_ms, &expires_in_s);
    if (auto* token = std::get_if<std::string>(&fetched)) {
      std::lock_guard lock(mu_);
      token_ = *token;
      token_refresh_at_ms_ = now_ms + expires_in_s * 1000 - kTokenRefreshMarginMs;
    }
    return fetched;
  }

  // Forgets `access_token` unless a refresh already replaced it.
  void DropToken(const std::string& access_token) {
    std::lock_guard lock(mu_);
    if (token_ == access_token) token_.clear();
  }

  TokenOrFailure FetchToken(int64_t now_ms, int64_t* expires_in_s) {
    const int64_t now_s = now_ms / 1000;
    json::object header;
    header["alg"] = "RS256";
    header["typ"] = "JWT";
    header["kid"] = account_.private_key_id;
    json::object claims;
    claims["iss"] = account_.client_email;
    claims["scope"] = kScope;
    claims["aud"] = account_.token_uri;
    claims["iat"] = now_s;
    claims["exp"] = now_s + kAssertionLifetimeS;
    Result<std::string> assertion = key_.Sign(json::serialize(header), json::serialize(claims));
    if (!assertion.ok()) return http::MakePushResult(Kind::kRetry, 0, "oauth2 token: " + assertion.status().ToString());

    http::Request request;
    request.method = "POST";
    request.url = token_url_;
    request.headers = {{"content-type", "application/x-www-form-urlencoded"}};
    // A JWS is base64url and '.', which need no form encoding.
    request.body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + *assertion;
    Result<http::Response> response = client_.Send(request);
    if (!response.ok()) {
      return http::MakePushResult(Kind::kRetry, 0, "oauth2 token: " + response.status().message());
    }
    const int status = static_cast<int>(response->status);
    std::optional<json::object> body = http::ParseJsonObject(response->body);

    if (status != 200) {
      // {"error":"invalid_grant","error_description":"Invalid JWT Signature."}
      std::string reason = "oauth2 token: HTTP " + std::to_string(status);
      if (body) {
        std::string error = http::StringField(*body, "error");
        std::string description = http::StringField(*body, "error_description");
        if (!error.empty()) reason = "oauth2 token: " + error;
        if (!description.empty()) reason += ": " + description;
      }
      if (status == 429 || status >= 500) {
        return http::MakePushResult(Kind::kRetry, status, reason, http::RetryAfterMs(*response));
      }
      return http::MakePushResult(Kind::kRejected, status, reason);
    }

    std::string access_token = body ? http::StringField(*body, "access_token") : std::string();
    std::string token_type = body ? http::StringField(*body, "token_type") : std::string();
    const json::value* expires_in = body ? body->if_contains("expires_in") : nullptr;
    if (access_token.empty() || (!token_type.empty() && token_type != "Bearer" && token_type != "bearer") ||
        expires_in == nullptr || !expires_in->is_number()) {
      return http::MakePushResult(Kind::kRetry, status, "oauth2 token: malformed token response");
    }
    json::error_code ec;
    *expires_in_s = expires_in->to_number<int64_t>(ec);
    if (ec || *expires_in_s <= 0) return http::MakePushResult(Kind::kRetry, status, "oauth2 token: bad expires_in");
    return access_token;
  }

  const FcmOptions options_;
  const ServiceAccount account_;
  const http::JwsKey key_;
  const std::string send_url_;
  const std::string token_url_;
  http::Client client_;

  std::mutex refresh_mu_;  // held by the one thread fetching a token
  std::mutex mu_;
  std::string token_;  // guarded by mu_; "" = none
  int64_t token_refresh_at_ms_ = 0;
};

Result<ServiceAccount> ParseServiceAccount(std::string_view text, std::string* private_key_pem) {
  std::optional<json::object> obj = http::ParseJsonObject(text);
  if (!obj) return Status::InvalidArgument("fcm: service_account_json is not a JSON object");
  if (http::StringField(*obj, "type") != "service_account") {
    return Status::InvalidArgument("fcm: service_account_json: type is not \"service_account\"");
  }
  ServiceAccount account;
  account.project_id = http::StringField(*obj, "project_id");
  account.private_key_id = http::StringField(*obj, "private_key_id");
  account.client_email = http::StringField(*obj, "client_email");
  account.token_uri = http::StringField(*obj, "token_uri");
  *private_key_pem = http::StringField(*obj, "private_key");
  if (!IsProjectId(account.project_id))
    return Status::InvalidArgument("fcm: service_account_json: bad or missing project_id");
  if (account.private_key_id.empty())
    return Status::InvalidArgument("fcm: service_account_json: missing private_key_id");
  if (private_key_pem->empty()) return Status::InvalidArgument("fcm: service_account_json: missing private_key");
  if (account.client_email.find('@') == std::string::npos) {
    return Status::InvalidArgument("fcm: service_account_json: bad or missing client_email");
  }
  if (!http::IsHttpsUrl(account.token_uri)) {
    return Status::InvalidArgument("fcm: service_account_json: token_uri missing or not https://");
  }
  return account;
}

}  // namespace

Result<std::shared_ptr<PushProvider>> OpenFcmProvider(FcmOptions options) {
  std::string pem;
  IM_ASSIGN_OR_RETURN(ServiceAccount account, ParseServiceAccount(options.service_account_json, &pem));
  if (!http::IsHttpsUrl(options.endpoint)) return Status::InvalidArgument("fcm: endpoint must start with https://");
  if (!options.token_uri.empty() && !http::IsHttpsUrl(options.token_uri)) {
    return Status::InvalidArgument("fcm: token_uri must start with https://");
  }
  Result<http::JwsKey> key = http::JwsKey::FromPem(pem, http::JwsAlgorithm::kRs256);
  if (!key.ok()) return Status::InvalidArgument("fcm: service_account_json: " + key.status().message());
  return std::shared_ptr<PushProvider>(
      std::make_shared<FcmProvider>(std::move(options), std::move(account), std::move(key).value()));
}

}  // namespace im
