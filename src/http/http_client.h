// A small blocking HTTP client over libcurl for the task half's outbound calls (APNs, FCM,
// Elasticsearch). libcurl brings HTTP/2 (nghttp2), TLS with the system's or a given CA,
// proxies and connection reuse; see docs/decisions.md ("HTTP client: libcurl").
#ifndef IM_SRC_HTTP_HTTP_CLIENT_H_
#define IM_SRC_HTTP_HTTP_CLIENT_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "im/status.h"

namespace im::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
};

struct Response {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;

  // The first header named `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct ClientOptions {
  bool http2 = false;    // negotiate HTTP/2 over TLS (ALPN), as APNs requires
  std::string ca_file;   // PEM bundle to trust instead of the system's (tests: a test CA)
  long timeout_ms = 10'000;
  long connect_timeout_ms = 5'000;
};

// Thread-safe. Keeps a few libcurl handles and their connections for reuse.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Any HTTP status is a Response; only transport failures (DNS, connect, TLS, timeout) are
  // errors: unavailable, or deadline_exceeded for a timeout.
  Result<Response> Send(const Request& request);

 private:
  void* Acquire();  // a CURL* from the pool or a new one
  void Release(void* handle);

  const ClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;
};

// The delay an HTTP Retry-After header asks for, in ms: delta-seconds only (HTTP dates are
// ignored); 0 when absent or unparsable.
int64_t RetryAfterMs(const Response& response);

}  // namespace im::http

#endif  // IM_SRC_HTTP_HTTP_CLIENT_H_
