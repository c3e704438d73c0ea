#include "beast/websocket_session.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>

#include "common/fault_injection.h"
#include "common/log.h"
#include "common/metrics.h"
#include "wire/frame_codec.h"

namespace im::gateway {

namespace beast = boost::beast;
namespace asio = boost::asio;
using wire::ws::Opcode;
using wire::ws::WsEvent;

namespace {

// Turns engine events into frames for one WebSocket session. Deliver never blocks: it encodes
// and queues.
class WebsocketSink : public SessionSink {
 public:
  WebsocketSink(std::weak_ptr<ClientSession> session, std::shared_ptr<GatewayState> state, std::string family)
      : session_(std::move(session)), state_(std::move(state)), family_(std::move(family)) {}
  void Deliver(const std::shared_ptr<const Event>& event) override {
    auto s = session_.lock();
    if (!s) return;
    if (const auto* revoked = std::get_if<LoginRevokedEvent>(event.get())) {
      // Logout, a password change or refresh-token reuse ended this session's login.
      if (revoked->Covers(family_)) s->Close(wire::ws::kClosePolicy, "session revoked");
      return;
    }
    bool binary = s->binary();
    metrics::Default().fanout_deliveries.Add();
    s->Send(state_->EncodeEvent(event, binary), !binary);
  }

 private:
  std::weak_ptr<ClientSession> session_;
  std::shared_ptr<GatewayState> state_;
  const std::string family_;  // the login the session was opened with
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A plain socket is read, once readable, into this per-thread buffer: 64 KiB per network thread
// instead of a buffer per connection.
constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness before yielding to the thread's other connections.
constexpr int kReadsPerWakeup = 4;
constexpr size_t kTlsReadChunk = 16 * 1024;  // one TLS record
// A close handshake the client does not finish within this ends with the socket closed.
constexpr auto kCloseHandshakeTimeout = std::chrono::seconds(5);
// The application close code for a client that does not read fast enough (docs/protocol.md).
constexpr uint16_t kCloseSlowConsumer = 4000;
// What a session's write buffer starts with when a frame is queued (see Enqueue).
constexpr size_t kFirstWriteBuffer = 4096;
// Sync positions per extra rate-limit token.
constexpr int kSyncPositionsPerToken = 200;

bool WouldBlock(const boost::system::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

std::shared_ptr<const std::string> GatewayState::EncodeEvent(const std::shared_ptr<const Event>& event, bool binary) {
  Encoded& slot = encoded_[std::hash<const Event*>()(event.get()) % encoded_.size()];
  std::lock_guard lock(encode_mu_);
  if (slot.event.lock() != event) slot = Encoded{event, {}};
  auto& frame = slot.frames[binary ? 1 : 0];
  if (!frame) {
    v1::ServerFrame f = SessionProtocol::FromEvent(*event);
    frame = std::make_shared<const std::string>(binary ? f.SerializeAsString() : wire::ToJson(f));
  }
  return frame;
}

template <class Stream>
WebsocketSession<Stream>::WebsocketSession(Stream&& stream, std::shared_ptr<GatewayState> state, AuthContext who,
                                           std::string conn_id, std::string leftover)
    : socket_([&]() -> Socket {
        if constexpr (kTls) {
          return std::move(stream);
        } else {
          return stream.release_socket();
        }
      }()),
      state_(std::move(state)),
      who_(std::move(who)),
      conn_id_(std::move(conn_id)),
      protocol_(state_->engine, who_.user, who_.device),
      work_(asio::make_strand(state_->workers.get_executor())),
      frame_limit_(state_->options.connection_frames_per_second, state_->options.connection_frame_burst),
      parser_(state_->options.max_frame_bytes),
      leftover_(std::move(leftover)),
      loop_(state_->LoopOf(asio::query(socket_.get_executor(), asio::execution::context))) {}

template <class Stream>
WebsocketSession<Stream>::~WebsocketSession() {
  if (engine_session_ != 0) metrics::Default().connections.Add(-1);
  std::lock_guard lock(state_->mu);
  state_->sessions.erase(this);
}

template <class Stream>
void WebsocketSession<Stream>::Run(const std::string& accept_key) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->sessions[this] = this->weak_from_this();
  }
  if constexpr (!kTls) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return Finish("cannot set non-blocking: " + ec.message());
  }
  queued_ =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nServer: libim\r\n"
      "Sec-WebSocket-Accept: " +
      accept_key + "\r\n\r\n";
  Flush();
  auto sink = std::make_shared<WebsocketSink>(this->weak_from_this(), state_, who_.family_id);
  Result<SessionId> attached = Status::Internal("internal error");
  try {
    FaultPoint("ws.attach");
    attached = state_->engine.Attach(who_.user, who_.device, sink);
  } catch (...) {
    log::Error("ws.handler_threw", {{"conn", conn_id_}, {"where", "ws.attach"}, {"error", CurrentExceptionMessage()}});
  }
  if (!attached.ok()) {
    log::Error("ws.attach_failed", {{"conn", conn_id_}, {"error", attached.status().ToString()}});
    return StartClose(wire::ws::kCloseInternalError, "cannot attach session", true);
  }
  engine_session_ = *attached;
  metrics::Default().connections.Add(1);
  log::Info("ws.open", {{"conn", conn_id_}, {"user", static_cast<int64_t>(who_.user.value)}, {"device", who_.device}});
  if (loop_ != nullptr) loop_->ticker.Add(this->weak_from_this());
  if (!leftover_.empty()) {
    std::string early = std::move(leftover_);
    std::string().swap(leftover_);
    if (!OnBytes(early.data(), early.size())) return;
  }
  DoRead();
}

template <class Stream>
void WebsocketSession<Stream>::DoRead() {
  if (reading_ || phase_ == Phase::kDone) return;
  reading_ = true;
  if constexpr (kTls) {
    if (!tls_read_buffer_) tls_read_buffer_.reset(new char[kTlsReadChunk]);
    socket_.async_read_some(asio::buffer(tls_read_buffer_.get(), kTlsReadChunk),
                            [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
                              self->reading_ = false;
                              if (self->phase_ == Phase::kDone) return;
                              if (ec)
                                return self->Finish(ec == asio::error::eof ? "closed by the client" : ec.message());
                              self->last_heard_ = std::chrono::steady_clock::now();
                              self->ping_outstanding_ = false;
                              if (self->OnBytes(self->tls_read_buffer_.get(), n)) self->DoRead();
                            });
  } else {
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       beast::bind_front_handler(&WebsocketSession::OnReadable, this->shared_from_this()));
  }
}

