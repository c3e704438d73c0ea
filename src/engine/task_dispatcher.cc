#include "engine/task_dispatcher.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/log.h"
#include "common/metrics.h"

namespace im {

Status ValidateTaskType(std::string_view type) {
  if (type.empty() || type.size() > 64) return Status::InvalidArgument("task type must be 1..64 bytes");
  for (char c : type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return Status::InvalidArgument("task type may only contain [a-z0-9._-]: " + std::string(type));
  }
  return Status::Ok();
}

Status EnqueueTask(Bus& bus, const Task& task) {
  IM_RETURN_IF_ERROR(ValidateTaskType(task.type));
  v1::TaskMessage m;
  m.set_trace_id(task.trace_id.empty() ? log::CurrentTrace() : task.trace_id);
  m.set_type(task.type);
  m.set_payload(task.payload);
  return bus.Publish(topics::kTask, task.key, m.SerializeAsString());
}

TaskDispatcher::TaskDispatcher(std::shared_ptr<Bus> bus, TaskRetryPolicy policy, std::function<TimestampMs()> clock)
    : bus_(std::move(bus)), policy_(policy), clock_(std::move(clock)) {}

Status TaskDispatcher::Register(std::shared_ptr<TaskProcessor> processor) {
  if (!processor) return Status::InvalidArgument("null task processor");
  std::string type(processor->type());
  IM_RETURN_IF_ERROR(ValidateTaskType(type));
  if (!processors_.emplace(type, std::move(processor)).second) {
    return Status::InvalidArgument("two task processors for type " + type);
  }
  return Status::Ok();
}

void TaskDispatcher::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  stopped_cv_.notify_all();
}

int64_t TaskDispatcher::Backoff(int failed_attempts, int64_t retry_after_ms) const {
  double wait =
      static_cast<double>(policy_.initial_backoff_ms) * std::ldexp(1.0, std::clamp(failed_attempts - 1, 0, 40));
  // Jitter spreads the retries of tasks that failed together (a provider outage) over time.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
  wait *= std::uniform_real_distribution<double>(1.0 - jitter, 1.0 + jitter)(rng);
  wait = std::max(wait, static_cast<double>(retry_after_ms));
  return std::min(static_cast<int64_t>(wait), policy_.max_backoff_ms);
}

Status TaskDispatcher::HandleTask(const BusRecord& record) {
  v1::TaskMessage task;
  if (!task.ParseFromString(record.payload)) {
    // It will not decode on a retry either: keep it for an operator instead.
    return DeadLetter(record, v1::TaskMessage(), Status::InvalidArgument("task record does not decode"));
  }
  return Run(record, std::move(task));
}

Status TaskDispatcher::HandleTasks(std::span<const BusRecord> records) {
  if (records.size() == 1) return HandleTask(records[0]);
  std::vector<v1::TaskMessage> tasks(records.size());
  std::vector<bool> decoded(records.size());
  // type -> the batchable tasks of that type (indexes into records)
  std::map<std::string, std::vector<size_t>, std::less<>> batches;
  for (size_t i = 0; i < records.size(); ++i) {
    decoded[i] = tasks[i].ParseFromString(records[i].payload);
    if (!decoded[i]) continue;
    auto it = processors_.find(tasks[i].type());
    if (it != processors_.end() && dynamic_cast<BatchTaskProcessor*>(it->second.get()) != nullptr) {
      batches[tasks[i].type()].push_back(i);
    }
  }
  std::vector<bool> done(records.size());
  for (const auto& [type, indexes] : batches) {
    if (indexes.size() < 2) continue;
    std::vector<Task> in;
    in.reserve(indexes.size());
    for (size_t i : indexes) {
      in.push_back(Task{tasks[i].type(), records[i].key, tasks[i].payload(), tasks[i].trace_id(),
                        tasks[i].failed_attempts() + 1});
    }
    metrics::TaskMetrics& m = metrics::Default().Task(type);
    auto started = std::chrono::steady_clock::now();
    Status s = dynamic_cast<BatchTaskProcessor&>(*processors_.find(type)->second).ProcessBatch(in);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!s.ok()) continue;  // each alone below, with its own retries
    for (size_t i : indexes) {
      m.latency.Observe(seconds);
      m.succeeded.Add();
      done[i] = true;
    }
  }
  Status first_failure;
  for (size_t i = 0; i < records.size(); ++i) {
    if (done[i]) continue;
    Status s = decoded[i] ? Run(records[i], std::move(tasks[i])) : HandleTask(records[i]);
    if (!s.ok() && first_failure.ok()) first_failure = s;
  }
  return first_failure;
}

