// RocksDbStore: messages, the conversation list and read pointers.
#include <rocksdb/iterator.h>

#include <algorithm>
#include <limits>
#include <string>

#include "rocksdb/rocksdb_store_impl.h"
#include "rocksdb/scan.h"
#include "store/append_batch.h"

namespace im::rocks {
namespace {

constexpr Seq kMaxSeq = std::numeric_limits<Seq>::max();

// A message from its key (whose conversation prefix is `prefix_size` bytes) and value.
Status ToMessage(const ConversationId& conversation, size_t prefix_size, std::string_view key, std::string_view value,
                 Message* m) {
  MessageRecord r;
  if (!SeqOfMessageKey(key, prefix_size, &m->seq) || !DecodeMessage(value, &r)) {
    return CorruptValue(Cf::kMessages, key);
  }
  m->id = r.id;
  m->conversation = conversation;
  m->sender = r.sender;
  m->client_msg_id.assign(r.client_msg_id);
  m->type = r.type;
  m->content.assign(r.content);
  m->sent_at_ms = r.sent_at_ms;
  return Status::Ok();
}

}  // namespace

Result<AppendResult> RocksDbStore::AppendMessage(const NewMessage& message) {
  IM_RETURN_IF_ERROR(CheckNewMessage(message, "rocksdb store"));
  AppendJob job(*writer_, message);
  Status s = queue_->Submit(job);
  if (!s.ok()) return s;
  return job.result();
}

std::vector<Result<AppendResult>> RocksDbStore::AppendMessages(std::span<const NewMessage> messages) {
  return SubmitAppends<AppendJob>(*queue_, *writer_, messages, "rocksdb store");
}

Result<std::vector<Message>> RocksDbStore::ListMessages(const ConversationId& conversation, const MessageRange& range) {
  if (!conversation.valid()) return Status::InvalidArgument("rocksdb store: invalid conversation id");
  std::vector<Message> messages;
  if (range.limit == 0 || range.after_seq == kMaxSeq) return messages;
  if (range.before_seq != 0 && range.before_seq <= range.after_seq + 1) return messages;
  const std::string prefix = MessagePrefix(conversation.str());
  const std::string lower = MessageKey(conversation.str(), range.after_seq + 1);
  const std::string upper =
      range.before_seq == 0 ? PrefixEnd(prefix) : MessageKey(conversation.str(), range.before_seq);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions options;  // one iterator: a consistent view by itself
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, cf(Cf::kMessages)));
  if (range.newest_first) {
    it->SeekToLast();
  } else {
    it->Seek(lower_slice);
  }
  messages.reserve(std::min<uint32_t>(range.limit, 256));
  for (; it->Valid() && messages.size() < range.limit;) {
    Message m;
    IM_RETURN_IF_ERROR(
        ToMessage(conversation, prefix.size(), it->key().ToStringView(), it->value().ToStringView(), &m));
    messages.push_back(std::move(m));
    if (range.newest_first) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "rocksdb store: list messages");
  return messages;
}

Result<ConversationState> RocksDbStore::GetConversationState(const ConversationId& conversation) {
  if (!conversation.valid()) return Status::InvalidArgument("rocksdb store: invalid conversation id");
  const std::string key = HeadKey(conversation.str());
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kConversations, key, &value, &found));
  if (!found) return ConversationState{};
  HeadRecord head;
  if (!DecodeHead(value, &head)) return CorruptValue(Cf::kConversations, key);
  return ConversationState{head.last_seq, head.first_seq, head.last_activity_ms};
}

