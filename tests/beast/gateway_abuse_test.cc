// The gateway's abuse limits over real sockets on 127.0.0.1 (an in-memory engine behind it):
// auth throttles per address and per account, X-Forwarded-For from trusted proxies only, the
// bounded auth pool, probes answered on the network thread, and the connection caps.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "im/engine.h"
#include "im/gateway.h"
#include "support/blocking_http.h"

namespace im::test {
namespace {

using Clock = std::chrono::steady_clock;

struct TestGateway {
  explicit TestGateway(GatewayOptions g, int password_iterations = 1000) {
    Options o;
    o.password_iterations = password_iterations;
    o.jwt_secret = std::string(32, 'k');
    auto e = Engine::Open(o);
    REQUIRE_MESSAGE(e.ok(), e.status().ToString());
    engine = std::move(e).value();
    g.listen_host = "127.0.0.1";
    g.listen_port = 0;
    g.worker_threads = 4;
    auto started = Gateway::Start(*engine, std::move(g));
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    gateway = std::move(started).value();
  }
  ~TestGateway() {
    gateway.reset();
    engine.reset();
  }
  uint16_t port() const { return gateway->port(); }
  void Register(const std::string& name) { REQUIRE(engine->Register(name, "password-" + name, "").ok()); }

  std::unique_ptr<Engine> engine;
  std::unique_ptr<Gateway> gateway;
};

// One request on a fresh connection; `forwarded_for` non-empty adds an X-Forwarded-For header.
HttpReply Call(uint16_t port, std::string_view method, std::string_view path, std::string_view body = "",
               std::string_view forwarded_for = "") {
  Connection conn(port);
  REQUIRE(conn.fd() >= 0);
  std::string req =
      std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Connection: close\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!forwarded_for.empty()) req += "X-Forwarded-For: " + std::string(forwarded_for) + "\r\n";
  req += "\r\n" + std::string(body);
  REQUIRE(conn.Send(req));
  std::string pending;
  auto reply = ReadReply(conn, pending);
  REQUIRE(reply.has_value());
  return *reply;
}

HttpReply Login(uint16_t port, const std::string& user, const std::string& password, std::string_view from = "") {
  return Call(port, "POST", "/api/v1/auth/login",
              R"({"username":")" + user + R"(","password":")" + password + R"(","device":"d1"})", from);
}

// The Retry-After header's value; -1 when absent.
int RetryAfter(const HttpReply& r) {
  size_t at = r.headers.find("\r\nretry-after:");
  return at == std::string::npos ? -1 : std::stoi(r.headers.substr(at + 14));
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST_CASE("gateway: a burst of bad logins from one address gets 429 with Retry-After; others are unaffected") {
  GatewayOptions g;
  g.auth_requests_per_minute_per_ip = 60;
  g.auth_burst_per_ip = 5;
  g.trusted_proxies = {"127.0.0.1"};  // so the test can speak for several addresses
  TestGateway gw(g);
  gw.Register("bob");
  int unauthorized = 0, throttled = 0;
  for (int i = 0; i < 12; ++i) {
    HttpReply r = Login(gw.port(), "nobody" + std::to_string(i), "wrong-password", "203.0.113.7");
    if (r.status == 401) ++unauthorized;
    if (r.status == 429) {
      ++throttled;
      CHECK(RetryAfter(r) >= 1);
      CHECK(r.body.find(R"("code":"resource_exhausted")") != std::string::npos);
    }
  }
  CHECK(unauthorized == 5);
  CHECK(throttled == 7);
  CHECK(Login(gw.port(), "bob", "password-bob", "198.51.100.9").status == 200);
  HttpReply metrics = Call(gw.port(), "GET", "/metrics");
  CHECK(metrics.body.find("im_auth_refused_total{reason=\"ip\"} ") != std::string::npos);
}

TEST_CASE("gateway: during a login flood from one address /healthz stays fast and a real user logs in") {
  GatewayOptions g;
  g.auth_burst_per_ip = 10;  // below what the pool gets through in the test's 1.5 s
  g.trusted_proxies = {"127.0.0.1"};
  TestGateway gw(g, /*password_iterations=*/200'000);  // ~80 ms a hash: the flood is real work
  gw.Register("bob");
  std::atomic<bool> stop{false};
  std::atomic<int> throttled{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < 16; ++t) {
    flood.emplace_back([&, t] {
      while (!stop) {
        if (Login(gw.port(), "victim" + std::to_string(t), "wrong-password", "203.0.113.7").status == 429) ++throttled;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double worst_healthz_ms = 0;
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    CHECK(Call(gw.port(), "GET", "/healthz").status == 200);
    worst_healthz_ms = std::max(worst_healthz_ms, Ms(Clock::now() - start));
  }
  auto start = Clock::now();
  HttpReply bob = Login(gw.port(), "bob", "password-bob", "198.51.100.9");
  double login_ms = Ms(Clock::now() - start);
  stop = true;
  for (auto& t : flood) t.join();
  MESSAGE("worst /healthz ", worst_healthz_ms, " ms; bob's login ", login_ms, " ms; ", throttled.load(), " throttled");
  CHECK(bob.status == 200);
  CHECK(throttled > 100);
  CHECK(worst_healthz_ms < 250);
  CHECK(login_ms < 3000);  // at most the auth queue ahead of it (~0.8 s measured alone)
}

TEST_CASE("gateway: failed logins lock an account whatever address they come from, not other accounts") {
  GatewayOptions g;
  g.login_failure_burst_per_account = 4;
  g.trusted_proxies = {"127.0.0.1"};
  TestGateway gw(g);
  gw.Register("alice");
  gw.Register("bob");
  for (int i = 0; i < 4; ++i) {
    CHECK(Login(gw.port(), "alice", "wrong-password", "203.0.113." + std::to_string(10 + i)).status == 401);
  }
  // Even the right password, from a fresh address, waits: the check comes before the hash.
  HttpReply locked = Login(gw.port(), "ALICE", "password-alice", "203.0.113.99");
  CHECK(locked.status == 429);
  CHECK(RetryAfter(locked) >= 1);
  CHECK(locked.body.find("account") != std::string::npos);
  CHECK(Login(gw.port(), "bob", "password-bob", "203.0.113.99").status == 200);
}

TEST_CASE("gateway: X-Forwarded-For from an untrusted peer does not escape the per-address limit") {
  GatewayOptions g;
  g.auth_burst_per_ip = 3;
  TestGateway gw(g);  // no trusted proxies: 127.0.0.1 is the client, whatever it claims
  for (int i = 0; i < 3; ++i) {
    CHECK(Login(gw.port(), "nobody", "wrong-password", "198.51.100." + std::to_string(i)).status == 401);
  }
  CHECK(Login(gw.port(), "nobody", "wrong-password", "198.51.100.200").status == 429);
}

TEST_CASE("gateway: X-Forwarded-For from a trusted proxy names the client each limit counts") {
  GatewayOptions g;
  g.auth_burst_per_ip = 3;
  g.trusted_proxies = {"127.0.0.0/8"};
  TestGateway gw(g);
  for (int i = 0; i < 3; ++i) CHECK(Login(gw.port(), "nobody", "wrong-password", "198.51.100.1").status == 401);
  CHECK(Login(gw.port(), "nobody", "wrong-password", "198.51.100.1").status == 429);
  // Another client behind the same proxy, even with a forged entry on the left.
  CHECK(Login(gw.port(), "nobody", "wrong-password", "198.51.100.1, 198.51.100.2").status == 401);
}

TEST_CASE("gateway: with the auth pool full a login is refused with 503 and Retry-After at once") {
  GatewayOptions g;
  g.auth_threads = 1;
  g.max_queued_auth_requests = 1;
  g.auth_requests_per_minute_per_ip = 0;                 // off: this is about the pool
  TestGateway gw(g, /*password_iterations=*/1'000'000);  // ~0.4 s a hash
  std::atomic<int> busy{0}, unauthorized{0};
  std::atomic<double> slowest_busy_ms{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 5; ++t) {
    clients.emplace_back([&, t] {
      auto start = Clock::now();
      HttpReply r = Login(gw.port(), "nobody" + std::to_string(t), "wrong-password");
      double ms = Ms(Clock::now() - start);
      if (r.status == 401) ++unauthorized;
      if (r.status == 503) {
        ++busy;
        CHECK(RetryAfter(r) >= 1);
        CHECK(r.body.find(R"("code":"unavailable")") != std::string::npos);
        double seen = slowest_busy_ms;
        while (ms > seen && !slowest_busy_ms.compare_exchange_weak(seen, ms)) {
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  MESSAGE(busy.load(), " refused, slowest refusal ", slowest_busy_ms.load(), " ms");
  CHECK(busy >= 3);          // one runs, one waits
  CHECK(unauthorized >= 1);  // the running one was answered
  CHECK(busy + unauthorized == 5);
  CHECK(slowest_busy_ms < 150);
}

TEST_CASE("gateway: over max_connections_per_ip a new connection is closed at once, and counted") {
  GatewayOptions g;
  g.max_connections_per_ip = 2;
  TestGateway gw(g);
  auto first = std::make_unique<Connection>(gw.port());
  Connection second(gw.port());
  REQUIRE(first->fd() >= 0);
  REQUIRE(second.fd() >= 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both accepted
  {
    Connection third(gw.port());  // the kernel accepts; the gateway closes it
    REQUIRE(third.fd() >= 0);
    auto start = Clock::now();
    (void)third.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(third.ReadSome().empty());
    CHECK(Ms(Clock::now() - start) < 1000);
  }
  first.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  HttpReply ok = Call(gw.port(), "GET", "/metrics");
  CHECK(ok.status == 200);
  CHECK(ok.body.find("im_connections_refused_total{reason=\"max_connections_per_ip\"} 0\n") == std::string::npos);
}

TEST_CASE("gateway: a WebSocket keeps its connection slot until it closes") {
  GatewayOptions g;
  g.max_connections = 1;
  TestGateway gw(g);
  gw.Register("carol");
  std::string token;
  {
    HttpReply login = Login(gw.port(), "carol", "password-carol");
    REQUIRE(login.status == 200);
    size_t at = login.body.find(R"("access_token":")") + 16;
    token = login.body.substr(at, login.body.find('"', at) - at);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the login connection is gone
  auto ws = std::make_unique<Connection>(gw.port());
  REQUIRE(
      ws->Send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Authorization: Bearer " +
               token + "\r\n\r\n"));
  REQUIRE(ws->ReadSome().rfind("HTTP/1.1 101", 0) == 0);
  {
    Connection refused(gw.port());
    (void)refused.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(refused.ReadSome().empty());
  }
  ws.reset();
  HttpReply after{};
  for (int i = 0; i < 50 && after.status != 200; ++i) {  // the session notices the close, then frees the slot
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Connection conn(gw.port());
    (void)conn.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string pending;
    if (auto r = ReadReply(conn, pending)) after = *r;
  }
  CHECK(after.status == 200);
}

}  // namespace
}  // namespace im::test
