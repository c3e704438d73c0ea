#include "beast/http_session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json.hpp>

#include "beast/client_address.h"
#include "beast/rest_api.h"
#include "beast/static_files.h"
#include "beast/websocket_session.h"
#include "common/fault_injection.h"
#include "common/log.h"
#include "common/metrics.h"
#include "wire/websocket.h"

namespace im::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

template <class Stream>
constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

// The access token of an upgrade: "Authorization: Bearer …", or "?token=…" for browsers, which
// cannot set headers on a WebSocket.
std::string UpgradeToken(const http::request<http::string_body>& req) {
  std::string_view auth = req[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) == kBearer) return std::string(auth.substr(kBearer.size()));
  return QueryParam(req.target(), "token");
}

// The client's X-Request-Id when it is a sane token, else a fresh one; echoed in the response
// and in the log line, so a client report can be matched to the server's logs.
std::string RequestId(const http::request<http::string_body>& req) {
  std::string_view given = req["X-Request-Id"];
  bool ok = !given.empty() && given.size() <= 64;
  for (char c : given) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                c == '.');
  }
  return ok ? std::string(given) : log::NewTraceId();
}

// Browsers send Origin on WebSocket upgrades; other clients usually do not, and are let through.
bool OriginAllowed(const GatewayOptions& options, std::string_view origin) {
  if (options.allowed_origins.empty() || origin.empty()) return true;
  for (const auto& allowed : options.allowed_origins) {
    if (allowed == origin) return true;
  }
  return false;
}

// Every X-Forwarded-For header of the request, in order, joined with ',' (a proxy may append a
// header line of its own instead of extending the client's).
std::string ForwardedFor(const http::request<http::string_body>& req) {
  std::string out;
  for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
    if (!out.empty()) out += ',';
    out += it->value();
  }
  return out;
}

// Runs a REST call off the network thread (worker or auth pool): an exception is answered 500
// instead of ending the pool's thread, and with it the process.
template <class F>
RestResponse Guarded(std::string_view where, const std::string& request_id, F&& call) {
  try {
    FaultPoint(where);
    return call();
  } catch (...) {
    log::Error("http.handler_threw",
               {{"request_id", request_id}, {"where", where}, {"error", CurrentExceptionMessage()}});
  }
  return ErrorResponse(Status::Internal("internal error"));
}

// The headers of every static file.
template <class Response>
void SetStaticHeaders(Response& res, std::string_view content_type) {
  namespace http = boost::beast::http;
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'");
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(Stream&& stream, std::shared_ptr<GatewayState> state, asio::ip::address peer)
    : stream_(std::move(stream)), state_(std::move(state)), peer_(std::move(peer)) {}

template <class Stream>
void HttpSession<Stream>::Run() {
  auto self = this->shared_from_this();
  asio::dispatch(stream_.get_executor(), [self] {
    if constexpr (kTls<Stream>) {
      beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(30));
      self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return log::Debug("tls.handshake_failed", {{"error", ec.message()}});
        self->DoRead();
      });
    } else {
      self->DoRead();
    }
  });
}

template <class Stream>
void HttpSession<Stream>::DoRead() {
  parser_.emplace();
  parser_->body_limit(state_->options.max_body_bytes);
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::OnRead(beast::error_code ec, std::size_t) {
  started_ = std::chrono::steady_clock::now();
  responded_ = false;
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    request_id_ = log::NewTraceId();
    method_ = "?";
    path_ = "?";
    // Headers over the parser's 8 KiB (request line included) get 431, not a silent close.
    if (ec == http::error::header_limit) {
      return Respond(431, R"({"code":"resource_exhausted","message":"request headers too large"})", false);
    }
    return Respond(413, R"({"code":"resource_exhausted","message":"body too large"})", false);
  }
  if (ec) return Shutdown();
  Request req = parser_->release();
  std::string_view path = req.target().substr(0, req.target().find('?'));
  request_id_ = RequestId(req);
  method_ = std::string(req.method_string());
  path_ = std::string(path);  // never the query: it may hold a token
  // Nothing may escape a handler of the network thread: the request that failed gets 500 (or,
  // when its answer was already being written, loses its connection); the others go on.
  try {
    Dispatch(std::move(req));
  } catch (...) {
    log::Error("http.handler_threw",
               {{"request_id", request_id_}, {"where", "http.request"}, {"error", CurrentExceptionMessage()}});
    if (responded_) {
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().close(ignored);
    } else {
      Respond(500, R"({"code":"internal","message":"internal error"})", false);
    }
  }
}

