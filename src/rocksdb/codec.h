// Values of the RocksDB store (layout in schema.h): one struct per record kind, encoded as a
// format byte followed by varints (zigzag for signed fields) and length-prefixed strings.
//
// Decode* never trusts its input: it checks every length against the bytes left and that the
// value is consumed exactly, and returns false for anything malformed (the caller reports
// internal). Encoding appends to a caller-owned string, so a hot path can reuse its buffer.
#ifndef IM_ROCKSDB_CODEC_H_
#define IM_ROCKSDB_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "im/ids.h"
#include "im/model.h"
#include "im/status.h"
#include "im/store.h"
#include "rocksdb/schema.h"

namespace im::rocks {

// First byte of every value; bumped (with kSchemaVersion) if a record changes shape.
constexpr uint8_t kRecordFormat = 1;
// The format of group and member values since schema version 3 (join policy, history visibility,
// joined seq appended). Values of format 1 still decode, as what they meant before; a value of
// format 2 must carry every field, so a truncated one never decodes.
constexpr uint8_t kGroupRecordFormatV3 = 2;

struct UserRecord {
  std::string username;
  std::string display_name;
  TimestampMs created_at_ms = 0;
};

struct TokenRecord {
  UserId user;
  std::string family_id;
  DeviceId device;
  TimestampMs expires_at_ms = 0;
  bool used = false;
  bool revoked = false;
};

struct GroupRecord {
  std::string name;
  UserId owner;
  uint32_t member_count = 0;
  uint32_t max_members = 0;
  bool dismissed = false;
  TimestampMs created_at_ms = 0;
  // Since schema version 3 (kGroupRecordFormatV3); a format-1 value decodes as open with full
  // history.
  JoinPolicy join_policy = JoinPolicy::kOpen;
  HistoryVisibility history_visibility = HistoryVisibility::kFull;
};

struct MemberRecord {
  GroupRole role = GroupRole::kMember;
  TimestampMs joined_at_ms = 0;
  Seq joined_seq = 0;  // since schema version 3 (kGroupRecordFormatV3); 0 in a format-1 value
};

// An invitation, join request or ban (the key holds the group, the kind and the user).
struct RelationRecord {
  UserId actor;
  TimestampMs created_at_ms = 0;
};

struct HeadRecord {
  Seq first_seq = 1;
  Seq last_seq = 0;
  TimestampMs last_activity_ms = 0;
};

// The message fields not in its key (conversation and seq are).
struct MessageRecord {
  MessageId id;
  UserId sender;
  ContentType type = ContentType::kText;
  std::string_view client_msg_id;  // views into the encoded value / the NewMessage
  std::string_view content;
  TimestampMs sent_at_ms = 0;
};

struct IdemRecord {
  std::string_view conversation;  // a view into the encoded value
  Seq seq = 0;
  MessageId id;
  TimestampMs sent_at_ms = 0;
};

// A device token's holder (platform and token are in its key).
struct DeviceRecord {
  UserId user;
  DeviceId device;
  TimestampMs updated_at_ms = 0;
};

void EncodeUser(const UserRecord& r, std::string* out);
bool DecodeUser(std::string_view in, UserRecord* r);

void EncodeToken(const TokenRecord& r, std::string* out);
bool DecodeToken(std::string_view in, TokenRecord* r);

void EncodeFamily(bool revoked, std::string* out);
bool DecodeFamily(std::string_view in, bool* revoked);

void EncodeGroup(const GroupRecord& r, std::string* out);
bool DecodeGroup(std::string_view in, GroupRecord* r);

void EncodeMember(const MemberRecord& r, std::string* out);
bool DecodeMember(std::string_view in, MemberRecord* r);

void EncodeRelation(const RelationRecord& r, std::string* out);
bool DecodeRelation(std::string_view in, RelationRecord* r);

void EncodeHead(const HeadRecord& r, std::string* out);
bool DecodeHead(std::string_view in, HeadRecord* r);

void EncodeReadSeq(Seq read_seq, std::string* out);
bool DecodeReadSeq(std::string_view in, Seq* read_seq);

void EncodeMessage(const MessageRecord& r, std::string* out);
bool DecodeMessage(std::string_view in, MessageRecord* r);

void EncodeIdem(const IdemRecord& r, std::string* out);
bool DecodeIdem(std::string_view in, IdemRecord* r);

void EncodeDevice(const DeviceRecord& r, std::string* out);
bool DecodeDevice(std::string_view in, DeviceRecord* r);

void EncodePushSettings(const PushSettings& r, std::string* out);
bool DecodePushSettings(std::string_view in, PushSettings* r);

// Every field but the id (the key).
void EncodeDeadLetter(const DeadLetter& r, std::string* out);
bool DecodeDeadLetter(std::string_view in, DeadLetter* r);

// A bare U64 value (id counters, the usernames index).
bool DecodeU64Value(std::string_view in, uint64_t* v);

// "rocksdb store: corrupt value in <cf> at <key>" (internal).
Status CorruptValue(Cf cf, std::string_view key);

}  // namespace im::rocks

#endif  // IM_ROCKSDB_CODEC_H_
