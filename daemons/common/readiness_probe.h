// ReadinessProbe: runs a dependency check (can im-logic / im-repo / the database be reached?)
// every couple of seconds on its own thread and keeps the last answer, so that /readyz answers
// at once from the network thread instead of waiting out a remote call's retries.
#ifndef IM_DAEMONS_COMMON_READINESS_PROBE_H_
#define IM_DAEMONS_COMMON_READINESS_PROBE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "im/status.h"

namespace im::daemon {

class ReadinessProbe {
 public:
  ReadinessProbe(std::function<Status()> check, std::chrono::milliseconds period = std::chrono::seconds(2))
      : check_(std::move(check)), period_(period) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ReadinessProbe() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ReadinessProbe(const ReadinessProbe&) = delete;
  ReadinessProbe& operator=(const ReadinessProbe&) = delete;

  // The last check's answer (unavailable until the first check has finished).
  Status Get() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Status s = check_();
      lock.lock();
      last_ = std::move(s);
      cv_.wait_for(lock, period_, [&] { return stopping_; });
    }
  }

  const std::function<Status()> check_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Status last_ = Status::Unavailable("not checked yet");
  std::thread thread_;
};

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_READINESS_PROBE_H_
