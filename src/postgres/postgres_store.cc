// PostgresStore: users, refresh tokens, messages and read state (groups: group_ops.cc), and the
// factory. See postgres_store_impl.h for the threading and transaction model.
#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "postgres/postgres_store_impl.h"
#include "postgres/schema.h"

namespace im::postgres {
namespace {

std::string UserName(UserId u) { return "user " + std::to_string(u.value); }

// Reads a message from columns `first`..`first + 6`: seq, id, sender_id, client_msg_id, type,
// content, sent_at_ms.
Message ReadMessage(const pqxx::row& row, pqxx::row::size_type first, const ConversationId& conversation) {
  Message m;
  m.conversation = conversation;
  m.seq = ToSeq(row[first].as<int64_t>());
  m.id = MessageId(row[first + 1].as<int64_t>());
  m.sender = UserId(row[first + 2].as<int64_t>());
  if (!row[first + 3].is_null()) m.client_msg_id = row[first + 3].c_str();
  m.type = static_cast<ContentType>(row[first + 4].as<int>());
  pqxx::binarystring content(row[first + 5]);
  m.content.assign(content.get(), content.size());
  m.sent_at_ms = row[first + 6].as<int64_t>();
  return m;
}

User ReadUser(const pqxx::row& row) {
  return User{UserId(row[0].as<int64_t>()), row[1].c_str(), row[2].c_str(), row[3].as<int64_t>()};
}

// "{1,2,3}"
std::string BigintArray(std::span<const UserId> ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i].value);
  }
  out += '}';
  return out;
}

