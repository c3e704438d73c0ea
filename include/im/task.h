// Task workers (docs/architecture.md §1, docs/search-and-push.md): work that follows a stored message off the send path — large-group
// fanout, search indexing, offline push, and whatever a host registers. A task travels on the
// Bus topic im-task; the engine's task half (imd, im-task) hands it to the TaskProcessor
// registered for its type.
//
// Failure handling, the same on both buses:
//  - ok: done.
//  - A transient error (unavailable, resource_exhausted, deadline_exceeded, internal) is retried
//    on the topic im-task-retry after an exponential backoff with jitter (or after
//    TaskOutcome::retry_after_ms when that is longer), so a failing task never holds up the
//    tasks behind it on im-task.
//  - Any other error (invalid_argument, not_found, permission_denied, ...) is permanent.
//  - A permanent error, or a transient one on the last of TaskRetryPolicy::max_attempts, sends
//    the task to the dead-letter topic with its error; the task half keeps dead letters in the
//    Store, where they can be listed, re-driven or discarded (Engine::ListDeadLetters,
//    RedriveDeadLetter, DiscardDeadLetter; the /admin/dead-letters endpoints of imd and im-task).
// A task may run more than once (redelivery after a crash or a rebalance, a retry after a
// timeout that had in fact succeeded): processors must be idempotent. Tasks with one key run in
// order on im-task; a retried task leaves that order.
#ifndef IM_TASK_H_
#define IM_TASK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "im/status.h"

namespace im {

struct Task {
  std::string type;      // selects the processor
  std::string key = {};       // bus key; "" is allowed
  std::string payload = {};   // the processor's own encoding
  // Of the request or message that caused the task ("" on EnqueueTask: the caller's current
  // trace). The engine's log lines written while the processor runs carry it.
  std::string trace_id = {};
  int attempt = 1;       // 1 on the first try
};

struct TaskOutcome {
  TaskOutcome(Status s = Status::Ok()) : status(std::move(s)) {}  // NOLINT: implicit by design
  TaskOutcome(Status s, int64_t retry_after) : status(std::move(s)), retry_after_ms(retry_after) {}
  Status status;
  // For a transient error: the earliest the next attempt may run (e.g. an HTTP Retry-After).
  int64_t retry_after_ms = 0;
  // For a transient error: the payload of the next attempt (and of the dead letter, after the
  // last one), when only part of the task failed (e.g. the devices a push could not reach).
  // Empty: the same payload again.
  std::optional<std::string> retry_payload = std::nullopt;
};

class TaskProcessor {
 public:
  virtual ~TaskProcessor() = default;
  // The task type this processor handles: 1..64 bytes of [a-z0-9._-]. Types starting with "im."
  // are reserved for the engine's own (im.fanout, im.search, im.push).
  virtual std::string_view type() const = 0;
  // Runs on a task-worker thread; may block (network, disk) but should bound its own waits.
  virtual TaskOutcome Process(const Task& task) = 0;
};

struct TaskRetryPolicy {
  int max_attempts = 5;               // tries before the task is dead-lettered (>= 1)
  int64_t initial_backoff_ms = 200;   // before the 2nd attempt; doubles per attempt
  int64_t max_backoff_ms = 60'000;    // cap on one wait (retry_after_ms included)
  double jitter = 0.2;                // each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
};

// True for the codes the dispatcher retries.
inline bool IsTransient(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted ||
         code == StatusCode::kDeadlineExceeded || code == StatusCode::kInternal;
}

}  // namespace im

#endif  // IM_TASK_H_
