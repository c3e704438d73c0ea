// Gateway: the listener (accepts TCP connections within the connection caps and hands each to an
// HttpSession) and the network threads: one io_context per thread, each connection on one of
// them (round robin), so a connection's handlers never move between threads and the threads
// share no queue.
#include <sched.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "beast/accept_pacer.h"
#include "beast/client_address.h"
#include "beast/gateway_state.h"
#include "beast/http_session.h"
#include "beast/websocket_session.h"
#include "common/fault_injection.h"
#include "common/log.h"
#include "common/metrics.h"
#include "im/gateway.h"

namespace im {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // `tls` null: plain HTTP and WebSocket.
  // Accepts on the first of `contexts` and spreads the connections over all of them.
  Listener(std::vector<asio::io_context*> contexts, std::shared_ptr<gateway::GatewayState> state,
           std::shared_ptr<asio::ssl::context> tls)
      : contexts_(std::move(contexts)),
        acceptor_(asio::make_strand(*contexts_.front())),
        retry_timer_(acceptor_.get_executor()),
        pacer_("gateway"),
        state_(std::move(state)),
        tls_(std::move(tls)) {}

  Status Open(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + endpoint.address().to_string() + ":" +
                                 std::to_string(endpoint.port()) + ": " + ec.message());
    return Status::Ok();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void Run() { DoAccept(); }
  void Stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    asio::io_context& next = *contexts_[next_ % contexts_.size()];
    acceptor_.async_accept(asio::make_strand(next),
                           [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                             if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
                             if (ec) return self->RetryLater(self->pacer_.Failed(ec, self->acceptor_));
                             self->pacer_.Accepted();
                             ++self->next_;
                             self->Admit(std::move(socket));
                             self->DoAccept();
                           });
  }

  // Out of descriptors (or another accept error): wait instead of spinning on a readable socket.
  void RetryLater(std::chrono::milliseconds delay) {
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->acceptor_.is_open()) self->DoAccept();
    });
  }

  // Serves `socket` if the connection caps allow it; else closes it at once.
  void Admit(tcp::socket socket) {
    boost::system::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    const bool proxy = state_->trusted_proxies.Contains(peer.address());
    gateway::ConnectionLimits::Refused why;
    auto slot = state_->connection_limits.TryAcquire(gateway::ClientKey(peer.address()), !proxy, &why);
    if (!slot) {
      auto& m = metrics::Default();
      (why == gateway::ConnectionLimits::Refused::kTotal ? m.connections_refused_total : m.connections_refused_per_ip)
          .Add();
      socket.close(ec);
      return;
    }
    // The slot must live exactly as long as the connection, whichever object ends up owning it
    // (HttpSession, then WebsocketSession): every one of them holds the shared GatewayState, so
    // each connection gets its own handle to it that also owns the slot (an aliasing
    // shared_ptr), and the slot is freed when the last holder of the connection is gone.
    struct Held {
      std::shared_ptr<gateway::GatewayState> state;
      gateway::ConnectionLimits::Slot slot;  // destroyed first, while `state` is alive
    };
    auto held = std::make_shared<Held>(Held{state_, std::move(slot)});
    Serve(std::move(socket), peer.address(), std::shared_ptr<gateway::GatewayState>(held, state_.get()));
  }

  void Serve(tcp::socket socket, const asio::ip::address& peer, std::shared_ptr<gateway::GatewayState> state) {
    namespace beast = boost::beast;
    if (tls_) {
      using Stream = beast::ssl_stream<beast::tcp_stream>;
      std::make_shared<gateway::HttpSession<Stream>>(Stream(beast::tcp_stream(std::move(socket)), *tls_),
                                                     std::move(state), peer)
          ->Run();
    } else {
      std::make_shared<gateway::HttpSession<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)),
                                                                std::move(state), peer)
          ->Run();
    }
  }

  const std::vector<asio::io_context*> contexts_;
  size_t next_ = 0;  // on the acceptor's strand
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;  // on the acceptor's strand
  gateway::AcceptPacer pacer_;      // on the acceptor's strand
  std::shared_ptr<gateway::GatewayState> state_;
  std::shared_ptr<asio::ssl::context> tls_;
};

// A TLS 1.2+ server context from PEM files; invalid_argument naming the file that fails.
Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const GatewayOptions& options) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                       asio::ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain_file(options.tls_certificate_file, ec);
  if (ec) return Status::InvalidArgument("TLS certificate " + options.tls_certificate_file + ": " + ec.message());
  ctx->use_private_key_file(options.tls_private_key_file, asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("TLS private key " + options.tls_private_key_file + ": " + ec.message());
  return ctx;
}

