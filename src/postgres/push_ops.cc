// PostgresStore: device tokens, push settings and dead letters (schema version 2). See
// postgres_store_impl.h for the transaction model.
#include <pqxx/binarystring>

#include "postgres/postgres_store_impl.h"

namespace im::postgres {
namespace {

bool KnownPlatform(PushPlatform p) { return p == PushPlatform::kApns || p == PushPlatform::kFcm; }

Status UserNotFound(UserId u) { return Status::NotFound("user " + std::to_string(u.value) + " does not exist"); }

Status DeadLetterNotFound(int64_t id) {
  return Status::NotFound("dead letter " + std::to_string(id) + " does not exist");
}

// Holds the user row FOR SHARE until the transaction ends (DeleteUser takes it FOR UPDATE).
Status ShareUser(Tx& tx, UserId user) {
  if (tx.Exec("SELECT 1 FROM users WHERE id = $1 FOR SHARE", user.value).empty()) return UserNotFound(user);
  return Status::Ok();
}

pqxx::binarystring Bytes(const std::string& s) { return pqxx::binarystring(s.data(), s.size()); }

std::string Bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return std::string(b.get(), b.size());
}

// Reads a dead letter from columns 0..6: id, topic, key, payload, error, attempts, created_at_ms.
DeadLetter ReadDeadLetter(const pqxx::row& row) {
  return DeadLetter{row[0].as<int64_t>(), Bytes(row[1]),    Bytes(row[2]),       Bytes(row[3]),
                    Bytes(row[4]),        row[5].as<int>(), row[6].as<int64_t>()};
}

}  // namespace

// ---- device tokens and push settings ----

Status PostgresStore::PutDeviceToken(const DeviceToken& token) {
  if (!KnownPlatform(token.platform)) {
    return Status::InvalidArgument("postgres store: unknown push platform " + std::to_string(int(token.platform)));
  }
  if (HasNul(token.token) || HasNul(token.device)) {
    return Status::InvalidArgument("postgres store: device token contains a NUL byte");
  }
  return Write("postgres store: put device token", [&](Tx& tx) -> Status {
    IM_RETURN_IF_ERROR(ShareUser(tx, token.user));
    // One upsert: a token registered by another user moves to this one.
    tx.Exec(
        "INSERT INTO device_tokens(platform, token, user_id, device, updated_at_ms) VALUES($1, $2, $3, $4, $5) "
        "ON CONFLICT (platform, token) DO UPDATE SET user_id = excluded.user_id, device = excluded.device, "
        "updated_at_ms = excluded.updated_at_ms",
        static_cast<int>(token.platform), token.token, token.user.value, token.device, token.updated_at_ms);
    return Status::Ok();
  });
}

Status PostgresStore::DeleteDeviceToken(PushPlatform platform, const std::string& token) {
  if (HasNul(token)) return Status::Ok();  // never stored: nothing to delete
  return Write("postgres store: delete device token", [&](Tx& tx) -> Status {
    tx.Exec("DELETE FROM device_tokens WHERE platform = $1 AND token = $2", static_cast<int>(platform), token);
    return Status::Ok();
  });
}

Result<std::vector<DeviceToken>> PostgresStore::ListDeviceTokens(UserId user) {
  return Read("postgres store: list device tokens", [&](Tx& tx) -> Result<std::vector<DeviceToken>> {
    pqxx::result r = tx.Exec(
        "SELECT platform, token, device, updated_at_ms FROM device_tokens WHERE user_id = $1 "
        "ORDER BY updated_at_ms, platform, token",
        user.value);
    std::vector<DeviceToken> tokens;
    tokens.reserve(r.size());
    for (const auto& row : r) {
      tokens.push_back(DeviceToken{user, static_cast<PushPlatform>(row[0].as<int>()), row[1].c_str(), row[2].c_str(),
                                   row[3].as<int64_t>()});
    }
    return tokens;
  });
}

Result<PushSettings> PostgresStore::GetPushSettings(UserId user) {
  return Read("postgres store: get push settings", [&](Tx& tx) -> Result<PushSettings> {
    pqxx::result r = tx.Exec("SELECT muted, show_preview FROM push_settings WHERE user_id = $1", user.value);
    if (r.empty()) return PushSettings{};
    return PushSettings{r[0][0].as<bool>(), r[0][1].as<bool>()};
  });
}

Status PostgresStore::PutPushSettings(UserId user, const PushSettings& settings) {
  return Write("postgres store: put push settings", [&](Tx& tx) -> Status {
    IM_RETURN_IF_ERROR(ShareUser(tx, user));
    tx.Exec(
        "INSERT INTO push_settings(user_id, muted, show_preview) VALUES($1, $2, $3) "
        "ON CONFLICT (user_id) DO UPDATE SET muted = excluded.muted, show_preview = excluded.show_preview",
        user.value, settings.muted, settings.show_preview);
    return Status::Ok();
  });
}

// ---- dead letters ----

Result<int64_t> PostgresStore::AddDeadLetter(const DeadLetter& letter) {
  // Run again only when the server never committed the attempt (see Run): one row per call.
  return Write("postgres store: add dead letter", [&](Tx& tx) -> Result<int64_t> {
    pqxx::result r = tx.Exec(
        "INSERT INTO dead_letters(topic, key, payload, error, attempts, created_at_ms) "
        "VALUES($1, $2, $3, $4, $5, $6) RETURNING id",
        Bytes(letter.topic), Bytes(letter.key), Bytes(letter.payload), Bytes(letter.error), letter.attempts,
        letter.created_at_ms);
    return r[0][0].as<int64_t>();
  });
}

Result<std::vector<DeadLetter>> PostgresStore::ListDeadLetters(int64_t after_id, uint32_t limit) {
  if (limit == 0) return std::vector<DeadLetter>{};
  return Read("postgres store: list dead letters", [&](Tx& tx) -> Result<std::vector<DeadLetter>> {
    pqxx::result r = tx.Exec(
        "SELECT id, topic, key, payload, error, attempts, created_at_ms FROM dead_letters WHERE id > $1 "
        "ORDER BY id LIMIT $2",
        after_id, static_cast<int64_t>(limit));
    std::vector<DeadLetter> letters;
    letters.reserve(r.size());
    for (const auto& row : r) letters.push_back(ReadDeadLetter(row));
    return letters;
  });
}

Result<DeadLetter> PostgresStore::GetDeadLetter(int64_t id) {
  return Read("postgres store: get dead letter", [&](Tx& tx) -> Result<DeadLetter> {
    pqxx::result r =
        tx.Exec("SELECT id, topic, key, payload, error, attempts, created_at_ms FROM dead_letters WHERE id = $1", id);
    if (r.empty()) return DeadLetterNotFound(id);
    return ReadDeadLetter(r[0]);
  });
}

Status PostgresStore::DeleteDeadLetter(int64_t id) {
  return Write("postgres store: delete dead letter", [&](Tx& tx) -> Status {
    if (tx.Exec("DELETE FROM dead_letters WHERE id = $1", id).affected_rows() == 0) return DeadLetterNotFound(id);
    return Status::Ok();
  });
}

}  // namespace im::postgres
