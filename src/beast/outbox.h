// Outbox: the frames that engine threads (the downstream consumer: send acks and pushed events)
// hand to the sessions of one network thread, handed over in bursts. The first push after a
// drain posts one drain to the thread's io_context; the drain queues every frame pushed until
// then on its session. So a downstream batch of a hundred events costs one post (at most one
// wake-up of the network thread) instead of a hundred.
//
// The drain calls ClientSession::EnqueueOnLoop and FlushOnLoop outside the session's strand: that is safe only
// because each io_context is run by exactly one thread (Gateway: one io_context per network
// thread), so no handler of the session can run at the same time.
#ifndef IM_SRC_BEAST_OUTBOX_H_
#define IM_SRC_BEAST_OUTBOX_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace im::gateway {

class ClientSession;

class Outbox {
 public:
  explicit Outbox(boost::asio::io_context& ioc) : ioc_(ioc) {}

  boost::asio::io_context& context() const { return ioc_; }

  // Thread-safe. `session` is kept alive until its frame is queued. Dropped after Close().
  void Push(std::shared_ptr<ClientSession> session, std::shared_ptr<const std::string> frame, bool text);
  // Before the io_context stops: later pushes are dropped instead of posted to a loop that will
  // never run them (the engine may still push events while the gateway shuts down).
  void Close();

 private:
  struct Item {
    std::shared_ptr<ClientSession> session;
    std::shared_ptr<const std::string> frame;
    bool text;
  };
  void Drain();

  boost::asio::io_context& ioc_;
  std::mutex mu_;
  std::vector<Item> pending_;  // guarded by mu_
  bool scheduled_ = false;     // a drain is posted and has not taken pending_ yet
  bool closed_ = false;
  std::vector<Item> draining_;            // network thread only
  std::vector<ClientSession*> to_flush_;  // network thread only: sessions to write after a drain
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_OUTBOX_H_
