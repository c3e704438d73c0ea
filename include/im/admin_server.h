// AdminServer (target im::beast): a small HTTP/1.1 listener for the daemons that have no other
// HTTP port (im-logic, im-repo, im-task), for probes and scrapers:
//
//   GET /healthz  200 {"status":"ok"} while the process serves requests at all.
//   GET /readyz   200 {"status":"ready"} when options.ready() returns ok; otherwise
//                 503 {"status":"not_ready","code":"<StatusCodeName>","message":"..."}.
//   GET /metrics  200 text/plain; version=0.0.4: the process metrics registry, then
//                 options.extra_metrics().
//   GET  /admin/dead-letters, POST /admin/dead-letters/<id>/redrive, DELETE
//                 /admin/dead-letters/<id>: when options.dead_letters
//                 and options.admin_token are set (see Engine::ListDeadLetters; Bearer token).
//
// Any other path is 404 {"code":"not_found",...}; another method on these paths is 405. Requests
// may carry at most 8 KiB of headers and 8 KiB of body; a request must arrive within 5 s of the
// previous one on its connection (or of connecting). Keep-alive is supported. Plaintext only:
// listen on loopback or a private network.
//
//   im::AdminServerOptions options;
//   options.listen_port = 9100;
//   options.ready = [&] { return CheckRepo(/*timeout_ms=*/500); };  // an im::Status
//   auto admin = im::StartAdminServer(std::move(options));
//   if (!admin.ok()) return Fail(admin.status());
//   ...
//   admin.value()->Stop();  // or destroy it
//
// Threading: one network thread runs the callbacks, one request at a time. `ready` and
// `extra_metrics` must be thread-safe with respect to the rest of the program, must not call
// Stop() or destroy the server, and should return within ~1 s (a network check needs its own
// timeout): while one runs, no other admin request is served. An exception they throw is
// answered with 500.
#ifndef IM_ADMIN_SERVER_H_
#define IM_ADMIN_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "im/engine.h"
#include "im/status.h"

namespace im {

struct AdminServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any free port (see AdminServer::port())
  // Called for each GET /readyz: ok -> 200; an error -> 503 with its code and message.
  // Empty: always ready.
  std::function<Status()> ready;
  // Prometheus text appended to /metrics after the process registry. Empty (or returning ""):
  // nothing appended.
  std::function<std::string()> extra_metrics;
  // An engine running the task half (im-task) whose dead letters /admin/dead-letters lists and
  // re-drives, with `admin_token` as the required bearer token. Both set, or the paths are 404.
  Engine* dead_letters = nullptr;
  std::string admin_token;
};

// Thread-safe. Destroying it stops it.
class AdminServer {
 public:
  virtual ~AdminServer() = default;
  // The port it listens on (the one picked when listen_port was 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes every connection (a request being answered is cut off) and joins the
  // network thread. Later calls do nothing.
  virtual void Stop() = 0;
};

// Binds and starts serving. unavailable when the address cannot be bound; invalid_argument when
// listen_host is not an IP address.
Result<std::unique_ptr<AdminServer>> StartAdminServer(AdminServerOptions options);

}  // namespace im

#endif  // IM_ADMIN_SERVER_H_
