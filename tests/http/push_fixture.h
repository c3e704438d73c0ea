// Fixtures for the push provider tests: a throwaway PKI made with the openssl CLI, the scripted
// HTTP/2 TLS server tests/http/h2_stub_server.py standing in for APNs / FCM / Google's token
// endpoint, and JWT checks done independently of the code under test (OpenSSL directly).
#ifndef IM_TESTS_HTTP_PUSH_FIXTURE_H_
#define IM_TESTS_HTTP_PUSH_FIXTURE_H_

#include <sys/types.h>

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "im/push.h"
#include "im/status.h"

namespace im::test {

// Made once per test process under a new /tmp directory (removed at exit). Paths end in _file;
// the rest are PEM contents.
struct TestPki {
  std::string dir;
  std::string ca_file;           // the test CA, which signed server_cert_file
  std::string other_ca_file;     // a second CA that signed nothing the server uses
  std::string server_cert_file;  // for IP 127.0.0.1 (subjectAltName)
  std::string server_key_file;
  std::string apns_p8;      // EC P-256 private key, PKCS#8 PEM (an APNs .p8 file)
  std::string rsa_key_pem;  // RSA 2048 private key, PKCS#8 PEM (a service account's key)
};

// The process-wide PKI, or the reason making it failed (openssl missing, …).
const Result<TestPki>& Pki();
// Pki(), or the current doctest case fails (REQUIRE).
const TestPki& RequirePki();

struct StubResponse {
  std::string path;  // matches requests whose path starts with this
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool repeat = false;  // answer every matching request, not just one
};

struct LoggedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // with HTTP/2 pseudo-headers
  std::string body;
  bool h2 = false;
  int connection = 0;  // the server's connection number (1, 2, …)

  // The first header called `name` (lower case), or "".
  std::string header(std::string_view name) const;
};

// One h2_stub_server.py process on 127.0.0.1 with its own directory (script, request log). Dies
// with the test process (PR_SET_PDEATHSIG) and after 120 s; the destructor kills it.
class H2StubServer {
 public:
  // Serves the PKI's server certificate. Fails when the PKI or the server cannot be made.
  static Result<std::unique_ptr<H2StubServer>> Start(const std::vector<StubResponse>& script);
  ~H2StubServer();
  H2StubServer(const H2StubServer&) = delete;
  H2StubServer& operator=(const H2StubServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // Every request so far, in arrival order (each is logged before it is answered).
  std::vector<LoggedRequest> Requests() const;

 private:
  H2StubServer() = default;

  std::string dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
};

// H2StubServer::Start(script), or the current doctest case fails (REQUIRE).
std::unique_ptr<H2StubServer> RequireServer(const std::vector<StubResponse>& script);

// The fake "now" the providers' clocks start at.
inline constexpr int64_t kStartMs = 1'700'000'000'123;

// A clock the test moves by hand; copies share the time.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(kStartMs);
  std::function<int64_t()> fn() const {
    return [now = now] { return now->load(); };
  }
  void Advance(int64_t ms) { *now += ms; }
  int64_t ms() const { return *now; }
};

// Title "Alice · Team", body `Lunch at "noon"?`, conversation "g:77", message 1234567890123,
// seq 42.
PushNotification SampleNotification(PushPlatform platform, std::string token);

// A compact JWS split and decoded; nullopt when it is not three base64url parts with JSON objects.
struct DecodedJwt {
  boost::json::object header;
  boost::json::object claims;
  std::string signing_input;  // "<header>.<claims>" as sent
  std::string signature;      // raw bytes
};
std::optional<DecodedJwt> DecodeJwt(std::string_view token);

// Verifies the signature with the public half of `private_key_pem`: ES256 expects the 64-byte
// JOSE r||s form, RS256 PKCS#1 v1.5. False for any failure.
bool VerifyEs256(const DecodedJwt& jwt, const std::string& private_key_pem);
bool VerifyRs256(const DecodedJwt& jwt, const std::string& private_key_pem);

// obj[key] as a string / int64, or "" / nullopt.
std::string JsonString(const boost::json::object& obj, std::string_view key);
std::optional<int64_t> JsonInt(const boost::json::object& obj, std::string_view key);
// Parses a JSON object (empty object when the text is not one).
boost::json::object ParseObject(std::string_view text);

}  // namespace im::test

#endif  // IM_TESTS_HTTP_PUSH_FIXTURE_H_
