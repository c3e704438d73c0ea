// The WebSocket + REST gateway (target im::beast, Boost.Beast): the transport imd and
// im-gateway put in front of an Engine. See docs/protocol.md for the frames.
//
//   auto gateway = im::Gateway::Start(*engine, {.listen_host = "127.0.0.1", .listen_port = 8080});
//   ...
//   gateway.value()->Stop();   // or destroy it
//
// Threading: the gateway runs its own network threads (each with its own event loop; a
// connection stays on one) and a worker pool for blocking engine calls; `engine` must outlive
// it. Frames that never block (send-message, ping, ack) are handled on the network thread when
// nothing of their session waits on the pool; the others go to the pool, one at a time per
// session. Acks and events from the engine reach a network thread in bursts (one hand-off per
// burst, not per frame).
#ifndef IM_GATEWAY_H_
#define IM_GATEWAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/engine.h"
#include "im/status.h"

namespace im {

struct GatewayOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;  // 0: any free port (see Gateway::port)
  // Threads that run the sockets, each with its own event loop; a connection stays on one. 0: one
  // per CPU this process may run on (its affinity mask, so a daemon pinned with taskset to one
  // core gets one), at most 16.
  int network_threads = 1;
  // Threads for blocking engine calls (history, sync, groups; im-gateway: the gRPC calls to
  // im-logic). The auth routes have their own pool (auth_threads below). Sends do not hold one:
  // they wait for their ack off the pool.
  int worker_threads = 32;
  // Requests accepted but not yet answered, across all connections. Beyond it a frame is answered
  // with unavailable (and retry_after_ms) instead of queueing without bound.
  uint32_t max_pending_requests = 8192;
  uint32_t max_frame_bytes = 128 * 1024;  // larger WebSocket frames close the connection (1009)
  uint32_t max_body_bytes = 128 * 1024;   // REST request bodies
  // Per session, frames and bytes written to no socket yet: beyond either, a slow consumer is
  // closed (4000) and syncs on reconnect. One frame larger than max_queued_bytes still goes out
  // alone on an otherwise empty queue.
  uint32_t max_queued_frames = 1024;
  uint32_t max_queued_bytes = 4 * 1024 * 1024;
  // Client frames per second, as token buckets (rate, burst); beyond them a frame is answered
  // with resource_exhausted and not processed.
  double connection_frames_per_second = 50;
  double connection_frame_burst = 100;
  double user_frames_per_second = 100;  // across all of a user's connections to this gateway
  double user_frame_burst = 200;
  // The WebSocket heartbeat: after half of this without traffic the server pings; after all of
  // it without an answer the connection is closed (this also ends half-open connections).
  int idle_timeout_seconds = 60;
  // Browser upgrades whose Origin header is not listed get HTTP 403. Empty: any origin (tokens
  // travel in the URL or a header, never in cookies, so a foreign page cannot borrow them).
  std::vector<std::string> allowed_origins;
  // TLS (https/wss) when both are set: PEM certificate chain and private key files. TLS 1.2+.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  // The web chat page is served at "/" from the copy embedded at build time; a directory here
  // serves it from disk instead (for working on the page).
  std::string web_root;
  // GET /readyz answers 503 with this status when it is not ok (and while shutting down). Called
  // on a network thread: it must not block — return a cached answer (im-gateway probes im-logic
  // in the background). Empty: ready while running.
  std::function<Status()> ready;
  // Abuse limits (docs/http-api.md, "Limits"). A limit of 0 is off.
  //
  // Requests to the auth routes (POST /api/v1/auth/register, /login, /refresh) per client
  // address, as a token bucket (rate per minute, burst); beyond it 429 with Retry-After. An IPv6
  // client counts by its /64.
  double auth_requests_per_minute_per_ip = 120;
  double auth_burst_per_ip = 60;
  // Failed logins per account (username), from any address: beyond the burst, a login of that
  // account is answered 429 with Retry-After before its password is checked.
  double login_failures_per_minute_per_account = 2;
  double login_failure_burst_per_account = 10;
  // The auth routes run on their own pool (password hashing is slow on purpose: ~250 ms at the
  // default cost), never on the worker pool. With its threads busy and this many requests
  // waiting, another one is answered 503 with Retry-After at once.
  int auth_threads = 2;
  uint32_t max_queued_auth_requests = 16;
  // Open connections (HTTP and WebSocket). Beyond a cap a new connection is closed as soon as it
  // is accepted. max_connections 0: the soft RLIMIT_NOFILE at Start less 1/64 of it (at least
  // 256, at most half) for the stores, logs and sockets of the engine.
  // Per IP (an IPv6 client by its /64): off by default, since users behind one NAT share an
  // address; a trusted proxy's own connections are never capped per IP.
  uint32_t max_connections = 0;
  uint32_t max_connections_per_ip = 0;
  // Proxies whose X-Forwarded-For header names the client, as addresses ("10.0.0.7") or networks
  // ("10.0.0.0/8", "fd00::/8"). From any other peer the header is ignored. Empty: trust none.
  std::vector<std::string> trusted_proxies;
  // GET /metrics on this port. A host that serves its metrics elsewhere (imd with `[admin]
  // listen`: an AdminServer, include/im/admin_server.h) turns it off, and /metrics is then 404
  // here, so the public port does not show its counters to everyone.
  bool serve_metrics = true;
  // Bearer token of the dead-letter admin endpoints (/admin/dead-letters, needs an engine that
  // runs the task half). Empty: those paths are 404.
  std::string admin_token;
};

class Gateway {
 public:
  // Binds and starts serving. unavailable when the address cannot be bound.
  static Result<std::unique_ptr<Gateway>> Start(Engine& engine, GatewayOptions options);
  // Stops accepting, closes every session (going away) and joins the threads.
  virtual ~Gateway() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

}  // namespace im

#endif  // IM_GATEWAY_H_
