// SessionTicker: the clock of one network thread's WebSocket sessions. Every period it calls
// ClientSession::Tick on each live session of the thread, which sends heartbeat pings, closes
// idle and half-open connections and ends sessions whose access token expired. One timer per
// thread instead of one or two per connection: a connection holds no timer while idle.
#ifndef IM_SRC_BEAST_SESSION_TICKER_H_
#define IM_SRC_BEAST_SESSION_TICKER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace im::gateway {

class ClientSession;

class SessionTicker {
 public:
  SessionTicker(boost::asio::io_context& ioc, std::chrono::milliseconds period);

  // On the network thread. The session is ticked until it is gone (held weakly).
  void Add(std::weak_ptr<ClientSession> session);
  // Any thread; the first tick comes one period later.
  void Start();
  // Once the network thread has stopped and before its io_context is destroyed (the timer must
  // not outlive it).
  void Shutdown() { timer_.reset(); }

 private:
  void Arm();
  void OnTick();

  boost::asio::io_context& ioc_;
  const std::chrono::milliseconds period_;
  std::optional<boost::asio::steady_timer> timer_;
  std::vector<std::weak_ptr<ClientSession>> sessions_;  // network thread only
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_SESSION_TICKER_H_
