// The APNs provider against tests/http/h2_stub_server.py: real TLS (verification on, against a test CA),
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

constexpr int64_t kMinuteMs = 60'000;
const char* const kToken = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

constexpr const char* kTeamId = "TEAM123456";
constexpr const char* kKeyId = "KEYABC7890";
constexpr const char* kTopic = "com.example.chat";

ApnsOptions Apns(const H2StubServer& server, const FakeClock& clock) {
  ApnsOptions o;
  o.team_id = kTeamId;
  o.key_id = kKeyId;
  o.private_key_pem = RequirePki().apns_p8;
  o.topic = kTopic;
  o.endpoint = server.url();
  o.ca_file = RequirePki().ca_file;
  o.timeout_ms = 10'000;
  o.clock_ms = clock.fn();
  return o;
}

std::shared_ptr<PushProvider> RequireApns(ApnsOptions options) {
  auto provider = OpenApnsProvider(std::move(options));
  REQUIRE_MESSAGE(provider.ok(), provider.status().ToString());
  return *provider;
}

// The provider token of an APNs request ("bearer <jwt>"), checked to verify with the .p8's public key.
std::string ApnsJwt(const LoggedRequest& request) {
  const std::string auth = request.header("authorization");
  REQUIRE(auth.starts_with("bearer "));
  const std::string jwt = auth.substr(7);
  auto decoded = test::DecodeJwt(jwt);
  REQUIRE(decoded.has_value());
  CHECK(test::VerifyEs256(*decoded, RequirePki().apns_p8));
  return jwt;
}

int64_t JwtIat(const std::string& jwt) {
  auto decoded = test::DecodeJwt(jwt);
  REQUIRE(decoded.has_value());
  return JsonInt(decoded->claims, "iat").value_or(-1);
}

StubResponse Apns200() {
  return {.path = "/3/device/", .status = 200, .headers = {{"apns-id", "1"}}, .body = "", .repeat = true};
}

StubResponse ApnsError(int status, const std::string& reason,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {.path = "/3/device/",
          .status = status,
          .headers = std::move(headers),
          .body = R"({"reason":")" + reason + R"("})"};
}

TEST_CASE("APNs: a send is an HTTP/2 POST with a verifiable ES256 provider token and the documented payload") {
  auto server = RequireServer({Apns200()});
  FakeClock clock;
  auto provider = RequireApns(Apns(*server, clock));

  PushResult result = provider->Send(SampleNotification(PushPlatform::kApns, kToken));
  CHECK(result.kind == Kind::kDelivered);
  CHECK(result.http_status == 200);

  auto requests = server->Requests();
  REQUIRE(requests.size() == 1);
  const LoggedRequest& r = requests[0];
  CHECK(r.h2);
  CHECK(r.method == "POST");
  CHECK(r.path == std::string("/3/device/") + kToken);
  CHECK(r.header(":scheme") == "https");
  CHECK(r.header(":authority") == "127.0.0.1:" + std::to_string(server->port()));
  CHECK(r.header("apns-topic") == kTopic);
  CHECK(r.header("apns-push-type") == "alert");
  CHECK(r.header("apns-priority") == "10");
  CHECK(r.header("apns-collapse-id") == "1234567890123");
  CHECK(r.header("apns-expiration") == std::to_string(kStartMs / 1000 + 24 * 3600));
  CHECK(r.header("content-type") == "application/json");

  // The provider token: ES256 over the .p8 key, kid = key id, iss = team id, iat = now.
  const std::string jwt = ApnsJwt(r);
  auto decoded = test::DecodeJwt(jwt);
  REQUIRE(decoded.has_value());
  CHECK(JsonString(decoded->header, "alg") == "ES256");
  CHECK(JsonString(decoded->header, "kid") == kKeyId);
  CHECK(JsonString(decoded->claims, "iss") == kTeamId);
  CHECK(JsonInt(decoded->claims, "iat") == kStartMs / 1000);
  // The verifier is not a rubber stamp: a flipped signature bit fails.
  test::DecodedJwt tampered = *decoded;
  tampered.signature[10] = static_cast<char>(tampered.signature[10] ^ 0x01);
  CHECK_FALSE(test::VerifyEs256(tampered, RequirePki().apns_p8));

  json::object body = test::ParseObject(r.body);
  REQUIRE(body.contains("aps"));
  const json::object& aps = body["aps"].as_object();
  CHECK(JsonString(aps.at("alert").as_object(), "title") == "Alice \xC2\xB7 Team");
  CHECK(JsonString(aps.at("alert").as_object(), "body") == "Lunch at \"noon\"?");
  CHECK(JsonString(aps, "sound") == "default");
  CHECK(JsonString(aps, "thread-id") == "g:77");
  CHECK(JsonString(body, "conversation_id") == "g:77");
  CHECK(JsonString(body, "message_id") == "1234567890123");
  CHECK(JsonInt(body, "seq") == 42);
}

