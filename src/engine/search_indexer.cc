#include "engine/search_indexer.h"

namespace im {

namespace {

Status AddDocuments(const v1::SearchTask& in, std::vector<SearchDocument>& documents) {
  for (const v1::Message& m : in.index()) {
    auto conversation = ConversationId::Parse(m.conversation_id());
    if (!conversation) return Status::InvalidArgument("im.search: malformed conversation id " + m.conversation_id());
    documents.push_back(
        SearchDocument{MessageId(m.id()), *conversation, m.seq(), UserId(m.sender_id()), m.sent_at_ms(), m.content()});
  }
  return Status::Ok();
}

}  // namespace

SearchIndexer::SearchIndexer(std::shared_ptr<SearchIndex> index, std::chrono::milliseconds linger, size_t max_documents)
    : index_(std::move(index)), linger_(linger), max_documents_(max_documents) {
  committer_ = std::thread([this] { Run(); });
}

SearchIndexer::~SearchIndexer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  committer_.join();
}

Status SearchIndexer::Commit(std::vector<SearchDocument> documents) {
  if (documents.empty()) return Status::Ok();
  std::unique_lock lock(mu_);
  if (stopping_) return Status::Unavailable("search indexer stopping");
  if (!open_) open_ = std::make_shared<Group>();
  std::shared_ptr<Group> group = open_;
  for (auto& d : documents) group->documents.push_back(std::move(d));
  wake_.notify_one();
  done_.wait(lock, [&] { return group->done; });
  return group->status;
}

void SearchIndexer::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || open_; });
    if (!open_) return;  // stopping, nothing waits
    // Under load, one call per linger: what arrives meanwhile joins this one.
    const auto due = last_commit_ + linger_;
    wake_.wait_until(lock, due, [&] { return stopping_ || open_->documents.size() >= max_documents_; });
    std::shared_ptr<Group> group = std::move(open_);
    open_.reset();
    last_commit_ = std::chrono::steady_clock::now();
    lock.unlock();
    Status status = index_->Index(group->documents);
    lock.lock();
    group->status = std::move(status);
    group->done = true;
    done_.notify_all();
  }
}

Status SearchIndexer::ProcessBatch(std::span<const Task> tasks) {
  std::vector<SearchDocument> documents;
  for (const Task& task : tasks) {
    v1::SearchTask in;
    if (!in.ParseFromString(task.payload)) return Status::InvalidArgument("malformed im.search payload");
    if (in.remove_ids_size() > 0) return Status::FailedPrecondition("im.search batch with removals");
    IM_RETURN_IF_ERROR(AddDocuments(in, documents));
  }
  return Commit(std::move(documents));
}

TaskOutcome SearchIndexer::Process(const Task& task) {
  v1::SearchTask in;
  if (!in.ParseFromString(task.payload)) return Status::InvalidArgument("malformed im.search payload");
  std::vector<SearchDocument> documents;
  documents.reserve(in.index_size());
  IM_RETURN_IF_ERROR(AddDocuments(in, documents));
  IM_RETURN_IF_ERROR(Commit(std::move(documents)));
  if (in.remove_ids_size() > 0) {
    std::vector<MessageId> ids;
    for (int64_t id : in.remove_ids()) ids.emplace_back(id);
    IM_RETURN_IF_ERROR(index_->Remove(ids));
  }
  return Status::Ok();
}

}  // namespace im
