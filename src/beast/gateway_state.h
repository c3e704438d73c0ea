// What every connection of one gateway shares: the engine, the options, the worker pool for
// blocking engine calls, and the live WebSocket sessions (for shutdown).
#ifndef IM_SRC_BEAST_GATEWAY_STATE_H_
#define IM_SRC_BEAST_GATEWAY_STATE_H_

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "im/engine.h"
#include "im/gateway.h"

namespace im::gateway {

class WebsocketSession;

struct GatewayState {
  GatewayState(Engine& e, GatewayOptions o)
      : engine(e), options(std::move(o)), workers(static_cast<size_t>(std::max(1, options.worker_threads))) {}

  Engine& engine;
  const GatewayOptions options;
  boost::asio::thread_pool workers;

  std::mutex mu;
  std::unordered_map<WebsocketSession*, std::weak_ptr<WebsocketSession>> sessions;
  bool stopping = false;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_GATEWAY_STATE_H_