template <class Stream>
void WebsocketSession<Stream>::OnReadable(boost::system::error_code ec) {
  if constexpr (!kTls) {
    reading_ = false;
    if (phase_ == Phase::kDone) return;
    if (ec) return Finish(ec.message());
    static thread_local char buffer[kReadChunk];
    for (int i = 0; i < kReadsPerWakeup; ++i) {
      boost::system::error_code rec;
      size_t n = socket_.read_some(asio::buffer(buffer, kReadChunk), rec);
      if (WouldBlock(rec)) break;
      if (phase_ == Phase::kLinger) {
        if (rec) return Finish(close_why_);  // the client closed too (or reset): done
        continue;                            // discarded
      }
      if (rec) return Finish(rec == asio::error::eof ? "closed by the client" : rec.message());
      last_heard_ = std::chrono::steady_clock::now();
      ping_outstanding_ = false;
      if (!OnBytes(buffer, n)) return;
      if (n < kReadChunk) break;  // drained: a read returns all that is there
    }
    DoRead();
  }
}

template <class Stream>
bool WebsocketSession<Stream>::OnBytes(char* data, size_t n) {
  wire::ws::WsError error = parser_.Feed(data, n, [this](const WsEvent& e) {
    switch (e.kind) {
      case WsEvent::Kind::kMessage:
        if (phase_ == Phase::kOpen) OnMessage(e.payload, !e.text);  // after our close: ignored
        return phase_ != Phase::kDone;
      case WsEvent::Kind::kPing:
        // Pings take a token like any frame: a ping flood cannot buy unbounded pongs.
        if (phase_ == Phase::kOpen && frame_limit_.TryTake(std::chrono::steady_clock::now())) {
          Enqueue(e.payload, Opcode::kPong);
        }
        return true;
      case WsEvent::Kind::kPong:
        return true;
      case WsEvent::Kind::kClose:
        if (phase_ == Phase::kOpen) {
          // The client closes: answer with its code, then close the socket (the server closes
          // TCP first, RFC 6455 §7.1.1).
          StartClose(e.close_code == wire::ws::kCloseNoStatus ? wire::ws::kCloseNormal : e.close_code, "closed", true);
        } else if (phase_ == Phase::kClosing) {
          // The answer to our close: done once our frame is out.
          if (writing_ || !queued_.empty() || inflight_done_ < inflight_.size()) {
            phase_ = Phase::kClosingNow;
          } else {
            Linger();
          }
        }
        return false;
    }
    return false;
  });
  if (error) {
    log::Info("ws.protocol_error", {{"conn", conn_id_}, {"error", error.reason}, {"code", error.code}});
    StartClose(error.code, error.reason, true);
    return false;
  }
  return phase_ == Phase::kOpen || phase_ == Phase::kClosing;
}

