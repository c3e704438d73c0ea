// The FCM provider against tests/http/h2_stub_server.py: real TLS (verification on, against a test CA),
// real HTTP/2, JWTs checked with OpenSSL independently of the code under test.
#include <doctest/doctest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <thread>

#include "http/push_fixture.h"
#include "im/push_providers.h"

namespace im {
namespace {
namespace json = boost::json;
using test::FakeClock;
using test::H2StubServer;
using test::JsonInt;
using test::JsonString;
using test::kStartMs;
using test::LoggedRequest;
using test::RequirePki;
using test::RequireServer;
using test::SampleNotification;
using test::StubResponse;
using Kind = PushResult::Kind;

constexpr const char* kProject = "im-test-project";
constexpr const char* kKeyIdFcm = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kClientEmail = "push@im-test-project.iam.gserviceaccount.com";
constexpr const char* kGoogleTokenUri = "https://oauth2.googleapis.com/token";
constexpr const char* kScope = "https://www.googleapis.com/auth/firebase.messaging";
const std::string kSendPath = std::string("/v1/projects/") + kProject + "/messages:send";

std::string ServiceAccountJson(const std::string& key_pem, const std::string& type = "service_account") {
  json::object o;
  o["type"] = type;
  o["project_id"] = kProject;
  o["private_key_id"] = kKeyIdFcm;
  o["private_key"] = key_pem;
  o["client_email"] = kClientEmail;
  o["client_id"] = "1234567890";
  o["token_uri"] = kGoogleTokenUri;
  return json::serialize(o);
}

// The token request goes to the stub (token_uri override); the JWT's aud stays Google's.
FcmOptions Fcm(const H2StubServer& server, const FakeClock& clock) {
  FcmOptions o;
  o.service_account_json = ServiceAccountJson(RequirePki().rsa_key_pem);
  o.endpoint = server.url();
  o.token_uri = server.url() + "/token";
  o.ca_file = RequirePki().ca_file;
  o.clock_ms = clock.fn();
  return o;
}

std::shared_ptr<PushProvider> RequireFcm(FcmOptions options) {
  auto provider = OpenFcmProvider(std::move(options));
  REQUIRE_MESSAGE(provider.ok(), provider.status().ToString());
  return *provider;
}

StubResponse TokenOk(const std::string& access_token, int expires_in = 3599) {
  return {.path = "/token",
          .headers = {{"content-type", "application/json"}},
          .body = R"({"access_token":")" + access_token + R"(","expires_in":)" + std::to_string(expires_in) +
                  R"(,"token_type":"Bearer"})"};
}

StubResponse Send200(bool repeat = true) {
  return {.path = kSendPath,
          .status = 200,
          .headers = {},
          .body = R"({"name":"projects/im-test-project/messages/0:1"})",
          .repeat = repeat};
}

StubResponse FcmError(int status, const std::string& error_status, const std::string& message,
                      const std::string& error_code = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  std::string details;
  if (!error_code.empty()) {
    details = R"(,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":")" +
              error_code + R"("}])";
  }
  return {.path = kSendPath,
          .status = status,
          .headers = std::move(headers),
          .body = R"({"error":{"code":)" + std::to_string(status) + R"(,"message":")" + message + R"(","status":")" +
                  error_status + R"(")" + details + "}}"};
}

std::vector<LoggedRequest> Only(const std::vector<LoggedRequest>& requests, std::string_view path) {
  std::vector<LoggedRequest> out;
  for (const auto& r : requests) {
    if (r.path == path) out.push_back(r);
  }
  return out;
}

