#include "rocksdb/schema.h"

#include <rocksdb/write_batch.h>

#include "rocksdb/codec.h"
#include "rocksdb/error.h"

namespace im::rocks {
namespace {

// Indexed by Cf; "default" is rocksdb::kDefaultColumnFamilyName.
constexpr const char* kCfNames[kCfCount] = {
    "default",       "users",    "usernames",   "auth", "groups",       "members",
    "conversations", "messages", "idempotency", "push", "dead_letters",
};

std::string Tagged(char tag, size_t reserve) {
  std::string key;
  key.reserve(reserve + 1);
  key.push_back(tag);
  return key;
}

// A step takes the database from version i to i + 1 by adding its changes to `batch`, which is
// written (with the version bump) atomically and synced. kMigrations[0] initializes a new
// database. Append only: a released step is never edited.
using MigrationStep = Status (*)(rocksdb::DB* db, const CfHandles& cfs, rocksdb::WriteBatch* batch);

Status InitializeV1(rocksdb::DB* /*db*/, const CfHandles& cfs, rocksdb::WriteBatch* batch) {
  // The column families exist already (created on open); the id counters start at 0.
  for (std::string_view key : {kLastUserIdKey, kLastGroupIdKey}) {
    auto s = batch->Put(cfs[static_cast<size_t>(Cf::kDefault)], key, U64Key(0));
    if (!s.ok()) return FromRocks(s, "rocksdb store: initialize");
  }
  return Status::Ok();
}

// Version 2: device tokens, push settings and dead letters. Their column families were created
// on open; only the dead-letter id counter starts here (at 0).
Status AddPushAndDeadLettersV2(rocksdb::DB* /*db*/, const CfHandles& cfs, rocksdb::WriteBatch* batch) {
  auto s = batch->Put(cfs[static_cast<size_t>(Cf::kDefault)], kLastDeadLetterIdKey, U64Key(0));
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: migrate to version 2");
}

// Version 3: group join policies, joined seqs and relations. Older group and member values decode
// as they always meant (fields added at their end), and relations start empty: nothing to write.
Status AddGroupPolicyV3(rocksdb::DB* /*db*/, const CfHandles& /*cfs*/, rocksdb::WriteBatch* /*batch*/) {
  return Status::Ok();
}

constexpr MigrationStep kMigrations[] = {InitializeV1, AddPushAndDeadLettersV2, AddGroupPolicyV3};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration step per schema version");

Status PutVersion(rocksdb::WriteBatch* batch, const CfHandles& cfs, uint32_t version) {
  std::string value;
  EncodeReadSeq(version, &value);  // a bare varint record
  auto s = batch->Put(cfs[static_cast<size_t>(Cf::kDefault)], kSchemaVersionKey, value);
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: schema version");
}

}  // namespace

const char* CfName(Cf cf) { return kCfNames[static_cast<size_t>(cf)]; }

void AppendU64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string U64Key(uint64_t v) {
  std::string key;
  AppendU64(&key, v);
  return key;
}

std::string PasswordKey(UserId u) {
  std::string key = Tagged('p', 8);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string TokenKey(std::string_view token_hash) {
  std::string key = Tagged('t', token_hash.size());
  key.append(token_hash);
  return key;
}

std::string FamilyKey(std::string_view family_id) {
  std::string key = Tagged('f', family_id.size());
  key.append(family_id);
  return key;
}

std::string UserFamilyPrefix(UserId u) {
  std::string key = Tagged('u', 8);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string UserFamilyKey(UserId u, std::string_view family_id) {
  std::string key = UserFamilyPrefix(u);
  key.append(family_id);
  return key;
}

std::string MemberPrefix(GroupId g) {
  std::string key = Tagged('g', 16);
  AppendU64(&key, static_cast<uint64_t>(g.value));
  return key;
}

std::string MemberKey(GroupId g, UserId u) {
  std::string key = MemberPrefix(g);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string UserGroupPrefix(UserId u) {
  std::string key = Tagged('u', 16);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string UserGroupKey(UserId u, GroupId g) {
  std::string key = UserGroupPrefix(u);
  AppendU64(&key, static_cast<uint64_t>(g.value));
  return key;
}

std::string RelationPrefix(GroupId g, GroupRelationKind kind) {
  std::string key = Tagged('r', 17);
  AppendU64(&key, static_cast<uint64_t>(g.value));
  key.push_back(static_cast<char>(kind));
  return key;
}

std::string RelationKey(GroupId g, GroupRelationKind kind, UserId u) {
  std::string key = RelationPrefix(g, kind);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string UserRelationPrefix(UserId u, GroupRelationKind kind) {
  std::string key = Tagged('R', 17);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  key.push_back(static_cast<char>(kind));
  return key;
}

std::string UserRelationKey(UserId u, GroupRelationKind kind, GroupId g) {
  std::string key = UserRelationPrefix(u, kind);
  AppendU64(&key, static_cast<uint64_t>(g.value));
  return key;
}

std::string HeadKey(std::string_view conversation) {
  std::string key = Tagged('h', conversation.size());
  key.append(conversation);
  return key;
}

std::string ListPrefix(UserId u) {
  std::string key = Tagged('l', 8 + 24);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string ListKey(UserId u, std::string_view conversation) {
  std::string key = ListPrefix(u);
  key.append(conversation);
  return key;
}

std::string MessagePrefix(std::string_view conversation) {
  std::string key;
  key.reserve(conversation.size() + 9);
  key.append(conversation);
  key.push_back('\0');
  return key;
}

std::string MessageKey(std::string_view conversation, Seq seq) {
  std::string key = MessagePrefix(conversation);
  AppendU64(&key, seq);
  return key;
}

std::string IdemKey(UserId sender, std::string_view client_msg_id) {
  std::string key;
  key.reserve(8 + client_msg_id.size());
  AppendU64(&key, static_cast<uint64_t>(sender.value));
  key.append(client_msg_id);
  return key;
}

std::string DeviceTokenKey(PushPlatform platform, std::string_view token) {
  std::string key = Tagged('t', 1 + token.size());
  key.push_back(static_cast<char>(platform));
  key.append(token);
  return key;
}

std::string UserDevicePrefix(UserId u) {
  std::string key = Tagged('u', 8 + 1 + 64);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string UserDeviceKey(UserId u, PushPlatform platform, std::string_view token) {
  std::string key = UserDevicePrefix(u);
  key.push_back(static_cast<char>(platform));
  key.append(token);
  return key;
}

std::string PushSettingsKey(UserId u) {
  std::string key = Tagged('s', 8);
  AppendU64(&key, static_cast<uint64_t>(u.value));
  return key;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<uint8_t>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

bool SeqOfMessageKey(std::string_view key, size_t prefix_size, Seq* seq) {
  if (key.size() != prefix_size + 8) return false;
  *seq = ReadU64(key.data() + prefix_size);
  return true;
}

std::string PrintableKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : key) {
    auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

Status CheckAndMigrateSchema(rocksdb::DB* db, const CfHandles& cfs) {
  auto* meta = cfs[static_cast<size_t>(Cf::kDefault)];
  std::string value;
  uint32_t version = 0;
  auto s = db->Get(rocksdb::ReadOptions(), meta, kSchemaVersionKey, &value);
  if (s.ok()) {
    Seq stored = 0;
    if (!DecodeReadSeq(value, &stored)) return CorruptValue(Cf::kDefault, kSchemaVersionKey);
    if (stored > kSchemaVersion) {
      return Status::FailedPrecondition("rocksdb store: database schema version " + std::to_string(stored) +
                                        " is newer than this libim (" + std::to_string(kSchemaVersion) + ")");
    }
    version = static_cast<uint32_t>(stored);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "rocksdb store: read schema version");
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  while (version < kSchemaVersion) {
    rocksdb::WriteBatch batch;
    IM_RETURN_IF_ERROR(kMigrations[version](db, cfs, &batch));
    IM_RETURN_IF_ERROR(PutVersion(&batch, cfs, version + 1));
    auto w = db->Write(sync, &batch);
    if (!w.ok()) return FromRocks(w, "rocksdb store: schema migration to version " + std::to_string(version + 1));
    ++version;
  }
  return Status::Ok();
}

}  // namespace im::rocks
