// What a listener does when accept() fails, shared by the gateway's and the admin server's
// accept loops. Out of file descriptors (EMFILE/ENFILE) the listening socket stays readable, so
// re-arming the accept at once spins a core; instead the pacer sheds the pending connections
// (closing a spare descriptor it keeps for this, accepting, closing at once: the clients see a
// clean close instead of hanging in the backlog), and the listener waits before the next accept:
// 10 ms, doubling to 1 s while the errors go on. The error is logged at most every 10 s. Used on
// the acceptor's executor only.
#ifndef IM_SRC_BEAST_ACCEPT_PACER_H_
#define IM_SRC_BEAST_ACCEPT_PACER_H_

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace im::gateway {

class AcceptPacer {
 public:
  static constexpr std::chrono::milliseconds kFirstDelay{10};
  static constexpr std::chrono::milliseconds kMaxDelay{1000};

  explicit AcceptPacer(std::string listener);  // opens the spare descriptor (/dev/null)
  ~AcceptPacer();
  AcceptPacer(const AcceptPacer&) = delete;
  AcceptPacer& operator=(const AcceptPacer&) = delete;

  // After a successful accept.
  void Accepted() { delay_ = std::chrono::milliseconds(0); }
  // After a failed one (not operation_aborted): sheds pending connections when out of
  // descriptors, logs, and returns how long to wait before accepting again (0 after an error of
  // one connection, such as ECONNABORTED).
  std::chrono::milliseconds Failed(const boost::system::error_code& ec, boost::asio::ip::tcp::acceptor& acceptor);

 private:
  // Accepts and closes what is pending (up to a bound) with the spare descriptor's room.
  uint64_t Shed(boost::asio::ip::tcp::acceptor& acceptor);

  const std::string listener_;
  int spare_fd_ = -1;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t failures_since_log_ = 0;
  uint64_t shed_since_log_ = 0;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_ACCEPT_PACER_H_
