// The write side of the RocksDB store: the open batch (a WriteBatchWithIndex, so a job reads
// what earlier jobs of the same batch wrote), and what the single writer thread may cache
// because nobody else writes: each conversation's head (first/last seq, last activity) and the
// id counters.
//
// AppendMessage is a light job: it reads the idempotency key and the read pointers it moves
// (batch, then database), then either returns the original or writes the message, its key and
// the pointers. The conversation head is cached here and written once per batch (before the next
// heavy job or the commit), so 64 sends into one group write one head.
#ifndef IM_ROCKSDB_WRITER_H_
#define IM_ROCKSDB_WRITER_H_

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "im/status.h"
#include "im/store.h"
#include "rocksdb/codec.h"
#include "rocksdb/scan.h"
#include "rocksdb/schema.h"
#include "rocksdb/write_queue.h"

namespace im::rocks {

// Every method runs on the writer thread (inside a WriteJob or a BatchHooks callback), except
// the constructor and destructor.
class Writer final : public BatchHooks {
 public:
  struct Head {
    const std::string* id = nullptr;  // the cache's key: stable while the entry lives
    HeadRecord record;
    bool dirty = false;          // a deferred head write is pending in this batch
    bool lists_ensured = false;  // direct: the peer's list row exists (checked since load)
  };

  Writer(rocksdb::DB* db, const CfHandles& cfs, bool sync);

  // ---- reads and writes of the open batch, for jobs ----
  // Reads `key` as the batch would leave it. `found` false (and ok) when absent.
  Status Get(Cf cf, std::string_view key, std::string* value, bool* found);
  Status Put(Cf cf, std::string_view key, std::string_view value);
  Status Delete(Cf cf, std::string_view key);
  // Starts `scan` over the batch merged with the database.
  void Start(PrefixScan& scan, Cf cf, std::string_view from = {});

  // The writer's view of a conversation, loaded on first use. The reference stays valid until
  // the batch ends or a heavy job is rolled back.
  Status LoadHead(const std::string& conversation, Head** head);
  // Schedules the head's write (FlushDeferred). Heavy jobs change a head only after every other
  // step succeeded.
  void MarkDirty(Head& head);
  // Drops the cached heads (a heavy job that removed list rows behind lists_ensured). Only
  // between jobs' head accesses: no Head reference may be held.
  void ForgetHeads();

  Result<UserId> NextUserId();
  Result<GroupId> NextGroupId();
  Result<int64_t> NextDeadLetterId();

  // The light path of AppendMessage (validated input).
  Status Append(const NewMessage& message, AppendResult& result);

  // ---- BatchHooks ----
  Status FlushDeferred() override;
  void SetSavePoint() override;
  Status RollbackToSavePoint() override;
  Status PopSavePoint() override;
  Status TakeFatal() override;
  Status Commit() override;
  void Abandon() override;
  void AfterBatch() override;

 private:
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs_[static_cast<size_t>(c)]; }
  Result<int64_t> NextId(std::optional<int64_t>& cached, std::string_view key);
  Status PutChecked(Cf cf, std::string_view key, std::string_view value);  // sets fatal_ on failure
  // Drops everything cached that a rolled-back or lost batch may have changed.
  void ForgetCaches();

  rocksdb::DB* const db_;
  const CfHandles cfs_;
  rocksdb::WriteOptions write_options_;
  rocksdb::ReadOptions read_options_;
  rocksdb::WriteBatchWithIndex batch_;

  std::unordered_map<std::string, Head> heads_;
  std::vector<Head*> dirty_heads_;
  std::optional<int64_t> last_user_id_;
  std::optional<int64_t> last_group_id_;
  std::optional<int64_t> last_dead_letter_id_;
  Status fatal_;
  // Scratch buffers of the append path, reused across appends.
  std::string key_, value_, idem_key_, idem_value_;
  rocksdb::PinnableSlice pinned_;
};

// AppendMessage as a WriteJob; lives in the caller's frame.
class AppendJob final : public WriteJob {
 public:
  AppendJob(Writer& writer, const NewMessage& message) : writer_(writer), message_(message) {}
  Status Apply() override { return writer_.Append(message_, result_); }
  bool light() const override { return true; }
  const AppendResult& result() const { return result_; }

 private:
  Writer& writer_;
  const NewMessage& message_;
  AppendResult result_;
};

}  // namespace im::rocks

#endif  // IM_ROCKSDB_WRITER_H_
