// Plain data types shared by the Engine API and the Store seam. No behaviour lives here.
#ifndef IM_MODEL_H_
#define IM_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "im/ids.h"

namespace im {

// Milliseconds since the Unix epoch.
using TimestampMs = int64_t;

struct User {
  UserId id;
  std::string username;  // unique, lower-case
  std::string display_name;
  TimestampMs created_at_ms = 0;
};

enum class ContentType : uint8_t {
  kText = 1,    // UTF-8 text
  kCustom = 2,  // an application-defined JSON document (validated as JSON)
};

struct Message {
  MessageId id;
  ConversationId conversation;
  Seq seq = 0;
  UserId sender;
  std::string client_msg_id;  // the sender's idempotency key ("" when none was given)
  ContentType type = ContentType::kText;
  std::string content;
  TimestampMs sent_at_ms = 0;
};

enum class GroupRole : uint8_t { kMember = 0, kAdmin = 1, kOwner = 2 };

// Who may become a member (docs/architecture.md "Group policy"). The numeric values are stored:
// 0 is what groups created before join policies existed read as (they were open).
enum class JoinPolicy : uint8_t {
  kOpen = 0,      // anyone who knows the id may look the group up and join
  kInvite = 1,    // only users an owner or admin invited (the default for new groups)
  kApproval = 2,  // anyone may ask to join; an owner or admin approves or rejects
};

// Which messages a member may read. 0 is what older groups read as (everything).
enum class HistoryVisibility : uint8_t {
  kFull = 0,    // every stored message, also from before the member joined
  kJoined = 1,  // only messages sent after the member (last) joined (the default for new groups)
};

struct GroupSettings {
  JoinPolicy join_policy = JoinPolicy::kInvite;
  HistoryVisibility history_visibility = HistoryVisibility::kJoined;
};

struct Group {
  GroupId id;
  std::string name;
  UserId owner;
  uint32_t member_count = 0;
  uint32_t max_members = 0;
  bool dismissed = false;
  TimestampMs created_at_ms = 0;
  JoinPolicy join_policy = JoinPolicy::kInvite;
  HistoryVisibility history_visibility = HistoryVisibility::kJoined;
};

struct GroupMember {
  UserId user;
  GroupRole role = GroupRole::kMember;
  TimestampMs joined_at_ms = 0;
  // The conversation's last seq when the member (last) joined, set by the store: with
  // HistoryVisibility::kJoined the member reads only seqs above it. 0 for the owner and for
  // members of stores written before it existed.
  Seq joined_seq = 0;
};

// A pending relation between a user and a group that is not membership.
enum class GroupRelationKind : uint8_t {
  kInvitation = 1,   // an owner or admin (`actor`) invited `user`; `user` accepts by joining
  kJoinRequest = 2,  // `user` asked to join an approval group (`actor` is `user`)
  kBan = 3,          // `actor` banned `user`: they cannot join, be invited or ask to join
};

struct GroupRelation {
  GroupId group;
  UserId user;
  GroupRelationKind kind = GroupRelationKind::kInvitation;
  UserId actor;  // who created it
  TimestampMs created_at_ms = 0;
};

// One row of a user's conversation list.
struct ConversationSummary {
  ConversationId id;
  Seq last_seq = 0;
  Seq read_seq = 0;     // the user's read pointer
  uint64_t unread = 0;  // last_seq - read_seq (a user's own sends advance their read pointer)
  TimestampMs last_activity_ms = 0;
  std::optional<Message> last_message;  // absent for a conversation with no message yet
};

// ---- offline push ----

enum class PushPlatform : uint8_t {
  kApns = 1,  // Apple Push Notification service: the token is the device token in hex
  kFcm = 2,   // Firebase Cloud Messaging: the token is the app instance's registration token
};

// A device that wants offline pushes. A token belongs to one user at a time: registering it
// again (for example after another user logged in on the device) moves it.
struct DeviceToken {
  UserId user;
  PushPlatform platform = PushPlatform::kApns;
  std::string token;  // 1..4096 printable ASCII bytes
  DeviceId device;    // the session device id that registered it ("" when unknown)
  TimestampMs updated_at_ms = 0;
};

// Per-user push preferences; a user who never set them gets these defaults.
struct PushSettings {
  bool muted = false;        // no pushes at all
  bool show_preview = true;  // false: the push says "New message" instead of the text
};

}  // namespace im

#endif  // IM_MODEL_H_
