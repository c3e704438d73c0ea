// The RocksDB store's on-disk layout: column families, keys, and the schema version.
//
// Column families and keys (U64 = 8 bytes big-endian, so numeric order is byte order; ids are
// positive int64; `conv` is the canonical conversation id string, "d:<a>:<b>" or "g:<g>"):
//
//   default        "schema_version"                    -> varint   (kSchemaVersion; see below)
//                  "last_user_id" / "last_group_id"    -> U64      (id allocation counters)
//                  "last_dead_letter_id"               -> U64      (since version 2)
//   users          U64(user)                           -> UserRecord {username, display_name, created_at}
//   usernames      username                            -> U64(user)            (unique index)
//   auth           'p' U64(user)                       -> password hash (credentials)
//                  't' token_hash                      -> TokenRecord {user, family, device, expiry,
//                                                         used, revoked}
//                  'f' family_id                       -> FamilyRecord {revoked}
//                  'u' U64(user) family_id             -> ""   (the user's login families)
//   groups         U64(group)                          -> GroupRecord {name, owner, member_count,
//                                                         max_members, dismissed, created_at}
//   groups (v3)    U64(group)                          -> GroupRecord {…, join_policy,
//                                                         history_visibility}
//   members        'g' U64(group) U64(user)            -> MemberRecord {role, joined_at,
//                                                         joined_seq (v3)}
//                  'u' U64(user) U64(group)            -> ""   (the user's groups: DeleteUser)
//                  'r' U64(group) u8(kind) U64(user)   -> RelationRecord {actor, created_at} (v3:
//                                                         invitations, join requests, bans)
//                  'R' U64(user) u8(kind) U64(group)   -> ""   (v3: the user's relations)
//   conversations  'h' conv                            -> HeadRecord {first_seq, last_seq,
//                                                         last_activity}
//                  'l' U64(user) conv                  -> ListRecord {read_seq}: the conversation
//                                                         is on the user's list, with the user's
//                                                         read pointer
//   messages       conv 0x00 U64(seq)                  -> MessageRecord {id, sender, type,
//                                                         client_msg_id, content, sent_at}
//   idempotency    U64(sender) client_msg_id           -> IdemRecord {conv, seq, id, sent_at}
//   push           't' u8(platform) token              -> DeviceRecord {user, device, updated_at}
//                  'u' U64(user) u8(platform) token    -> ""   (the user's device tokens)
//                  's' U64(user)                       -> SettingsRecord {muted, show_preview}
//   dead_letters   U64(id)                             -> DeadLetterRecord {topic, key, payload,
//                                                         error, attempts, created_at}
//
// Why this shape:
//  - messages are clustered by conversation and ordered by seq, so history and sync are one
//    bounded range scan (forward, or backward for newest-first). 0x00 never occurs in a
//    conversation id, so "g:1" 0x00 … sorts before "g:12" 0x00 … and ranges never interleave.
//  - The idempotency index is a point lookup keyed by (sender, client_msg_id) that returns the
//    original's ack fields without reading the message. Trimming history deletes the keys of the
//    trimmed messages with them.
//  - A revoked family is one 'f' record: a token reads as revoked when its own flag or its
//    family's is set, so revoking a family writes one key whatever the number of tokens.
//  - The conversation list of a user is a prefix scan of their 'l' rows, joined with the heads;
//    nothing per member is written when a message arrives (a 100k-member group costs one head
//    write per batch, not 100k list writes).
//  - Heads carry last_seq (the pointer to the last message) and first_seq (after trimming).
//  - A device token is keyed by (platform, token), so it has one holder: registering it again
//    rewrites its 't' record and moves its 'u' row to the new user in one batch. Listing a user's
//    tokens is a prefix scan of their 'u' rows (few per user), sorted by update time in memory.
//  - Dead-letter ids come from a counter kept next to the others, so they are never reused, even
//    after the highest is deleted or the process restarts; the U64 keys list them in id order.
//  - Version 3 writes group and member values in record format 2 (kGroupRecordFormatV3), with
//    its fields appended, instead of rewriting the stored ones: a format-1 value means what it
//    meant before (an open group with its whole history visible, a member who sees it all). Group relations live next to the memberships they
//    change, so a ban and the membership it removes are one batch in one column family; the
//    version bump alone keeps an older libim from opening (and misreading) a newer database.
//
// Values start with a one-byte record format (kRecordFormat) followed by varints and
// length-prefixed strings (codec.h). A value that does not decode is reported as internal,
// naming its column family and key; it never crashes the process.
//
// Schema versions: "schema_version" in the default column family. A database without it is new
// and gets the current version in its first (synced) write. A newer version is refused with
// failed_precondition; an older one is migrated forward by kMigrations (schema.cc), each step
// committing its changes and the version bump in one WriteBatch.
//
// Version 2 added the push and dead_letters column families (created on open when missing, as
// every family is) and the dead-letter id counter.
#ifndef IM_ROCKSDB_SCHEMA_H_
#define IM_ROCKSDB_SCHEMA_H_