template <class Stream>
void WebsocketSession<Stream>::OnMessage(std::string_view bytes, bool binary) {
  metrics::Default().frames_in.Add();
  // Every frame takes a token, well-formed or not: a flood of garbage is limited like any other.
  const auto now = std::chrono::steady_clock::now();
  bool allowed = frame_limit_.TryTake(now) && state_->user_limiter.TryTake(who_.user);
  auto frame = binary ? wire::ParseClientBinary(bytes) : wire::ParseClientJson(bytes);
  // Pushed events follow the encoding of the client's last frame that decoded: a stray bad
  // binary frame does not switch a JSON client to protobuf.
  if (frame.ok()) binary_ = binary;
  if (allowed && frame.ok() && frame->has_sync()) {
    // A sync costs the store a read per position: one more token per kSyncPositionsPerToken
    // positions (at most half the burst, so the largest sync still gets through).
    double extra = std::min<double>(frame->sync().positions_size() / kSyncPositionsPerToken,
                                    state_->options.connection_frame_burst / 2);
    if (extra >= 1) allowed = frame_limit_.TryTake(now, extra);
  }
  std::string reply_id;  // a refused but well-formed frame still gets its id back
  bool rate_limited = false;
  if (!allowed) {
    reply_id = frame.ok() ? frame->id() : binary ? std::string() : wire::FrameIdOf(bytes);
    rate_limited = true;
    frame = Status::ResourceExhausted("rate limit exceeded: slow down");
  }
  uint32_t retry_after_ms = 0;
  if (rate_limited) {
    // One token's worth of time at the slower of the two buckets.
    double rate = std::min(state_->options.connection_frames_per_second, state_->options.user_frames_per_second);
    retry_after_ms = static_cast<uint32_t>(std::ceil(1000.0 / rate));
  } else if (frame.ok() && state_->pending_requests.fetch_add(1) >= state_->options.max_pending_requests) {
    // Overloaded: say so now rather than answer seconds late.
    state_->pending_requests.fetch_sub(1);
    reply_id = frame->id();
    retry_after_ms = 100;
    frame = Status::Unavailable("server busy: retry later");
  }
  if (!frame.ok()) {
    // A frame that did not decode still gets its id back when its "id" member can be read.
    if (reply_id.empty() && !binary) reply_id = wire::FrameIdOf(bytes);
    auto error = SessionProtocol::ErrorFrame(reply_id, frame.status());
    if (retry_after_ms != 0) error.mutable_error()->set_retry_after_ms(retry_after_ms);
    Enqueue(binary ? error.SerializeAsString() : wire::ToJson(error), binary ? Opcode::kBinary : Opcode::kText);
  } else if (requests_in_flight_.load(std::memory_order_acquire) == 0 && NonBlocking(*frame)) {
    // Nothing of this session is waiting on the worker pool, so handling it here keeps the
    // session's order, and saves the hand-off to a worker and back: sends only publish upstream
    // (their ack comes later, from the engine), pings and acks only answer.
    Process(std::move(frame).value(), binary);
  } else {
    requests_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    asio::post(work_, [self = this->shared_from_this(), frame = std::move(frame).value(), binary]() mutable {
      self->Process(std::move(frame), binary);
      self->requests_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    });
  }
}

template <class Stream>
bool WebsocketSession<Stream>::NonBlocking(const v1::ClientFrame& frame) {
  switch (frame.body_case()) {
    case v1::ClientFrame::kSendMessage:
    case v1::ClientFrame::kPing:
    case v1::ClientFrame::kAck:
      return true;
    default:
      return false;  // they call the logic half, which reads the store (or im-logic over gRPC)
  }
}

template <class Stream>
void WebsocketSession<Stream>::Process(v1::ClientFrame frame, bool binary) {
  auto start = std::chrono::steady_clock::now();
  // Sends answer later, from the engine, once their ack arrives.
  protocol_.Handle(
      frame, [self = this->shared_from_this(), id = frame.id(), binary, start](std::optional<v1::ServerFrame> reply) {
        self->state_->pending_requests.fetch_sub(1);
        if (!reply) return;
        if (reply->has_send_ack()) {
          metrics::Default().messages_sent.Add();
          metrics::Default().send_latency.Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          log::Debug("ws.send", {{"conn", self->conn_id_},
                                 {"id", id},
                                 {"message_id", static_cast<int64_t>(reply->send_ack().message_id())},
                                 {"seq", static_cast<int64_t>(reply->send_ack().seq())}});
        } else if (reply->has_error()) {
          log::Debug("ws.error_reply", {{"conn", self->conn_id_}, {"id", id}, {"code", reply->error().code()}});
        }
        auto bytes = std::make_shared<const std::string>(binary ? reply->SerializeAsString() : wire::ToJson(*reply));
        if (!self->state_->loop_stopped.load(std::memory_order_acquire)) self->Send(std::move(bytes), !binary);
      });
}

