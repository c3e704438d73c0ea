// TaskDispatcher: the task half's router (include/im/task.h). It hands each im-task record to the
// TaskProcessor registered for its type, schedules transient failures on im-task-retry with a
// jittered exponential backoff, and sends permanent failures and exhausted retries to the
// dead-letter topic with their error. The same code consumes the in-process bus (imd) and Kafka
// (im-task).
#ifndef IM_SRC_ENGINE_TASK_DISPATCHER_H_
#define IM_SRC_ENGINE_TASK_DISPATCHER_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "im/bus.h"
#include "im/model.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

// Publishes a new task on im-task (first attempt).
Status EnqueueTask(Bus& bus, const Task& task);

// A processor that can apply several tasks of its type as one (the engine's im.search: one index
// transaction for many messages). Internal to the engine; the dispatcher finds it with
// dynamic_cast on a registered TaskProcessor.
class BatchTaskProcessor {
 public:
  virtual ~BatchTaskProcessor() = default;
  // Applies every task of `tasks` (each of this processor's type). Ok: all of them succeeded.
  // Non-ok: none may be counted as done; the dispatcher runs each alone through Process (so they
  // must be idempotent, as every task is).
  virtual Status ProcessBatch(std::span<const Task> tasks) = 0;
};

// invalid_argument unless `type` is 1..64 bytes of [a-z0-9._-].
Status ValidateTaskType(std::string_view type);

class TaskDispatcher {
 public:
  TaskDispatcher(std::shared_ptr<Bus> bus, TaskRetryPolicy policy, std::function<TimestampMs()> clock);

  // Before the subscriptions start. invalid_argument for a bad or already registered type.
  Status Register(std::shared_ptr<TaskProcessor> processor);

  // Bus handler for im-task.
  Status HandleTask(const BusRecord& record);
  // Batch handler for im-task: the tasks of a BatchTaskProcessor's type in the batch are applied
  // together, the others one by one, in order.
  Status HandleTasks(std::span<const BusRecord> records);
  // Bus handler for im-task-retry: waits until the task's not_before_ms, then runs it.
  Status HandleRetry(const BusRecord& record);

  // Wakes HandleRetry waits and makes later ones fail with unavailable, so that the bus keeps
  // the record (Kafka: uncommitted, redelivered later; in-process: dead-lettered) instead of
  // holding up shutdown for a backoff.
  void Stop();

  // The wait before attempt `failed_attempts + 1`: initial * 2^(failed_attempts - 1), jittered,
  // at least `retry_after_ms`, at most max_backoff_ms.
  int64_t Backoff(int failed_attempts, int64_t retry_after_ms) const;

 private:
  Status Run(const BusRecord& record, v1::TaskMessage task);
  Status DeadLetter(const BusRecord& record, v1::TaskMessage task, const Status& error);

  const std::shared_ptr<Bus> bus_;
  const TaskRetryPolicy policy_;
  const std::function<TimestampMs()> clock_;
  std::map<std::string, std::shared_ptr<TaskProcessor>, std::less<>> processors_;

  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_TASK_DISPATCHER_H_
