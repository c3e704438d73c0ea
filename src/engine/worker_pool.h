// A fixed pool of threads running queued jobs: where the async API runs blocking store calls.
#ifndef IM_SRC_ENGINE_WORKER_POOL_H_
#define IM_SRC_ENGINE_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace im {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  // Runs every job already queued, then joins the threads.
  ~WorkerPool();
  void Post(std::function<void()> job);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_WORKER_POOL_H_
