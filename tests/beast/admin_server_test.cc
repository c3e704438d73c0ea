// AdminServer over real sockets on 127.0.0.1, with a plain blocking POSIX client.
#include "im/admin_server.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "support/blocking_http.h"

namespace im::test {
namespace {

std::string Request(std::string_view method, std::string_view path, bool keep_alive = false) {
  return std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

// One request on a fresh connection.
HttpReply Call(uint16_t port, std::string_view method, std::string_view path) {
  Connection conn(port);
  REQUIRE(conn.fd() >= 0);
  REQUIRE(conn.Send(Request(method, path)));
  std::string pending;
  auto reply = ReadReply(conn, pending);
  REQUIRE(reply.has_value());
  return *reply;
}

std::unique_ptr<AdminServer> Start(AdminServerOptions options = {}) {
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  auto server = StartAdminServer(std::move(options));
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  REQUIRE(server.value()->port() != 0);
  return std::move(server).value();
}

TEST_CASE("admin server: /healthz answers 200 ok") {
  auto server = Start();
  HttpReply reply = Call(server->port(), "GET", "/healthz");
  CHECK(reply.status == 200);
  CHECK(reply.body == R"({"status":"ok"})");
  CHECK(reply.headers.find("content-type: application/json") != std::string::npos);
}

TEST_CASE("admin server: /readyz follows the ready callback") {
  std::atomic<bool> repo_down{false};
  AdminServerOptions options;
  options.ready = [&] { return repo_down ? Status::Unavailable("repo down") : Status::Ok(); };
  auto server = Start(std::move(options));

  HttpReply ready = Call(server->port(), "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == R"({"status":"ready"})");

  repo_down = true;
  HttpReply down = Call(server->port(), "GET", "/readyz");
  CHECK(down.status == 503);
  CHECK(down.body == R"({"status":"not_ready","code":"unavailable","message":"repo down"})");

  repo_down = false;
  CHECK(Call(server->port(), "GET", "/readyz?verbose=1").status == 200);
}

TEST_CASE("admin server: /readyz without a callback is ready") {
  auto server = Start();
  HttpReply reply = Call(server->port(), "GET", "/readyz");
  CHECK(reply.status == 200);
  CHECK(reply.body.find("\"ready\"") != std::string::npos);
}

TEST_CASE("admin server: a throwing ready callback is answered with 500") {
  AdminServerOptions options;
  options.ready = []() -> Status { throw std::runtime_error("probe exploded"); };
  auto server = Start(std::move(options));
  HttpReply reply = Call(server->port(), "GET", "/readyz");
  CHECK(reply.status == 500);
  CHECK(reply.body.find("probe exploded") != std::string::npos);
  CHECK(Call(server->port(), "GET", "/healthz").status == 200);  // the network thread survived
}

TEST_CASE("admin server: /metrics renders the registry then the extra metrics") {
  AdminServerOptions options;
  options.extra_metrics = [] { return std::string("# TYPE im_test_extra_total counter\nim_test_extra_total 7\n"); };
  auto server = Start(std::move(options));
  HttpReply reply = Call(server->port(), "GET", "/metrics");
  CHECK(reply.status == 200);
  CHECK(reply.headers.find("content-type: text/plain; version=0.0.4") != std::string::npos);
  size_t registry = reply.body.find("im_frames_in_total ");
  size_t extra = reply.body.find("\nim_test_extra_total 7\n");
  REQUIRE(registry != std::string::npos);
  REQUIRE(extra != std::string::npos);
  CHECK(registry < extra);
}

TEST_CASE("admin server: unknown paths are 404 and other methods 405") {
  auto server = Start();
  HttpReply missing = Call(server->port(), "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.body.find(R"("code":"not_found")") != std::string::npos);

  HttpReply post = Call(server->port(), "POST", "/healthz");
  CHECK(post.status == 405);
  CHECK(post.headers.find("\r\nallow: get") != std::string::npos);
  CHECK(Call(server->port(), "DELETE", "/metrics").status == 405);
}

TEST_CASE("admin server: a keep-alive connection serves several requests") {
  auto server = Start();
  Connection conn(server->port());
  REQUIRE(conn.fd() >= 0);
  std::string pending;
  REQUIRE(conn.Send(Request("GET", "/healthz", /*keep_alive=*/true)));
  auto first = ReadReply(conn, pending);
  REQUIRE(first.has_value());
  CHECK(first->status == 200);
  CHECK(first->headers.find("connection: close") == std::string::npos);

  REQUIRE(conn.Send(Request("GET", "/readyz", /*keep_alive=*/true)));
  auto second = ReadReply(conn, pending);
  REQUIRE(second.has_value());
  CHECK(second->status == 200);
  CHECK(second->body == R"({"status":"ready"})");
}

TEST_CASE("admin server: a body over 8 KiB is refused with 413") {
  auto server = Start();
  Connection conn(server->port());
  REQUIRE(conn.fd() >= 0);
  // Refused from its Content-Length, before the body is read (so none is sent: unread bytes
  // would make the server's close a reset that can overtake the answer).
  REQUIRE(conn.Send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9217\r\n\r\n"));
  std::string pending;
  auto reply = ReadReply(conn, pending);
  REQUIRE(reply.has_value());
  CHECK(reply->status == 413);
}

TEST_CASE("admin server: headers over 8 KiB are refused with 431") {
  auto server = Start();
  Connection conn(server->port());
  REQUIRE(conn.fd() >= 0);
  REQUIRE(
      conn.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + std::string(9 * 1024, 'x') + "\r\n\r\n"));
  std::string pending;
  auto reply = ReadReply(conn, pending);
  REQUIRE(reply.has_value());
  CHECK(reply->status == 431);
}

TEST_CASE("admin server: Stop closes the listener and open connections") {
  auto server = Start();
  uint16_t port = server->port();
  Connection idle(port);
  REQUIRE(idle.fd() >= 0);
  CHECK(Call(port, "GET", "/healthz").status == 200);

  server->Stop();
  auto start = std::chrono::steady_clock::now();
  CHECK(idle.ReadSome().empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));  // closed, not timed out
  Connection after(port);
  CHECK(after.fd() < 0);
  server->Stop();  // a second call does nothing
}

TEST_CASE("admin server: a taken port is unavailable and a bad host invalid_argument") {
  auto server = Start();
  AdminServerOptions same_port;
  same_port.listen_port = server->port();
  auto taken = StartAdminServer(same_port);
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.status().code() == StatusCode::kUnavailable);

  AdminServerOptions bad_host;
  bad_host.listen_host = "not-an-address";
  auto bad = StartAdminServer(bad_host);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace im::test
