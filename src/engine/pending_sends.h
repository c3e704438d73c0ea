// PendingSends: the gateway half's sends that were published upstream and wait for their
// SendResult on im-downstream-<gateway_id>. Each gets a request id unique to this process
// incarnation (a result for an id it never issued, e.g. from before a restart, is ignored) and a
// deadline after which it fails with deadline_exceeded.
#ifndef IM_SRC_ENGINE_PENDING_SENDS_H_
#define IM_SRC_ENGINE_PENDING_SENDS_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "im/engine.h"
#include "im/v1/records.pb.h"

namespace im {

class PendingSends {
 public:
  using Done = std::function<void(Result<SendAck>)>;

  explicit PendingSends(int64_t timeout_ms);
  // Fails every send still waiting with unavailable.
  ~PendingSends();

  // Registers `done` and returns the request id to put on the upstream record.
  std::string Add(Done done);
  // Runs the matching `done` with the result (once; later duplicates are ignored).
  void Complete(const v1::SendResult& result);
  void Fail(const std::string& request_id, const Status& status);

 private:
  struct Waiting {
    Done done;
    std::chrono::steady_clock::time_point deadline;
  };
  // Removes and returns the entry, or an empty Done when there is none.
  Done Take(const std::string& request_id);
  void ExpireLoop();

  const std::chrono::milliseconds timeout_;
  const std::string prefix_;  // random per incarnation
  std::mutex mu_;
  uint64_t next_ = 1;
  std::unordered_map<std::string, Waiting> waiting_;
  std::deque<std::string> by_deadline_;  // the timeout is fixed: insertion order is deadline order
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread expirer_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_PENDING_SENDS_H_
