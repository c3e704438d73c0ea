// SearchIndexer: the im.search task processor. The logic half enqueues one task per batch of
// stored text messages; this applies it to the SearchIndex. A task may also carry removals (the
// engine has no message edit or delete yet; a host can enqueue them). Upserts and removals are
// idempotent, so a redelivered task is harmless.
//
// Group commit with a linger: the documents of every task handled at the same time, on any task
// consumer, go to the index in one Index call, and under load calls are at least `linger` apart,
// so each carries what arrived meanwhile. An FTS5 transaction costs ~100 µs per document alone
// and ~20 µs in a transaction of 64 (docs/performance.md). A task finishes only once the call
// carrying its documents returned, so nothing is acknowledged before it is indexed. The first
// documents after a quiet period go at once: the linger delays indexing only under load.
#ifndef IM_SRC_ENGINE_SEARCH_INDEXER_H_
#define IM_SRC_ENGINE_SEARCH_INDEXER_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/task_dispatcher.h"
#include "im/search.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

class SearchIndexer final : public TaskProcessor, public BatchTaskProcessor {
 public:
  static constexpr std::string_view kTaskType = "im.search";

  explicit SearchIndexer(std::shared_ptr<SearchIndex> index,
                         std::chrono::milliseconds linger = std::chrono::milliseconds(25), size_t max_documents = 2048);
  ~SearchIndexer() override;  // waits for the commit in progress

  std::string_view type() const override { return kTaskType; }
  TaskOutcome Process(const Task& task) override;
  // Indexes the messages of every task in one group commit. Refuses (failed_precondition, before
  // touching the index) a batch with removals, whose order against the upserts of other tasks
  // must be kept: those run one by one.
  Status ProcessBatch(std::span<const Task> tasks) override;

 private:
  struct Group {
    std::vector<SearchDocument> documents;
    Status status;
    bool done = false;
  };
  // Adds `documents` to the open group and blocks until the Index call carrying them returned.
  Status Commit(std::vector<SearchDocument> documents);
  void Run();  // the committer thread

  const std::shared_ptr<SearchIndex> index_;
  const std::chrono::milliseconds linger_;
  const size_t max_documents_;
  std::mutex mu_;
  std::condition_variable wake_;  // the committer: a group opened, filled up, or stop
  std::condition_variable done_;  // the waiters: a group was committed
  std::shared_ptr<Group> open_;   // being filled; nullptr when nothing waits
  std::chrono::steady_clock::time_point last_commit_{};
  bool stopping_ = false;
  std::thread committer_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_SEARCH_INDEXER_H_
