// The task framework (include/im/task.h) on the in-process bus: routing by type, retries with
// backoff, dead letters kept in the Store, re-drive, and the per-type metrics.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "engine/task_dispatcher.h"
#include "im/engine.h"
#include "im/log.h"
#include "support/engine_fixture.h"

namespace im {
namespace {

using Clock = std::chrono::steady_clock;

// A processor whose behaviour the test changes while it runs.
class ScriptedProcessor final : public TaskProcessor {
 public:
  explicit ScriptedProcessor(std::string type) : type_(std::move(type)) {}
  std::string_view type() const override { return type_; }
  TaskOutcome Process(const Task& task) override {
    std::lock_guard lock(mu_);
    calls_.push_back({task, Clock::now()});
    return outcome_;
  }
  void Answer(TaskOutcome outcome) {
    std::lock_guard lock(mu_);
    outcome_ = std::move(outcome);
  }
  struct Call {
    Task task;
    Clock::time_point at;
  };
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::string type_;
  std::mutex mu_;
  TaskOutcome outcome_;
  std::vector<Call> calls_;
};

Options TaskOptions(std::shared_ptr<TaskProcessor> p) {
  Options o = test::FastOptions();
  o.task_processors = {std::move(p)};
  o.task_retry.max_attempts = 3;
  o.task_retry.initial_backoff_ms = 20;
  o.task_retry.max_backoff_ms = 2000;
  return o;
}

TEST_CASE("a task that keeps failing is dead-lettered after max_attempts, then re-driven and succeeds") {
  auto p = std::make_shared<ScriptedProcessor>("test.flaky");
  p->Answer(Status::Unavailable("downstream is down"));
  auto engine = Engine::Open(TaskOptions(p)).value();
  auto& m = metrics::Default().Task("test.flaky");

  REQUIRE(engine->EnqueueTask(Task{"test.flaky", "k1", "payload-bytes", "trace-abc"}).ok());
  REQUIRE(engine->Drain().ok());

  auto calls = p->calls();
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].task.attempt == 1);
  CHECK(calls[2].task.attempt == 3);
  CHECK(calls[1].task.payload == "payload-bytes");
  CHECK(calls[1].task.key == "k1");
  CHECK(calls[1].task.trace_id == "trace-abc");
  // Backoff: 20 ms then 40 ms, each within ±20 % jitter.
  CHECK(calls[1].at - calls[0].at >= std::chrono::milliseconds(16));
  CHECK(calls[2].at - calls[1].at >= std::chrono::milliseconds(32));
  CHECK(m.retried.value() == 2);
  CHECK(m.dead_lettered.value() == 1);
  CHECK(m.succeeded.value() == 0);

  auto letters = engine->ListDeadLetters(0, 10);
  REQUIRE(letters.ok());
  REQUIRE(letters->size() == 1);
  const DeadLetter& d = letters->front();
  CHECK(d.topic == "im-task");
  CHECK(d.key == "k1");
  CHECK(d.attempts == 3);
  CHECK(d.error.find("downstream is down") != std::string::npos);
  CHECK(metrics::Default().RenderPrometheus().find("im_tasks_total{type=\"test.flaky\",outcome=\"dead_letter\"} 1") !=
        std::string::npos);

  p->Answer(Status::Ok());
  REQUIRE(engine->RedriveDeadLetter(d.id).ok());
  REQUIRE(engine->Drain().ok());
  calls = p->calls();
  REQUIRE(calls.size() == 4);
  CHECK(calls[3].task.attempt == 1);  // a re-driven task starts over
  CHECK(calls[3].task.payload == "payload-bytes");
  CHECK(calls[3].task.trace_id == "trace-abc");
  CHECK(m.succeeded.value() == 1);
  CHECK(m.redriven.value() == 1);
  CHECK(engine->ListDeadLetters(0, 10)->empty());
  CHECK(engine->RedriveDeadLetter(d.id).code() == StatusCode::kNotFound);
  std::string text = metrics::Default().RenderPrometheus();
  CHECK(text.find("im_tasks_total{type=\"test.flaky\",outcome=\"ok\"} 1") != std::string::npos);
  CHECK(text.find("im_tasks_total{type=\"test.flaky\",outcome=\"retry\"} 2") != std::string::npos);
  CHECK(text.find("im_tasks_total{type=\"test.flaky\",outcome=\"redrive\"} 1") != std::string::npos);
  CHECK(text.find("im_task_duration_seconds_count{type=\"test.flaky\"} 4") != std::string::npos);
}