template <class Stream>
void WebsocketSession<Stream>::Send(std::shared_ptr<const std::string> frame, bool text) {
  if (loop_ == nullptr) {
    asio::post(socket_.get_executor(), [self = this->shared_from_this(), frame = std::move(frame), text]() mutable {
      self->Enqueue(*frame, text ? Opcode::kText : Opcode::kBinary);
    });
    return;
  }
  // On the session's own thread (a reply computed inline) the frame is queued at once.
  if (loop_->outbox.context().get_executor().running_in_this_thread()) {
    Enqueue(*frame, text ? Opcode::kText : Opcode::kBinary);
    return;
  }
  loop_->outbox.Push(this->shared_from_this(), std::move(frame), text);
}

template <class Stream>
bool WebsocketSession<Stream>::EnqueueOnLoop(const std::string& frame, bool text) {
  return Enqueue(frame, text ? Opcode::kText : Opcode::kBinary, /*defer_flush=*/true);
}

template <class Stream>
void WebsocketSession<Stream>::FlushOnLoop() {
  flush_scheduled_ = false;
  Flush();
}

template <class Stream>
void WebsocketSession<Stream>::Close(uint16_t code, std::string reason) {
  asio::post(socket_.get_executor(), [self = this->shared_from_this(), code, reason = std::move(reason)] {
    self->StartClose(code, reason, false);
  });
}

template <class Stream>
void WebsocketSession<Stream>::Tick(std::chrono::steady_clock::time_point now) {
  if (phase_ == Phase::kDone) return;
  if (phase_ != Phase::kOpen) {
    if (now - closing_since_ > kCloseHandshakeTimeout) Finish("close handshake timed out");
    return;
  }
  // The heartbeat: a ping after half the idle timeout without a byte from the client, closed
  // after all of it (this also ends half-open connections, which would not answer a close).
  const auto idle = now - last_heard_;
  const auto limit = std::chrono::seconds(state_->options.idle_timeout_seconds);
  if (idle >= limit) return Finish("idle timeout");
  // A session lives no longer than the token it was opened with: at expiry it is closed with 1008
  // and the client reconnects with a refreshed token (and syncs). A revoked login is thus cut off
  // within one access-token lifetime.
  if (who_.expires_at_ms <= NowMs()) return StartClose(wire::ws::kClosePolicy, "access token expired", false);
  if (idle >= limit / 2 && !ping_outstanding_) {
    ping_outstanding_ = true;
    Enqueue({}, Opcode::kPing);
  }
}

template <class Stream>
bool WebsocketSession<Stream>::Enqueue(std::string_view bytes, Opcode opcode, bool defer_flush) {
  if (phase_ != Phase::kOpen) return false;  // nothing goes after our close frame
  const auto& o = state_->options;
  const size_t waiting = queued_.size() + (inflight_.size() - inflight_done_);
  if (queued_frames_ + inflight_frames_ >= o.max_queued_frames ||
      (waiting > 0 && waiting + bytes.size() > o.max_queued_bytes)) {
    // A slow consumer: cut it off rather than grow without bound; it syncs on reconnect. The
    // bytes being written go out first, then the close frame.
    std::string().swap(queued_);
    queued_frames_ = 0;
    log::Warn("ws.slow_consumer", {{"conn", conn_id_},
                                   {"user", static_cast<int64_t>(who_.user.value)},
                                   {"queued_bytes", static_cast<int64_t>(waiting)}});
    StartClose(kCloseSlowConsumer, "slow consumer", true);
    return false;
  }
  // Room for a burst of frames at once: a session that gets ten events in one drain grows its
  // buffer once, not at every doubling (the buffer is freed again once written).
  if (queued_.empty()) queued_.reserve(std::max<size_t>(kFirstWriteBuffer, bytes.size() + wire::ws::kMaxServerHeader));
  wire::ws::AppendFrame(queued_, opcode, bytes);
  ++queued_frames_;
  if (opcode == Opcode::kText || opcode == Opcode::kBinary) metrics::Default().frames_out.Add();
  if (!defer_flush) {
    ScheduleFlush();
    return false;
  }
  if (flush_scheduled_ || writing_) return false;  // a write already arranged takes this frame too
  flush_scheduled_ = true;
  return true;
}

