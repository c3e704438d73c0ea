// No exception escapes a handler of the gateway (issue #12, finding 3): every handler that runs on
// a network thread or on the worker pool for a connection is made to throw in turn (the
// FaultPoint seam of common/fault_injection.h), and the gateway must answer that request 500 (or
// close that one connection, or answer that frame with an internal error) and then serve the
// next request normally. Before, an exception on a network thread ended the process.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/fault_injection.h"
#include "im/engine.h"
#include "im/gateway.h"
#include "support/blocking_http.h"
#include "support/engine_fixture.h"

namespace im::test {
namespace {

// The fault point that throws; nullptr: none.
std::atomic<const char*> g_throw_at{nullptr};
std::atomic<int> g_thrown{0};

void ThrowAt(std::string_view where) {
  const char* target = g_throw_at.load();
  if (target != nullptr && where == target) {
    ++g_thrown;
    throw std::runtime_error("injected fault at " + std::string(where));
  }
}

// Installs the hook for one test; `Throw(name)` arms one point, `Throw(nullptr)` disarms.
struct Faults {
  Faults() { fault_hook.store(&ThrowAt); }
  ~Faults() {
    g_throw_at.store(nullptr);
    fault_hook.store(nullptr);
  }
  void Throw(const char* where) { g_throw_at.store(where); }
};

struct FaultyGateway {
  FaultyGateway() {
    char tmpl[] = "/tmp/im-faults-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    web_root = tmpl;
    std::ofstream(web_root + "/index.html") << "<p>hi</p>";
    engine = Engine::Open(FastOptions()).value();
    MustRegister(*engine, "alice");
    token = engine->Login("alice", "password-alice", "d1").value().access_token;
    GatewayOptions g;
    g.listen_host = "127.0.0.1";
    g.listen_port = 0;
    g.network_threads = 1;  // one loop: a throw that ended it would stop everything
    g.worker_threads = 2;
    g.web_root = web_root;
    auto started = Gateway::Start(*engine, std::move(g));
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    gateway = std::move(started).value();
  }
  ~FaultyGateway() {
    gateway.reset();
    engine.reset();
    std::error_code ec;
    std::filesystem::remove_all(web_root, ec);
  }
  uint16_t port() const { return gateway->port(); }

  std::string web_root;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Gateway> gateway;
  std::string token;
};

std::string Request(std::string_view method, std::string_view path, const std::string& token = "",
                    std::string_view body = "", bool close = true) {
  std::string req = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (close) req += "Connection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  return req;
}

// One request on a fresh connection; nullopt when the connection closed without an answer.
std::optional<HttpReply> Call(uint16_t port, std::string_view method, std::string_view path,
                              const std::string& token = "", std::string_view body = "") {
  Connection conn(port);
  REQUIRE(conn.fd() >= 0);
  REQUIRE(conn.Send(Request(method, path, token, body)));
  std::string pending;
  return ReadReply(conn, pending);
}

// The gateway serves everything normally again: probes, a REST route, a static file, a login.
void CheckServing(FaultyGateway& t) {
  auto health = Call(t.port(), "GET", "/healthz");
  REQUIRE(health.has_value());
  CHECK(health->status == 200);
  auto me = Call(t.port(), "GET", "/api/v1/users/me", t.token);
  REQUIRE(me.has_value());
  CHECK(me->status == 200);
  auto page = Call(t.port(), "GET", "/index.html");
  REQUIRE(page.has_value());
  CHECK(page->status == 200);
  CHECK(page->body == "<p>hi</p>");
}

// A WebSocket on a bare socket: the upgrade request and the raw answer's status line.
struct RawWebSocket {
  explicit RawWebSocket(uint16_t port, const std::string& token) : conn(port) {
    REQUIRE(conn.fd() >= 0);
    REQUIRE(conn.Send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Authorization: Bearer " +
                      token + "\r\n\r\n"));
    size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
      std::string more = conn.ReadSome();
      if (more.empty()) break;
      pending += more;
    }
    REQUIRE(end != std::string::npos);
    status = std::stoi(pending.substr(9, 3));
    pending.erase(0, end + 4);
  }
  void SendText(std::string_view payload) {
    REQUIRE(payload.size() < 126);
    std::string frame;
    frame += static_cast<char>(0x81);
    frame += static_cast<char>(0x80 | payload.size());
    frame += std::string(4, '\0');  // a zero mask is a valid mask
    frame += payload;
    REQUIRE(conn.Send(frame));
  }
  // The next frame: its opcode and payload (opcode -1 when the connection ended).
  std::pair<int, std::string> Next() {
    for (;;) {
      if (pending.size() >= 2) {
        size_t n = static_cast<unsigned char>(pending[1]) & 0x7F, off = 2;
        if (n == 126 && pending.size() >= 4) {
          n = (static_cast<unsigned char>(pending[2]) << 8) | static_cast<unsigned char>(pending[3]);
          off = 4;
        }
        if (n < 126 || off == 4) {
          if (pending.size() >= off + n) {
            int opcode = pending[0] & 0x0F;
            std::string payload = pending.substr(off, n);
            pending.erase(0, off + n);
            return {opcode, payload};
          }
        }
      }
      std::string more = conn.ReadSome();
      if (more.empty()) return {-1, ""};
      pending += more;
    }
  }
  Connection conn;
  std::string pending;
  int status = 0;
};