template <class Stream>
void HttpSession<Stream>::Dispatch(Request req) {
  FaultPoint("http.request");
  std::string_view path = req.target().substr(0, req.target().find('?'));
  if (beast::websocket::is_upgrade(req)) {
    if (path != "/ws") return Respond(404, R"({"code":"not_found","message":"WebSocket endpoint is /ws"})", false);
    if (!OriginAllowed(state_->options, req[http::field::origin])) {
      return Respond(403, R"({"code":"permission_denied","message":"origin not allowed"})", false);
    }
    if (req[http::field::sec_websocket_version] != "13") {
      NewResponse(426, false).set(http::field::sec_websocket_version, "13");
      response_->set(http::field::content_type, "application/json");
      response_->body() = R"({"code":"invalid_argument","message":"WebSocket version 13 only"})";
      response_->prepare_payload();
      return Write(false);
    }
    std::string accept_key = wire::ws::AcceptKey(req[http::field::sec_websocket_key]);
    if (accept_key.empty()) {
      return Respond(400, R"({"code":"invalid_argument","message":"bad Sec-WebSocket-Key"})", false);
    }
    return Upgrade(std::move(req), std::move(accept_key));
  }
  if (path == "/readyz") {
    // Ready while accepting work; 503 once shutdown has begun, so balancers drain us first.
    bool stopping;
    {
      std::lock_guard lock(state_->mu);
      stopping = state_->stopping;
    }
    if (stopping) return Respond(503, R"({"status":"stopping"})", req.keep_alive());
    if (state_->options.ready) {
      // The host's view of its dependencies (im-gateway: can it reach im-logic).
      if (Status ready = state_->options.ready(); !ready.ok()) {
        return Respond(
            503,
            boost::json::serialize(boost::json::object{
                {"status", "not_ready"}, {"code", StatusCodeName(ready.code())}, {"message", ready.message()}}),
            req.keep_alive());
      }
    }
    return Respond(200, R"({"status":"ready"})", req.keep_alive());
  }
  // Probes and scrapers are answered here, never behind the worker or auth queues: a busy pool
  // must not make a healthy process look dead.
  if (req.method() == http::verb::get && path == "/healthz") {
    metrics::Default().http_requests.Add();
    return Respond(200, R"({"status":"ok"})", req.keep_alive());
  }
  if (path == "/metrics" && !state_->options.serve_metrics) {
    return Respond(404, R"({"code":"not_found","message":"no route for /metrics"})", req.keep_alive());
  }
  if (req.method() == http::verb::get && path == "/metrics") {
    metrics::Default().http_requests.Add();
    return Respond(200, metrics::Default().RenderPrometheus(), req.keep_alive(), "text/plain; version=0.0.4");
  }
  if (AuthRoute route = AuthRouteOf(req.method_string(), path); route != AuthRoute::kNone) {
    return RunAuth(route, std::move(req));
  }
  if ((req.method() == http::verb::get || req.method() == http::verb::head) && path.substr(0, 5) != "/api/" &&
      path.substr(0, 7) != "/admin/" && path != "/metrics" && path != "/healthz") {
    return ServeStatic(path, req.keep_alive(), req.method() == http::verb::head);
  }
  // REST calls block on the engine (store, password hashing): run them on the worker pool and
  // come back to this connection's strand to write.
  asio::post(state_->workers, [self = this->shared_from_this(), req = std::move(req)] {
    RestResponse out = Guarded("http.rest", self->request_id_, [&] {
      RestRequest r{std::string_view(req.method_string()), std::string_view(req.target()),
                    std::string_view(req[http::field::authorization]), req.body()};
      return HandleRest(self->state_->engine, r, self->state_->options.admin_token);
    });
    bool keep_alive = req.keep_alive();
    asio::post(self->stream_.get_executor(), [self, out = std::move(out), keep_alive]() mutable {
      self->Respond(out.status, std::move(out.body), keep_alive, std::move(out.content_type));
    });
  });
}

