#include "beast/websocket_session.h"

#include <boost/asio/post.hpp>

#include "common/metrics.h"
#include "wire/frame_codec.h"

#include <chrono>

namespace im::gateway {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

// Turns engine events into frames for one WebSocket session. Deliver never blocks: it encodes
// and queues.
class WebsocketSink : public SessionSink {
 public:
  WebsocketSink(std::weak_ptr<WebsocketSession> session, std::shared_ptr<GatewayState> state)
      : session_(std::move(session)), state_(std::move(state)) {}
  void Deliver(const std::shared_ptr<const Event>& event) override {
    auto s = session_.lock();
    if (!s) return;
    bool binary = s->binary();
    metrics::Default().fanout_deliveries.Add();
    s->Send(state_->EncodeEvent(event, binary), !binary);
  }

 private:
  std::weak_ptr<WebsocketSession> session_;
  std::shared_ptr<GatewayState> state_;
};

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

WebsocketSession::WebsocketSession(asio::ip::tcp::socket&& socket, std::shared_ptr<GatewayState> state, AuthContext who)
    : ws_(std::move(socket)),
      state_(std::move(state)),
      who_(std::move(who)),
      protocol_(state_->engine, who_.user, who_.device),
      work_(asio::make_strand(state_->workers.get_executor())),
      frame_limit_(state_->options.connection_frames_per_second, state_->options.connection_frame_burst) {}

WebsocketSession::~WebsocketSession() {
  if (engine_session_ != 0) metrics::Default().connections.Add(-1);
  std::lock_guard lock(state_->mu);
  state_->sessions.erase(this);
}

void WebsocketSession::Run(beast::http::request<beast::http::string_body> request) {
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.read_message_max(state_->options.max_frame_bytes);
  ws_.async_accept(request, beast::bind_front_handler(&WebsocketSession::OnAccept, shared_from_this()));
}

void WebsocketSession::OnAccept(beast::error_code ec) {
  if (ec) return;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->sessions[this] = weak_from_this();
  }
  auto sink = std::make_shared<WebsocketSink>(weak_from_this(), state_);
  auto attached = state_->engine.Attach(who_.user, who_.device, sink);
  if (!attached.ok()) return Close(websocket::close_code::internal_error, attached.status().message());
  engine_session_ = *attached;
  metrics::Default().connections.Add(1);
  DoRead();
}

void WebsocketSession::DoRead() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WebsocketSession::OnRead, shared_from_this()));
}

void WebsocketSession::OnRead(beast::error_code ec, std::size_t) {
  if (ec) {
    // Closed, failed, or a frame over read_message_max (Beast answers that with 1009 itself).
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
  if (frame.ok() &&
      !(frame_limit_.TryTake(std::chrono::steady_clock::now()) && state_->user_limiter.TryTake(who_.user))) {
    reply_id = frame->id();
    frame = Status::ResourceExhausted("rate limit exceeded: slow down");
  }
  if (!frame.ok()) {
    auto error = SessionProtocol::ErrorFrame(reply_id, frame.status());
    Enqueue({std::make_shared<const std::string>(binary ? error.SerializeAsString() : wire::ToJson(error)), !binary});
  } else {
    asio::post(work_, [self = shared_from_this(), frame = std::move(frame).value(), binary] {
      auto start = std::chrono::steady_clock::now();
      auto reply = self->protocol_.Handle(frame);
      if (!reply) return;
      if (reply->has_send_ack()) {
        metrics::Default().messages_sent.Add();
        metrics::Default().send_latency.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      self->Send(std::make_shared<const std::string>(binary ? reply->SerializeAsString() : wire::ToJson(*reply)),
                 !binary);
    });
  }
  DoRead();
}

void WebsocketSession::Send(std::shared_ptr<const std::string> frame, bool text) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), out = Outgoing{std::move(frame), text}]() mutable {
    self->Enqueue(std::move(out));
  });
}

void WebsocketSession::Close(websocket::close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->StartClose(websocket::close_reason(code, reason));
  });
}

// On the strand. The close frame is a write: it waits for the write in flight.
void WebsocketSession::StartClose(websocket::close_reason reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  if (!writing_) SendClose();
}

void WebsocketSession::SendClose() {
  ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {});
}

void WebsocketSession::Enqueue(Outgoing out) {
  if (closing_) return;
  if (queue_.size() >= state_->options.max_queued_frames) {
    // A slow consumer: cut it off rather than grow without bound; it syncs on reconnect. The
    // frame being written stays alive until its write completes.
    queue_.erase(writing_ ? queue_.begin() + 1 : queue_.begin(), queue_.end());
    StartClose(websocket::close_reason(static_cast<websocket::close_code>(4000), "slow consumer"));
    return;
  }
  queue_.push_back(std::move(out));
  metrics::Default().frames_out.Add();
  if (!writing_) DoWrite();
}

void WebsocketSession::DoWrite() {
  writing_ = true;
  ws_.text(queue_.front().text);
  ws_.async_write(asio::buffer(*queue_.front().bytes),
                  beast::bind_front_handler(&WebsocketSession::OnWrite, shared_from_this()));
}

void WebsocketSession::OnWrite(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) return;
  if (!queue_.empty()) queue_.pop_front();
  if (closing_) return SendClose();
  if (!queue_.empty()) DoWrite();
}

}  // namespace im::gateway
