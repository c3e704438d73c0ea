#include "engine/dead_letter_keeper.h"

#include <charconv>

#include "common/log.h"
#include "common/metrics.h"
#include "im/v1/records.pb.h"

namespace im {
namespace {

bool IsTaskTopic(std::string_view topic) { return topic == topics::kTask || topic == topics::kTaskRetry; }

}  // namespace

DeadLetterKeeper::DeadLetterKeeper(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus,
                                   std::function<TimestampMs()> clock)
    : store_(std::move(store)), bus_(std::move(bus)), clock_(std::move(clock)) {}

Status DeadLetterKeeper::Handle(const BusRecord& record) {
  DeadLetter letter;
  letter.payload = record.payload;
  letter.created_at_ms = clock_();
  if (const std::string* topic = record.header(dead_letter::kOriginTopic)) {
    letter.topic = *topic;
    if (const std::string* key = record.header(dead_letter::kOriginKey)) letter.key = *key;
    if (const std::string* error = record.header(dead_letter::kError)) letter.error = *error;
    if (const std::string* attempts = record.header(dead_letter::kAttempts)) {
      std::from_chars(attempts->data(), attempts->data() + attempts->size(), letter.attempts);
    }
  } else {
    auto slash = record.key.find('/');
    letter.topic = record.key.substr(0, slash);
    if (slash != std::string::npos) letter.key = record.key.substr(slash + 1);
  }
  if (IsTaskTopic(letter.topic) && letter.error.empty()) {
    v1::TaskMessage task;
    if (task.ParseFromString(record.payload)) {
      letter.error = task.last_error();
      letter.attempts = task.failed_attempts();
    }
  }
  auto id = store_->AddDeadLetter(letter);
  if (!id.ok()) {
    log::Error("dead_letter.store_failed", {{"topic", letter.topic}, {"error", id.status().ToString()}});
    return id.status();  // the bus retries, then drops it (logged)
  }
  metrics::Default().dead_letters_stored.Add();
  log::Info("dead_letter.stored", {{"id", *id}, {"topic", letter.topic}, {"error", letter.error}});
  return Status::Ok();
}

Status DeadLetterKeeper::Redrive(int64_t id) {
  IM_ASSIGN_OR_RETURN(DeadLetter letter, store_->GetDeadLetter(id));
  std::string topic = letter.topic;
  std::string payload = letter.payload;
  if (IsTaskTopic(topic)) {
    topic = topics::kTask;
    v1::TaskMessage task;
    if (task.ParseFromString(letter.payload) && !task.type().empty()) {
      task.set_failed_attempts(0);
      task.clear_last_error();
      task.set_not_before_ms(0);
      payload = task.SerializeAsString();
      metrics::Default().Task(task.type()).redriven.Add();
    }
  }
  if (topic.empty() || topic == topics::kDeadLetter) {
    return Status::FailedPrecondition("dead letter " + std::to_string(id) + " has no origin topic to go back to");
  }
  // Publish first: a crash in between re-drives it twice, never zero times (tasks are idempotent).
  IM_RETURN_IF_ERROR(bus_->Publish(topic, letter.key, std::move(payload)));
  log::Info("dead_letter.redriven", {{"id", id}, {"topic", topic}});
  return store_->DeleteDeadLetter(id);
}

}  // namespace im
