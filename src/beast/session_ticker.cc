#include "beast/session_ticker.h"

#include <boost/asio/post.hpp>

#include "beast/gateway_state.h"

namespace im::gateway {

SessionTicker::SessionTicker(boost::asio::io_context& ioc, std::chrono::milliseconds period)
    : ioc_(ioc), period_(period) {
  timer_.emplace(ioc);
}

void SessionTicker::Add(std::weak_ptr<ClientSession> session) { sessions_.push_back(std::move(session)); }

void SessionTicker::Start() {
  boost::asio::post(ioc_, [this] { Arm(); });
}

void SessionTicker::Arm() {
  if (!timer_) return;
  timer_->expires_after(period_);
  timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the gateway is stopping
    OnTick();
    Arm();
  });
}

void SessionTicker::OnTick() {
  const auto now = std::chrono::steady_clock::now();
  // Ticks the live sessions and drops the ended ones in the same pass.
  size_t kept = 0;
  for (auto& weak : sessions_) {
    auto session = weak.lock();
    if (!session) continue;
    session->Tick(now);
    if (&sessions_[kept] != &weak) sessions_[kept] = std::move(weak);
    ++kept;
  }
  sessions_.resize(kept);
}

}  // namespace im::gateway