template <class Stream>
void HttpSession<Stream>::RunAuth(AuthRoute route, Request req) {
  const bool keep_alive = req.keep_alive();
  const std::string client = ClientKey(ClientAddress(peer_, ForwardedFor(req), state_->trusted_proxies));
  std::string account = route == AuthRoute::kLogin ? LoginAccount(req.body()) : std::string();
  if (auto refusal = state_->auth.Admit(route, client, account)) return Refuse(*refusal, keep_alive);
  bool queued = state_->auth.TryRun([self = this->shared_from_this(), req = std::move(req), route, account] {
    RestResponse out = Guarded("http.auth", self->request_id_, [&] {
      RestRequest r{std::string_view(req.method_string()), std::string_view(req.target()),
                    std::string_view(req[http::field::authorization]), req.body()};
      return HandleRest(self->state_->engine, r, self->state_->options.admin_token);
    });
    self->state_->auth.Finished(route, account, out.status);
    asio::post(self->stream_.get_executor(), [self, out = std::move(out), keep_alive = req.keep_alive()]() mutable {
      self->Respond(out.status, std::move(out.body), keep_alive, std::move(out.content_type));
    });
  });
  if (!queued) Refuse(state_->auth.Busy(), keep_alive);
}

template <class Stream>
void HttpSession<Stream>::Refuse(const Refusal& refusal, bool keep_alive) {
  auto& res = NewResponse(refusal.status, keep_alive);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::retry_after, std::to_string(refusal.retry_after_seconds));
  res.body() = refusal.body;
  res.prepare_payload();
  Write(keep_alive);
}

template <class Stream>
void HttpSession<Stream>::ServeStatic(std::string_view path, bool keep_alive, bool head_only) {
  FaultPoint("http.static");
  auto file = FindStaticFile(path, state_->options.web_root);
  if (!file) return Respond(404, R"({"code":"not_found","message":"no such page"})", keep_alive);
  if (file->file.get() >= 0 && !head_only) {
    // A file under the web root, of any size: Beast's file_body reads it in chunks of a few KiB
    // as the socket takes them, so memory stays bounded whatever the file and however slow the
    // client (a regular file's read does not wait for the network).
    beast::file body;
    body.native_handle(file->file.release());
    beast::error_code ec;
    auto res = std::make_shared<FileResponse>(http::status::ok, 11);
    res->body().reset(std::move(body), ec);
    if (ec) return Respond(500, R"({"code":"internal","message":"cannot read the file"})", false);
    res->set(http::field::server, "libim");
    res->set("X-Request-Id", request_id_);
    res->keep_alive(keep_alive);
    SetStaticHeaders(*res, file->content_type);
    res->prepare_payload();
    file_response_ = std::move(res);
    LogResponse(200);
    responded_ = true;
    return http::async_write(stream_, *file_response_,
                             beast::bind_front_handler(&HttpSession::OnWrite, this->shared_from_this(), keep_alive));
  }
  auto& res = NewResponse(200, keep_alive);
  SetStaticHeaders(res, file->content_type);
  res.body() = std::move(file->bytes);
  res.prepare_payload();
  if (head_only) {  // HEAD: the length of the GET, no body
    res.body().clear();
    res.content_length(file->size);
  }
  Write(keep_alive);
}

