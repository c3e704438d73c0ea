// AdminServer: /healthz, /readyz and /metrics on one network thread. The listener accepts
// connections and hands each to an AdminSession (keep-alive, one request at a time). Every
// handler runs on that one thread, so the server's state needs no lock or strand; Stop() stops
// the loop, joins the thread and only then closes the sockets.
#include "im/admin_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "beast/accept_pacer.h"
#include "beast/dead_letter_admin.h"
#include "common/log.h"
#include "common/metrics.h"

namespace im {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxHeaderBytes = 8 * 1024;
constexpr uint64_t kMaxBodyBytes = 8 * 1024;
// For reading a whole request (from the end of the previous one), and for writing a response.
constexpr auto kIoTimeout = std::chrono::seconds(5);

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

struct Reply {
  http::status status;
  std::string body;
  std::string_view content_type = kJson;
};

std::string ErrorJson(std::string_view code, std::string_view message) {
  boost::json::object o;
  o["code"] = code;
  o["message"] = message;
  return boost::json::serialize(o);
}

Reply Ready(const AdminServerOptions& options) {
  Status status = options.ready ? options.ready() : Status::Ok();
  if (status.ok()) return {http::status::ok, R"({"status":"ready"})"};
  boost::json::object o;
  o["status"] = "not_ready";
  o["code"] = StatusCodeName(status.code());
  o["message"] = status.message();
  return {http::status::service_unavailable, boost::json::serialize(o)};
}

Reply Metrics(const AdminServerOptions& options) {
  std::string text = metrics::Default().RenderPrometheus();
  if (options.extra_metrics) {
    std::string extra = options.extra_metrics();
    if (!text.empty() && text.back() != '\n' && !extra.empty()) text += '\n';
    text += extra;
    if (!text.empty() && text.back() != '\n') text += '\n';  // the text format ends every line
  }
  return {http::status::ok, std::move(text), kPrometheusText};
}

// The answer to `method path` (path without its query). Runs the options' callbacks.
Reply Route(const AdminServerOptions& options, http::verb method, std::string_view path) {
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return {http::status::not_found, ErrorJson("not_found", "no such endpoint: " + std::string(path))};
  }
  if (method != http::verb::get) {
    return {http::status::method_not_allowed,
            ErrorJson("not_supported", "only GET is allowed on " + std::string(path))};
  }
  if (path == "/healthz") return {http::status::ok, R"({"status":"ok"})"};
  try {
    return path == "/readyz" ? Ready(options) : Metrics(options);
  } catch (const std::exception& e) {
    log::Error("admin.callback_failed", {{"path", path}, {"error", e.what()}});
    return {http::status::internal_server_error, ErrorJson("internal", e.what())};
  } catch (...) {
    log::Error("admin.callback_failed", {{"path", path}});
    return {http::status::internal_server_error, ErrorJson("internal", "unknown exception")};
  }
}

class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, const AdminServerOptions& options) : stream_(std::move(socket)), options_(options) {}

  void Run() { DoRead(); }

  // Cuts the connection off; pending operations complete with operation_aborted.
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&AdminSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      return Write({http::status::payload_too_large, ErrorJson("resource_exhausted", "body too large")}, false);
    }
    if (ec == http::error::header_limit) {
      return Write(
          {http::status::request_header_fields_too_large, ErrorJson("resource_exhausted", "headers too large")}, false);
    }
    if (ec) return Shutdown();  // end of stream, timeout, malformed request
    const auto& req = parser_->get();
    std::string_view target = req.target();
    if (options_.dead_letters && target.starts_with("/admin/")) {
      gateway::RestRequest r{std::string_view(req.method_string()), target,
                             std::string_view(req[http::field::authorization]), req.body()};
      auto out = gateway::HandleDeadLetterAdmin(*options_.dead_letters, r, options_.admin_token);
      return Write({static_cast<http::status>(out->status), std::move(out->body)}, req.keep_alive());
    }
    Write(Route(options_, req.method(), target.substr(0, target.find('?'))), req.keep_alive());
  }

  void Write(Reply reply, bool keep_alive) {
    response_.emplace(reply.status, 11);
    response_->set(http::field::server, "libim");
    response_->set(http::field::content_type, reply.content_type);
    response_->set(http::field::cache_control, "no-store");
    if (reply.status == http::status::method_not_allowed) response_->set(http::field::allow, "GET");
    response_->keep_alive(keep_alive);
    response_->body() = std::move(reply.body);
    response_->prepare_payload();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&AdminSession::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!keep_alive) return Shutdown();
    DoRead();
  }

  void Shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  const AdminServerOptions& options_;  // owned by the server, which outlives the loop
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

class AdminServerImpl final : public AdminServer {
 public:
  explicit AdminServerImpl(AdminServerOptions options)
      : options_(std::move(options)), acceptor_(ioc_), retry_timer_(ioc_), pacer_("admin") {}
  ~AdminServerImpl() override { Stop(); }

  Status Start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.listen_host, ec);
    if (ec) return Status::InvalidArgument("bad admin listen address " + options_.listen_host);
    tcp::endpoint endpoint(address, options_.listen_port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("admin server cannot listen on " + options_.listen_host + ":" +
                                 std::to_string(options_.listen_port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    thread_ = std::thread([this] { ioc_.run(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (!thread_.joinable()) return;
    ioc_.stop();
    thread_.join();
    // The loop is stopped: nothing else touches the acceptor or the sessions now.
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& weak : sessions_) {
      if (auto session = weak.lock()) session->Close();
    }
    sessions_.clear();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(ioc_, [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        // Out of descriptors the socket stays readable: wait instead of spinning (accept_pacer.h).
        retry_timer_.expires_after(pacer_.Failed(ec, acceptor_));
        retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) DoAccept();
        });
        return;
      }
      pacer_.Accepted();
      std::erase_if(sessions_, [](const std::weak_ptr<AdminSession>& s) { return s.expired(); });
      auto session = std::make_shared<AdminSession>(std::move(socket), options_);
      sessions_.push_back(session);
      session->Run();
      DoAccept();
    });
  }

  const AdminServerOptions options_;
  asio::io_context ioc_;  // declared before what it runs, so it is destroyed after
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;                     // on the network thread
  gateway::AcceptPacer pacer_;                         // on the network thread
  std::vector<std::weak_ptr<AdminSession>> sessions_;  // touched on the network thread only
  std::thread thread_;
  std::mutex stop_mu_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<AdminServer>> StartAdminServer(AdminServerOptions options) {
  auto server = std::make_unique<AdminServerImpl>(std::move(options));
  IM_RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<AdminServer>(std::move(server));
}

}  // namespace im
