// RocksDbStore: device tokens, push settings and dead letters (schema version 2; layout in
// schema.h). See rocksdb_store_impl.h for the threading model.
#include <algorithm>
#include <limits>
#include <tuple>

#include "rocksdb/rocksdb_store_impl.h"

namespace im::rocks {
namespace {

bool KnownPlatform(PushPlatform p) { return p == PushPlatform::kApns || p == PushPlatform::kFcm; }

Status UserNotFound(UserId u) { return Status::NotFound("user " + std::to_string(u.value) + " does not exist"); }

Status DeadLetterNotFound(int64_t id) {
  return Status::NotFound("dead letter " + std::to_string(id) + " does not exist");
}

}  // namespace

// ---- writer-thread helpers ----

Status RocksDbStore::DeleteDevicesOf(UserId user) {
  std::vector<std::string> index_keys;
  {
    PrefixScan scan(UserDevicePrefix(user));
    w().Start(scan, Cf::kPush);
    for (; scan.Valid(); scan.Next()) index_keys.emplace_back(scan.key());
    if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan device tokens");
  }
  const size_t prefix_size = UserDevicePrefix(user).size();
  std::string value;
  for (const std::string& index_key : index_keys) {
    if (index_key.size() < prefix_size + 1) return CorruptValue(Cf::kPush, index_key);
    // The index row names (platform, token): the token's own record goes too, if it is still the
    // user's (the index follows the record, so it should always be).
    const std::string token_key = "t" + index_key.substr(prefix_size);
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kPush, token_key, &value, &found));
    if (found) {
      DeviceRecord r;
      if (!DecodeDevice(value, &r)) return CorruptValue(Cf::kPush, token_key);
      if (r.user == user) IM_RETURN_IF_ERROR(w().Delete(Cf::kPush, token_key));
    }
    IM_RETURN_IF_ERROR(w().Delete(Cf::kPush, index_key));
  }
  return w().Delete(Cf::kPush, PushSettingsKey(user));
}

Status RocksDbStore::RequireUser(UserId user) {
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(w().Get(Cf::kUsers, UserKey(user), &value, &found));
  return found ? Status::Ok() : UserNotFound(user);
}

// ---- device tokens ----

Status RocksDbStore::PutDeviceToken(const DeviceToken& token) {
  if (!KnownPlatform(token.platform)) {
    return Status::InvalidArgument("rocksdb store: unknown push platform " + std::to_string(int(token.platform)));
  }
  return Write([&]() -> Status {
    IM_RETURN_IF_ERROR(RequireUser(token.user));
    const std::string key = DeviceTokenKey(token.platform, token.token);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kPush, key, &value, &found));
    if (found) {
      DeviceRecord old;
      if (!DecodeDevice(value, &old)) return CorruptValue(Cf::kPush, key);
      if (old.user != token.user) {  // the token moves: off the previous holder's list
        IM_RETURN_IF_ERROR(w().Delete(Cf::kPush, UserDeviceKey(old.user, token.platform, token.token)));
      }
    }
    EncodeDevice(DeviceRecord{token.user, token.device, token.updated_at_ms}, &value);
    IM_RETURN_IF_ERROR(w().Put(Cf::kPush, key, value));
    return w().Put(Cf::kPush, UserDeviceKey(token.user, token.platform, token.token), "");
  });
}

Status RocksDbStore::DeleteDeviceToken(PushPlatform platform, const std::string& token) {
  return Write([&]() -> Status {
    const std::string key = DeviceTokenKey(platform, token);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kPush, key, &value, &found));
    if (!found) return Status::Ok();
    DeviceRecord r;
    if (!DecodeDevice(value, &r)) return CorruptValue(Cf::kPush, key);
    IM_RETURN_IF_ERROR(w().Delete(Cf::kPush, UserDeviceKey(r.user, platform, token)));
    return w().Delete(Cf::kPush, key);
  });
}