#include <rocksdb/db.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "im/ids.h"
#include "im/model.h"
#include "im/status.h"

namespace im::rocks {

// The version a database written by this libim has.
constexpr uint32_t kSchemaVersion = 3;

enum class Cf : int {
  kDefault = 0,
  kUsers,
  kUsernames,
  kAuth,
  kGroups,
  kMembers,
  kConversations,
  kMessages,
  kIdempotency,
  kPush,         // since version 2
  kDeadLetters,  // since version 2
  kCount,
};
constexpr size_t kCfCount = static_cast<size_t>(Cf::kCount);

// Column family names, indexed by Cf.
const char* CfName(Cf cf);

// The open column families, indexed by Cf.
using CfHandles = std::array<rocksdb::ColumnFamilyHandle*, kCfCount>;

// Keys of the default column family.
inline constexpr std::string_view kSchemaVersionKey = "schema_version";
inline constexpr std::string_view kLastUserIdKey = "last_user_id";
inline constexpr std::string_view kLastGroupIdKey = "last_group_id";
inline constexpr std::string_view kLastDeadLetterIdKey = "last_dead_letter_id";

// ---- key builders ----
void AppendU64(std::string* out, uint64_t v);
uint64_t ReadU64(const char* p);  // 8 bytes, big-endian

std::string U64Key(uint64_t v);
inline std::string UserKey(UserId u) { return U64Key(static_cast<uint64_t>(u.value)); }
inline std::string GroupKey(GroupId g) { return U64Key(static_cast<uint64_t>(g.value)); }

std::string PasswordKey(UserId u);                                // auth 'p'
std::string TokenKey(std::string_view token_hash);                // auth 't'
std::string FamilyKey(std::string_view family_id);                // auth 'f'
std::string UserFamilyKey(UserId u, std::string_view family_id);  // auth 'u'
std::string UserFamilyPrefix(UserId u);

std::string MemberKey(GroupId g, UserId u);  // members 'g'
std::string MemberPrefix(GroupId g);
std::string UserGroupKey(UserId u, GroupId g);  // members 'u'
std::string UserGroupPrefix(UserId u);
std::string RelationKey(GroupId g, GroupRelationKind kind, UserId u);  // members 'r'
std::string RelationPrefix(GroupId g, GroupRelationKind kind);
std::string UserRelationKey(UserId u, GroupRelationKind kind, GroupId g);  // members 'R'
std::string UserRelationPrefix(UserId u, GroupRelationKind kind);

std::string HeadKey(std::string_view conversation);            // conversations 'h'
std::string ListKey(UserId u, std::string_view conversation);  // conversations 'l'
std::string ListPrefix(UserId u);

std::string MessageKey(std::string_view conversation, Seq seq);  // messages
std::string MessagePrefix(std::string_view conversation);        // conv 0x00

std::string IdemKey(UserId sender, std::string_view client_msg_id);

std::string DeviceTokenKey(PushPlatform platform, std::string_view token);           // push 't'
std::string UserDeviceKey(UserId u, PushPlatform platform, std::string_view token);  // push 'u'
std::string UserDevicePrefix(UserId u);
std::string PushSettingsKey(UserId u);  // push 's'
inline std::string DeadLetterKey(int64_t id) { return U64Key(static_cast<uint64_t>(id)); }

// The smallest key greater than every key starting with `prefix` ("" if there is none).
std::string PrefixEnd(std::string_view prefix);

// A key for messages (the prefix already known to match): its seq; false when malformed.
bool SeqOfMessageKey(std::string_view key, size_t prefix_size, Seq* seq);

// Printable form of a key for error messages (non-printable bytes as \xNN).
std::string PrintableKey(std::string_view key);

// ---- opening ----

// Checks the schema version of a freshly opened database and brings it to kSchemaVersion:
// initializes a new database (version and id counters, synced), migrates an older one, refuses
// a newer one with failed_precondition.
Status CheckAndMigrateSchema(rocksdb::DB* db, const CfHandles& cfs);

}  // namespace im::rocks

#endif  // IM_ROCKSDB_SCHEMA_H_
