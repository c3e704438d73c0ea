// One HTTP connection: REST requests and the web page (keep-alive) until it upgrades to a
// WebSocket at /ws. `Stream` is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>; both
// are instantiated in http_session.cc only.
#ifndef IM_SRC_BEAST_HTTP_SESSION_H_
#define IM_SRC_BEAST_HTTP_SESSION_H_

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/file_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "beast/gateway_state.h"

namespace im::gateway {

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  // `peer`: the address the connection comes from (a proxy's, behind one).
  HttpSession(Stream&& stream, std::shared_ptr<GatewayState> state, boost::asio::ip::address peer);
  // TLS handshake (for a TLS stream), then requests.
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  // A file under the web root, written in chunks of a few KiB as the socket takes them.
  using FileResponse = boost::beast::http::response<boost::beast::http::file_body>;
  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  // Routes one request; may throw (OnRead answers 500 then).
  void Dispatch(Request req);
  void Upgrade(Request request, std::string accept_key);
  // On the network thread, once the token is checked: 101 and the WebSocket session, or 401.
  void FinishUpgrade(Result<AuthContext> who, std::string accept_key);
  // An auth route: throttled, then run on the auth pool (beast/auth_gate.h).
  void RunAuth(AuthRoute route, Request request);
  void Refuse(const Refusal& refusal, bool keep_alive);
  void ServeStatic(std::string_view path, bool keep_alive, bool head_only);
  Response& NewResponse(int status, bool keep_alive);
  void Respond(int status, std::string body, bool keep_alive, std::string content_type = "application/json");
  void Write(bool keep_alive);
  void LogResponse(int status);
  void OnWrite(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  void Shutdown();

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<GatewayState> state_;
  const boost::asio::ip::address peer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  std::shared_ptr<FileResponse> file_response_;
  bool responded_ = false;  // a response to the current request is being written
  // The request being answered, for its log line.
  std::string request_id_;
  std::string method_;
  std::string path_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_HTTP_SESSION_H_
