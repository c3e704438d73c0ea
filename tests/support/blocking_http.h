// A plain blocking POSIX HTTP/1.1 client for tests that talk to a server on 127.0.0.1: one
// request at a time, Content-Length framed responses, a 5 s receive timeout so a broken server
// fails the test instead of hanging it.
#ifndef IM_TESTS_SUPPORT_BLOCKING_HTTP_H_
#define IM_TESTS_SUPPORT_BLOCKING_HTTP_H_

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace im::test {

// A connected TCP socket, closed on destruction; fd() < 0 when the connection was refused.
class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval timeout{5, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Some bytes, or "" at end of stream (or on an error or timeout).
  std::string ReadSome() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    return n > 0 ? std::string(chunk, static_cast<size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
};

struct HttpReply {
  int status = 0;
  std::string headers;  // lower-cased, for searching
  std::string body;
};

inline std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads one response (Content-Length framed). `pending` carries bytes read past it.
inline std::optional<HttpReply> ReadReply(Connection& conn, std::string& pending) {
  size_t header_end;
  while ((header_end = pending.find("\r\n\r\n")) == std::string::npos) {
    std::string more = conn.ReadSome();
    if (more.empty()) return std::nullopt;
    pending += more;
  }
  HttpReply reply;
  reply.headers = Lower(pending.substr(0, header_end));
  if (reply.headers.rfind("http/1.1 ", 0) != 0) return std::nullopt;
  reply.status = std::stoi(reply.headers.substr(9, 3));
  size_t length = 0;
  if (size_t at = reply.headers.find("\r\ncontent-length:"); at != std::string::npos) {
    length = std::stoul(reply.headers.substr(at + 17));
  }
  pending.erase(0, header_end + 4);
  while (pending.size() < length) {
    std::string more = conn.ReadSome();
    if (more.empty()) return std::nullopt;
    pending += more;
  }
  reply.body = pending.substr(0, length);
  pending.erase(0, length);
  return reply;
}

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_BLOCKING_HTTP_H_