Status ValidateText(std::string_view what, std::initializer_list<std::string_view> values) {
  for (std::string_view v : values) {
    if (HasNul(v)) return Status::InvalidArgument("postgres store: " + std::string(what) + " contains a NUL byte");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<Store>> PostgresStore::Open(const PostgresStoreOptions& options) {
  if (options.conninfo.empty()) return Status::InvalidArgument("postgres store: conninfo is empty");
  if (options.pool_size < 1) return Status::InvalidArgument("postgres store: pool_size must be at least 1");
  if (options.checkout_timeout_ms < 0) {
    return Status::InvalidArgument("postgres store: checkout_timeout_ms must not be negative");
  }
  if (options.max_batch < 1) return Status::InvalidArgument("postgres store: max_batch must be at least 1");
  auto writer_session = OpenSession(options.conninfo);
  if (!writer_session.ok()) return writer_session.status();
  IM_RETURN_IF_ERROR(MigrateSchema((*writer_session)->connection()));
  std::shared_ptr<PostgresStore> store(new PostgresStore());
  try {
    store->pool_ = std::make_unique<ConnectionPool>(options.conninfo, options.pool_size,
                                                    std::chrono::milliseconds(options.checkout_timeout_ms));
  } catch (...) {
    return ClassifyCurrentException("postgres store: connect").status;
  }
  store->writer_ = std::make_unique<AppendWriter>(options.conninfo, std::move(writer_session).value(),
                                                  options.max_batch);
  return std::shared_ptr<Store>(std::move(store));
}

// ---- users ----

Result<User> PostgresStore::CreateUser(const NewUser& user) {
  if (user.username.empty()) return Status::InvalidArgument("postgres store: empty username");
  IM_RETURN_IF_ERROR(ValidateText("user", {user.username, user.display_name, user.password_hash}));
  return Write("postgres store: create user", [&](Tx& tx) -> Result<User> {
    pqxx::result r = tx.Exec(
        "INSERT INTO users(username, display_name, password_hash, created_at_ms) VALUES($1, $2, $3, $4) "
        "ON CONFLICT (username) DO NOTHING RETURNING id",
        user.username, user.display_name, user.password_hash, user.created_at_ms);
    if (r.empty()) return Status::AlreadyExists("username " + user.username + " is taken");
    return User{UserId(r[0][0].as<int64_t>()), user.username, user.display_name, user.created_at_ms};
  });
}

Result<User> PostgresStore::GetUser(UserId id) {
  return Read("postgres store: get user", [&](Tx& tx) -> Result<User> {
    pqxx::result r = tx.Exec("SELECT id, username, display_name, created_at_ms FROM users WHERE id = $1", id.value);
    if (r.empty()) return Status::NotFound(UserName(id) + " does not exist");
    return ReadUser(r[0]);
  });
}

Result<std::vector<User>> PostgresStore::GetUsers(std::span<const UserId> ids) {
  if (ids.empty()) return std::vector<User>{};
  return Read("postgres store: get users", [&](Tx& tx) -> Result<std::vector<User>> {
    pqxx::result r = tx.Exec(
        "SELECT id, username, display_name, created_at_ms FROM users WHERE id = ANY($1::bigint[])", BigintArray(ids));
    std::unordered_map<int64_t, User> found;
    for (const auto& row : r) {
      User u = ReadUser(row);
      found.emplace(u.id.value, std::move(u));
    }
    std::vector<User> users;
    users.reserve(found.size());
    for (UserId id : ids) {
      if (auto it = found.find(id.value); it != found.end()) users.push_back(it->second);
    }
    return users;
  });
}

Result<UserCredentials> PostgresStore::GetCredentials(const std::string& username) {
  IM_RETURN_IF_ERROR(ValidateText("username", {username}));
  return Read("postgres store: get credentials", [&](Tx& tx) -> Result<UserCredentials> {
    pqxx::result r = tx.Exec("SELECT id, password_hash FROM users WHERE username = $1", username);
    if (r.empty()) return Status::NotFound("user " + username + " does not exist");
    return UserCredentials{UserId(r[0][0].as<int64_t>()), r[0][1].c_str()};
  });
}

Status PostgresStore::UpdateUser(const User& user) {
  IM_RETURN_IF_ERROR(ValidateText("display name", {user.display_name}));
  return Write("postgres store: update user", [&](Tx& tx) -> Status {
    pqxx::result r = tx.Exec("UPDATE users SET display_name = $1 WHERE id = $2", user.display_name, user.id.value);
    if (r.affected_rows() == 0) return Status::NotFound(UserName(user.id) + " does not exist");
    return Status::Ok();
  });
}

Status PostgresStore::UpdatePasswordHash(UserId id, const std::string& password_hash) {
  IM_RETURN_IF_ERROR(ValidateText("password hash", {password_hash}));
  return Write("postgres store: update password", [&](Tx& tx) -> Status {
    pqxx::result r = tx.Exec("UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, id.value);
    if (r.affected_rows() == 0) return Status::NotFound(UserName(id) + " does not exist");
    return Status::Ok();
  });
}

Status PostgresStore::DeleteUser(UserId id) {
  return Write("postgres store: delete user", [&](Tx& tx) -> Status {
    if (tx.Exec("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", id.value).empty()) {
      return Status::NotFound(UserName(id) + " does not exist");
    }
    pqxx::result owned = tx.Exec("SELECT id FROM groups WHERE owner_id = $1 AND NOT dismissed LIMIT 1", id.value);
    if (!owned.empty()) {
      return Status::FailedPrecondition(UserName(id) + " still owns group " + owned[0][0].c_str());
    }
    // Counts before the member rows go; families before the tokens that name them.
    tx.Exec(
        "UPDATE groups SET member_count = member_count - 1 "
        "WHERE id IN (SELECT group_id FROM group_members WHERE user_id = $1)",
        id.value);
    tx.Exec("DELETE FROM group_members WHERE user_id = $1", id.value);
    tx.Exec("DELETE FROM user_conversations WHERE user_id = $1", id.value);
    tx.Exec(
        "INSERT INTO refresh_families(family_id, revoked) "
        "SELECT DISTINCT family_id, true FROM refresh_tokens WHERE user_id = $1 "
        "ON CONFLICT (family_id) DO UPDATE SET revoked = true",
        id.value);
    tx.Exec("UPDATE refresh_tokens SET revoked = true WHERE user_id = $1", id.value);
    tx.Exec("DELETE FROM device_tokens WHERE user_id = $1", id.value);
    tx.Exec("DELETE FROM push_settings WHERE user_id = $1", id.value);
    tx.Exec("DELETE FROM users WHERE id = $1", id.value);
    return Status::Ok();
  });
}

// ---- refresh tokens ----

namespace {

// Inserts `r` and its family (if new); already_exists when the hash is taken.
Status InsertToken(Tx& tx, const RefreshTokenRecord& r) {
  pqxx::result inserted = tx.Exec(
      "INSERT INTO refresh_tokens(token_hash, user_id, family_id, device, expires_at_ms, used, revoked) "
      "VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (token_hash) DO NOTHING RETURNING 1",
      r.token_hash, r.user.value, r.family_id, r.device, r.expires_at_ms, r.used, r.revoked);
  if (inserted.empty()) return Status::AlreadyExists("refresh token already stored");
  tx.Exec("INSERT INTO refresh_families(family_id) VALUES($1) ON CONFLICT (family_id) DO NOTHING", r.family_id);
  return Status::Ok();
}

Status ValidateToken(const RefreshTokenRecord& r) {
  if (r.token_hash.empty()) return Status::InvalidArgument("postgres store: empty token hash");
  return ValidateText("refresh token", {r.token_hash, r.family_id, r.device});
}

}  // namespace

Status PostgresStore::PutRefreshToken(const RefreshTokenRecord& record) {
  IM_RETURN_IF_ERROR(ValidateToken(record));
  return Write("postgres store: put refresh token", [&](Tx& tx) { return InsertToken(tx, record); });
}

Result<RefreshTokenRecord> PostgresStore::GetRefreshToken(const std::string& token_hash) {
  IM_RETURN_IF_ERROR(ValidateText("token hash", {token_hash}));
  return Read("postgres store: get refresh token", [&](Tx& tx) -> Result<RefreshTokenRecord> {
    pqxx::result r = tx.Exec(
        "SELECT user_id, family_id, device, expires_at_ms, used, revoked FROM refresh_tokens WHERE token_hash = $1",
        token_hash);
    if (r.empty()) return Status::NotFound("unknown refresh token");
    const pqxx::row row = r[0];
    return RefreshTokenRecord{token_hash,           UserId(row[0].as<int64_t>()), row[1].c_str(), row[2].c_str(),
                              row[3].as<int64_t>(), row[4].as<bool>(),            row[5].as<bool>()};
  });
}

Status PostgresStore::RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) {
  IM_RETURN_IF_ERROR(ValidateToken(next));
  IM_RETURN_IF_ERROR(ValidateText("token hash", {old_hash}));
  return Write("postgres store: rotate refresh token", [&](Tx& tx) -> Status {
    // The row lock makes concurrent rotations of one token queue here: exactly one finds it unused.
    pqxx::result r = tx.Exec("SELECT used, revoked FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE", old_hash);
    if (r.empty()) return Status::NotFound("unknown refresh token");
    if (r[0][0].as<bool>()) return Status::FailedPrecondition("refresh token already used");
    if (r[0][1].as<bool>()) return Status::FailedPrecondition("refresh token revoked");
    tx.Exec("UPDATE refresh_tokens SET used = true WHERE token_hash = $1", old_hash);
    return InsertToken(tx, next);  // on failure the transaction rolls the update back
  });
}

Status PostgresStore::RevokeRefreshFamily(const std::string& family_id) {
  IM_RETURN_IF_ERROR(ValidateText("family id", {family_id}));
  return Write("postgres store: revoke refresh family", [&](Tx& tx) -> Status {
    tx.Exec(
        "INSERT INTO refresh_families(family_id, revoked) VALUES($1, true) "
        "ON CONFLICT (family_id) DO UPDATE SET revoked = true",
        family_id);
    tx.Exec("UPDATE refresh_tokens SET revoked = true WHERE family_id = $1", family_id);
    return Status::Ok();
  });
}

Status PostgresStore::RevokeUserRefreshFamilies(UserId user, const std::string& except_family) {
  IM_RETURN_IF_ERROR(ValidateText("family id", {except_family}));
  return Write("postgres store: revoke user refresh families", [&](Tx& tx) -> Status {
    tx.Exec(
        "INSERT INTO refresh_families(family_id, revoked) "
        "SELECT DISTINCT family_id, true FROM refresh_tokens WHERE user_id = $1 AND family_id <> $2 "
        "ON CONFLICT (family_id) DO UPDATE SET revoked = true",
        user.value, except_family);
    tx.Exec("UPDATE refresh_tokens SET revoked = true WHERE user_id = $1 AND family_id <> $2", user.value,
            except_family);
    return Status::Ok();
  });
}

Result<bool> PostgresStore::IsRefreshFamilyRevoked(const std::string& family_id) {
  IM_RETURN_IF_ERROR(ValidateText("family id", {family_id}));
  return Read("postgres store: refresh family", [&](Tx& tx) -> Result<bool> {
    pqxx::result r = tx.Exec("SELECT revoked FROM refresh_families WHERE family_id = $1", family_id);
    if (r.empty()) return Status::NotFound("unknown refresh token family");
    return r[0][0].as<bool>();
  });
}

Result<uint64_t> PostgresStore::PruneRefreshTokens(TimestampMs expired_before) {
  uint64_t pruned = 0;
  IM_RETURN_IF_ERROR(Write("postgres store: prune refresh tokens", [&](Tx& tx) -> Status {
    pruned = tx.Exec("DELETE FROM refresh_tokens WHERE expires_at_ms < $1", static_cast<int64_t>(expired_before))
                 .affected_rows();
    tx.Exec(
        "DELETE FROM refresh_families f WHERE NOT EXISTS "
        "(SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id)");
    return Status::Ok();
  }));
  return pruned;
}

// ---- messages ----

Result<AppendResult> PostgresStore::AppendMessage(const NewMessage& message) {
  if (!message.conversation.valid()) return Status::InvalidArgument("postgres store: invalid conversation id");
  if (!message.sender.valid()) return Status::InvalidArgument("postgres store: invalid sender");
  if (message.conversation.is_direct() && !message.conversation.HasParticipant(message.sender)) {
    return Status::InvalidArgument("postgres store: sender is not a participant of " + message.conversation.str());
  }
  IM_RETURN_IF_ERROR(ValidateText("client_msg_id", {message.client_msg_id}));
  return writer_->Append(message);
}

Result<std::vector<Message>> PostgresStore::ListMessages(const ConversationId& conversation,
                                                         const MessageRange& range) {
  if (!conversation.valid()) return Status::InvalidArgument("postgres store: invalid conversation id");
  if (range.limit == 0) return std::vector<Message>{};
  return Read("postgres store: list messages", [&](Tx& tx) -> Result<std::vector<Message>> {
    const int64_t before = range.before_seq == 0 ? std::numeric_limits<int64_t>::max() : I64(range.before_seq);
    pqxx::result r =
        range.newest_first
            ? tx.Exec("SELECT seq, id, sender_id, client_msg_id, type, content, sent_at_ms FROM messages "
                      "WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4",
                      conversation.str(), I64(range.after_seq), before, static_cast<int64_t>(range.limit))
            : tx.Exec("SELECT seq, id, sender_id, client_msg_id, type, content, sent_at_ms FROM messages "
                      "WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4",
                      conversation.str(), I64(range.after_seq), before, static_cast<int64_t>(range.limit));
    std::vector<Message> messages;
    messages.reserve(r.size());
    for (const auto& row : r) messages.push_back(ReadMessage(row, 0, conversation));
    return messages;
  });
}

Result<ConversationState> PostgresStore::GetConversationState(const ConversationId& conversation) {
  if (!conversation.valid()) return Status::InvalidArgument("postgres store: invalid conversation id");
  return Read("postgres store: conversation state", [&](Tx& tx) -> Result<ConversationState> {
    pqxx::result r =
        tx.Exec("SELECT first_seq, last_seq, last_activity_ms FROM conversations WHERE id = $1", conversation.str());
    if (r.empty()) return ConversationState{};
    return ConversationState{ToSeq(r[0][1].as<int64_t>()), ToSeq(r[0][0].as<int64_t>()), r[0][2].as<int64_t>()};
  });
}

Status PostgresStore::TrimHistory(const ConversationId& conversation, Seq before_seq) {
  if (!conversation.valid()) return Status::InvalidArgument("postgres store: invalid conversation id");
  return Write("postgres store: trim history", [&](Tx& tx) -> Status {
    // The counter row lock keeps appenders out while first_seq moves.
    pqxx::result r =
        tx.Exec("SELECT first_seq, last_seq FROM conversations WHERE id = $1 FOR UPDATE", conversation.str());
    if (r.empty()) return Status::Ok();
    const Seq first_seq = ToSeq(r[0][0].as<int64_t>());
    const Seq last_seq = ToSeq(r[0][1].as<int64_t>());
    // Never past the next seq: a later append must not land below first_seq.
    const Seq first = std::min(before_seq, last_seq + 1);
    if (first <= first_seq) return Status::Ok();
    tx.Exec("DELETE FROM messages WHERE conversation_id = $1 AND seq < $2", conversation.str(), I64(first));
    tx.Exec("UPDATE conversations SET first_seq = $1 WHERE id = $2", I64(first), conversation.str());
    return Status::Ok();
  });
}

// ---- conversation list and read state ----

Result<std::vector<ConversationSummary>> PostgresStore::ListConversations(UserId user, const ConversationCursor& after,
                                                                          uint32_t limit) {
  if (limit == 0) return std::vector<ConversationSummary>{};
  return Read("postgres store: list conversations", [&](Tx& tx) -> Result<std::vector<ConversationSummary>> {
    // The last message is found through the counter's last_seq (the messages primary key).
    pqxx::result r = tx.Exec(
        "SELECT uc.conversation_id, uc.read_seq, coalesce(c.last_seq, 0), coalesce(c.last_activity_ms, 0) AS activity, "
        "m.seq, m.id, m.sender_id, m.client_msg_id, m.type, m.content, m.sent_at_ms "
        "FROM user_conversations uc "
        "LEFT JOIN conversations c ON c.id = uc.conversation_id "
        "LEFT JOIN messages m ON m.conversation_id = uc.conversation_id AND m.seq = c.last_seq "
        "WHERE uc.user_id = $1 AND ($4 = '' OR coalesce(c.last_activity_ms, 0) < $2 OR "
        "(coalesce(c.last_activity_ms, 0) = $2 AND uc.conversation_id < $4)) "
        "ORDER BY activity DESC, uc.conversation_id DESC LIMIT $3",
        user.value, after.last_activity_ms, static_cast<int64_t>(limit), after.id.str());
    std::vector<ConversationSummary> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      auto id = ConversationId::Parse(row[0].c_str());
      if (!id) continue;  // not written by this store
      ConversationSummary s;
      s.id = *id;
      s.read_seq = ToSeq(row[1].as<int64_t>());
      s.last_seq = ToSeq(row[2].as<int64_t>());
      s.unread = s.last_seq > s.read_seq ? s.last_seq - s.read_seq : 0;
      s.last_activity_ms = row[3].as<int64_t>();
      if (!row[4].is_null()) s.last_message = ReadMessage(row, 4, *id);
      out.push_back(std::move(s));
    }
    return out;
  });
}

Result<Seq> PostgresStore::AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) {
  if (!user.valid()) return Status::InvalidArgument("postgres store: invalid user");
  if (!conversation.valid()) return Status::InvalidArgument("postgres store: invalid conversation id");
  return Write("postgres store: advance read seq", [&](Tx& tx) -> Result<Seq> {
    pqxx::result r = tx.Exec(
        "UPDATE user_conversations SET read_seq = greatest(read_seq, "
        "least($3, coalesce((SELECT last_seq FROM conversations WHERE id = $2), 0))) "
        "WHERE user_id = $1 AND conversation_id = $2 RETURNING read_seq",
        user.value, conversation.str(), I64(seq));
    if (r.empty()) return Status::NotFound(conversation.str() + " is not on the list of " + UserName(user));
    return ToSeq(r[0][0].as<int64_t>());
  });
}

Result<Seq> PostgresStore::GetReadSeq(UserId user, const ConversationId& conversation) {
  return Read("postgres store: get read seq", [&](Tx& tx) -> Result<Seq> {
    pqxx::result r = tx.Exec("SELECT read_seq FROM user_conversations WHERE user_id = $1 AND conversation_id = $2",
                             user.value, conversation.str());
    if (r.empty()) return Seq{0};
    return ToSeq(r[0][0].as<int64_t>());
  });
}

Status PostgresStore::Flush() {
  // Every acknowledged write is committed already; the barrier waits for queued appends.
  return writer_->Flush();
}

}  // namespace im::postgres

namespace im {

Result<std::shared_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options) {
  return postgres::PostgresStore::Open(options);
}

}  // namespace im
