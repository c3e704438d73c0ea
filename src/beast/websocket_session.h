// One WebSocket connection (after a successful, authenticated upgrade): reads frames, runs them
// through SessionProtocol on the worker pool one at a time, and writes replies and pushed events
// with one write in flight and a bounded queue.
#ifndef IM_SRC_BEAST_WEBSOCKET_SESSION_H_
#define IM_SRC_BEAST_WEBSOCKET_SESSION_H_

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

#include "beast/gateway_state.h"
#include "beast/rate_limiter.h"
#include "gateway/session_protocol.h"

namespace im::gateway {

class WebsocketSession : public std::enable_shared_from_this<WebsocketSession> {
 public:
  WebsocketSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<GatewayState> state, AuthContext who);
  ~WebsocketSession();

  // Completes the upgrade, attaches to the engine and starts reading.
  void Run(boost::beast::http::request<boost::beast::http::string_body> request);
  // Thread-safe: queues one encoded frame (text or binary) for writing.
  void Send(std::shared_ptr<const std::string> frame, bool text);
  // Thread-safe: closes with a code and reason after the queued frames.
  void Close(boost::beast::websocket::close_code code, std::string reason);
  // Whether pushed events go out as binary (the client's last frame was binary).
  bool binary() const { return binary_; }

 private:
  struct Outgoing {
    std::shared_ptr<const std::string> bytes;
    bool text;
  };
  void OnAccept(boost::beast::error_code ec);
  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  void Enqueue(Outgoing out);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, std::size_t bytes);
  void StartClose(boost::beast::websocket::close_reason reason);
  void SendClose();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<GatewayState> state_;
  const AuthContext who_;
  SessionProtocol protocol_;
  // Requests of this session run on the worker pool one at a time, in order.
  boost::asio::strand<boost::asio::thread_pool::executor_type> work_;
  TokenBucket frame_limit_;  // per connection; used on the strand only
  std::deque<Outgoing> queue_;
  bool writing_ = false;
  bool closing_ = false;
  boost::beast::websocket::close_reason close_reason_;
  std::atomic<bool> binary_{false};
  SessionId engine_session_ = 0;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_WEBSOCKET_SESSION_H_
