// SqliteStore: device tokens, push settings and dead letters (schema version 2). See
// sqlite_store_impl.h for the threading model.
#include "sqlite/sqlite_store_impl.h"

namespace im::sqlite {
namespace {

bool KnownPlatform(PushPlatform p) { return p == PushPlatform::kApns || p == PushPlatform::kFcm; }

std::string Blob(SQLite::Statement& s, int column) {
  SQLite::Column c = s.getColumn(column);
  const int bytes = c.getBytes();
  if (bytes <= 0) return {};
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<size_t>(bytes));
}

void BindBlob(SQLite::Statement& s, int index, const std::string& bytes) {
  s.bindNoCopy(index, bytes.data(), static_cast<int>(bytes.size()));
}

// Reads a dead letter from columns 0..6: id, topic, key, payload, error, attempts, created_at_ms.
DeadLetter ReadDeadLetter(SQLite::Statement& s) {
  return DeadLetter{s.getColumn(0).getInt64(), Blob(s, 1), Blob(s, 2), Blob(s, 3), Blob(s, 4), s.getColumn(5).getInt(),
                    s.getColumn(6).getInt64()};
}

}  // namespace

// ---- device tokens and push settings ----

Status SqliteStore::PutDeviceToken(const DeviceToken& token) {
  if (!KnownPlatform(token.platform)) {
    return Status::InvalidArgument("sqlite store: unknown push platform " + std::to_string(int(token.platform)));
  }
  return Write([&]() -> Status {
    {
      StatementScope q(w(), "SELECT 1 FROM users WHERE id = ?");
      q->bind(1, token.user.value);
      if (!q->executeStep()) return Status::NotFound("user " + std::to_string(token.user.value) + " does not exist");
    }
    // One upsert: a token registered by another user moves to this one.
    StatementScope q(w(),
                     "INSERT INTO device_tokens(platform, token, user_id, device, updated_at_ms) VALUES(?, ?, ?, ?, ?) "
                     "ON CONFLICT(platform, token) DO UPDATE SET user_id = excluded.user_id, "
                     "device = excluded.device, updated_at_ms = excluded.updated_at_ms");
    q->bind(1, static_cast<int32_t>(token.platform));
    q->bindNoCopy(2, token.token);
    q->bind(3, token.user.value);
    q->bindNoCopy(4, token.device);
    q->bind(5, token.updated_at_ms);
    q->exec();
    return Status::Ok();
  });
}

Status SqliteStore::DeleteDeviceToken(PushPlatform platform, const std::string& token) {
  return Write([&]() -> Status {
    StatementScope q(w(), "DELETE FROM device_tokens WHERE platform = ? AND token = ?");
    q->bind(1, static_cast<int32_t>(platform));
    q->bindNoCopy(2, token);
    q->exec();
    return Status::Ok();
  });
}

Result<std::vector<DeviceToken>> SqliteStore::ListDeviceTokens(UserId user) {
  return Read("sqlite store: list device tokens", [&](StatementCache& c) -> Result<std::vector<DeviceToken>> {
    StatementScope q(c,
                     "SELECT platform, token, device, updated_at_ms FROM device_tokens WHERE user_id = ? "
                     "ORDER BY updated_at_ms, platform, token");
    q->bind(1, user.value);
    std::vector<DeviceToken> tokens;
    while (q->executeStep()) {
      tokens.push_back(DeviceToken{user, static_cast<PushPlatform>(q->getColumn(0).getInt()),
                                   q->getColumn(1).getString(), q->getColumn(2).getString(),
                                   q->getColumn(3).getInt64()});
    }
    return tokens;
  });
}

Result<PushSettings> SqliteStore::GetPushSettings(UserId user) {
  return Read("sqlite store: get push settings", [&](StatementCache& c) -> Result<PushSettings> {
    StatementScope q(c, "SELECT muted, show_preview FROM push_settings WHERE user_id = ?");
    q->bind(1, user.value);
    if (!q->executeStep()) return PushSettings{};
    return PushSettings{q->getColumn(0).getInt() != 0, q->getColumn(1).getInt() != 0};
  });
}

Status SqliteStore::PutPushSettings(UserId user, const PushSettings& settings) {
  return Write([&]() -> Status {
    {
      StatementScope q(w(), "SELECT 1 FROM users WHERE id = ?");
      q->bind(1, user.value);
      if (!q->executeStep()) return Status::NotFound("user " + std::to_string(user.value) + " does not exist");
    }
    StatementScope q(w(),
                     "INSERT INTO push_settings(user_id, muted, show_preview) VALUES(?, ?, ?) "
                     "ON CONFLICT(user_id) DO UPDATE SET muted = excluded.muted, show_preview = excluded.show_preview");
    q->bind(1, user.value);
    q->bind(2, settings.muted ? 1 : 0);
    q->bind(3, settings.show_preview ? 1 : 0);
    q->exec();
    return Status::Ok();
  });
}

// ---- dead letters ----

Result<int64_t> SqliteStore::AddDeadLetter(const DeadLetter& letter) {
  int64_t id = 0;
  Status s = Write([&]() -> Status {
    StatementScope q(w(),
                     "INSERT INTO dead_letters(topic, key, payload, error, attempts, created_at_ms) "
                     "VALUES(?, ?, ?, ?, ?, ?)");
    BindBlob(*q, 1, letter.topic);
    BindBlob(*q, 2, letter.key);
    BindBlob(*q, 3, letter.payload);
    BindBlob(*q, 4, letter.error);
    q->bind(5, static_cast<int32_t>(letter.attempts));
    q->bind(6, letter.created_at_ms);
    q->exec();
    id = writer_->db().getLastInsertRowid();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return id;
}

Result<std::vector<DeadLetter>> SqliteStore::ListDeadLetters(int64_t after_id, uint32_t limit) {
  return Read("sqlite store: list dead letters", [&](StatementCache& c) -> Result<std::vector<DeadLetter>> {
    StatementScope q(c,
                     "SELECT id, topic, key, payload, error, attempts, created_at_ms FROM dead_letters "
                     "WHERE id > ? ORDER BY id LIMIT ?");
    q->bind(1, after_id);
    q->bind(2, static_cast<int64_t>(limit));
    std::vector<DeadLetter> letters;
    while (q->executeStep()) letters.push_back(ReadDeadLetter(*q));
    return letters;
  });
}

Result<DeadLetter> SqliteStore::GetDeadLetter(int64_t id) {
  return Read("sqlite store: get dead letter", [&](StatementCache& c) -> Result<DeadLetter> {
    StatementScope q(c,
                     "SELECT id, topic, key, payload, error, attempts, created_at_ms FROM dead_letters WHERE id = ?");
    q->bind(1, id);
    if (!q->executeStep()) return Status::NotFound("dead letter " + std::to_string(id) + " does not exist");
    return ReadDeadLetter(*q);
  });
}

Status SqliteStore::DeleteDeadLetter(int64_t id) {
  return Write([&]() -> Status {
    StatementScope q(w(), "DELETE FROM dead_letters WHERE id = ?");
    q->bind(1, id);
    if (q->exec() == 0) return Status::NotFound("dead letter " + std::to_string(id) + " does not exist");
    return Status::Ok();
  });
}

}  // namespace im::sqlite