TEST_CASE("FCM: one OAuth2 token from a verifiable RS256 assertion serves two v1 sends over HTTP/2") {
  auto server = RequireServer({TokenOk("ya29.first"), Send200()});
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kFcm, "fcm-registration-token:APA91b");

  PushResult first = provider->Send(n);
  CHECK(first.kind == Kind::kDelivered);
  CHECK(first.http_status == 200);
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  REQUIRE(requests.size() == 3);
  const LoggedRequest& token = requests[0];
  CHECK(token.h2);
  CHECK(token.method == "POST");
  CHECK(token.path == "/token");
  CHECK(token.header("content-type") == "application/x-www-form-urlencoded");
  const std::string prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
  REQUIRE(token.body.starts_with(prefix));
  auto jwt = test::DecodeJwt(token.body.substr(prefix.size()));
  REQUIRE(jwt.has_value());
  CHECK(test::VerifyRs256(*jwt, RequirePki().rsa_key_pem));
  CHECK(JsonString(jwt->header, "alg") == "RS256");
  CHECK(JsonString(jwt->header, "typ") == "JWT");
  CHECK(JsonString(jwt->header, "kid") == kKeyIdFcm);
  CHECK(JsonString(jwt->claims, "iss") == kClientEmail);
  CHECK(JsonString(jwt->claims, "scope") == kScope);
  CHECK(JsonString(jwt->claims, "aud") == kGoogleTokenUri);
  CHECK(JsonInt(jwt->claims, "iat") == kStartMs / 1000);
  CHECK(JsonInt(jwt->claims, "exp") == kStartMs / 1000 + 3600);
  test::DecodedJwt tampered = *jwt;
  tampered.signing_input += "x";
  CHECK_FALSE(test::VerifyRs256(tampered, RequirePki().rsa_key_pem));

  for (int i = 1; i <= 2; ++i) {
    const LoggedRequest& send = requests[i];
    CHECK(send.h2);
    CHECK(send.method == "POST");
    CHECK(send.path == kSendPath);
    CHECK(send.header("authorization") == "Bearer ya29.first");
    CHECK(send.header("content-type").starts_with("application/json"));
  }
  json::object body = test::ParseObject(requests[1].body);
  REQUIRE(body.contains("message"));
  const json::object& m = body["message"].as_object();
  CHECK(JsonString(m, "token") == "fcm-registration-token:APA91b");
  CHECK(JsonString(m.at("notification").as_object(), "title") == "Alice \xC2\xB7 Team");
  CHECK(JsonString(m.at("notification").as_object(), "body") == "Lunch at \"noon\"?");
  const json::object& data = m.at("data").as_object();
  CHECK(JsonString(data, "conversation_id") == "g:77");
  CHECK(JsonString(data, "message_id") == "1234567890123");
  CHECK(JsonString(data, "seq") == "42");
  CHECK(JsonString(m.at("android").as_object(), "collapse_key") == "1234567890123");
  CHECK(JsonString(m.at("android").as_object(), "priority") == "high");
  CHECK(JsonString(m.at("apns").as_object().at("headers").as_object(), "apns-collapse-id") == "1234567890123");
}