template <class Stream>
void HttpSession<Stream>::Upgrade(Request request, std::string accept_key) {
  std::string token = UpgradeToken(request);
  // A login seen live recently (or a token that fails on its own) is answered here; only the
  // rest costs the hop to a worker for the store read (LogicApi::TryAuthenticate).
  std::optional<Result<AuthContext>> quick;
  try {
    FaultPoint("ws.upgrade");
    quick = state_->engine.TryAuthenticate(token);
  } catch (...) {
    log::Error("http.handler_threw",
               {{"request_id", request_id_}, {"where", "ws.upgrade"}, {"error", CurrentExceptionMessage()}});
    quick = Result<AuthContext>(Status::Internal("internal error"));
  }
  if (quick) return FinishUpgrade(std::move(*quick), std::move(accept_key));
  asio::post(state_->workers,
             [self = this->shared_from_this(), token = std::move(token), accept_key = std::move(accept_key)]() mutable {
               Result<AuthContext> who = Status::Internal("internal error");
               try {
                 who = self->state_->engine.Authenticate(token);
               } catch (...) {
                 log::Error("http.handler_threw", {{"request_id", self->request_id_},
                                                   {"where", "ws.upgrade"},
                                                   {"error", CurrentExceptionMessage()}});
               }
               asio::post(self->stream_.get_executor(),
                          [self, who = std::move(who), accept_key = std::move(accept_key)]() mutable {
                            self->FinishUpgrade(std::move(who), std::move(accept_key));
                          });
             });
}

template <class Stream>
void HttpSession<Stream>::FinishUpgrade(Result<AuthContext> who, std::string accept_key) {
  if (!who.ok()) {
    RestResponse err = ErrorResponse(who.status());
    return Respond(who.status().code() == StatusCode::kInternal ? 500 : 401, std::move(err.body), false);
  }
  log::Info("http", {{"request_id", request_id_},
                     {"method", method_},
                     {"path", path_},
                     {"status", 101},
                     {"user", static_cast<int64_t>(who->user.value)}});
  beast::get_lowest_layer(stream_).expires_never();  // the WebSocket has its own timeouts
  // Bytes past the request (frames a client sent before seeing the 101) belong to the session.
  std::string leftover = beast::buffers_to_string(buffer_.data());
  buffer_ = {};
  std::make_shared<WebsocketSession<Stream>>(std::move(stream_), state_, std::move(who).value(), request_id_,
                                             std::move(leftover))
      ->Run(accept_key);
}

template <class Stream>
typename HttpSession<Stream>::Response& HttpSession<Stream>::NewResponse(int status, bool keep_alive) {
  response_ = std::make_shared<Response>(static_cast<http::status>(status), 11);
  response_->set(http::field::server, "libim");
  response_->set("X-Request-Id", request_id_);
  response_->keep_alive(keep_alive);
  return *response_;
}

template <class Stream>
void HttpSession<Stream>::Respond(int status, std::string body, bool keep_alive, std::string content_type) {
  auto& res = NewResponse(status, keep_alive);
  if (!body.empty()) res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  Write(keep_alive);
}

template <class Stream>
void HttpSession<Stream>::Write(bool keep_alive) {
  LogResponse(static_cast<int>(response_->result_int()));
  responded_ = true;
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::OnWrite, this->shared_from_this(), keep_alive));
}

template <class Stream>
void HttpSession<Stream>::LogResponse(int status) {
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  if (status >= 500) {
    log::Warn("http",
              {{"request_id", request_id_}, {"method", method_}, {"path", path_}, {"status", status}, {"ms", ms}});
  } else {
    log::Info("http",
              {{"request_id", request_id_}, {"method", method_}, {"path", path_}, {"status", status}, {"ms", ms}});
  }
}

template <class Stream>
void HttpSession<Stream>::OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
  file_response_.reset();  // closes a static file
  // Not caught here: the network thread's run loop is the backstop (gateway.cc), and a test
  // throws here to prove it.
  FaultPoint("http.write");
  if (ec) return;
  if (!keep_alive) return Shutdown();
  DoRead();
}

template <class Stream>
void HttpSession<Stream>::Shutdown() {
  if constexpr (kTls<Stream>) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }
}

template class HttpSession<beast::tcp_stream>;
template class HttpSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace im::gateway
