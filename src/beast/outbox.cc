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
  // Every frame first, then one write per session that got any: a session with ten events in
  // this burst writes them with one send.
  for (Item& item : draining_) {
    if (item.session->EnqueueOnLoop(*item.frame, item.text)) to_flush_.push_back(item.session.get());
  }
  for (ClientSession* session : to_flush_) session->FlushOnLoop();  // draining_ keeps them alive
  to_flush_.clear();
  draining_.clear();  // both keep their capacity for the next burst
}

}  // namespace im::gateway
