// Shared by the stores with a group committer (SQLite, RocksDB): the checks an append must pass
// before it is queued, and AppendMessages as one submission of every append of the batch.
#ifndef IM_SRC_STORE_APPEND_BATCH_H_
#define IM_SRC_STORE_APPEND_BATCH_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "im/store.h"

namespace im {

// invalid_argument for an append no store may accept; `store` names the store in the message.
inline Status CheckNewMessage(const NewMessage& message, std::string_view store) {
  if (!message.conversation.valid()) return Status::InvalidArgument(std::string(store) + ": invalid conversation id");
  if (!message.sender.valid()) return Status::InvalidArgument(std::string(store) + ": invalid sender");
  if (message.conversation.is_direct() && !message.conversation.HasParticipant(message.sender)) {
    return Status::InvalidArgument(std::string(store) + ": sender is not a participant of " +
                                   message.conversation.str());
  }
  return Status::Ok();
}

// Queues one `Job(writer, message)` per valid message with queue.SubmitAll (one wake-up of the
// writer, usually one commit) and returns the results aligned with `messages`.
template <class Job, class Queue, class Writer>
std::vector<Result<AppendResult>> SubmitAppends(Queue& queue, Writer& writer, std::span<const NewMessage> messages,
                                                std::string_view store) {
  std::vector<Result<AppendResult>> results;
  results.reserve(messages.size());
  std::vector<std::unique_ptr<Job>> jobs;
  std::vector<typename Queue::Job*> queued;
  std::vector<size_t> index;  // position in `messages` of each queued job
  for (size_t i = 0; i < messages.size(); ++i) {
    Status s = CheckNewMessage(messages[i], store);
    results.push_back(s.ok() ? Result<AppendResult>(AppendResult{}) : Result<AppendResult>(s));
    if (!s.ok()) continue;
    jobs.push_back(std::make_unique<Job>(writer, messages[i]));
    queued.push_back(jobs.back().get());
    index.push_back(i);
  }
  std::vector<Status> outcomes = queue.SubmitAll(queued);
  for (size_t k = 0; k < outcomes.size(); ++k) {
    results[index[k]] = outcomes[k].ok() ? Result<AppendResult>(jobs[k]->result()) : Result<AppendResult>(outcomes[k]);
  }
  return results;
}

}  // namespace im

#endif  // IM_SRC_STORE_APPEND_BATCH_H_
