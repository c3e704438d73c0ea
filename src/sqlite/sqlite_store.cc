// SqliteStore: users, refresh tokens, messages and read state (groups: group_ops.cc), and the
// factory. See sqlite_store_impl.h for the threading model.
#include <SQLiteCpp/Exception.h>
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "sqlite/schema.h"
#include "sqlite/sqlite_store_impl.h"
#include "store/append_batch.h"

namespace im::sqlite {
namespace {

// A no-op committed after everything queued before it.
class BarrierJob final : public WriteJob {
 public:
  explicit BarrierJob(Writer* checkpoint_after) : writer_(checkpoint_after) {}
  Status Apply() override {
    if (writer_ != nullptr) writer_->RequestCheckpoint();
    return Status::Ok();
  }
  bool light() const override { return true; }

 private:
  Writer* writer_;
};

// Reads a message from columns `first`..`first + 6`: seq, id, sender_id, client_msg_id, type,
// content, sent_at_ms.
Message ReadMessage(SQLite::Statement& s, int first, const ConversationId& conversation) {
  Message m;
  m.conversation = conversation;
  m.seq = ToSeq(s.getColumn(first).getInt64());
  m.id = MessageId(s.getColumn(first + 1).getInt64());
  m.sender = UserId(s.getColumn(first + 2).getInt64());
  m.client_msg_id = s.getColumn(first + 3).getString();  // NULL reads as ""
  m.type = static_cast<ContentType>(s.getColumn(first + 4).getInt());
  SQLite::Column content = s.getColumn(first + 5);
  if (int bytes = content.getBytes(); bytes > 0) m.content.assign(static_cast<const char*>(content.getBlob()), bytes);
  m.sent_at_ms = s.getColumn(first + 6).getInt64();
  return m;
}

}  // namespace

Result<std::shared_ptr<Store>> SqliteStore::Open(const SqliteStoreOptions& options) {
  if (options.path.empty() || options.path == ":memory:" || options.path.starts_with("file:")) {
    return Status::InvalidArgument("sqlite store: path must name a database file");
  }
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Unavailable("sqlite store: cannot create " + parent.string() + ": " + ec.message());
  std::shared_ptr<SqliteStore> store(new SqliteStore(options.synchronous));
  try {
    auto db = OpenConnection(options.path, ConnectionRole::kWriter, options.synchronous);
    IM_RETURN_IF_ERROR(MigrateSchema(*db));
    auto checkpointer = std::make_unique<Checkpointer>(options.path, options.synchronous);
    store->writer_ = std::make_unique<Writer>(std::move(db), std::move(checkpointer));
    store->readers_ = std::make_unique<ReaderPool>(options.path, options.reader_connections, options.synchronous);
    store->queue_ = std::make_unique<WriteQueue>(store->writer_->db(), *store->writer_, options.max_batch);
  } catch (...) {
    return FromCurrentException("sqlite store: open " + options.path);
  }
  return std::shared_ptr<Store>(std::move(store));
}

// ---- users ----

Result<User> SqliteStore::CreateUser(const NewUser& user) {
  if (user.username.empty()) return Status::InvalidArgument("sqlite store: empty username");
  User created{UserId(), user.username, user.display_name, user.created_at_ms};
  Status s = Write([&]() -> Status {
    StatementScope exists(w(), "SELECT 1 FROM users WHERE username = ?");
    exists->bindNoCopy(1, user.username);
    if (exists->executeStep()) return Status::AlreadyExists("username " + user.username + " is taken");
    StatementScope insert(w(),
                          "INSERT INTO users(username, display_name, password_hash, created_at_ms) "
                          "VALUES(?, ?, ?, ?)");
    insert->bindNoCopy(1, user.username);
    insert->bindNoCopy(2, user.display_name);
    insert->bindNoCopy(3, user.password_hash);
    insert->bind(4, user.created_at_ms);
    insert->exec();
    created.id = UserId(writer_->db().getLastInsertRowid());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return created;
}

Result<User> SqliteStore::GetUser(UserId id) {
  return Read("sqlite store: get user", [&](StatementCache& c) -> Result<User> {
    StatementScope q(c, "SELECT username, display_name, created_at_ms FROM users WHERE id = ?");
    q->bind(1, id.value);
    if (!q->executeStep()) return Status::NotFound("user " + std::to_string(id.value) + " does not exist");
    return User{id, q->getColumn(0).getString(), q->getColumn(1).getString(), q->getColumn(2).getInt64()};
  });
}

Result<std::vector<User>> SqliteStore::GetUsers(std::span<const UserId> ids) {
  return Read("sqlite store: get users", [&](StatementCache& c) -> Result<std::vector<User>> {
    std::vector<User> users;
    users.reserve(ids.size());
    for (UserId id : ids) {
      StatementScope q(c, "SELECT username, display_name, created_at_ms FROM users WHERE id = ?");
      q->bind(1, id.value);
      if (q->executeStep()) {
        users.push_back({id, q->getColumn(0).getString(), q->getColumn(1).getString(), q->getColumn(2).getInt64()});
      }
    }
    return users;
  });
}

Result<UserCredentials> SqliteStore::GetCredentials(const std::string& username) {
  return Read("sqlite store: get credentials", [&](StatementCache& c) -> Result<UserCredentials> {
    StatementScope q(c, "SELECT id, password_hash FROM users WHERE username = ?");
    q->bindNoCopy(1, username);
    if (!q->executeStep()) return Status::NotFound("user " + username + " does not exist");
    return UserCredentials{UserId(q->getColumn(0).getInt64()), q->getColumn(1).getString()};
  });
}

Status SqliteStore::UpdateUser(const User& user) {
  return Write([&]() -> Status {
    StatementScope q(w(), "UPDATE users SET display_name = ? WHERE id = ?");
    q->bindNoCopy(1, user.display_name);
    q->bind(2, user.id.value);
    if (q->exec() == 0) return Status::NotFound("user " + std::to_string(user.id.value) + " does not exist");
    return Status::Ok();
  });
}

Status SqliteStore::UpdatePasswordHash(UserId id, const std::string& password_hash) {
  return Write([&]() -> Status {
    StatementScope q(w(), "UPDATE users SET password_hash = ? WHERE id = ?");
    q->bindNoCopy(1, password_hash);
    q->bind(2, id.value);
    if (q->exec() == 0) return Status::NotFound("user " + std::to_string(id.value) + " does not exist");
    return Status::Ok();
  });
}

Status SqliteStore::DeleteUser(UserId id) {
  return Write([&]() -> Status {
    {
      StatementScope q(w(), "SELECT 1 FROM users WHERE id = ?");
      q->bind(1, id.value);
      if (!q->executeStep()) return Status::NotFound("user " + std::to_string(id.value) + " does not exist");
    }
    {
      StatementScope q(w(), "SELECT id FROM groups WHERE owner_id = ? AND dismissed = 0 LIMIT 1");
      q->bind(1, id.value);
      if (q->executeStep()) {
        return Status::FailedPrecondition("user " + std::to_string(id.value) + " still owns group " +
                                          std::to_string(q->getColumn(0).getInt64()));
      }
    }
    // Counts before the member rows go; families before the tokens that name them.
    static constexpr const char* kSteps[] = {
        "UPDATE groups SET member_count = member_count - 1 "
        "WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?1)",
        "DELETE FROM group_members WHERE user_id = ?1",
        "DELETE FROM user_conversations WHERE user_id = ?1",
        "UPDATE refresh_families SET revoked = 1 "
        "WHERE family_id IN (SELECT family_id FROM refresh_tokens WHERE user_id = ?1)",
        "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?1",
        "DELETE FROM device_tokens WHERE user_id = ?1",
        "DELETE FROM push_settings WHERE user_id = ?1",
        "DELETE FROM users WHERE id = ?1",
    };
    for (const char* sql : kSteps) {
      StatementScope q(w(), sql);
      q->bind(1, id.value);
      q->exec();
    }
    return Status::Ok();
  });
}

// ---- refresh tokens ----

namespace {
constexpr const char* kInsertToken =
    "INSERT INTO refresh_tokens(token_hash, user_id, family_id, device, expires_at_ms, used, revoked) "
    "VALUES(?, ?, ?, ?, ?, ?, ?)";

// Inserts `r` (and its family, if new); already_exists when the hash is taken.
Status InsertToken(StatementCache& c, const RefreshTokenRecord& r) {
  {
    StatementScope q(c, "SELECT 1 FROM refresh_tokens WHERE token_hash = ?");
    q->bindNoCopy(1, r.token_hash);
    if (q->executeStep()) return Status::AlreadyExists("refresh token already stored");
  }
  {
    StatementScope q(c, "INSERT INTO refresh_families(family_id, revoked) VALUES(?, 0) ON CONFLICT DO NOTHING");
    q->bindNoCopy(1, r.family_id);
    q->exec();
  }
  StatementScope q(c, kInsertToken);
  q->bindNoCopy(1, r.token_hash);
  q->bind(2, r.user.value);
  q->bindNoCopy(3, r.family_id);
  q->bindNoCopy(4, r.device);
  q->bind(5, r.expires_at_ms);
  q->bind(6, r.used ? 1 : 0);
  q->bind(7, r.revoked ? 1 : 0);
  q->exec();
  return Status::Ok();
}
}  // namespace

Status SqliteStore::PutRefreshToken(const RefreshTokenRecord& record) {
  if (record.token_hash.empty()) return Status::InvalidArgument("sqlite store: empty token hash");
  return Write([&] { return InsertToken(w(), record); });
}

Result<RefreshTokenRecord> SqliteStore::GetRefreshToken(const std::string& token_hash) {
  return Read("sqlite store: get refresh token", [&](StatementCache& c) -> Result<RefreshTokenRecord> {
    StatementScope q(c,
                     "SELECT user_id, family_id, device, expires_at_ms, used, revoked FROM refresh_tokens "
                     "WHERE token_hash = ?");
    q->bindNoCopy(1, token_hash);
    if (!q->executeStep()) return Status::NotFound("unknown refresh token");
    return RefreshTokenRecord{token_hash,
                              UserId(q->getColumn(0).getInt64()),
                              q->getColumn(1).getString(),
                              q->getColumn(2).getString(),
                              q->getColumn(3).getInt64(),
                              q->getColumn(4).getInt() != 0,
                              q->getColumn(5).getInt() != 0};
  });
}

Status SqliteStore::RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) {
  if (next.token_hash.empty()) return Status::InvalidArgument("sqlite store: empty token hash");
  return Write([&]() -> Status {
    {
      StatementScope q(w(), "SELECT used, revoked FROM refresh_tokens WHERE token_hash = ?");
      q->bindNoCopy(1, old_hash);
      if (!q->executeStep()) return Status::NotFound("unknown refresh token");
      if (q->getColumn(0).getInt() != 0) return Status::FailedPrecondition("refresh token already used");
      if (q->getColumn(1).getInt() != 0) return Status::FailedPrecondition("refresh token revoked");
    }
    {
      StatementScope q(w(), "UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?");
      q->bindNoCopy(1, old_hash);
      q->exec();
    }
    return InsertToken(w(), next);  // on failure the savepoint undoes the update above
  });
}

Status SqliteStore::RevokeRefreshFamily(const std::string& family_id) {
  return Write([&]() -> Status {
    {
      StatementScope q(w(),
                       "INSERT INTO refresh_families(family_id, revoked) VALUES(?, 1) "
                       "ON CONFLICT(family_id) DO UPDATE SET revoked = 1");
      q->bindNoCopy(1, family_id);
      q->exec();
    }
    StatementScope q(w(), "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?");
    q->bindNoCopy(1, family_id);
    q->exec();
    return Status::Ok();
  });
}

Status SqliteStore::RevokeUserRefreshFamilies(UserId user, const std::string& except_family) {
  return Write([&]() -> Status {
    {
      StatementScope q(w(),
                       "INSERT INTO refresh_families(family_id, revoked) "
                       "SELECT DISTINCT family_id, 1 FROM refresh_tokens WHERE user_id = ? AND family_id != ? "
                       "ON CONFLICT(family_id) DO UPDATE SET revoked = 1");
      q->bind(1, user.value);
      q->bindNoCopy(2, except_family);
      q->exec();
    }
    StatementScope q(w(), "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ? AND family_id != ?");
    q->bind(1, user.value);
    q->bindNoCopy(2, except_family);
    q->exec();
    return Status::Ok();
  });
}

Result<bool> SqliteStore::IsRefreshFamilyRevoked(const std::string& family_id) {
  return Read("sqlite store: refresh family", [&](StatementCache& c) -> Result<bool> {
    StatementScope q(c, "SELECT revoked FROM refresh_families WHERE family_id = ?");
    q->bindNoCopy(1, family_id);
    if (!q->executeStep()) return Status::NotFound("unknown refresh token family");
    return q->getColumn(0).getInt() != 0;
  });
}

Result<uint64_t> SqliteStore::PruneRefreshTokens(TimestampMs expired_before) {
  uint64_t pruned = 0;
  // Once an hour (AuthService): a scan of the tokens, then of the families by the family index.
  IM_RETURN_IF_ERROR(Write([&]() -> Status {
    {
      StatementScope q(w(), "DELETE FROM refresh_tokens WHERE expires_at_ms < ?");
      q->bind(1, static_cast<int64_t>(expired_before));
      pruned = static_cast<uint64_t>(q->exec());
    }
    StatementScope q(w(),
                     "DELETE FROM refresh_families WHERE NOT EXISTS "
                     "(SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.family_id)");
    q->exec();
    return Status::Ok();
  }));
  return pruned;
}

// ---- messages ----

Result<AppendResult> SqliteStore::AppendMessage(const NewMessage& message) {
  IM_RETURN_IF_ERROR(CheckNewMessage(message, "sqlite store"));
  AppendJob job(*writer_, message);
  Status s = queue_->Submit(job);
  if (!s.ok()) return s;
  return job.result();
}

std::vector<Result<AppendResult>> SqliteStore::AppendMessages(std::span<const NewMessage> messages) {
  return SubmitAppends<AppendJob>(*queue_, *writer_, messages, "sqlite store");
}

Result<std::vector<Message>> SqliteStore::ListMessages(const ConversationId& conversation, const MessageRange& range) {
  if (!conversation.valid()) return Status::InvalidArgument("sqlite store: invalid conversation id");
  return Read("sqlite store: list messages", [&](StatementCache& c) -> Result<std::vector<Message>> {
    static constexpr const char* kAscending =
        "SELECT seq, id, sender_id, client_msg_id, type, content, sent_at_ms FROM messages "
        "WHERE conversation_id = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?";
    static constexpr const char* kDescending =
        "SELECT seq, id, sender_id, client_msg_id, type, content, sent_at_ms FROM messages "
        "WHERE conversation_id = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?";
    std::vector<Message> messages;
    StatementScope q(c, range.newest_first ? kDescending : kAscending);
    q->bindNoCopy(1, conversation.str());
    q->bind(2, I64(range.after_seq));
    q->bind(3, range.before_seq == 0 ? std::numeric_limits<int64_t>::max() : I64(range.before_seq));
    q->bind(4, static_cast<int64_t>(range.limit));
    while (q->executeStep()) messages.push_back(ReadMessage(*q, 0, conversation));
    return messages;
  });
}

Result<ConversationState> SqliteStore::GetConversationState(const ConversationId& conversation) {
  if (!conversation.valid()) return Status::InvalidArgument("sqlite store: invalid conversation id");
  return Read("sqlite store: conversation state", [&](StatementCache& c) -> Result<ConversationState> {
    StatementScope q(c, "SELECT first_seq, last_seq, last_activity_ms FROM conversations WHERE id = ?");
    q->bindNoCopy(1, conversation.str());
    if (!q->executeStep()) return ConversationState{};
    return ConversationState{ToSeq(q->getColumn(1).getInt64()), ToSeq(q->getColumn(0).getInt64()),
                             q->getColumn(2).getInt64()};
  });
}

Status SqliteStore::TrimHistory(const ConversationId& conversation, Seq before_seq) {
  if (!conversation.valid()) return Status::InvalidArgument("sqlite store: invalid conversation id");
  return Write([&]() -> Status {
    Writer::ConversationHead& head = writer_->Head(conversation.str());
    // Never past the next seq: a later append must not land below first_seq.
    Seq first = std::min(before_seq, head.last_seq + 1);
    if (first <= head.first_seq) return Status::Ok();
    {
      StatementScope q(w(), "DELETE FROM messages WHERE conversation_id = ? AND seq < ?");
      q->bindNoCopy(1, conversation.str());
      q->bind(2, I64(first));
      q->exec();
    }
    {
      StatementScope q(w(), "UPDATE conversations SET first_seq = ? WHERE id = ?");
      q->bind(1, I64(first));
      q->bindNoCopy(2, conversation.str());
      q->exec();
    }
    head.first_seq = first;  // only after every statement succeeded (a failure rolls back)
    return Status::Ok();
  });
}

// ---- conversation list and read state ----

Result<std::vector<ConversationSummary>> SqliteStore::ListConversations(UserId user, const ConversationCursor& after,
                                                                        uint32_t limit) {
  return Read("sqlite store: list conversations", [&](StatementCache& c) -> Result<std::vector<ConversationSummary>> {
    // The last message is found through the head's last_seq (the messages primary key).
    StatementScope q(c,
                     "SELECT uc.conversation_id, uc.read_seq, coalesce(c.last_seq, 0), "
                     "coalesce(c.last_activity_ms, 0) AS activity, "
                     "m.seq, m.id, m.sender_id, m.client_msg_id, m.type, m.content, m.sent_at_ms "
                     "FROM user_conversations uc "
                     "LEFT JOIN conversations c ON c.id = uc.conversation_id "
                     "LEFT JOIN messages m ON m.conversation_id = uc.conversation_id AND m.seq = c.last_seq "
                     "WHERE uc.user_id = ?1 AND (?4 = '' OR coalesce(c.last_activity_ms, 0) < ?2 OR "
                     "(coalesce(c.last_activity_ms, 0) = ?2 AND uc.conversation_id < ?4)) "
                     "ORDER BY activity DESC, uc.conversation_id DESC LIMIT ?3");
    q->bind(1, user.value);
    q->bind(2, after.last_activity_ms);
    q->bind(3, static_cast<int64_t>(limit));
    q->bind(4, after.id.str());
    std::vector<ConversationSummary> out;
    while (q->executeStep()) {
      auto id = ConversationId::Parse(q->getColumn(0).getText());
      if (!id) continue;  // not written by this store
      ConversationSummary s;
      s.id = *id;
      s.read_seq = ToSeq(q->getColumn(1).getInt64());
      s.last_seq = ToSeq(q->getColumn(2).getInt64());
      s.unread = s.last_seq > s.read_seq ? s.last_seq - s.read_seq : 0;
      s.last_activity_ms = q->getColumn(3).getInt64();
      if (!q->isColumnNull(4)) s.last_message = ReadMessage(*q, 4, *id);
      out.push_back(std::move(s));
    }
    return out;
  });
}

Result<Seq> SqliteStore::AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) {
  if (!user.valid()) return Status::InvalidArgument("sqlite store: invalid user");
  if (!conversation.valid()) return Status::InvalidArgument("sqlite store: invalid conversation id");
  Seq after = 0;
  Status s = Write([&]() -> Status {
    Seq clamped = std::min(seq, writer_->Head(conversation.str()).last_seq);
    StatementScope q(w(),
                     "UPDATE user_conversations SET read_seq = max(read_seq, ?) "
                     "WHERE user_id = ? AND conversation_id = ? RETURNING read_seq");
    q->bind(1, I64(clamped));
    q->bind(2, user.value);
    q->bindNoCopy(3, conversation.str());
    if (!q->executeStep()) {
      return Status::NotFound(conversation.str() + " is not on the list of user " + std::to_string(user.value));
    }
    after = ToSeq(q->getColumn(0).getInt64());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return after;
}

Result<Seq> SqliteStore::GetReadSeq(UserId user, const ConversationId& conversation) {
  return Read("sqlite store: get read seq", [&](StatementCache& c) -> Result<Seq> {
    StatementScope q(c, "SELECT read_seq FROM user_conversations WHERE user_id = ? AND conversation_id = ?");
    q->bind(1, user.value);
    q->bindNoCopy(2, conversation.str());
    if (!q->executeStep()) return Seq{0};
    return ToSeq(q->getColumn(0).getInt64());
  });
}

Status SqliteStore::Flush() {
  // Every acknowledged write is committed already; the barrier waits for those still queued.
  // Without fsync per commit (synchronous=false) a checkpoint is what puts the WAL on disk.
  BarrierJob barrier(synchronous_ ? nullptr : writer_.get());
  return queue_->Submit(barrier);
}

}  // namespace im::sqlite

namespace im {

Result<std::shared_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  return sqlite::SqliteStore::Open(options);
}

}  // namespace im
