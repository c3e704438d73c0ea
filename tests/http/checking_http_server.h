// A scripted HTTP/1.1 server for tests of HTTP clients (Boost.Beast, 127.0.0.1, a port chosen by
// the kernel, its own thread). It records every request it receives — method, target, headers,
// body, arrival time — and answers each with the next response of a queue the test fills, so a
// test states exactly what the client must send and what the server (Elasticsearch, …) answers.
// Keep-alive is supported (libcurl reuses connections), several connections at once too.
//
// A request that finds the queue empty is recorded and answered 418 with an "unscripted_request"
// error body, so an extra request fails the test instead of hanging it.
#ifndef IM_TESTS_HTTP_CHECKING_HTTP_SERVER_H_
#define IM_TESTS_HTTP_CHECKING_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace im::test {

struct RecordedRequest {
  std::string method;                                        // "POST"
  std::string target;                                        // "/_bulk?refresh=wait_for"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::chrono::steady_clock::time_point received_at;

  // The first header named `name` (any case), or "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct ScriptedResponse {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  ScriptedResponse(unsigned status = 200, std::string body = "", Headers headers = {},
                   std::string content_type = "application/json")
      : status(status), body(std::move(body)), headers(std::move(headers)), content_type(std::move(content_type)) {}

  unsigned status;
  std::string body;
  Headers headers;           // extra headers ({"Retry-After", "1"})
  std::string content_type;  // sent when the body is not empty
};

class CheckingHttpServer {
 public:
  CheckingHttpServer();   // listening when constructed
  ~CheckingHttpServer();  // closes every connection and joins the thread
  CheckingHttpServer(const CheckingHttpServer&) = delete;
  CheckingHttpServer& operator=(const CheckingHttpServer&) = delete;

  uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"

  // Appends a response to the queue (answers go out in this order, whatever the connection).
  void Push(ScriptedResponse response);
  void Push(unsigned status, std::string body) { Push(ScriptedResponse(status, std::move(body))); }

  // Every request received so far, in arrival order.
  std::vector<RecordedRequest> requests() const;
  size_t request_count() const;
  size_t unanswered_responses() const;  // responses pushed but not yet sent

  struct State;  // the implementation's (checking_http_server_support.cc)

 private:
  std::unique_ptr<State> state_;
};

}  // namespace im::test

#endif  // IM_TESTS_HTTP_CHECKING_HTTP_SERVER_H_