Status RocksDbStore::TrimHistory(const ConversationId& conversation, Seq before_seq) {
  if (!conversation.valid()) return Status::InvalidArgument("rocksdb store: invalid conversation id");
  return Write([&]() -> Status {
    const std::string& id = conversation.str();
    Writer::Head* head = nullptr;
    IM_RETURN_IF_ERROR(w().LoadHead(id, &head));
    // Never past the next seq: a later append must not land below first_seq.
    const Seq first = std::min(before_seq, head->record.last_seq + 1);
    if (first <= head->record.first_seq) return Status::Ok();
    // Collected first (the batch must not change under its iterator), then deleted with their
    // idempotency keys.
    struct Trimmed {
      std::string key;
      UserId sender;
      std::string client_msg_id;
      Seq seq;
    };
    std::vector<Trimmed> trimmed;
    const std::string prefix = MessagePrefix(id);
    {
      PrefixScan scan(prefix);
      w().Start(scan, Cf::kMessages, MessageKey(id, head->record.first_seq));
      for (; scan.Valid(); scan.Next()) {
        Seq seq = 0;
        MessageRecord r;
        if (!SeqOfMessageKey(scan.key(), prefix.size(), &seq) || !DecodeMessage(scan.value(), &r)) {
          return CorruptValue(Cf::kMessages, scan.key());
        }
        if (seq >= first) break;
        trimmed.push_back({std::string(scan.key()), r.sender, std::string(r.client_msg_id), seq});
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan history");
    }
    std::string value;
    for (const Trimmed& t : trimmed) {
      IM_RETURN_IF_ERROR(w().Delete(Cf::kMessages, t.key));
      if (t.client_msg_id.empty()) continue;
      const std::string idem_key = IdemKey(t.sender, t.client_msg_id);
      bool found = false;
      IM_RETURN_IF_ERROR(w().Get(Cf::kIdempotency, idem_key, &value, &found));
      IdemRecord idem;
      if (found && DecodeIdem(value, &idem) && idem.conversation == id && idem.seq == t.seq) {
        IM_RETURN_IF_ERROR(w().Delete(Cf::kIdempotency, idem_key));
      }
    }
    head->record.first_seq = first;  // only after every other step succeeded
    w().MarkDirty(*head);
    return Status::Ok();
  });
}

// ---- conversation list and read state ----

Result<std::vector<ConversationSummary>> RocksDbStore::ListConversations(UserId user, const ConversationCursor& after,
                                                                         uint32_t limit) {
  ReadView view(db_.get());
  std::vector<ConversationSummary> all;
  {
    PrefixScan scan(ListPrefix(user), view.snapshot());
    Start(scan, Cf::kConversations);
    for (; scan.Valid(); scan.Next()) {
      auto id = ConversationId::Parse(scan.suffix());
      ConversationSummary s;
      if (!id || !DecodeReadSeq(scan.value(), &s.read_seq)) return CorruptValue(Cf::kConversations, scan.key());
      s.id = std::move(*id);
      all.push_back(std::move(s));
    }
    if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list conversations");
  }
  if (all.empty()) return all;
  // The heads, in one batched lookup.
  std::vector<std::string> keys;
  keys.reserve(all.size());
  for (auto& s : all) keys.push_back(HeadKey(s.id.str()));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(view.options(), cf(Cf::kConversations), keys.size(), slices.data(), values.data(), statuses.data());
  std::vector<ConversationSummary> page;
  for (size_t i = 0; i < all.size(); ++i) {
    ConversationSummary& s = all[i];
    if (statuses[i].ok()) {
      HeadRecord head;
      if (!DecodeHead(values[i].ToStringView(), &head)) return CorruptValue(Cf::kConversations, keys[i]);
      s.last_seq = head.last_seq;
      s.last_activity_ms = head.last_activity_ms;
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks(statuses[i], "rocksdb store: read conversation heads");
    }
    if (after.id.valid() && (s.last_activity_ms > after.last_activity_ms ||
                             (s.last_activity_ms == after.last_activity_ms && s.id.str() >= after.id.str()))) {
      continue;  // at or before the cursor
    }
    s.unread = s.last_seq > s.read_seq ? s.last_seq - s.read_seq : 0;
    page.push_back(std::move(s));
  }
  auto order = [](const ConversationSummary& a, const ConversationSummary& b) {
    if (a.last_activity_ms != b.last_activity_ms) return a.last_activity_ms > b.last_activity_ms;
    return a.id.str() > b.id.str();
  };
  if (page.size() > limit) {
    std::partial_sort(page.begin(), page.begin() + limit, page.end(), order);
    page.resize(limit);
  } else {
    std::sort(page.begin(), page.end(), order);
  }
  // The last message of each listed conversation (absent when none, or trimmed).
  std::string value;
  for (auto& s : page) {
    if (s.last_seq == 0) continue;
    const std::string key = MessageKey(s.id.str(), s.last_seq);
    bool found = false;
    IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kMessages, key, &value, &found));
    if (!found) continue;
    Message m;
    IM_RETURN_IF_ERROR(ToMessage(s.id, key.size() - 8, key, value, &m));
    s.last_message = std::move(m);
  }
  return page;
}

Result<Seq> RocksDbStore::AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) {
  if (!user.valid()) return Status::InvalidArgument("rocksdb store: invalid user");
  if (!conversation.valid()) return Status::InvalidArgument("rocksdb store: invalid conversation id");
  Seq after = 0;
  Status s = Write([&]() -> Status {
    Writer::Head* head = nullptr;
    IM_RETURN_IF_ERROR(w().LoadHead(conversation.str(), &head));
    const Seq clamped = std::min(seq, head->record.last_seq);
    const std::string key = ListKey(user, conversation.str());
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kConversations, key, &value, &found));
    if (!found) {
      return Status::NotFound(conversation.str() + " is not on the list of user " + std::to_string(user.value));
    }
    Seq read = 0;
    if (!DecodeReadSeq(value, &read)) return CorruptValue(Cf::kConversations, key);
    after = std::max(read, clamped);
    if (after == read) return Status::Ok();
    EncodeReadSeq(after, &value);
    return w().Put(Cf::kConversations, key, value);
  });
  if (!s.ok()) return s;
  return after;
}

Result<Seq> RocksDbStore::GetReadSeq(UserId user, const ConversationId& conversation) {
  const std::string key = ListKey(user, conversation.str());
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kConversations, key, &value, &found));
  if (!found) return Seq{0};
  Seq read = 0;
  if (!DecodeReadSeq(value, &read)) return CorruptValue(Cf::kConversations, key);
  return read;
}

}  // namespace im::rocks
