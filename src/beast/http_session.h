// One HTTP connection: REST requests (keep-alive) until it upgrades to a WebSocket at /ws.
#ifndef IM_SRC_BEAST_HTTP_SESSION_H_
#define IM_SRC_BEAST_HTTP_SESSION_H_

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

#include "beast/gateway_state.h"

namespace im::gateway {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<GatewayState> state);
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  void Upgrade(Request request);
  void ServeStatic(std::string_view path, bool keep_alive, bool head_only);
  boost::beast::http::response<boost::beast::http::string_body>& NewResponse(int status, bool keep_alive);
  void Write(bool keep_alive);
  void Respond(int status, std::string body, bool keep_alive, std::string content_type = "application/json");
  void OnWrite(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<GatewayState> state_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_HTTP_SESSION_H_
