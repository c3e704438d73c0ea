// CheckingHttpServer: Boost.Beast asynchronous HTTP/1.1 sessions on one io_context thread.
#include "http/checking_http_server.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace im::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

struct CheckingHttpServer::State {
  asio::io_context ioc;  // first: destroyed last, after the sessions its handlers own
  tcp::acceptor acceptor{ioc};
  uint16_t port = 0;
  std::thread thread;

  mutable std::mutex mu;
  std::deque<ScriptedResponse> queue;
  std::vector<RecordedRequest> requests;

  // Records `request` and takes the response to send for it.
  ScriptedResponse Answer(RecordedRequest request) {
    std::lock_guard lock(mu);
    requests.push_back(std::move(request));
    if (queue.empty()) {
      return ScriptedResponse(418, R"({"error":{"type":"unscripted_request","reason":"no response was scripted for )" +
                                       requests.back().method + " " + requests.back().target + R"("},"status":418})");
    }
    ScriptedResponse next = std::move(queue.front());
    queue.pop_front();
    return next;
  }
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, CheckingHttpServer::State* state) : socket_(std::move(socket)), state_(state) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) {
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      return;
    }
    bhttp::request<bhttp::string_body> request = parser_->release();
    RecordedRequest recorded;
    recorded.method = std::string(request.method_string());
    recorded.target = std::string(request.target());
    for (const auto& field : request) {
      recorded.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
    }
    recorded.body = std::move(request.body());
    recorded.received_at = std::chrono::steady_clock::now();
    ScriptedResponse scripted = state_->Answer(std::move(recorded));

    response_ = {};
    response_.version(11);
    response_.result(scripted.status);
    response_.set(bhttp::field::server, "checking-http-server");
    for (const auto& [name, value] : scripted.headers) response_.set(name, value);
    // A HEAD response has no body (Elasticsearch sends none either).
    if (request.method() != bhttp::verb::head && !scripted.body.empty()) {
      response_.set(bhttp::field::content_type, scripted.content_type);
      response_.body() = std::move(scripted.body);
    }
    response_.keep_alive(request.keep_alive());
    response_.prepare_payload();
    bhttp::async_write(socket_, response_,
                       [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return;
    if (!response_.keep_alive()) {
      socket_.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    Read();
  }

  tcp::socket socket_;
  CheckingHttpServer::State* state_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
};

void Accept(CheckingHttpServer::State* state) {
  state->acceptor.async_accept([state](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // closed: the server is going away
    std::make_shared<Session>(std::move(socket), state)->Read();
    Accept(state);
  });
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  std::string lower = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return "";
}

bool RecordedRequest::has_header(std::string_view name) const {
  std::string lower = Lower(name);
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == lower; });
}

CheckingHttpServer::CheckingHttpServer() : state_(std::make_unique<State>()) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(asio::socket_base::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  Accept(state_.get());
  state_->thread = std::thread([state = state_.get()] { state->ioc.run(); });
}

CheckingHttpServer::~CheckingHttpServer() {
  state_->ioc.stop();
  state_->thread.join();
}

uint16_t CheckingHttpServer::port() const { return state_->port; }

std::string CheckingHttpServer::url() const { return "http://127.0.0.1:" + std::to_string(state_->port); }

void CheckingHttpServer::Push(ScriptedResponse response) {
  std::lock_guard lock(state_->mu);
  state_->queue.push_back(std::move(response));
}

std::vector<RecordedRequest> CheckingHttpServer::requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

size_t CheckingHttpServer::request_count() const {
  std::lock_guard lock(state_->mu);
  return state_->requests.size();
}

size_t CheckingHttpServer::unanswered_responses() const {
  std::lock_guard lock(state_->mu);
  return state_->queue.size();
}

}  // namespace im::test
