#include "engine/pending_sends.h"

#include <vector>

#include "crypto/random.h"

namespace im {

PendingSends::PendingSends(int64_t timeout_ms) : timeout_(timeout_ms), prefix_(crypto::RandomToken(6) + "-") {
  expirer_ = std::thread([this] { ExpireLoop(); });
}

PendingSends::~PendingSends() {
  std::unordered_map<std::string, Waiting> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(waiting_);
  }
  cv_.notify_all();
  expirer_.join();
  for (auto& [id, w] : left) w.done(Status::Unavailable("engine shutting down before the send was acknowledged"));
}

std::string PendingSends::Add(Done done) {
  std::lock_guard lock(mu_);
  std::string id = prefix_ + std::to_string(next_++);
  waiting_.emplace(id, Waiting{std::move(done), std::chrono::steady_clock::now() + timeout_});
  by_deadline_.push_back(id);
  if (by_deadline_.size() == 1) cv_.notify_one();
  return id;
}

PendingSends::Done PendingSends::Take(const std::string& request_id) {
  std::lock_guard lock(mu_);
  auto it = waiting_.find(request_id);
  if (it == waiting_.end()) return {};
  Done done = std::move(it->second.done);
  waiting_.erase(it);
  return done;
}

void PendingSends::Complete(const v1::SendResult& r) {
  Done done = Take(r.request_id());
  if (!done) return;
  if (r.code() != 0) {
    // A code this build does not know (a newer logic) reads as internal.
    auto code = StatusCodeFromName(StatusCodeName(static_cast<StatusCode>(r.code())));
    done(Status(code.value_or(StatusCode::kInternal), r.error_message()));
    return;
  }
  done(SendAck{MessageId(r.message_id()), r.seq(), r.sent_at_ms(), r.duplicate()});
}

void PendingSends::Fail(const std::string& request_id, const Status& status) {
  if (Done done = Take(request_id)) done(status);
}

void PendingSends::ExpireLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    std::vector<Done> expired;
    while (!by_deadline_.empty()) {
      auto it = waiting_.find(by_deadline_.front());
      if (it == waiting_.end()) {  // completed already
        by_deadline_.pop_front();
        continue;
      }
      if (it->second.deadline > now) break;
      expired.push_back(std::move(it->second.done));
      waiting_.erase(it);
      by_deadline_.pop_front();
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& done : expired) {
        done(
            Status::DeadlineExceeded("no acknowledgement from the logic half in time; the message may be stored: "
                                     "retry with the same client_msg_id"));
      }
      lock.lock();
      continue;
    }
    if (by_deadline_.empty()) {
      cv_.wait(lock, [&] { return stopping_ || !by_deadline_.empty(); });
    } else {
      auto deadline = waiting_.at(by_deadline_.front()).deadline;
      cv_.wait_until(lock, deadline, [&] { return stopping_; });
    }
  }
}

}  // namespace im