// The write waits for the end of the current handler: frames queued by the rest of an Outbox
// drain, or by the other requests of one read, join it.
template <class Stream>
void WebsocketSession<Stream>::ScheduleFlush() {
  if (flush_scheduled_ || writing_) return;  // a write in flight flushes what was queued meanwhile
  flush_scheduled_ = true;
  asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
    self->flush_scheduled_ = false;
    self->Flush();
  });
}

template <class Stream>
void WebsocketSession<Stream>::Flush() {
  if (writing_ || phase_ == Phase::kDone) return;
  if (inflight_done_ == inflight_.size()) {
    if (queued_.empty()) return;
    inflight_.swap(queued_);
    queued_.clear();
    inflight_done_ = 0;
    inflight_frames_ = queued_frames_;
    queued_frames_ = 0;
  }
  if constexpr (kTls) {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(inflight_.data() + inflight_done_, inflight_.size() - inflight_done_),
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
                        self->inflight_done_ += n;
                        self->OnWritten(ec);
                      });
  } else {
    // Written at once while the socket has room (the common case: no operation object, no
    // completion handler); waits for room only when the kernel's buffer is full.
    while (inflight_done_ < inflight_.size()) {
      boost::system::error_code ec;
      size_t n =
          socket_.write_some(asio::buffer(inflight_.data() + inflight_done_, inflight_.size() - inflight_done_), ec);
      if (WouldBlock(ec)) {
        writing_ = true;
        socket_.async_wait(asio::ip::tcp::socket::wait_write,
                           beast::bind_front_handler(&WebsocketSession::OnWritten, this->shared_from_this()));
        return;
      }
      if (ec) return Finish("write failed: " + ec.message());
      inflight_done_ += n;
    }
    OnWritten({});
  }
}

template <class Stream>
void WebsocketSession<Stream>::OnWritten(boost::system::error_code ec) {
  writing_ = false;
  if (phase_ == Phase::kDone) return;
  if (ec) return Finish("write failed: " + ec.message());
  if (inflight_done_ < inflight_.size()) return Flush();  // room again: go on
  // Everything written: an idle session keeps no write buffer.
  std::string().swap(inflight_);
  inflight_done_ = 0;
  inflight_frames_ = 0;
  if (!queued_.empty()) return Flush();
  std::string().swap(queued_);
  if (phase_ == Phase::kClosingNow) Linger();
}

template <class Stream>
void WebsocketSession<Stream>::Linger() {
  if constexpr (kTls) {
    Finish(close_why_);  // a TLS peer reads our close through the record layer already flushed
  } else {
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) return Finish(close_why_);
    phase_ = Phase::kLinger;
    closing_since_ = std::chrono::steady_clock::now();
    DoRead();
  }
}

template <class Stream>
void WebsocketSession<Stream>::StartClose(uint16_t code, std::string_view reason, bool close_after_write) {
  if (phase_ == Phase::kDone) return;
  if (phase_ != Phase::kOpen) {
    if (close_after_write) phase_ = Phase::kClosingNow;
    return;
  }
  close_code_ = code;
  close_why_ = std::string(reason);
  wire::ws::AppendCloseFrame(queued_, code, reason);
  ++queued_frames_;
  phase_ = close_after_write ? Phase::kClosingNow : Phase::kClosing;
  closing_since_ = std::chrono::steady_clock::now();
  if (writing_) return;  // the write in flight flushes it
  Flush();
}

template <class Stream>
void WebsocketSession<Stream>::Finish(std::string_view why) {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  boost::system::error_code ec;
  if constexpr (kTls) {
    beast::get_lowest_layer(socket_).socket().close(ec);
  } else {
    socket_.close(ec);
  }
  std::string().swap(inflight_);
  std::string().swap(queued_);
  log::Info("ws.close", {{"conn", conn_id_},
                         {"user", static_cast<int64_t>(who_.user.value)},
                         {"reason", std::string(why)},
                         {"code", static_cast<int64_t>(close_code_)}});
  if (engine_session_ != 0) {
    asio::post(state_->workers, [state = state_, id = engine_session_] {
      try {
        state->engine.Detach(id);
      } catch (...) {  // a pool thread must not end (std::terminate)
        log::Error("ws.handler_threw", {{"where", "ws.detach"}, {"error", CurrentExceptionMessage()}});
      }
    });
  }
}

template class WebsocketSession<beast::tcp_stream>;
template class WebsocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace im::gateway
