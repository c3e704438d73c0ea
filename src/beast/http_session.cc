#include "beast/http_session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

#include "beast/rest_api.h"
#include "beast/static_files.h"
#include "beast/websocket_session.h"

namespace im::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

// The access token of an upgrade: "Authorization: Bearer …", or "?token=…" for browsers, which
// cannot set headers on a WebSocket.
std::string UpgradeToken(const http::request<http::string_body>& req) {
  std::string_view auth = req[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) == kBearer) return std::string(auth.substr(kBearer.size()));
  std::string_view target = req.target();
  size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = target.substr(q + 1);
  for (size_t pos = 0; pos < query.size();) {
    size_t end = query.find('&', pos);
    std::string_view pair = query.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (pair.substr(0, 6) == "token=") return std::string(pair.substr(6));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "";
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket&& socket, std::shared_ptr<GatewayState> state)
    : stream_(std::move(socket)), state_(std::move(state)) {}

void HttpSession::Run() {
  asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
}

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->body_limit(state_->options.max_body_bytes);
  stream_.expires_after(std::chrono::seconds(30));
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
}

void HttpSession::OnRead(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit)
    return Respond(413, R"({"code":"resource_exhausted","message":"body too large"})", false);
  if (ec) {
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  Request req = parser_->release();
  std::string_view path = req.target().substr(0, req.target().find('?'));
  if (beast::websocket::is_upgrade(req)) {
    if (path != "/ws") return Respond(404, R"({"code":"not_found","message":"WebSocket endpoint is /ws"})", false);
    return Upgrade(std::move(req));
  }
  if (path == "/readyz") {
    // Ready while accepting work; 503 once shutdown has begun, so balancers drain us first.
    bool stopping;
    {
      std::lock_guard lock(state_->mu);
      stopping = state_->stopping;
    }
    return Respond(stopping ? 503 : 200, stopping ? R"({"status":"stopping"})" : R"({"status":"ready"})",
                   req.keep_alive());
  }
  if ((req.method() == http::verb::get || req.method() == http::verb::head) && path.substr(0, 5) != "/api/" &&
      path != "/metrics" && path != "/healthz") {
    return ServeStatic(path, req.keep_alive(), req.method() == http::verb::head);
  }
  // REST calls block on the engine (store, password hashing): run them on the worker pool and
  // come back to this connection's strand to write.
  asio::post(state_->workers, [self = shared_from_this(), req = std::move(req)] {
    RestRequest r{std::string_view(req.method_string()), std::string_view(req.target()),
                  std::string_view(req[http::field::authorization]), req.body()};
    RestResponse out = HandleRest(self->state_->engine, r);
    bool keep_alive = req.keep_alive();
    asio::post(self->stream_.get_executor(), [self, out = std::move(out), keep_alive]() mutable {
      self->Respond(out.status, std::move(out.body), keep_alive, std::move(out.content_type));
    });
  });
}

void HttpSession::ServeStatic(std::string_view path, bool keep_alive, bool head_only) {
  auto file = FindStaticFile(path, state_->options.web_root);
  if (!file) return Respond(404, R"({"code":"not_found","message":"no such page"})", keep_alive);
  auto& res = NewResponse(200, keep_alive);
  res.set(http::field::content_type, file->content_type);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'");
  res.body() = std::move(file->bytes);
  res.prepare_payload();
  if (head_only) res.body().clear();  // HEAD: the length of the GET, no body
  Write(keep_alive);
}

void HttpSession::Upgrade(Request request) {
  asio::post(state_->workers, [self = shared_from_this(), request = std::move(request)]() mutable {
    auto who = self->state_->engine.Authenticate(UpgradeToken(request));
    asio::post(self->stream_.get_executor(), [self, who = std::move(who), request = std::move(request)]() mutable {
      if (!who.ok()) {
        RestResponse err = ErrorResponse(who.status());
        return self->Respond(401, std::move(err.body), false);
      }
      self->stream_.expires_never();
      std::make_shared<WebsocketSession>(self->stream_.release_socket(), self->state_, std::move(who).value())
          ->Run(std::move(request));
    });
  });
}

http::response<http::string_body>& HttpSession::NewResponse(int status, bool keep_alive) {
  response_ = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  response_->set(http::field::server, "libim");
  response_->keep_alive(keep_alive);
  return *response_;
}

void HttpSession::Respond(int status, std::string body, bool keep_alive, std::string content_type) {
  auto& res = NewResponse(status, keep_alive);
  if (!body.empty()) res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  Write(keep_alive);
}

void HttpSession::Write(bool keep_alive) {
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), keep_alive));
}

void HttpSession::OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
  if (ec) return;
  if (!keep_alive) {
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  DoRead();
}

}  // namespace im::gateway
