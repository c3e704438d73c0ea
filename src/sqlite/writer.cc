#include "sqlite/writer.h"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>
#include <algorithm>
#include <tuple>

namespace im::sqlite {
namespace {

// Above this many WAL pages after a commit, the background checkpointer is asked to run.
constexpr int kCheckpointPages = 16384;  // 64 MiB
// Above this many, the writer checkpoints itself whatever the background thread is doing.
constexpr int kWriterCheckpointPages = 32768;  // 128 MiB
// The head cache is cleared (between batches) when it grows past this many conversations.
constexpr size_t kMaxCachedHeads = 1 << 16;
// Retries of an insert that hit UNIQUE(conversation_id, seq), i.e. someone else wrote the seq.
constexpr int kSeqConflictRetries = 3;

constexpr const char* kSelectHead = "SELECT first_seq, last_seq, last_activity_ms FROM conversations WHERE id = ?";
constexpr const char* kSelectMaxSeq = "SELECT max(seq) FROM messages WHERE conversation_id = ?";
constexpr const char* kInsertMessage =
    "INSERT INTO messages(conversation_id, seq, id, sender_id, client_msg_id, type, content, sent_at_ms) "
    "VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sender_id, client_msg_id) DO NOTHING";
constexpr const char* kSelectByClientMsgId =
    "SELECT id, seq, sent_at_ms, conversation_id FROM messages WHERE sender_id = ? AND client_msg_id = ?";
constexpr const char* kUpsertHead =
    "INSERT INTO conversations(id, first_seq, last_seq, last_activity_ms) VALUES(?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), "
    "last_activity_ms = max(last_activity_ms, excluded.last_activity_ms)";
constexpr const char* kUpsertReadSeq =
    "INSERT INTO user_conversations(user_id, conversation_id, read_seq) VALUES(?, ?, ?) "
    "ON CONFLICT(user_id, conversation_id) DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)";
constexpr const char* kUpdateReadSeq =
    "UPDATE user_conversations SET read_seq = max(read_seq, ?) WHERE user_id = ? AND conversation_id = ?";

int64_t ToInt64(Seq seq) { return static_cast<int64_t>(seq); }

}  // namespace

Writer::Writer(std::unique_ptr<SQLite::Database> db, std::unique_ptr<Checkpointer> checkpointer)
    : db_(std::move(db)), statements_(*db_), checkpointer_(std::move(checkpointer)) {
  // Replaces SQLite's automatic checkpoint (which would run inside our COMMIT).
  sqlite3_wal_hook(db_->getHandle(), &Writer::WalHook, this);
}

Writer::~Writer() { sqlite3_wal_hook(db_->getHandle(), nullptr, nullptr); }

int Writer::WalHook(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
  static_cast<Writer*>(self)->wal_pages_ = pages;
  return SQLITE_OK;
}

Writer::ConversationHead& Writer::Head(const std::string& conversation) {
  auto [it, inserted] = heads_.try_emplace(conversation);
  if (!inserted) return it->second;
  it->second.id = &it->first;
  try {
    StatementScope select(statements_, kSelectHead);
    select->bindNoCopy(1, conversation);
    if (select->executeStep()) {
      it->second.first_seq = static_cast<Seq>(select->getColumn(0).getInt64());
      it->second.last_seq = static_cast<Seq>(select->getColumn(1).getInt64());
      it->second.last_activity_ms = select->getColumn(2).getInt64();
    }
  } catch (...) {
    heads_.erase(it);
    throw;
  }
  return it->second;
}

void Writer::ReloadLastSeq(const std::string& conversation, ConversationHead& head) {
  StatementScope select(statements_, kSelectMaxSeq);
  select->bindNoCopy(1, conversation);
  if (select->executeStep() && !select->getColumn(0).isNull()) {
    head.last_seq = std::max(head.last_seq, static_cast<Seq>(select->getColumn(0).getInt64()));
  }
}

Status Writer::Append(const NewMessage& message, AppendResult& result) {
  const std::string& conversation = message.conversation.str();
  ConversationHead& head = Head(conversation);
  const bool keyed = !message.client_msg_id.empty();
  for (int attempt = 0;; ++attempt) {
    const Seq seq = head.last_seq + 1;
    int changes = 0;
    try {
      StatementScope insert(statements_, kInsertMessage);
      insert->bindNoCopy(1, conversation);
      insert->bind(2, ToInt64(seq));
      insert->bind(3, message.id.value);
      insert->bind(4, message.sender.value);
      if (keyed) {
        insert->bindNoCopy(5, message.client_msg_id);
      } else {
        insert->bind(5);  // NULL: never collides in the idempotency index
      }
      insert->bind(6, static_cast<int32_t>(message.type));
      insert->bindNoCopy(7, message.content.data(), static_cast<int>(message.content.size()));
      insert->bind(8, message.sent_at_ms);
      changes = insert->exec();
    } catch (const SQLite::Exception& e) {
      // UNIQUE(conversation_id, seq) is the only constraint left to fail (the idempotency key has
      // DO NOTHING): the seq was taken behind our back (another process, a stale cache).
      if (e.getExtendedErrorCode() != SQLITE_CONSTRAINT_UNIQUE) throw;
      if (attempt >= kSeqConflictRetries) {
        return Status::Unavailable("sqlite store: " + conversation + " keeps being written by someone else");
      }
      ReloadLastSeq(conversation, head);
      continue;
    }
    if (changes == 0) {
      // (sender, client_msg_id) exists — possibly from earlier in this very batch.
      StatementScope select(statements_, kSelectByClientMsgId);
      select->bind(1, message.sender.value);
      select->bindNoCopy(2, message.client_msg_id);
      if (!select->executeStep()) return Status::Internal("sqlite store: idempotency key vanished");
      result.id = MessageId(select->getColumn(0).getInt64());
      result.seq = static_cast<Seq>(select->getColumn(1).getInt64());
      result.sent_at_ms = select->getColumn(2).getInt64();
      result.duplicate = true;
      auto original = ConversationId::Parse(select->getColumn(3).getText());
      if (!original) return Status::Internal("sqlite store: bad conversation id stored");
      result.conversation = std::move(*original);
      return Status::Ok();
    }
    head.last_seq = seq;
    head.last_activity_ms = std::max(head.last_activity_ms, message.sent_at_ms);
    if (!head.dirty) {
      head.dirty = true;
      dirty_heads_.push_back(&head);
    }
    const bool direct = message.conversation.is_direct();
    // A group sender's pointer moves only if the group is on their list (they are a member).
    read_updates_.push_back({head.id, message.sender.value, seq, direct});
    if (direct && !head.lists_ensured) {
      read_updates_.push_back({head.id, message.conversation.PeerOf(message.sender).value, 0, true});
      head.lists_ensured = true;
    }
    result.conversation = message.conversation;
    result.id = message.id;
    result.seq = seq;
    result.sent_at_ms = message.sent_at_ms;
    result.duplicate = false;
    return Status::Ok();
  }
}

void Writer::FlushDeferred() {
  if (!dirty_heads_.empty()) {
    for (ConversationHead* head : dirty_heads_) {
      StatementScope upsert(statements_, kUpsertHead);
      upsert->bindNoCopy(1, *head->id);
      upsert->bind(2, ToInt64(head->first_seq));
      upsert->bind(3, ToInt64(head->last_seq));
      upsert->bind(4, head->last_activity_ms);
      upsert->exec();
      head->dirty = false;
    }
    dirty_heads_.clear();
  }
  if (!read_updates_.empty()) {
    // One write per (user, conversation): several sends by one user in a batch collapse to the
    // highest seq.
    std::sort(read_updates_.begin(), read_updates_.end(), [](const ReadUpdate& a, const ReadUpdate& b) {
      auto key = [](const ReadUpdate& u, Seq seq) {
        return std::make_tuple(reinterpret_cast<uintptr_t>(u.conversation), u.user, seq);
      };
      return key(a, b.read_seq) < key(b, a.read_seq);
    });
    for (size_t i = 0; i < read_updates_.size(); ++i) {
      const ReadUpdate& u = read_updates_[i];
      bool insert = u.insert;
      // Sorted with the highest seq first within a (conversation, user) run: fold the rest in.
      while (i + 1 < read_updates_.size() && read_updates_[i + 1].conversation == u.conversation &&
             read_updates_[i + 1].user == u.user) {
        ++i;
        insert = insert || read_updates_[i].insert;
      }
      if (insert) {
        StatementScope upsert(statements_, kUpsertReadSeq);
        upsert->bind(1, u.user);
        upsert->bindNoCopy(2, *u.conversation);
        upsert->bind(3, ToInt64(u.read_seq));
        upsert->exec();
      } else {
        StatementScope update(statements_, kUpdateReadSeq);
        update->bind(1, ToInt64(u.read_seq));
        update->bind(2, u.user);
        update->bindNoCopy(3, *u.conversation);
        update->exec();
      }
    }
    read_updates_.clear();
  }
}

void Writer::OnRollback() {
  // Seqs handed out in the lost transaction are free again; the list rows may be gone too.
  heads_.clear();
  dirty_heads_.clear();
  read_updates_.clear();
}

void Writer::OnCommit() {
  if (checkpoint_requested_) Checkpoint();
}

void Writer::AfterBatch() {
  if (heads_.size() > kMaxCachedHeads) heads_.clear();
  if (wal_pages_ >= kWriterCheckpointPages) {
    Checkpoint();
  } else if (wal_pages_ >= kCheckpointPages && checkpointer_ != nullptr) {
    // The background pass copies the bulk while batches keep committing; once it is done, the
    // writer copies the short tail written meanwhile so the WAL is complete and the next
    // transaction rewinds it (a WAL that only grows makes every fdatasync slower).
    if (!background_pending_) {
      background_pending_ = true;
      background_passes_ = checkpointer_->completed_passes();
      checkpointer_->Request();
    } else if (checkpointer_->completed_passes() != background_passes_) {
      Checkpoint();
    }
  }
}

void Writer::Checkpoint() {
  int log_frames = 0;
  int checkpointed = 0;
  // A failure (an I/O error) leaves the frames in the WAL: a later checkpoint copies them.
  sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
  checkpoint_requested_ = false;
  background_pending_ = false;
  wal_pages_ = 0;
}

}  // namespace im::sqlite