Result<std::vector<DeviceToken>> RocksDbStore::ListDeviceTokens(UserId user) {
  ReadView view(db_.get());
  std::vector<DeviceToken> tokens;
  std::vector<std::string> suffixes;  // u8(platform) token
  {
    PrefixScan scan(UserDevicePrefix(user), view.snapshot());
    Start(scan, Cf::kPush);
    for (; scan.Valid(); scan.Next()) {
      if (scan.suffix().empty()) return CorruptValue(Cf::kPush, scan.key());
      suffixes.emplace_back(scan.suffix());
    }
    if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list device tokens");
  }
  std::string value;
  for (const std::string& suffix : suffixes) {
    const std::string key = "t" + suffix;
    bool found = false;
    IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kPush, key, &value, &found));
    if (!found) continue;  // an index row without its record (never written so): not a token
    DeviceRecord r;
    if (!DecodeDevice(value, &r)) return CorruptValue(Cf::kPush, key);
    if (r.user != user) continue;
    tokens.push_back(DeviceToken{user, static_cast<PushPlatform>(static_cast<uint8_t>(suffix[0])), suffix.substr(1),
                                 std::move(r.device), r.updated_at_ms});
  }
  std::sort(tokens.begin(), tokens.end(), [](const DeviceToken& a, const DeviceToken& b) {
    return std::tie(a.updated_at_ms, a.platform, a.token) < std::tie(b.updated_at_ms, b.platform, b.token);
  });
  return tokens;
}

// ---- push settings ----

Result<PushSettings> RocksDbStore::GetPushSettings(UserId user) {
  const std::string key = PushSettingsKey(user);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kPush, key, &value, &found));
  PushSettings settings;
  if (found && !DecodePushSettings(value, &settings)) return CorruptValue(Cf::kPush, key);
  return settings;
}

Status RocksDbStore::PutPushSettings(UserId user, const PushSettings& settings) {
  return Write([&]() -> Status {
    IM_RETURN_IF_ERROR(RequireUser(user));
    std::string value;
    EncodePushSettings(settings, &value);
    return w().Put(Cf::kPush, PushSettingsKey(user), value);
  });
}

// ---- dead letters ----

Result<int64_t> RocksDbStore::AddDeadLetter(const DeadLetter& letter) {
  int64_t id = 0;
  Status s = Write([&]() -> Status {
    IM_ASSIGN_OR_RETURN(id, w().NextDeadLetterId());
    std::string value;
    EncodeDeadLetter(letter, &value);
    return w().Put(Cf::kDeadLetters, DeadLetterKey(id), value);
  });
  if (!s.ok()) return s;
  return id;
}

Result<std::vector<DeadLetter>> RocksDbStore::ListDeadLetters(int64_t after_id, uint32_t limit) {
  std::vector<DeadLetter> letters;
  if (limit == 0 || after_id == std::numeric_limits<int64_t>::max()) return letters;
  PrefixScan scan("");
  Start(scan, Cf::kDeadLetters, DeadLetterKey(std::max<int64_t>(after_id, 0) + 1));
  for (; scan.Valid() && letters.size() < limit; scan.Next()) {
    DeadLetter d;
    if (scan.key().size() != 8 || !DecodeDeadLetter(scan.value(), &d)) {
      return CorruptValue(Cf::kDeadLetters, scan.key());
    }
    d.id = static_cast<int64_t>(ReadU64(scan.key().data()));
    letters.push_back(std::move(d));
  }
  if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list dead letters");
  return letters;
}

Result<DeadLetter> RocksDbStore::GetDeadLetter(int64_t id) {
  if (id <= 0) return DeadLetterNotFound(id);
  const std::string key = DeadLetterKey(id);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kDeadLetters, key, &value, &found));
  if (!found) return DeadLetterNotFound(id);
  DeadLetter d;
  if (!DecodeDeadLetter(value, &d)) return CorruptValue(Cf::kDeadLetters, key);
  d.id = id;
  return d;
}

Status RocksDbStore::DeleteDeadLetter(int64_t id) {
  if (id <= 0) return DeadLetterNotFound(id);
  return Write([&]() -> Status {
    const std::string key = DeadLetterKey(id);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kDeadLetters, key, &value, &found));
    if (!found) return DeadLetterNotFound(id);
    return w().Delete(Cf::kDeadLetters, key);
  });
}

}  // namespace im::rocks