TEST_CASE("FCM: the access token is fetched again 60 s before it expires") {
  auto server = RequireServer({TokenOk("ya29.first", 3600), TokenOk("ya29.second", 3600), Send200()});
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kFcm, "tok");

  CHECK(provider->Send(n).kind == Kind::kDelivered);
  clock.Advance(3539'000);  // 61 s before expiry: still good
  CHECK(provider->Send(n).kind == Kind::kDelivered);
  clock.Advance(2'000);  // 59 s before expiry: refresh
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  auto sends = Only(requests, kSendPath);
  REQUIRE(sends.size() == 3);
  CHECK(sends[0].header("authorization") == "Bearer ya29.first");
  CHECK(sends[1].header("authorization") == "Bearer ya29.first");
  CHECK(sends[2].header("authorization") == "Bearer ya29.second");
  auto tokens = Only(requests, "/token");
  REQUIRE(tokens.size() == 2);
  auto second_assertion = test::DecodeJwt(tokens[1].body.substr(tokens[1].body.find("&assertion=") + 11));
  REQUIRE(second_assertion.has_value());
  CHECK(JsonInt(second_assertion->claims, "iat") == (kStartMs + 3541'000) / 1000);
}

TEST_CASE("FCM: a 401 drops the access token and the next send fetches a new one") {
  auto server =
      RequireServer({TokenOk("ya29.first"), TokenOk("ya29.second"),
                     FcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), Send200()});
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kFcm, "tok");

  PushResult first = provider->Send(n);
  CHECK(first.kind == Kind::kRetry);
  CHECK(first.http_status == 401);
  CHECK(first.reason.find("UNAUTHENTICATED") != std::string::npos);
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  CHECK(Only(requests, "/token").size() == 2);
  auto sends = Only(requests, kSendPath);
  REQUIRE(sends.size() == 2);
  CHECK(sends[0].header("authorization") == "Bearer ya29.first");
  CHECK(sends[1].header("authorization") == "Bearer ya29.second");
}

TEST_CASE("FCM: responses map onto push results") {
  StubResponse token = TokenOk("ya29.only");
  token.repeat = true;
  auto server = RequireServer({
      token,
      FcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
      FcmError(400, "INVALID_ARGUMENT", "Requested entity was not found.", "UNREGISTERED"),
      FcmError(400, "INVALID_ARGUMENT", "Invalid value at message.data", ""),
      FcmError(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
      FcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED", {{"retry-after", "30"}}),
      FcmError(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE", {{"retry-after", "4"}}),
      FcmError(500, "INTERNAL", "Internal error.", "INTERNAL"),
  });
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kFcm, "tok");

  struct Want {
    Kind kind;
    int status;
    const char* reason_part;
    int64_t retry_after_ms;
  };
  const Want wants[] = {
      {Kind::kInvalidToken, 404, "UNREGISTERED", 0},
      {Kind::kInvalidToken, 400, "UNREGISTERED", 0},
      {Kind::kRejected, 400, "INVALID_ARGUMENT: Invalid value", 0},
      {Kind::kRejected, 403, "SENDER_ID_MISMATCH", 0},
      {Kind::kRetry, 429, "QUOTA_EXCEEDED", 30'000},
      {Kind::kRetry, 503, "UNAVAILABLE", 4'000},
      {Kind::kRetry, 500, "INTERNAL", 0},
  };
  for (const Want& want : wants) {
    CAPTURE(want.reason_part);
    PushResult r = provider->Send(n);
    CHECK(r.kind == want.kind);
    CHECK(r.http_status == want.status);
    CHECK_MESSAGE(r.reason.find(want.reason_part) != std::string::npos, r.reason);
    CHECK(r.retry_after_ms == want.retry_after_ms);
  }
  // None of these answers invalidates the access token: it was fetched once.
  CHECK(Only(server->Requests(), "/token").size() == 1);
}

TEST_CASE("FCM: token endpoint failures are rejected (bad service account) or retried (5xx)") {
  auto server = RequireServer({
      {.path = "/token",
       .status = 400,
       .headers = {},
       .body = R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})"},
      {.path = "/token", .status = 503, .headers = {{"retry-after", "5"}}, .body = "unavailable"},
      TokenOk("ya29.finally"),
      Send200(),
  });
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kFcm, "tok");

  PushResult rejected = provider->Send(n);
  CHECK(rejected.kind == Kind::kRejected);
  CHECK(rejected.http_status == 400);
  CHECK_MESSAGE(rejected.reason.find("invalid_grant: Invalid JWT Signature.") != std::string::npos, rejected.reason);
  PushResult retry = provider->Send(n);
  CHECK(retry.kind == Kind::kRetry);
  CHECK(retry.http_status == 503);
  CHECK(retry.retry_after_ms == 5'000);
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  CHECK(Only(requests, "/token").size() == 3);
  CHECK(Only(requests, kSendPath).size() == 1);  // no send without a token
}

TEST_CASE("FCM: concurrent sends wait for a single token fetch") {
  // A second token request would get the stub's 500 and fail a send.
  auto server = RequireServer({TokenOk("ya29.shared"), Send200()});
  FakeClock clock;
  auto provider = RequireFcm(Fcm(*server, clock));
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (provider->Send(SampleNotification(PushPlatform::kFcm, "tok")).kind == Kind::kDelivered) ++delivered;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(delivered.load() == 6);
  auto requests = server->Requests();
  CHECK(Only(requests, "/token").size() == 1);
  for (const auto& r : Only(requests, kSendPath)) CHECK(r.header("authorization") == "Bearer ya29.shared");
}

TEST_CASE("FCM: a server certificate not signed by the configured CA is a TLS failure to retry") {
  auto server = RequireServer({TokenOk("ya29.first"), Send200()});
  FakeClock clock;
  FcmOptions options = Fcm(*server, clock);
  options.ca_file = RequirePki().other_ca_file;
  auto provider = RequireFcm(std::move(options));

  PushResult r = provider->Send(SampleNotification(PushPlatform::kFcm, "tok"));
  CHECK(r.kind == Kind::kRetry);
  CHECK(r.http_status == 0);
  CHECK_MESSAGE((r.reason.find("SSL") != std::string::npos || r.reason.find("certificate") != std::string::npos),
                r.reason);
  CHECK(server->Requests().empty());
}

TEST_CASE("FCM: the service account JSON and options are validated") {
  const test::TestPki& pki = RequirePki();
  auto valid = [&] {
    FcmOptions o;
    o.service_account_json = ServiceAccountJson(pki.rsa_key_pem);
    return o;
  };
  CHECK(OpenFcmProvider(valid()).ok());

  auto expect_invalid = [](FcmOptions o, const char* needle) {
    auto r = OpenFcmProvider(std::move(o));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, r.status().message());
  };
  auto with = [&](const char* key, json::value value) {
    json::object o = test::ParseObject(ServiceAccountJson(pki.rsa_key_pem));
    if (value.is_null()) {
      o.erase(key);
    } else {
      o[key] = value;
    }
    FcmOptions options;
    options.service_account_json = json::serialize(o);
    return options;
  };
  FcmOptions o = valid();
  o.service_account_json = "not json";
  expect_invalid(o, "JSON");
  expect_invalid(with("type", "authorized_user"), "type");
  expect_invalid(with("project_id", nullptr), "project_id");
  expect_invalid(with("project_id", "a/b"), "project_id");
  expect_invalid(with("private_key_id", nullptr), "missing private_key_id");
  expect_invalid(with("private_key", nullptr), "missing private_key");
  expect_invalid(with("private_key", json::value(pki.apns_p8)), "not an RSA key");
  expect_invalid(with("client_email", "nobody"), "client_email");
  expect_invalid(with("token_uri", "http://oauth2.googleapis.com/token"), "token_uri");
  o = valid();
  o.endpoint = "http://fcm.googleapis.com";
  expect_invalid(o, "endpoint");
  o = valid();
  o.token_uri = "ftp://x";
  expect_invalid(o, "token_uri");
}

}  // namespace
}  // namespace im
