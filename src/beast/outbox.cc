#include "beast/outbox.h"

#include "beast/gateway_state.h"

namespace im::gateway {

void Outbox::Push(std::shared_ptr<ClientSession> session, std::shared_ptr<const std::string> frame, bool text) {
  bool post;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    pending_.push_back(Item{std::move(session), std::move(frame), text});
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) boost::asio::post(ioc_, [this] { Drain(); });
}

void Outbox::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  pending_.clear();
}

void Outbox::Drain() {
  {
    std::lock_guard lock(mu_);
    draining_.swap(pending_);
    scheduled_ = false;
  }
  for (Item& item : draining_) item.session->EnqueueOnLoop(std::move(item.frame), item.text);
  draining_.clear();  // keeps its capacity for the next burst
}

}  // namespace im::gateway