TEST_CASE("faults: a throwing handler on the network thread or a pool answers 500, and the gateway serves on") {
  FaultyGateway t;
  Faults faults;
  const std::string login = R"({"username":"alice","password":"password-alice","device":"d2"})";
  struct Case {
    const char* point;
    const char* method;
    const char* path;
    bool with_token;
    std::string body;
  };
  const Case cases[] = {
      {"http.request", "GET", "/healthz", false, ""},           // the network thread, before routing
      {"http.request", "GET", "/metrics", false, ""},
      {"http.request", "GET", "/api/v1/users/me", true, ""},
      {"http.rest", "GET", "/api/v1/users/me", true, ""},       // the worker pool
      {"http.rest", "GET", "/api/v1/conversations", true, ""},
      {"http.auth", "POST", "/api/v1/auth/login", false, login},  // the auth pool
      {"http.static", "GET", "/index.html", false, ""},         // a static file
      {"http.static", "GET", "/", false, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.point);
    CAPTURE(c.path);
    faults.Throw(c.point);
    auto reply = Call(t.port(), c.method, c.path, c.with_token ? t.token : "", c.body);
    faults.Throw(nullptr);
    REQUIRE(reply.has_value());
    CHECK(reply->status == 500);
    CHECK(reply->body == R"({"code":"internal","message":"internal error"})");
    CheckServing(t);
  }
}

TEST_CASE("faults: a handler that throws after its answer was written loses only its own connection") {
  FaultyGateway t;
  Faults faults;
  // OnWrite is not guarded on purpose: the network thread's run loop is the backstop.
  Connection conn(t.port());
  REQUIRE(conn.fd() >= 0);
  const int thrown_before = g_thrown.load();
  faults.Throw("http.write");
  REQUIRE(conn.Send(Request("GET", "/healthz", "", "", /*close=*/false)));
  std::string pending;
  auto first = ReadReply(conn, pending);
  REQUIRE(first.has_value());
  CHECK(first->status == 200);
  // The write's completion handler runs after the client may already have read the answer.
  for (int i = 0; i < 500 && g_thrown.load() == thrown_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(g_thrown.load() > thrown_before);
  faults.Throw(nullptr);
  // The session that threw is gone: a second request on its connection gets no answer.
  (void)conn.Send(Request("GET", "/healthz", "", "", /*close=*/false));
  CHECK_FALSE(ReadReply(conn, pending).has_value());
  CheckServing(t);
}

TEST_CASE("faults: the WebSocket upgrade, attach and frame handlers answer an error and the gateway serves on") {
  FaultyGateway t;
  Faults faults;

  SUBCASE("the token check of the upgrade, on the worker pool: 500") {
    faults.Throw("ws.upgrade");
    RawWebSocket ws(t.port(), t.token);
    faults.Throw(nullptr);
    CHECK(ws.status == 500);
  }
  SUBCASE("attaching the new session: closed with 1011") {
    faults.Throw("ws.attach");
    RawWebSocket ws(t.port(), t.token);
    CHECK(ws.status == 101);
    auto [opcode, payload] = ws.Next();
    faults.Throw(nullptr);
    REQUIRE(opcode == 0x8);
    REQUIRE(payload.size() >= 2);
    CHECK(((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])) == 1011);
  }
  SUBCASE("a client frame: an internal error for that frame, and the session goes on") {
    RawWebSocket ws(t.port(), t.token);
    REQUIRE(ws.status == 101);
    // A ping is handled on the network thread, a sync on the worker pool.
    const std::pair<const char*, const char*> frames[] = {{R"({"type":"ping","id":"p1"})", "p1"},
                                                          {R"({"type":"sync","id":"s1"})", "s1"}};
    for (auto [frame, id] : frames) {
      CAPTURE(frame);
      faults.Throw("ws.frame");
      ws.SendText(frame);
      auto [opcode, payload] = ws.Next();
      faults.Throw(nullptr);
      REQUIRE(opcode == 0x1);
      CHECK(payload.find(R"("type":"error")") != std::string::npos);
      CHECK(payload.find(R"("code":"internal")") != std::string::npos);
      CHECK(payload.find(R"("id":")" + std::string(id) + "\"") != std::string::npos);
    }
    ws.SendText(R"({"type":"ping","id":"p2"})");
    auto [opcode, payload] = ws.Next();
    REQUIRE(opcode == 0x1);
    CHECK(payload.find(R"("type":"pong")") != std::string::npos);
    CHECK(payload.find(R"("id":"p2")") != std::string::npos);
  }
  CheckServing(t);
  RawWebSocket again(t.port(), t.token);
  CHECK(again.status == 101);
}

// A Start that fails after the network loops exist (here: a bad TLS setting, as imd's e2e tests
// pass) frees everything in order: each loop's timer before the io_context it was made on. Before,
// the io_contexts went first and the timers' destructors read freed memory (found by ASan,
// scripts/sanitizers.sh: imd exiting on a bad configuration).
TEST_CASE("gateway: a Start that fails cleans up in order, with several network loops") {
  auto engine = Engine::Open(FastOptions()).value();
  for (const char* what : {"bad address", "lone certificate", "short idle timeout"}) {
    GatewayOptions g;
    g.listen_host = std::string(what) == "bad address" ? "not an address" : "127.0.0.1";
    g.listen_port = 0;
    g.network_threads = 3;
    if (std::string(what) == "lone certificate") g.tls_certificate_file = "/nonexistent/cert.pem";
    if (std::string(what) == "short idle timeout") g.idle_timeout_seconds = 1;
    auto started = Gateway::Start(*engine, std::move(g));
    CHECK_MESSAGE(!started.ok(), what);
  }
}

}  // namespace
}  // namespace im::test
