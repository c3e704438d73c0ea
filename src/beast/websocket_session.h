// One WebSocket connection (after a successful, authenticated upgrade): reads frames, runs them
// through SessionProtocol on the worker pool one at a time, and writes replies and pushed events
// with one write in flight and a bounded queue. Closes with 1008 when its access token expires.
// `Stream` is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>; both are instantiated
// in websocket_session.cc only.
#ifndef IM_SRC_BEAST_WEBSOCKET_SESSION_H_
#define IM_SRC_BEAST_WEBSOCKET_SESSION_H_

#include <atomic>
#include <boost/asio/steady_timer.hpp>
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

template <class Stream>
class WebsocketSession : public ClientSession, public std::enable_shared_from_this<WebsocketSession<Stream>> {
 public:
  WebsocketSession(Stream&& stream, std::shared_ptr<GatewayState> state, AuthContext who, std::string conn_id);
  ~WebsocketSession() override;

  // Completes the upgrade, attaches to the engine and starts reading.
  void Run(boost::beast::http::request<boost::beast::http::string_body> request);
  void Send(std::shared_ptr<const std::string> frame, bool text) override;
  void EnqueueOnLoop(std::shared_ptr<const std::string> frame, bool text) override;
  void Close(uint16_t code, std::string reason) override;
  bool binary() const override { return binary_; }

 private:
  struct Outgoing {
    std::shared_ptr<const std::string> bytes;
    bool text;
  };
  void OnAccept(boost::beast::error_code ec);
  void WatchTokenExpiry();
  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  // Frames that never wait for the store or another service.
  static bool NonBlocking(const v1::ClientFrame& frame);
  // Runs one request through SessionProtocol; its reply is written when it comes.
  void Process(v1::ClientFrame frame, bool binary);
  void Enqueue(Outgoing out);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, std::size_t bytes);
  void StartClose(boost::beast::websocket::close_reason reason);
  void SendClose();

  boost::beast::websocket::stream<Stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<GatewayState> state_;
  const AuthContext who_;
  const std::string conn_id_;  // in every log line of this connection
  SessionProtocol protocol_;
  // Requests of this session run on the worker pool one at a time, in order; non-blocking ones
  // run on the network thread when none is queued or running there (requests_in_flight_ == 0).
  boost::asio::strand<boost::asio::thread_pool::executor_type> work_;
  std::atomic<int> requests_in_flight_{0};
  boost::asio::steady_timer token_expiry_;
  TokenBucket frame_limit_;  // per connection; used on the strand only
  std::deque<Outgoing> queue_;
  bool writing_ = false;
  bool closing_ = false;
  boost::beast::websocket::close_reason close_reason_;
  std::atomic<bool> binary_{false};
  SessionId engine_session_ = 0;
  Outbox* const outbox_;  // of this session's network thread (frames from engine threads)
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_WEBSOCKET_SESSION_H_
