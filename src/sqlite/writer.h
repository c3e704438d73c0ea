// The write side of the SQLite store: the write connection, its prepared statements and what the
// single writer thread may cache because nobody else writes (each conversation's head: last seq,
// first seq, last activity).
//
// AppendMessage is a light job: one INSERT that either stores the message or (on a repeated
// (sender, client_msg_id)) changes nothing. Its follow-up updates — the conversation head and the
// sender's read pointer — are deferred and written once per row at the end of the batch (or before
// the next heavy job), so 64 sends into one group cost 64 inserts and one conversations update.
#ifndef IM_SQLITE_WRITER_H_
#define IM_SQLITE_WRITER_H_

#include <SQLiteCpp/Database.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "im/ids.h"
#include "im/model.h"
#include "im/status.h"
#include "im/store.h"
#include "sqlite/checkpointer.h"
#include "sqlite/connection.h"
#include "sqlite/write_queue.h"

namespace im::sqlite {

// Every method runs on the writer thread (inside a WriteJob or a BatchHooks callback), except the
// constructor and destructor.
class Writer final : public BatchHooks {
 public:
  struct ConversationHead {
    const std::string* id = nullptr;  // the cache's key: stable while the entry lives
    Seq first_seq = 1;
    Seq last_seq = 0;
    TimestampMs last_activity_ms = 0;
    bool lists_ensured = false;  // direct: both participants' list rows written (since load)
    bool dirty = false;          // deferred head update pending in this batch
  };

  // Takes the migrated write connection. `checkpointer` may be null (no background checkpoints).
  Writer(std::unique_ptr<SQLite::Database> db, std::unique_ptr<Checkpointer> checkpointer);
  ~Writer() override;

  SQLite::Database& db() { return *db_; }
  StatementCache& statements() { return statements_; }

  // The light path of AppendMessage (validated input). Throws SQLite::Exception on failure.
  Status Append(const NewMessage& message, AppendResult& result);

  // The writer's view of a conversation, loaded from the database on first use. The reference
  // stays valid until the batch ends. Throws SQLite::Exception.
  ConversationHead& Head(const std::string& conversation);
  // Asks OnCommit to checkpoint the WAL (Flush with synchronous=false: a checkpoint syncs it).
  void RequestCheckpoint() { checkpoint_requested_ = true; }

  void FlushDeferred() override;
  void OnRollback() override;
  void OnCommit() override;
  void AfterBatch() override;

 private:
  struct ReadUpdate {
    const std::string* conversation;  // ConversationHead::id
    int64_t user;
    Seq read_seq;
    bool insert;  // direct conversations: create the list row if missing (groups only update)
  };

  static int WalHook(void* self, sqlite3* db, const char* name, int pages);
  // A PASSIVE checkpoint on the write connection, between two batches.
  void Checkpoint();
  void ReloadLastSeq(const std::string& conversation, ConversationHead& head);

  std::unique_ptr<SQLite::Database> db_;
  StatementCache statements_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unordered_map<std::string, ConversationHead> heads_;
  std::vector<ConversationHead*> dirty_heads_;
  std::vector<ReadUpdate> read_updates_;
  int wal_pages_ = 0;  // WAL size after the last commit (from the WAL hook)
  bool checkpoint_requested_ = false;
  bool background_pending_ = false;  // the checkpointer was asked and has not finished yet
  uint64_t background_passes_ = 0;   // its completed_passes() when asked
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

}  // namespace im::sqlite

#endif  // IM_SQLITE_WRITER_H_
