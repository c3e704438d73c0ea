// The real push providers (docs/search-and-push.md): Apple Push Notification service and Firebase Cloud
// Messaging. Part of im::http (libcurl, OpenSSL); the core library does not depend on them.
//
//   im::ApnsOptions apns;
//   apns.team_id = "ABCDE12345";
//   apns.key_id = "KEY1234567";
//   apns.private_key_pem = ReadFile("AuthKey_KEY1234567.p8");
//   apns.topic = "com.example.chat";
//   auto provider = im::OpenApnsProvider(std::move(apns));  // Result<shared_ptr<PushProvider>>
//
// Both providers are thread-safe, keep their HTTP/2 connections open between sends, and map the
// service's answers onto PushResult (im/push.h): they never retry by themselves — a kRetry result
// tells the caller to try again, not before retry_after_ms.
#ifndef IM_PUSH_PROVIDERS_H_
#define IM_PUSH_PROVIDERS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "im/push.h"
#include "im/status.h"

namespace im {

struct ApnsOptions {
  // The 10-character Team ID and Key ID of the APNs authentication key (token-based auth).
  std::string team_id;
  std::string key_id;
  // The .p8 file's contents: a PKCS#8 PEM EC P-256 private key.
  std::string private_key_pem;
  // The app's bundle id (apns-topic).
  std::string topic;
  // Production; the sandbox is "https://api.sandbox.push.apple.com". Must be https://.
  std::string endpoint = "https://api.push.apple.com";
  // A PEM bundle to trust instead of the system's CAs ("" = system). Verification is always on.
  std::string ca_file;
  long timeout_ms = 10'000;
  // How long APNs stores a notification for an offline device: apns-expiration = now + this.
  // 0 sends apns-expiration: 0 (deliver at most once, never stored). Default one day.
  int64_t expiration_seconds = 24 * 3600;
  // Milliseconds since the Unix epoch, for the JWT's iat and its renewal; default system clock.
  std::function<int64_t()> clock_ms;
};

// Requests: HTTP/2 POST {endpoint}/3/device/{token} with a provider JWT (ES256, iss = team_id,
// kid = key_id) that is reused for 50 minutes and then re-signed (APNs rejects tokens older than
// an hour and renewals more often than every 20 minutes), apns-push-type alert, apns-priority 10,
// apns-collapse-id = the message id. Results: 200 kDelivered; 410 and 400 BadDeviceToken /
// DeviceTokenNotForTopic kInvalidToken (also a token that is not hex, without a request); 403
// ExpiredProviderToken / InvalidProviderToken drop the JWT and kRetry; 429, 5xx and transport
// errors kRetry; any other status kRejected with APNs' reason.
//
// Errors: invalid_argument when team_id or key_id is not 10 letters/digits, the key is not an EC
// P-256 private key, topic is empty or endpoint is not https://.
Result<std::shared_ptr<PushProvider>> OpenApnsProvider(ApnsOptions options);

struct FcmOptions {
  // The service account JSON key file's contents (type "service_account" with project_id,
  // private_key_id, private_key (RSA PEM), client_email and token_uri).
  std::string service_account_json;
  // Must be https://.
  std::string endpoint = "https://fcm.googleapis.com";
  // Where to POST the token request; "" = the JSON's token_uri. The JWT's aud is always the
  // JSON's token_uri (what Google checks), so this only redirects the request (proxies, tests).
  std::string token_uri;
  std::string ca_file;  // as in ApnsOptions
  long timeout_ms = 10'000;
  std::function<int64_t()> clock_ms;  // as in ApnsOptions
};

// Requests: POST {endpoint}/v1/projects/{project_id}/messages:send (HTTP/2) with an OAuth2 access
// token obtained by the JWT bearer grant (RS256, scope firebase.messaging) and cached until 60 s
// before it expires; one refresh at a time. Results: 200 kDelivered; 404 and 400 with errorCode
// UNREGISTERED kInvalidToken; 401 drops the access token and kRetry; 429, 5xx, transport errors
// and token endpoint 429/5xx/transport failures kRetry; a token endpoint 400/401 (a revoked or wrong
// service account) and any other status kRejected with Google's status and message.
//
// Errors: invalid_argument when the JSON is not a service account key as above, the key is not an
// RSA private key, or endpoint / token_uri is not https://.
Result<std::shared_ptr<PushProvider>> OpenFcmProvider(FcmOptions options);

}  // namespace im

#endif  // IM_PUSH_PROVIDERS_H_