Status TaskDispatcher::HandleRetry(const BusRecord& record) {
  v1::TaskMessage task;
  if (!task.ParseFromString(record.payload)) {
    return DeadLetter(record, v1::TaskMessage(), Status::InvalidArgument("task record does not decode"));
  }
  std::unique_lock lock(mu_);
  while (!stopped_) {
    int64_t wait_ms = task.not_before_ms() - clock_();
    if (wait_ms <= 0) break;
    stopped_cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(wait_ms, policy_.max_backoff_ms)));
  }
  if (stopped_) return Status::Unavailable("task workers stopping before the retry of a " + task.type() + " task");
  lock.unlock();
  return Run(record, std::move(task));
}

Status TaskDispatcher::Run(const BusRecord& record, v1::TaskMessage task) {
  auto it = processors_.find(task.type());
  if (it == processors_.end()) {
    task.set_failed_attempts(task.failed_attempts() + 1);
    return DeadLetter(record, std::move(task), Status::NotFound("no task processor for type '" + task.type() + "'"));
  }
  metrics::TaskMetrics& m = metrics::Default().Task(task.type());
  Task in{task.type(), record.key, task.payload(), task.trace_id(), task.failed_attempts() + 1};
  log::TraceScope trace(task.trace_id());
  auto started = std::chrono::steady_clock::now();
  TaskOutcome outcome = it->second->Process(in);
  m.latency.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (outcome.status.ok()) {
    m.succeeded.Add();
    return Status::Ok();
  }
  const int failed = task.failed_attempts() + 1;
  const bool transient = IsTransient(outcome.status.code());
  // What is left to do: the next attempt, or a re-drive of the dead letter, gets only that.
  if (transient && outcome.retry_payload) task.set_payload(std::move(*outcome.retry_payload));
  if (!transient || failed >= policy_.max_attempts) {
    task.set_failed_attempts(failed);
    return DeadLetter(record, std::move(task), outcome.status);
  }
  int64_t wait_ms = Backoff(failed, outcome.retry_after_ms);
  log::Warn("task.retry",
            {{"type", task.type()}, {"attempt", failed}, {"wait_ms", wait_ms}, {"error", outcome.status.ToString()}});
  task.set_failed_attempts(failed);
  task.set_last_error(outcome.status.ToString());
  task.set_not_before_ms(clock_() + wait_ms);
  IM_RETURN_IF_ERROR(bus_->Publish(topics::kTaskRetry, record.key, task.SerializeAsString()));
  m.retried.Add();
  return Status::Ok();
}

Status TaskDispatcher::DeadLetter(const BusRecord& record, v1::TaskMessage task, const Status& error) {
  log::Error(
      "task.dead_letter",
      {{"type", task.type()}, {"key", record.key}, {"attempts", task.failed_attempts()}, {"error", error.ToString()}});
  std::string payload;
  if (task.type().empty()) {
    payload = record.payload;  // undecodable: keep the bytes as they came
  } else {
    task.set_last_error(error.ToString());
    task.set_not_before_ms(0);
    payload = task.SerializeAsString();
  }
  // Key as the bus's own dead letters: "<origin topic>/<origin key>"; the error travels inside
  // the TaskMessage (Publish cannot set headers).
  IM_RETURN_IF_ERROR(
      bus_->Publish(topics::kDeadLetter, std::string(topics::kTask) + "/" + record.key, std::move(payload)));
  if (processors_.contains(task.type())) metrics::Default().Task(task.type()).dead_lettered.Add();
  return Status::Ok();
}

}  // namespace im
