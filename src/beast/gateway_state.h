// What every connection of one gateway shares: the engine, the options, the worker pool for
// blocking engine calls, and the live WebSocket sessions (for shutdown).
#ifndef IM_SRC_BEAST_GATEWAY_STATE_H_
#define IM_SRC_BEAST_GATEWAY_STATE_H_

#include <array>
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "beast/auth_gate.h"
#include "beast/client_address.h"
#include "beast/connection_limits.h"
#include "beast/outbox.h"
#include "beast/rate_limiter.h"
#include "beast/session_ticker.h"
#include "im/engine.h"
#include "im/gateway.h"

namespace im::gateway {

// A live WebSocket connection, whatever its stream (plain TCP or TLS). Thread-safe.
class ClientSession {
 public:
  virtual ~ClientSession() = default;
  // Queues one encoded frame (text or binary) for writing. Any thread.
  virtual void Send(std::shared_ptr<const std::string> frame, bool text) = 0;
  // The same, on the session's network thread (the Outbox's drain), without writing yet: true
  // when the caller must call FlushOnLoop once it has queued the rest of its frames (the first
  // frame since the session's last write was arranged). So every frame of one drain goes out in
  // one write per session, with no further hand-off to the loop.
  virtual bool EnqueueOnLoop(const std::string& frame, bool text) = 0;
  // Writes what EnqueueOnLoop queued. On the session's network thread.
  virtual void FlushOnLoop() = 0;
  // Closes with a code and reason after the queued frames.
  virtual void Close(uint16_t code, std::string reason) = 0;
  // Whether pushed events go out as binary (the client's last frame was binary).
  virtual bool binary() const = 0;
  // Periodically on the session's network thread (SessionTicker): heartbeat, idle and token
  // expiry.
  virtual void Tick(std::chrono::steady_clock::time_point now) = 0;
};

// What one network thread (one io_context, run by one thread) has besides its sockets.
struct NetworkLoop {
  // `tick`: how often sessions are ticked (the precision of the heartbeat and of token expiry).
  NetworkLoop(boost::asio::io_context& ioc, std::chrono::milliseconds tick) : outbox(ioc), ticker(ioc, tick) {}
  Outbox outbox;
  SessionTicker ticker;
};

struct GatewayState {
  GatewayState(Engine& e, GatewayOptions o)
      : engine(e),
        options(std::move(o)),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))),
        user_limiter(options.user_frames_per_second, options.user_frame_burst) {}

  Engine& engine;
  const GatewayOptions options;
  boost::asio::thread_pool workers;
  PerUserLimiter user_limiter;

  std::atomic<uint32_t> pending_requests{0};  // see GatewayOptions::max_pending_requests

  // Abuse limits (GatewayOptions): the auth routes' throttles and pool, the connection caps, and
  // the proxies whose X-Forwarded-For is believed (set by Start, before any connection).
  AuthGate auth{options};
  ConnectionLimits connection_limits{options.max_connections, options.max_connections_per_ip};
  TrustedProxies trusted_proxies;

  std::mutex mu;
  std::unordered_map<ClientSession*, std::weak_ptr<ClientSession>> sessions;
  bool stopping = false;
  // Set before the network loop stops: a send ack arriving later from the engine is dropped
  // instead of being posted to a loop that is gone.
  std::atomic<bool> loop_stopped{false};

  // One per network thread (io_context), set before the listener starts.
  std::vector<std::unique_ptr<NetworkLoop>> loops;
  // The network thread that runs `context`; nullptr for another context.
  NetworkLoop* LoopOf(const boost::asio::execution_context& context) const {
    for (const auto& l : loops) {
      if (static_cast<const boost::asio::execution_context*>(&l->outbox.context()) == &context) return l.get();
    }
    return nullptr;
  }

  // The frame for a pushed event, encoded once per event and encoding, and shared by every
  // session of the fanout (the engine hands all of them the same Event object).
  std::shared_ptr<const std::string> EncodeEvent(const std::shared_ptr<const Event>& event, bool binary);

 private:
  struct Encoded {
    std::weak_ptr<const Event> event;              // identity check: a freed Event's address may be reused
    std::shared_ptr<const std::string> frames[2];  // [0] JSON, [1] binary
  };
  std::mutex encode_mu_;
  std::array<Encoded, 64> encoded_;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_GATEWAY_STATE_H_