TEST_CASE("a permanent error dead-letters a task at once") {
  auto p = std::make_shared<ScriptedProcessor>("test.permanent");
  p->Answer(Status::InvalidArgument("payload is nonsense"));
  auto engine = Engine::Open(TaskOptions(p)).value();
  REQUIRE(engine->EnqueueTask(Task{"test.permanent", "k", "x"}).ok());
  REQUIRE(engine->Drain().ok());
  CHECK(p->calls().size() == 1);
  auto letters = engine->ListDeadLetters(0, 10).value();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].attempts == 1);
  CHECK(letters[0].error.find("invalid_argument") != std::string::npos);
  CHECK(metrics::Default().Task("test.permanent").retried.value() == 0);
  // Its cause will not go away: the operator discards it.
  REQUIRE(engine->DiscardDeadLetter(letters[0].id).ok());
  CHECK(engine->ListDeadLetters(0, 10)->empty());
  CHECK(engine->DiscardDeadLetter(letters[0].id).code() == StatusCode::kNotFound);
  CHECK(p->calls().size() == 1);
}

TEST_CASE("a task of a type nobody processes is dead-lettered with not_found") {
  auto p = std::make_shared<ScriptedProcessor>("test.known");
  auto engine = Engine::Open(TaskOptions(p)).value();
  REQUIRE(engine->EnqueueTask(Task{"test.unknown-type", "k", "x"}).ok());
  REQUIRE(engine->Drain().ok());
  auto letters = engine->ListDeadLetters(0, 10).value();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].error.find("no task processor for type 'test.unknown-type'") != std::string::npos);
  CHECK(p->calls().empty());
}

TEST_CASE("retry_after_ms from a processor delays the next attempt") {
  auto p = std::make_shared<ScriptedProcessor>("test.throttled");
  p->Answer(TaskOutcome(Status::ResourceExhausted("429"), 300));
  Options o = TaskOptions(p);
  o.task_retry.max_attempts = 2;
  auto engine = Engine::Open(std::move(o)).value();
  REQUIRE(engine->EnqueueTask(Task{"test.throttled", "k", "x"}).ok());
  REQUIRE(engine->Drain().ok());
  auto calls = p->calls();
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].at - calls[0].at >= std::chrono::milliseconds(290));
}

TEST_CASE("a processor can narrow what its retry does with retry_payload") {
  class Partial final : public TaskProcessor {
   public:
    std::string_view type() const override { return "test.partial"; }
    TaskOutcome Process(const Task& task) override {
      payloads.push_back(task.payload);
      TaskOutcome out(Status::Unavailable("part of it failed"));
      out.retry_payload = "left-after-" + std::to_string(task.attempt);
      return out;
    }
    std::vector<std::string> payloads;  // the dispatcher runs one task at a time here
  };
  auto p = std::make_shared<Partial>();
  Options o = TaskOptions(p);
  o.task_retry.max_attempts = 2;
  auto engine = Engine::Open(std::move(o)).value();
  REQUIRE(engine->EnqueueTask(Task{"test.partial", "k", "the-whole-task"}).ok());
  REQUIRE(engine->Drain().ok());
  REQUIRE(p->payloads.size() == 2);
  CHECK(p->payloads[0] == "the-whole-task");
  CHECK(p->payloads[1] == "left-after-1");
  // The dead letter holds what was still left after the last attempt: a re-drive does only that.
  auto letters = engine->ListDeadLetters(0, 10).value();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].payload.find("left-after-2") != std::string::npos);
}

