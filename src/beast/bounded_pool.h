// A small thread pool with a bounded queue, for work that is expensive on purpose (password
// hashing): TryPost refuses a task when the threads are busy and the queue is full, so the
// caller can answer "busy, retry later" at once instead of queueing without bound.
#ifndef IM_SRC_BEAST_BOUNDED_POOL_H_
#define IM_SRC_BEAST_BOUNDED_POOL_H_

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <exception>
#include <utility>

#include "common/log.h"

namespace im::gateway {

class BoundedPool {
 public:
  // `threads` >= 1; up to `max_queued` tasks wait for a thread.
  BoundedPool(int threads, uint32_t max_queued)
      : pool_(static_cast<size_t>(std::max(1, threads))),
        capacity_(static_cast<uint32_t>(std::max(1, threads)) + max_queued) {}

  // Runs `task` on the pool unless the threads are busy and the queue is full (then false, and
  // `task` is dropped). A task that throws is logged; the pool carries on.
  template <class Task>
  [[nodiscard]] bool TryPost(Task&& task) {
    if (admitted_.fetch_add(1) >= capacity_) {
      admitted_.fetch_sub(1);
      return false;
    }
    boost::asio::post(pool_, [this, task = std::forward<Task>(task)]() mutable {
      try {
        task();
      } catch (const std::exception& e) {
        log::Error("bounded_pool.task_failed", {{"error", e.what()}});
      } catch (...) {
        log::Error("bounded_pool.task_failed", {});
      }
      admitted_.fetch_sub(1);
    });
    return true;
  }

  // Tasks running or queued.
  uint32_t load() const { return admitted_.load(); }
  // Waits for the tasks already posted and stops the threads.
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  const uint32_t capacity_;
  std::atomic<uint32_t> admitted_{0};
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_BOUNDED_POOL_H_
