#include "beast/accept_pacer.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/log.h"
#include "common/metrics.h"

namespace im::gateway {

namespace {

int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool OutOfDescriptors(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system;
}

// Errors of one pending connection that accept() reports instead of returning it (accept(2),
// "Error handling"): the next accept may well succeed, so it is not delayed.
bool PerConnection(const boost::system::error_code& ec) {
  switch (ec.value()) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return ec.category() == boost::system::system_category();
    default:
      return false;
  }
}

// Enough to clear a burst without holding the loop long; the next round comes after the delay.
constexpr int kMaxShedPerRound = 64;
constexpr auto kLogEvery = std::chrono::seconds(10);

}  // namespace

AcceptPacer::AcceptPacer(std::string listener) : listener_(std::move(listener)), spare_fd_(OpenSpare()) {}

AcceptPacer::~AcceptPacer() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

uint64_t AcceptPacer::Shed(boost::asio::ip::tcp::acceptor& acceptor) {
  if (spare_fd_ < 0) spare_fd_ = OpenSpare();  // lost earlier to another thread's open()
  if (spare_fd_ < 0) return 0;
  ::close(spare_fd_);
  boost::system::error_code ec;
  acceptor.native_non_blocking(true, ec);  // an empty backlog must end the loop, not block it
  uint64_t shed = 0;
  for (int i = 0; i < kMaxShedPerRound && !ec; ++i) {
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) break;
    ::close(fd);
    ++shed;
  }
  spare_fd_ = OpenSpare();
  metrics::Default().connections_shed_fd_limit.Add(shed);
  return shed;
}

std::chrono::milliseconds AcceptPacer::Failed(const boost::system::error_code& ec,
                                              boost::asio::ip::tcp::acceptor& acceptor) {
  if (OutOfDescriptors(ec)) shed_since_log_ += Shed(acceptor);
  ++failures_since_log_;
  // Anything else (out of descriptors or memory, or an error we do not know) backs off.
  delay_ = PerConnection(ec)
               ? std::chrono::milliseconds(0)
               : std::clamp(delay_ * 2, std::chrono::milliseconds(kFirstDelay), std::chrono::milliseconds(kMaxDelay));
  auto now = std::chrono::steady_clock::now();
  if (now - last_log_ >= kLogEvery) {
    log::Warn("accept.failed", {{"listener", listener_},
                                {"error", ec.message()},
                                {"failures", failures_since_log_},
                                {"shed_connections", shed_since_log_},
                                {"retry_ms", static_cast<int64_t>(delay_.count())}});
    last_log_ = now;
    failures_since_log_ = 0;
    shed_since_log_ = 0;
  }
  return delay_;
}

}  // namespace im::gateway
