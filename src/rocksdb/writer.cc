#include "rocksdb/writer.h"

#include <algorithm>
#include <utility>

#include "rocksdb/error.h"

namespace im::rocks {
namespace {

// The head cache is cleared (between batches) when it grows past this many conversations.
constexpr size_t kMaxCachedHeads = 1 << 16;

}  // namespace

Writer::Writer(rocksdb::DB* db, const CfHandles& cfs, bool sync)
    : db_(db), cfs_(cfs), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {
  write_options_.sync = sync;
}

Status Writer::Get(Cf c, std::string_view key, std::string* value, bool* found) {
  auto s = batch_.GetFromBatchAndDB(db_, read_options_, cf(c), key, value);
  *found = s.ok();
  if (s.ok() || s.IsNotFound()) return Status::Ok();
  return FromRocks(s, std::string("rocksdb store: read ") + CfName(c));
}

Status Writer::Put(Cf c, std::string_view key, std::string_view value) {
  auto s = batch_.Put(cf(c), key, value);
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: write batch");
}

Status Writer::Delete(Cf c, std::string_view key) {
  auto s = batch_.Delete(cf(c), key);
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: write batch");
}

Status Writer::PutChecked(Cf c, std::string_view key, std::string_view value) {
  Status s = Put(c, key, value);
  if (!s.ok() && fatal_.ok()) fatal_ = s;
  return s;
}

void Writer::Start(PrefixScan& scan, Cf c, std::string_view from) {
  rocksdb::Iterator* base = db_->NewIterator(scan.options(), cf(c));
  scan.Start(batch_.NewIteratorWithBase(cf(c), base, &scan.options()), from);
}

Status Writer::LoadHead(const std::string& conversation, Head** head) {
  auto [it, inserted] = heads_.try_emplace(conversation);
  if (inserted) {
    it->second.id = &it->first;
    const std::string key = HeadKey(conversation);
    std::string value;
    bool found = false;
    Status s = Get(Cf::kConversations, key, &value, &found);
    if (s.ok() && found && !DecodeHead(value, &it->second.record)) s = CorruptValue(Cf::kConversations, key);
    if (!s.ok()) {
      heads_.erase(it);
      return s;
    }
  }
  *head = &it->second;
  return Status::Ok();
}

void Writer::MarkDirty(Head& head) {
  if (head.dirty) return;
  head.dirty = true;
  dirty_heads_.push_back(&head);
}

void Writer::ForgetHeads() {
  // Dirty heads were written before this heavy job started (FlushDeferred).
  if (dirty_heads_.empty()) heads_.clear();
}

Result<int64_t> Writer::NextId(std::optional<int64_t>& cached, std::string_view key) {
  if (!cached) {
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(Get(Cf::kDefault, key, &value, &found));
    uint64_t last = 0;
    if (found && !DecodeU64Value(value, &last)) return CorruptValue(Cf::kDefault, key);
    cached = static_cast<int64_t>(last);
  }
  int64_t next = *cached + 1;
  IM_RETURN_IF_ERROR(Put(Cf::kDefault, key, U64Key(static_cast<uint64_t>(next))));
  cached = next;
  return next;
}

Result<UserId> Writer::NextUserId() {
  IM_ASSIGN_OR_RETURN(int64_t id, NextId(last_user_id_, kLastUserIdKey));
  return UserId(id);
}

Result<GroupId> Writer::NextGroupId() {
  IM_ASSIGN_OR_RETURN(int64_t id, NextId(last_group_id_, kLastGroupIdKey));
  return GroupId(id);
}

Result<int64_t> Writer::NextDeadLetterId() { return NextId(last_dead_letter_id_, kLastDeadLetterIdKey); }

Status Writer::Append(const NewMessage& message, AppendResult& result) {
  const std::string& conversation = message.conversation.str();
  Head* head = nullptr;
  IM_RETURN_IF_ERROR(LoadHead(conversation, &head));
  const bool keyed = !message.client_msg_id.empty();
  if (keyed) {
    idem_key_ = IdemKey(message.sender, message.client_msg_id);
    pinned_.Reset();
    auto s = batch_.GetFromBatchAndDB(db_, read_options_, cf(Cf::kIdempotency), idem_key_, &pinned_);
    if (s.ok()) {
      // (sender, client_msg_id) exists — possibly from earlier in this very batch.
      IdemRecord original;
      if (!DecodeIdem(pinned_.ToStringView(), &original)) return CorruptValue(Cf::kIdempotency, idem_key_);
      auto conv = ConversationId::Parse(original.conversation);
      if (!conv) return CorruptValue(Cf::kIdempotency, idem_key_);
      result.conversation = std::move(*conv);
      result.id = original.id;
      result.seq = original.seq;
      result.sent_at_ms = original.sent_at_ms;
      result.duplicate = true;
      return Status::Ok();
    }
    if (!s.IsNotFound()) return FromRocks(s, "rocksdb store: read idempotency key");
  }
  // The read pointers this append moves: the sender's (which, in a group, moves only if the
  // group is on their list, i.e. they are a member) and, for a direct conversation seen for the
  // first time since the head was loaded, the peer's list row. Read before anything is written,
  // so a corrupt row fails this append alone.
  const bool direct = message.conversation.is_direct();
  const Seq seq = head->record.last_seq + 1;
  const std::string sender_key = ListKey(message.sender, conversation);
  bool sender_listed = false;
  IM_RETURN_IF_ERROR(Get(Cf::kConversations, sender_key, &value_, &sender_listed));
  Seq sender_read = 0;
  if (sender_listed && !DecodeReadSeq(value_, &sender_read)) return CorruptValue(Cf::kConversations, sender_key);
  std::string peer_key;
  bool peer_listed = true;
  if (direct && !head->lists_ensured) {
    peer_key = ListKey(message.conversation.PeerOf(message.sender), conversation);
    IM_RETURN_IF_ERROR(Get(Cf::kConversations, peer_key, &value_, &peer_listed));
  }

  // Nothing is written above this line; from here on a failure fails the whole batch.
  key_ = MessageKey(conversation, seq);
  EncodeMessage(MessageRecord{message.id, message.sender, message.type, message.client_msg_id, message.content,
                              message.sent_at_ms},
                &value_);
  IM_RETURN_IF_ERROR(PutChecked(Cf::kMessages, key_, value_));
  if (keyed) {
    EncodeIdem(IdemRecord{conversation, seq, message.id, message.sent_at_ms}, &idem_value_);
    IM_RETURN_IF_ERROR(PutChecked(Cf::kIdempotency, idem_key_, idem_value_));
  }
  if (sender_listed ? sender_read < seq : direct) {
    EncodeReadSeq(seq, &value_);
    IM_RETURN_IF_ERROR(PutChecked(Cf::kConversations, sender_key, value_));
  }
  if (!peer_listed) {
    EncodeReadSeq(0, &value_);
    IM_RETURN_IF_ERROR(PutChecked(Cf::kConversations, peer_key, value_));
  }
  if (direct) head->lists_ensured = true;
  head->record.last_seq = seq;
  head->record.last_activity_ms = std::max(head->record.last_activity_ms, message.sent_at_ms);
  MarkDirty(*head);
  result.conversation = message.conversation;
  result.id = message.id;
  result.seq = seq;
  result.sent_at_ms = message.sent_at_ms;
  result.duplicate = false;
  return Status::Ok();
}

Status Writer::FlushDeferred() {
  for (Head* head : dirty_heads_) {
    EncodeHead(head->record, &value_);
    IM_RETURN_IF_ERROR(Put(Cf::kConversations, HeadKey(*head->id), value_));
    head->dirty = false;
  }
  dirty_heads_.clear();
  return Status::Ok();
}

void Writer::SetSavePoint() { batch_.SetSavePoint(); }

Status Writer::RollbackToSavePoint() {
  auto s = batch_.RollbackToSavePoint();
  // The job may have changed cached heads or taken ids before it failed.
  ForgetCaches();
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: roll back a failed write");
}

Status Writer::PopSavePoint() {
  auto s = batch_.PopSavePoint();
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: release a savepoint");
}

Status Writer::TakeFatal() { return std::exchange(fatal_, Status::Ok()); }

Status Writer::Commit() {
  rocksdb::WriteBatch* batch = batch_.GetWriteBatch();
  if (batch->Count() == 0) return Status::Ok();  // only barriers or failed jobs
  auto s = db_->Write(write_options_, batch);
  batch_.Clear();
  if (!s.ok()) {
    ForgetCaches();
    return FromRocks(s, "rocksdb store: commit");
  }
  return Status::Ok();
}

void Writer::Abandon() {
  batch_.Clear();
  ForgetCaches();
}

void Writer::ForgetCaches() {
  heads_.clear();
  dirty_heads_.clear();
  last_user_id_.reset();
  last_group_id_.reset();
  last_dead_letter_id_.reset();
  fatal_ = Status::Ok();
}

void Writer::AfterBatch() {
  if (heads_.size() > kMaxCachedHeads) heads_.clear();
}

}  // namespace im::rocks
