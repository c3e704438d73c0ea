// APNs over HTTP/2 with token-based (ES256 JWT) authentication. See im/push_providers.h.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <mutex>
#include <string>

#include "http/http_client.h"
#include "http/jws.h"
#include "http/push_util.h"
#include "im/push_providers.h"

namespace im {
namespace {
namespace json = boost::json;
using Kind = PushResult::Kind;

// A provider token is re-signed after 50 minutes: APNs refuses tokens older than one hour and
// renewals more frequent than every 20 minutes.
constexpr int64_t kJwtRenewAfterMs = 50 * 60 * 1000;
// Device tokens are hex (32 bytes today); a bound keeps a garbage token out of the URL.
constexpr size_t kMaxDeviceTokenChars = 200;

bool IsAlnum(std::string_view s, size_t size) {
  if (s.size() != size) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c)) return false;
  }
  return true;
}

bool IsHexToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxDeviceTokenChars) return false;
  for (unsigned char c : s) {
    if (!std::isxdigit(c)) return false;
  }
  return true;
}

class ApnsProvider final : public PushProvider {
 public:
  ApnsProvider(ApnsOptions options, http::JwsKey key)
      : options_(std::move(options)),
        key_(std::move(key)),
        endpoint_(http::TrimTrailingSlashes(options_.endpoint)),
        client_(http::ClientOptions{.http2 = true, .ca_file = options_.ca_file, .timeout_ms = options_.timeout_ms}) {}

  PushResult Send(const PushNotification& n) override {
    if (!IsHexToken(n.token)) return http::MakePushResult(Kind::kInvalidToken, 0, "BadDeviceToken (not a hex token)");
    const int64_t now_ms = http::NowMs(options_.clock_ms);
    Result<std::string> jwt = ProviderToken(now_ms);
    if (!jwt.ok()) return http::MakePushResult(Kind::kRetry, 0, jwt.status().ToString());

    http::Request request;
    request.method = "POST";
    request.url = endpoint_ + "/3/device/" + n.token;
    const int64_t expiration = options_.expiration_seconds > 0 ? now_ms / 1000 + options_.expiration_seconds : 0;
    request.headers = {
        {"authorization", "bearer " + *jwt},
        {"apns-topic", options_.topic},
        {"apns-push-type", "alert"},
        {"apns-priority", "10"},
        {"apns-expiration", std::to_string(expiration)},
        // At most 20 decimal digits: well within APNs' 64-byte limit.
        {"apns-collapse-id", std::to_string(n.message_id.value)},
        {"content-type", "application/json"},
    };
    request.body = Payload(n);

    Result<http::Response> response = client_.Send(request);
    if (!response.ok()) return http::TransportFailure(response.status());
    return Classify(*response, *jwt);
  }

 private:
  static std::string Payload(const PushNotification& n) {
    json::object alert;
    alert["title"] = http::TruncateUtf8(n.title, http::kMaxPushTitleBytes);
    alert["body"] = http::TruncateUtf8(n.body, http::kMaxPushBodyBytes);
    json::object aps;
    aps["alert"] = std::move(alert);
    aps["sound"] = "default";
    aps["thread-id"] = n.conversation_id;
    json::object payload;
    payload["aps"] = std::move(aps);
    payload["conversation_id"] = n.conversation_id;
    payload["message_id"] = std::to_string(n.message_id.value);
    payload["seq"] = n.seq;
    return json::serialize(payload);
  }

  PushResult Classify(const http::Response& response, const std::string& jwt) {
    const int status = static_cast<int>(response.status);
    std::string reason;
    if (auto body = http::ParseJsonObject(response.body)) reason = http::StringField(*body, "reason");

    if (status == 200) return http::MakePushResult(Kind::kDelivered, status, {});
    if (status == 410)
      return http::MakePushResult(Kind::kInvalidToken, status, reason.empty() ? "Unregistered" : reason);
    if (status == 400 && (reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic")) {
      return http::MakePushResult(Kind::kInvalidToken, status, reason);
    }
    if (status == 403 && (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken")) {
      DropToken(jwt);
      return http::MakePushResult(Kind::kRetry, status, reason);
    }
    if (status == 429 || status >= 500) {
      if (reason.empty()) reason = "HTTP " + std::to_string(status);
      return http::MakePushResult(Kind::kRetry, status, reason, http::RetryAfterMs(response));
    }
    if (reason.empty()) reason = "HTTP " + std::to_string(status);
    return http::MakePushResult(Kind::kRejected, status, reason);
  }

  // The cached provider token, re-signed when absent or older than kJwtRenewAfterMs.
  Result<std::string> ProviderToken(int64_t now_ms) {
    std::lock_guard lock(mu_);
    if (!jwt_.empty() && now_ms - jwt_issued_ms_ < kJwtRenewAfterMs) return jwt_;
    json::object header;
    header["alg"] = "ES256";
    header["kid"] = options_.key_id;
    json::object claims;
    claims["iss"] = options_.team_id;
    claims["iat"] = now_ms / 1000;
    IM_ASSIGN_OR_RETURN(std::string jwt, key_.Sign(json::serialize(header), json::serialize(claims)));
    jwt_ = std::move(jwt);
    jwt_issued_ms_ = now_ms;
    return jwt_;
  }

  // Forgets `jwt` unless another thread already replaced it.
  void DropToken(const std::string& jwt) {
    std::lock_guard lock(mu_);
    if (jwt_ == jwt) jwt_.clear();
  }

  const ApnsOptions options_;
  const http::JwsKey key_;
  const std::string endpoint_;
  http::Client client_;

  std::mutex mu_;
  std::string jwt_;  // guarded by mu_
  int64_t jwt_issued_ms_ = 0;
};

}  // namespace

Result<std::shared_ptr<PushProvider>> OpenApnsProvider(ApnsOptions options) {
  if (!IsAlnum(options.team_id, 10)) return Status::InvalidArgument("apns: team_id must be 10 letters or digits");
  if (!IsAlnum(options.key_id, 10)) return Status::InvalidArgument("apns: key_id must be 10 letters or digits");
  if (options.topic.empty()) return Status::InvalidArgument("apns: topic (the app's bundle id) is empty");
  if (!http::IsHttpsUrl(options.endpoint)) return Status::InvalidArgument("apns: endpoint must start with https://");
  if (options.expiration_seconds < 0) return Status::InvalidArgument("apns: expiration_seconds is negative");
  Result<http::JwsKey> key = http::JwsKey::FromPem(options.private_key_pem, http::JwsAlgorithm::kEs256);
  if (!key.ok())
    return Status::InvalidArgument("apns: " + key.status().message() + " (want the .p8 key: PKCS#8 EC P-256)");
  return std::shared_ptr<PushProvider>(std::make_shared<ApnsProvider>(std::move(options), std::move(key).value()));
}

}  // namespace im
