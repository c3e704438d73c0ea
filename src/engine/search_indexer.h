// SearchIndexer: the im.search task processor. The logic half enqueues one task per stored text
// message; this applies it to the SearchIndex. A task may also carry removals (the engine has no
// message edit or delete yet; a host can enqueue them). Upserts and removals are idempotent, so a
// redelivered task is harmless.
#ifndef IM_SRC_ENGINE_SEARCH_INDEXER_H_
#define IM_SRC_ENGINE_SEARCH_INDEXER_H_

#include <memory>

#include "im/search.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

class SearchIndexer final : public TaskProcessor {
 public:
  static constexpr std::string_view kTaskType = "im.search";

  explicit SearchIndexer(std::shared_ptr<SearchIndex> index) : index_(std::move(index)) {}

  // The task that indexes a stored message; nullopt for a message that is not searchable (custom
  // content).
  static std::optional<Task> IndexTask(const v1::Message& message);

  std::string_view type() const override { return kTaskType; }
  TaskOutcome Process(const Task& task) override;

 private:
  std::shared_ptr<SearchIndex> index_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_SEARCH_INDEXER_H_
