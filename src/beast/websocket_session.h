// One WebSocket connection after an authenticated upgrade request: answers the handshake, reads
// frames, runs them through SessionProtocol (on the network thread when they never block, else
// on the worker pool one at a time), and writes replies and pushed events. The framing is our
// own (wire/websocket.h), so that:
//  - every frame queued during one pass of the network thread (an Outbox drain, the requests of
//    one read) goes out in one write: a burst of events costs one system call per socket, not
//    one per frame;
//  - an idle connection holds no buffer: a plain socket is read into the thread's buffer once
//    the kernel says it is readable, and the write buffer exists only while bytes wait;
//  - no per-connection timer: the thread's SessionTicker ticks the session once a second for
//    the heartbeat (a ping after half the idle timeout without traffic, closed after all of it),
//    the access token's expiry (closed with 1008) and closing handshakes that never finish.
// Slow consumers are bounded in frames and in bytes (GatewayOptions::max_queued_frames,
// max_queued_bytes): past either the session is closed with 4000 and the client syncs on
// reconnect.
// `Stream` is beast::tcp_stream (the session keeps only its socket) or
// beast::ssl_stream<beast::tcp_stream>; both are instantiated in websocket_session.cc only.
#ifndef IM_SRC_BEAST_WEBSOCKET_SESSION_H_
#define IM_SRC_BEAST_WEBSOCKET_SESSION_H_

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <type_traits>

#include "beast/gateway_state.h"
#include "beast/rate_limiter.h"
#include "gateway/session_protocol.h"
#include "wire/websocket.h"

namespace im::gateway {

template <class Stream>
class WebsocketSession : public ClientSession, public std::enable_shared_from_this<WebsocketSession<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;
  // A plain connection is driven through its bare socket (readiness, then non-blocking reads and
  // writes); TLS through the stream.
  using Socket = std::conditional_t<kTls, Stream, boost::asio::ip::tcp::socket>;

  // `leftover`: bytes the HTTP reader took past the upgrade request (a client may send frames
  // before it sees the 101). `accept_key`: the handshake's Sec-WebSocket-Accept (wire::ws).
  WebsocketSession(Stream&& stream, std::shared_ptr<GatewayState> state, AuthContext who, std::string conn_id,
                   std::string leftover);
  ~WebsocketSession() override;

  // On the connection's network thread: writes the 101, attaches to the engine, starts reading.
  void Run(const std::string& accept_key);
  void Send(std::shared_ptr<const std::string> frame, bool text) override;
  bool EnqueueOnLoop(const std::string& frame, bool text) override;
  void FlushOnLoop() override;
  void Close(uint16_t code, std::string reason) override;
  bool binary() const override { return binary_; }
  void Tick(std::chrono::steady_clock::time_point now) override;

 private:
  enum class Phase {
    kOpen,        // frames flow both ways
    kClosing,     // our close frame is queued: nothing more is queued; reads wait for the reply
    kClosingNow,  // as kClosing, but no reply is awaited: once the close frame is written, linger
    kLinger,      // close frame written, sending shut down: reads are discarded until the client
                  // closes, so unread bytes cannot turn the close into a reset that loses our frame
    kDone,        // the socket is closed
  };

  void DoRead();
  void OnReadable(boost::system::error_code ec);
  // Parses `n` bytes read from the client. False when the session stopped reading.
  bool OnBytes(char* data, size_t n);
  void OnMessage(std::string_view bytes, bool binary);
  // Frames that never wait for the store or another service.
  static bool NonBlocking(const v1::ClientFrame& frame);
  // Runs one request through SessionProtocol; its reply is written when it comes.
  void Process(v1::ClientFrame frame, bool binary);
  // Appends one frame to the write buffer and schedules a flush after the current handler.
  // Queues a frame and arranges its write (ScheduleFlush) unless `defer_flush`: then returns
  // true when the caller must call FlushOnLoop.
  bool Enqueue(std::string_view bytes, wire::ws::Opcode opcode, bool defer_flush = false);
  void ScheduleFlush();
  void Flush();
  void OnWritten(boost::system::error_code ec);
  void StartClose(uint16_t code, std::string_view reason, bool close_after_write);
  void Linger();
  // Closes the socket and detaches from the engine, once.
  void Finish(std::string_view why);

  Socket socket_;
  std::shared_ptr<GatewayState> state_;
  const AuthContext who_;
  const std::string conn_id_;  // in every log line of this connection
  SessionProtocol protocol_;
  // Requests of this session run on the worker pool one at a time, in order; non-blocking ones
  // run on the network thread when none is queued or running there (requests_in_flight_ == 0).
  boost::asio::strand<boost::asio::thread_pool::executor_type> work_;
  std::atomic<int> requests_in_flight_{0};
  TokenBucket frame_limit_;  // per connection; network thread only
  wire::ws::FrameParser parser_;
  std::string leftover_;  // until the first read

  // Writing, network thread only. `inflight_` is being written (from `inflight_done_` on);
  // `queued_` collects the frames for the next write.
  std::string inflight_;
  size_t inflight_done_ = 0;
  std::string queued_;
  uint32_t inflight_frames_ = 0;
  uint32_t queued_frames_ = 0;
  bool writing_ = false;          // a write (or a wait for room) is in flight
  bool flush_scheduled_ = false;  // a Flush is posted

  Phase phase_ = Phase::kOpen;
  uint16_t close_code_ = 0;  // what we sent or answered, for the log line
  std::string close_why_;
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point closing_since_;
  bool ping_outstanding_ = false;
  bool reading_ = false;                     // a read (or a wait for data) is in flight
  std::unique_ptr<char[]> tls_read_buffer_;  // TLS only

  std::atomic<bool> binary_{false};
  SessionId engine_session_ = 0;
  NetworkLoop* const loop_;  // of this session's network thread
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_WEBSOCKET_SESSION_H_