TEST_CASE("a failing task does not hold up the tasks queued behind it") {
  auto slow = std::make_shared<ScriptedProcessor>("test.slow-fail");
  slow->Answer(TaskOutcome(Status::Unavailable("down"), 1500));
  auto fast = std::make_shared<ScriptedProcessor>("test.fast");
  Options o = test::FastOptions();
  o.task_processors = {slow, fast};
  o.task_consumers = 1;  // one im-task consumer: only the retry topic keeps the line moving
  o.task_retry.max_attempts = 2;
  auto engine = Engine::Open(std::move(o)).value();
  REQUIRE(engine->EnqueueTask(Task{"test.slow-fail", "same-key", "a"}).ok());
  REQUIRE(engine->EnqueueTask(Task{"test.fast", "same-key", "b"}).ok());
  auto deadline = Clock::now() + std::chrono::seconds(1);
  while (fast->calls().empty() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(fast->calls().size() == 1);   // ran while the failed one waits 1.5 s for its retry
  CHECK(slow->calls().size() == 1);
  REQUIRE(engine->Drain().ok());
  CHECK(slow->calls().size() == 2);
}

TEST_CASE("Engine::Open refuses bad task settings and duplicate processor types") {
  Options o = test::FastOptions();
  o.task_processors = {std::make_shared<ScriptedProcessor>("Bad Type")};
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o.task_processors = {std::make_shared<ScriptedProcessor>("test.dup"), std::make_shared<ScriptedProcessor>("test.dup")};
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o.task_processors = {std::make_shared<ScriptedProcessor>("im.fanout")};  // the engine's own
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o.task_processors = {std::make_shared<ScriptedProcessor>("im.mine")};  // the prefix is reserved
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o.task_processors.clear();
  o.task_retry.max_attempts = 0;
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o.task_retry.max_attempts = 3;
  o.task_retry.jitter = 1.5;
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("backoff doubles per attempt within the jitter and respects retry_after and the cap") {
  TaskRetryPolicy policy{5, 100, 1000, 0.2};
  TaskDispatcher d(nullptr, policy, [] { return TimestampMs{0}; });
  for (int i = 0; i < 50; ++i) {
    int64_t first = d.Backoff(1, 0);
    CHECK(first >= 80);
    CHECK(first <= 120);
    int64_t third = d.Backoff(3, 0);
    CHECK(third >= 320);
    CHECK(third <= 480);
    CHECK(d.Backoff(10, 0) == 1000);    // capped
    CHECK(d.Backoff(1, 700) >= 700);    // Retry-After wins when longer
    CHECK(d.Backoff(1, 5000) == 1000);  // but not beyond the cap
  }
}

TEST_CASE("log lines written while a processor runs carry the task's trace id") {
  std::mutex mu;
  std::vector<std::string> lines;
  SetLogSink(
      [&](LogLevel, std::string_view line) {
        std::lock_guard lock(mu);
        lines.emplace_back(line);
      },
      LogLevel::kInfo);
  class Logging final : public TaskProcessor {
   public:
    std::string_view type() const override { return "test.logging"; }
    TaskOutcome Process(const Task&) override {
      log::Info("test.inside_processor");
      return Status::Ok();
    }
  };
  {
    Options o = test::FastOptions();
    o.task_processors = {std::make_shared<Logging>()};
    auto engine = Engine::Open(std::move(o)).value();
    REQUIRE(engine->EnqueueTask(Task{"test.logging", "k", "", "trace-0042"}).ok());
    REQUIRE(engine->Drain().ok());
  }
  SetLogSink(nullptr, LogLevel::kWarn);
  bool found = false;
  for (const auto& l : lines) {
    if (l.find("test.inside_processor") != std::string::npos) found = l.find("\"trace\":\"trace-0042\"") != std::string::npos;
  }
  CHECK(found);
}

}  // namespace
}  // namespace im