int NetworkThreads(int configured) {
  if (configured > 0) return configured;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  return std::clamp(n, 1, 16);
}

// Sessions are ticked an eighth of the idle timeout apart, at most once a second: the heartbeat
// is then at most that late, and 19,000 idle sessions cost ~19,000 checks a second at the default.
std::chrono::milliseconds TickPeriod(const GatewayOptions& options) {
  return std::clamp(std::chrono::milliseconds(options.idle_timeout_seconds * 1000 / 8), std::chrono::milliseconds(100),
                    std::chrono::milliseconds(1000));
}

// Runs a network thread's loop until it is stopped. A handler that throws (every handler of a
// connection catches what it can; this is the backstop) loses only its own connection: the
// exception leaves run(), the handler and the shared_ptr it held to its session are gone, and the
// loop runs again for every other connection (Asio's documented way to go on after a throw).
void RunLoop(asio::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (...) {
      log::Error("gateway.handler_threw", {{"error", CurrentExceptionMessage()}});
    }
  }
}

class GatewayImpl final : public Gateway {
 public:
  GatewayImpl(Engine& engine, GatewayOptions options)
      : state_(std::make_shared<gateway::GatewayState>(engine, std::move(options))) {
    for (int i = 0; i < NetworkThreads(state_->options.network_threads); ++i) {
      iocs_.push_back(std::make_unique<asio::io_context>(1));  // one thread each: no locking inside
      // A loop with no connection yet must not return from run() (the acceptor is on the first).
      work_.push_back(asio::make_work_guard(*iocs_.back()));
      state_->loops.push_back(std::make_unique<gateway::NetworkLoop>(*iocs_.back(), TickPeriod(state_->options)));
    }
  }
  ~GatewayImpl() override {
    Stop();
    // The loops' timers must go before the io_contexts they were made on: iocs_ is destroyed
    // before state_ (declared first), and Stop() does nothing when Start() failed.
    for (auto& loop : state_->loops) loop->ticker.Shutdown();
  }

  Status Start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(state_->options.listen_host, ec);
    if (ec) return Status::InvalidArgument("bad listen address " + state_->options.listen_host);
    const auto& o = state_->options;
    if (o.tls_certificate_file.empty() != o.tls_private_key_file.empty()) {
      return Status::InvalidArgument("TLS needs both a certificate and a private key file");
    }
    if (o.idle_timeout_seconds < 2) return Status::InvalidArgument("idle_timeout_seconds must be at least 2");
    IM_ASSIGN_OR_RETURN(state_->trusted_proxies, gateway::TrustedProxies::Parse(o.trusted_proxies));
    std::shared_ptr<asio::ssl::context> tls;
    if (!o.tls_certificate_file.empty()) {
      IM_ASSIGN_OR_RETURN(tls, MakeTlsContext(o));
    }
    std::vector<asio::io_context*> contexts;
    for (auto& ioc : iocs_) contexts.push_back(ioc.get());
    listener_ = std::make_shared<Listener>(std::move(contexts), state_, std::move(tls));
    IM_RETURN_IF_ERROR(listener_->Open(tcp::endpoint(address, state_->options.listen_port)));
    port_ = listener_->port();
    listener_->Run();
    for (auto& loop : state_->loops) loop->ticker.Start();
    for (auto& ioc : iocs_) threads_.emplace_back([ioc = ioc.get()] { RunLoop(*ioc); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (threads_.empty()) return;
    listener_->Stop();
    std::vector<std::shared_ptr<gateway::ClientSession>> live;
    {
      std::lock_guard lock(state_->mu);
      state_->stopping = true;
      for (auto& [ptr, weak] : state_->sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) {
      s->Close(wire::ws::kCloseGoingAway, "server shutting down");
    }
    live.clear();
    // Give the close handshakes a moment, then stop the loop.
    for (int i = 0; i < 50; ++i) {
      {
        std::lock_guard lock(state_->mu);
        if (state_->sessions.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    {
      std::lock_guard lock(state_->mu);
      state_->loop_stopped = true;
    }
    for (auto& loop : state_->loops) loop->outbox.Close();
    for (auto& ioc : iocs_) ioc->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& loop : state_->loops) loop->ticker.Shutdown();
    state_->workers.join();
    state_->auth.Join();
  }

 private:
  std::shared_ptr<gateway::GatewayState> state_;
  std::vector<std::unique_ptr<asio::io_context>> iocs_;  // one per network thread
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::Start(Engine& engine, GatewayOptions options) {
  auto gateway = std::make_unique<GatewayImpl>(engine, std::move(options));
  IM_RETURN_IF_ERROR(gateway->Start());
  return std::unique_ptr<Gateway>(std::move(gateway));
}

}  // namespace im
