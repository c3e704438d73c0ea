#include "engine/search_indexer.h"

namespace im {

std::optional<Task> SearchIndexer::IndexTask(const v1::Message& message) {
  if (message.type() != v1::CONTENT_TYPE_TEXT) return std::nullopt;
  v1::SearchTask task;
  *task.add_index() = message;
  return Task{std::string(kTaskType), message.conversation_id(), task.SerializeAsString()};
}

TaskOutcome SearchIndexer::Process(const Task& task) {
  v1::SearchTask in;
  if (!in.ParseFromString(task.payload)) return Status::InvalidArgument("malformed im.search payload");
  std::vector<SearchDocument> documents;
  documents.reserve(in.index_size());
  for (const v1::Message& m : in.index()) {
    auto conversation = ConversationId::Parse(m.conversation_id());
    if (!conversation) return Status::InvalidArgument("im.search: malformed conversation id " + m.conversation_id());
    documents.push_back(SearchDocument{MessageId(m.id()), *conversation, m.seq(), UserId(m.sender_id()),
                                       m.sent_at_ms(), m.content()});
  }
  if (!documents.empty()) IM_RETURN_IF_ERROR(index_->Index(documents));
  if (in.remove_ids_size() > 0) {
    std::vector<MessageId> ids;
    for (int64_t id : in.remove_ids()) ids.emplace_back(id);
    IM_RETURN_IF_ERROR(index_->Remove(ids));
  }
  return Status::Ok();
}

}  // namespace im