TEST_CASE("APNs: responses map onto push results") {
  auto server = RequireServer({
      ApnsError(400, "BadDeviceToken"),
      ApnsError(400, "DeviceTokenNotForTopic"),
      ApnsError(400, "BadCollapseId"),
      ApnsError(410, "Unregistered"),
      ApnsError(429, "TooManyRequests", {{"retry-after", "7"}}),
      ApnsError(503, "ServiceUnavailable", {{"retry-after", "2"}}),
      ApnsError(500, "InternalServerError"),
      ApnsError(413, "PayloadTooLarge"),
      ApnsError(403, "BadCertificateEnvironment"),
  });
  FakeClock clock;
  auto provider = RequireApns(Apns(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kApns, kToken);

  struct Want {
    Kind kind;
    int status;
    std::string reason;
    int64_t retry_after_ms;
  };
  const Want wants[] = {
      {Kind::kInvalidToken, 400, "BadDeviceToken", 0},
      {Kind::kInvalidToken, 400, "DeviceTokenNotForTopic", 0},
      {Kind::kRejected, 400, "BadCollapseId", 0},
      {Kind::kInvalidToken, 410, "Unregistered", 0},
      {Kind::kRetry, 429, "TooManyRequests", 7000},
      {Kind::kRetry, 503, "ServiceUnavailable", 2000},
      {Kind::kRetry, 500, "InternalServerError", 0},
      {Kind::kRejected, 413, "PayloadTooLarge", 0},
      {Kind::kRejected, 403, "BadCertificateEnvironment", 0},
  };
  for (const Want& want : wants) {
    CAPTURE(want.reason);
    PushResult r = provider->Send(n);
    CHECK(r.kind == want.kind);
    CHECK(r.http_status == want.status);
    CHECK(r.reason == want.reason);
    CHECK(r.retry_after_ms == want.retry_after_ms);
  }
  CHECK(server->Requests().size() == std::size(wants));
}

TEST_CASE("APNs: the provider token is reused on one connection and re-signed after 50 minutes") {
  auto server = RequireServer({Apns200()});
  FakeClock clock;
  auto provider = RequireApns(Apns(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kApns, kToken);

  CHECK(provider->Send(n).kind == Kind::kDelivered);
  clock.Advance(49 * kMinuteMs);
  CHECK(provider->Send(n).kind == Kind::kDelivered);
  clock.Advance(2 * kMinuteMs);  // 51 minutes after the first token
  const int64_t resign_ms = clock.ms();
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  REQUIRE(requests.size() == 3);
  const std::string first = ApnsJwt(requests[0]);
  const std::string second = ApnsJwt(requests[1]);
  const std::string third = ApnsJwt(requests[2]);
  CHECK(first == second);
  CHECK(third != first);
  CHECK(JwtIat(first) == kStartMs / 1000);
  CHECK(JwtIat(third) == resign_ms / 1000);
  // The HTTP/2 connection stays open between sends.
  CHECK(requests[1].connection == requests[0].connection);
  CHECK(requests[2].connection == requests[0].connection);
}

TEST_CASE("APNs: an expired provider token is dropped and the next send signs a new one") {
  auto server = RequireServer({ApnsError(403, "ExpiredProviderToken"), Apns200()});
  FakeClock clock;
  auto provider = RequireApns(Apns(*server, clock));
  const PushNotification n = SampleNotification(PushPlatform::kApns, kToken);

  PushResult first = provider->Send(n);
  CHECK(first.kind == Kind::kRetry);
  CHECK(first.http_status == 403);
  CHECK(first.reason == "ExpiredProviderToken");
  clock.Advance(5'000);
  CHECK(provider->Send(n).kind == Kind::kDelivered);

  auto requests = server->Requests();
  REQUIRE(requests.size() == 2);
  CHECK(ApnsJwt(requests[0]) != ApnsJwt(requests[1]));
  CHECK(JwtIat(ApnsJwt(requests[1])) == (kStartMs + 5'000) / 1000);
}

TEST_CASE("APNs: concurrent sends share one provider token") {
  auto server = RequireServer({Apns200()});
  FakeClock clock;
  auto provider = RequireApns(Apns(*server, clock));
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (provider->Send(SampleNotification(PushPlatform::kApns, kToken)).kind == Kind::kDelivered) ++delivered;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(delivered.load() == 6);
  auto requests = server->Requests();
  REQUIRE(requests.size() == 6);
  const std::string jwt = ApnsJwt(requests[0]);
  for (const auto& r : requests) CHECK(ApnsJwt(r) == jwt);
}

TEST_CASE("APNs: expiration_seconds 0 sends apns-expiration 0 and a non-hex token fails without a request") {
  auto server = RequireServer({Apns200()});
  FakeClock clock;
  ApnsOptions options = Apns(*server, clock);
  options.expiration_seconds = 0;
  auto provider = RequireApns(std::move(options));

  PushResult bad = provider->Send(SampleNotification(PushPlatform::kApns, "../../v1/evil?x=1"));
  CHECK(bad.kind == Kind::kInvalidToken);
  CHECK(bad.http_status == 0);
  CHECK(server->Requests().empty());

  CHECK(provider->Send(SampleNotification(PushPlatform::kApns, kToken)).kind == Kind::kDelivered);
  auto requests = server->Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].header("apns-expiration") == "0");
}

TEST_CASE("APNs: a server certificate not signed by the configured CA is a TLS failure to retry") {
  auto server = RequireServer({Apns200()});
  FakeClock clock;
  ApnsOptions options = Apns(*server, clock);
  options.ca_file = RequirePki().other_ca_file;
  auto provider = RequireApns(std::move(options));

  PushResult r = provider->Send(SampleNotification(PushPlatform::kApns, kToken));
  CHECK(r.kind == Kind::kRetry);
  CHECK(r.http_status == 0);
  CHECK_MESSAGE((r.reason.find("SSL") != std::string::npos || r.reason.find("certificate") != std::string::npos),
                r.reason);
  CHECK(server->Requests().empty());
}

TEST_CASE("APNs: options are validated") {
  const test::TestPki& pki = RequirePki();
  auto valid = [&] {
    ApnsOptions o;
    o.team_id = kTeamId;
    o.key_id = kKeyId;
    o.private_key_pem = pki.apns_p8;
    o.topic = kTopic;
    return o;
  };
  CHECK(OpenApnsProvider(valid()).ok());

  auto expect_invalid = [](ApnsOptions o, const char* needle) {
    auto r = OpenApnsProvider(std::move(o));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, r.status().message());
  };
  ApnsOptions o = valid();
  o.team_id = "TEAM12345";
  expect_invalid(o, "team_id");
  o = valid();
  o.team_id = "TEAM-12345";
  expect_invalid(o, "team_id");
  o = valid();
  o.key_id = "";
  expect_invalid(o, "key_id");
  o = valid();
  o.private_key_pem = pki.rsa_key_pem;
  expect_invalid(o, "not an EC key");
  o = valid();
  o.private_key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
  expect_invalid(o, "not an unencrypted PEM");
  o = valid();
  o.topic = "";
  expect_invalid(o, "topic");
  o = valid();
  o.endpoint = "http://api.push.apple.com";
  expect_invalid(o, "https://");
}

}  // namespace
}  // namespace im
