#include "beast/websocket_session.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cmath>

#include "common/log.h"
#include "common/metrics.h"
#include "wire/frame_codec.h"

namespace im::gateway {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

// Turns engine events into frames for one WebSocket session. Deliver never blocks: it encodes
// and queues.
class WebsocketSink : public SessionSink {
 public:
  WebsocketSink(std::weak_ptr<ClientSession> session, std::shared_ptr<GatewayState> state)
      : session_(std::move(session)), state_(std::move(state)) {}
  void Deliver(const std::shared_ptr<const Event>& event) override {
    auto s = session_.lock();
    if (!s) return;
    bool binary = s->binary();
    metrics::Default().fanout_deliveries.Add();
    s->Send(state_->EncodeEvent(event, binary), !binary);
  }

 private:
  std::weak_ptr<ClientSession> session_;
  std::shared_ptr<GatewayState> state_;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
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
                                           std::string conn_id)
    : ws_(std::move(stream)),
      state_(std::move(state)),
      who_(std::move(who)),
      conn_id_(std::move(conn_id)),
      protocol_(state_->engine, who_.user, who_.device),
      work_(asio::make_strand(state_->workers.get_executor())),
      token_expiry_(ws_.get_executor()),
      frame_limit_(state_->options.connection_frames_per_second, state_->options.connection_frame_burst),
      outbox_(state_->OutboxOf(asio::query(ws_.get_executor(), asio::execution::context))) {}

template <class Stream>
WebsocketSession<Stream>::~WebsocketSession() {
  if (engine_session_ != 0) metrics::Default().connections.Add(-1);
  std::lock_guard lock(state_->mu);
  state_->sessions.erase(this);
}

template <class Stream>
void WebsocketSession<Stream>::Run(beast::http::request<beast::http::string_body> request) {
  // Beast pings after half the idle timeout without traffic and closes after the whole of it
  // without an answer: that is the heartbeat, and what ends half-open connections.
  websocket::stream_base::timeout timeout;
  timeout.handshake_timeout = std::chrono::seconds(30);
  timeout.idle_timeout = std::chrono::seconds(state_->options.idle_timeout_seconds);
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  ws_.read_message_max(state_->options.max_frame_bytes);
  ws_.async_accept(request, beast::bind_front_handler(&WebsocketSession::OnAccept, this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::OnAccept(beast::error_code ec) {
  if (ec) return;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->sessions[this] = this->weak_from_this();
  }
  auto sink = std::make_shared<WebsocketSink>(this->weak_from_this(), state_);
  auto attached = state_->engine.Attach(who_.user, who_.device, sink);
  if (!attached.ok()) {
    log::Error("ws.attach_failed", {{"conn", conn_id_}, {"error", attached.status().ToString()}});
    return Close(static_cast<uint16_t>(websocket::close_code::internal_error), "cannot attach session");
  }
  engine_session_ = *attached;
  metrics::Default().connections.Add(1);
  log::Info("ws.open", {{"conn", conn_id_}, {"user", static_cast<int64_t>(who_.user.value)}, {"device", who_.device}});
  WatchTokenExpiry();
  DoRead();
}

// A session lives no longer than the token it was opened with: at expiry it is closed with 1008
// and the client reconnects with a refreshed token (and syncs). A revoked login is thus cut off
// within one access-token lifetime.
template <class Stream>
void WebsocketSession<Stream>::WatchTokenExpiry() {
  token_expiry_.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, who_.expires_at_ms - NowMs())));
  token_expiry_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->StartClose(websocket::close_reason(websocket::close_code::policy_error, "access token expired"));
    }
  });
}

template <class Stream>
void WebsocketSession<Stream>::DoRead() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WebsocketSession::OnRead, this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::OnRead(beast::error_code ec, std::size_t) {
  if (ec) {
    // Closed by the client, timed out, or a protocol violation that Beast answers with its close
    // code (1009 for a frame over read_message_max, 1007 for invalid UTF-8 in a text frame).
    token_expiry_.cancel();
    log::Info("ws.close", {{"conn", conn_id_},
                           {"user", static_cast<int64_t>(who_.user.value)},
                           {"reason", ec == websocket::error::closed ? std::string("closed") : ec.message()},
                           {"code", static_cast<int64_t>(closing_ ? close_reason_.code : ws_.reason().code)}});
    asio::post(state_->workers, [state = state_, id = engine_session_] { state->engine.Detach(id); });
    return;
  }
  const bool binary = ws_.got_binary();
  binary_ = binary;
  metrics::Default().frames_in.Add();
  std::string bytes = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  auto frame = binary ? wire::ParseClientBinary(bytes) : wire::ParseClientJson(bytes);
  std::string reply_id;  // a refused but well-formed frame still gets its id back
  bool rate_limited = false;
  if (frame.ok() &&
      !(frame_limit_.TryTake(std::chrono::steady_clock::now()) && state_->user_limiter.TryTake(who_.user))) {
    reply_id = frame->id();
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
    Enqueue({std::make_shared<const std::string>(binary ? error.SerializeAsString() : wire::ToJson(error)), !binary});
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
  DoRead();
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
        std::lock_guard lock(self->state_->mu);
        if (!self->state_->loop_stopped) self->Send(std::move(bytes), !binary);
      });
}

template <class Stream>
void WebsocketSession<Stream>::Send(std::shared_ptr<const std::string> frame, bool text) {
  if (outbox_ != nullptr) return outbox_->Push(this->shared_from_this(), std::move(frame), text);
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), out = Outgoing{std::move(frame), text}]() mutable {
    self->Enqueue(std::move(out));
  });
}

template <class Stream>
void WebsocketSession<Stream>::EnqueueOnLoop(std::shared_ptr<const std::string> frame, bool text) {
  Enqueue(Outgoing{std::move(frame), text});
}

template <class Stream>
void WebsocketSession<Stream>::Close(uint16_t code, std::string reason) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason = std::move(reason)] {
    self->StartClose(websocket::close_reason(static_cast<websocket::close_code>(code), reason));
  });
}

// On the strand. The close frame is a write: it waits for the write in flight.
template <class Stream>
void WebsocketSession<Stream>::StartClose(websocket::close_reason reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  if (!writing_) SendClose();
}

template <class Stream>
void WebsocketSession<Stream>::SendClose() {
  ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {});
}

template <class Stream>
void WebsocketSession<Stream>::Enqueue(Outgoing out) {
  if (closing_) return;
  if (queue_.size() >= state_->options.max_queued_frames) {
    // A slow consumer: cut it off rather than grow without bound; it syncs on reconnect. The
    // frame being written stays alive until its write completes.
    queue_.erase(writing_ ? queue_.begin() + 1 : queue_.begin(), queue_.end());
    log::Warn("ws.slow_consumer", {{"conn", conn_id_}, {"user", static_cast<int64_t>(who_.user.value)}});
    StartClose(websocket::close_reason(static_cast<websocket::close_code>(4000), "slow consumer"));
    return;
  }
  queue_.push_back(std::move(out));
  metrics::Default().frames_out.Add();
  if (!writing_) DoWrite();
}

template <class Stream>
void WebsocketSession<Stream>::DoWrite() {
  writing_ = true;
  ws_.text(queue_.front().text);
  ws_.async_write(asio::buffer(*queue_.front().bytes),
                  beast::bind_front_handler(&WebsocketSession::OnWrite, this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::OnWrite(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) return;
  if (!queue_.empty()) queue_.pop_front();
  if (closing_) return SendClose();
  if (!queue_.empty()) DoWrite();
}

template class WebsocketSession<beast::tcp_stream>;
template class WebsocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace im::gateway
