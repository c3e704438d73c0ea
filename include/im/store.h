// Store: the storage seam. The engine keeps no durable state of its own; everything it must not
// lose goes through this interface.
//
// Contract for every implementation (checked by im/testing/store_conformance.h):
//  - Thread-safe: any method may be called from any thread concurrently.
//  - A method that returns ok has made its effect durable (as durable as the backend promises:
//    an fsync'd commit for SQLite, memory for MemoryStore) and visible to every later read.
//  - Methods may block (disk, network). The engine calls them on the thread of the Engine call
//    (SendAsync: its worker pool); hosts keep such calls off their network threads.
//  - Errors use the canonical codes: not_found, already_exists, failed_precondition,
//    resource_exhausted, unavailable (transient: the caller may retry), internal.
//  - Methods added after 1.0 are non-pure and return NotSupported by default, so adapters written
//    against an older header keep compiling.
#ifndef IM_STORE_H_
#define IM_STORE_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "im/ids.h"
#include "im/model.h"
#include "im/status.h"

namespace im {

struct NewUser {
  std::string username;
  std::string display_name;
  std::string password_hash;  // opaque to the store (see Engine: PBKDF2 encoded string)
  TimestampMs created_at_ms = 0;
};

struct UserCredentials {
  UserId id;
  std::string password_hash;
};

// A refresh token as stored: only a hash of the token ever reaches the store.
struct RefreshTokenRecord {
  std::string token_hash;  // primary key (hex SHA-256 of the random token)
  UserId user;
  std::string family_id;  // every rotation of one login shares the family
  DeviceId device;
  TimestampMs expires_at_ms = 0;
  bool used = false;     // rotated already: presenting it again is reuse
  bool revoked = false;  // the family was revoked (logout, reuse detected, user deleted)
};

struct NewGroup {
  std::string name;
  UserId owner;
  uint32_t max_members = 0;
  TimestampMs created_at_ms = 0;
  JoinPolicy join_policy = JoinPolicy::kInvite;
  HistoryVisibility history_visibility = HistoryVisibility::kJoined;
};

struct NewMessage {
  MessageId id;  // assigned by the engine, unique
  ConversationId conversation;
  UserId sender;
  std::string client_msg_id;  // "" disables idempotency for this message
  ContentType type = ContentType::kText;
  std::string content;
  TimestampMs sent_at_ms = 0;
};

struct AppendResult {
  ConversationId conversation;  // for a duplicate: the conversation the original went to
  MessageId id;
  Seq seq = 0;
  TimestampMs sent_at_ms = 0;
  bool duplicate = false;  // (sender, client_msg_id) was already stored: id/seq are the original's
};

// Where a conversation's history stands.
struct ConversationState {
  Seq last_seq = 0;   // 0: no message yet
  Seq first_seq = 1;  // lowest seq still stored; > 1 after TrimHistory
  TimestampMs last_activity_ms = 0;
};

// Position in a conversation list ordered by (last_activity_ms DESC, id DESC): the next page
// starts strictly after this row. A default cursor (invalid id) starts at the top.
struct ConversationCursor {
  TimestampMs last_activity_ms = 0;
  ConversationId id;
};

// A page of messages of one conversation, ordered by seq.
struct MessageRange {
  Seq after_seq = 0;   // exclusive lower bound (0: from the start)
  Seq before_seq = 0;  // exclusive upper bound (0: no bound)
  uint32_t limit = 50;
  bool newest_first = false;  // true: the `limit` highest seqs in the range, descending
};

// A task or record that failed for good (dead letters: docs/search-and-push.md), kept until an operator
// re-drives or deletes it.
struct DeadLetter {
  int64_t id = 0;     // assigned by AddDeadLetter, increasing
  std::string topic;  // the topic it came from (im-task, im-upstream, ...)
  std::string key;    // its key on that topic
  std::string payload;
  std::string error;  // the last failure, Status::ToString()
  int attempts = 0;   // deliveries that failed
  TimestampMs created_at_ms = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- users ----
  // already_exists when the username is taken.
  virtual Result<User> CreateUser(const NewUser& user) = 0;
  virtual Result<User> GetUser(UserId id) = 0;
  // Unknown ids are skipped; order follows `ids`.
  virtual Result<std::vector<User>> GetUsers(std::span<const UserId> ids) = 0;
  virtual Result<UserCredentials> GetCredentials(const std::string& username) = 0;
  // Changes the display name. not_found for an unknown user.
  virtual Status UpdateUser(const User& user) = 0;
  // Replaces the stored password hash (password change, or a re-hash at a higher cost).
  virtual Status UpdatePasswordHash(UserId id, const std::string& password_hash) = 0;
  // Removes the user, their credentials, group memberships, device tokens and push settings, and
  // revokes their refresh tokens, in one write. failed_precondition while they own a group that is
  // not dismissed (transfer or dismiss it first). Messages they sent stay in history.
  virtual Status DeleteUser(UserId id) = 0;

  // ---- refresh tokens ----
  virtual Status PutRefreshToken(const RefreshTokenRecord& record) = 0;
  virtual Result<RefreshTokenRecord> GetRefreshToken(const std::string& token_hash) = 0;
  // Atomically marks an unused, unrevoked token used and stores its successor in the same write.
  // failed_precondition when the token was already used or revoked (the caller treats that as
  // reuse); not_found for an unknown hash.
  virtual Status RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) = 0;
  virtual Status RevokeRefreshFamily(const std::string& family_id) = 0;
  // Revokes every family of `user` except `except_family` ("" revokes all): password changes.
  virtual Status RevokeUserRefreshFamilies(UserId user, const std::string& except_family) = 0;
  // True when the family was revoked (logout or detected reuse). Unknown family -> not_found.
  virtual Result<bool> IsRefreshFamilyRevoked(const std::string& family_id) = 0;
  // Deletes every refresh token (used, revoked or not) that expired before `expired_before`, and
  // every family left without a token; returns how many tokens went. A spent token must stay
  // until it expires (presenting it again is reuse, which revokes its family), and a family
  // until its access tokens have expired (the engine passes now less the access token lifetime).
  // Added after 1.0: not_supported by default (nothing is pruned).
  virtual Result<uint64_t> PruneRefreshTokens(TimestampMs expired_before);

  // ---- groups ----
  // Creates the group with its owner as the only member (role owner), in one write.
  virtual Result<Group> CreateGroup(const NewGroup& group) = 0;
  virtual Result<Group> GetGroup(GroupId id) = 0;
  // Adds a member and puts the group conversation on their list with the read pointer at the
  // conversation's current last seq (nothing is unread on joining); the member's joined_seq is
  // that seq too (member.joined_seq is ignored). In the same write it deletes the user's
  // invitation and join request of the group, if any. already_exists when a member,
  // resource_exhausted when the group is full (member_count >= max_members), failed_precondition
  // when dismissed or when the user is banned from the group, invalid_argument for role owner.
  virtual Status AddGroupMember(GroupId group, const GroupMember& member) = 0;
  // not_found when not a member, failed_precondition for the owner. The conversation leaves the
  // user's list.
  virtual Status RemoveGroupMember(GroupId group, UserId user) = 0;
  virtual Result<GroupMember> GetGroupMember(GroupId group, UserId user) = 0;
  // invalid_argument for role owner (use TransferGroupOwnership); failed_precondition for the
  // owner's own role.
  virtual Status SetGroupMemberRole(GroupId group, UserId user, GroupRole role) = 0;
  // In one write: `to` (a member, else not_found) becomes owner, `from` becomes admin.
  // failed_precondition when `from` is not the owner.
  virtual Status TransferGroupOwnership(GroupId group, UserId from, UserId to) = 0;
  // Marks the group dismissed and removes every member (the conversation leaves their lists).
  virtual Status DismissGroup(GroupId group) = 0;
  // Members ordered by user id, starting after `after` (UserId{} for the first page).
  virtual Result<std::vector<GroupMember>> ListGroupMembers(GroupId group, UserId after, uint32_t limit) = 0;

  // ---- group policy (added after 1.0: not_supported by default) ----
  // Sets the group's join policy and history visibility. not_found for an unknown group,
  // failed_precondition when it was dismissed.
  virtual Status UpdateGroupSettings(GroupId group, const GroupSettings& settings);
  // Inserts or replaces the relation keyed by (group, user, kind). The store does not check that
  // the group or the user exists (the engine does). An invitation or join request of a banned
  // user is failed_precondition. A ban also removes the user's membership (member count, list
  // row), invitation and join request of the group in the same write; failed_precondition for
  // the group's owner (nothing changes).
  virtual Status PutGroupRelation(const GroupRelation& relation);
  // not_found when there is none.
  virtual Result<GroupRelation> GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind);
  // not_found when there is none.
  virtual Status DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind);
  // The group's relations of one kind ordered by user id, starting after `after`.
  virtual Result<std::vector<GroupRelation>> ListGroupRelations(GroupId group, GroupRelationKind kind, UserId after,
                                                                uint32_t limit);
  // The user's relations of one kind ordered by group id, starting after `after`.
  virtual Result<std::vector<GroupRelation>> ListUserGroupRelations(UserId user, GroupRelationKind kind, GroupId after,
                                                                    uint32_t limit);

  // ---- messages ----
  // Persists a message: in one durable write, assigns the conversation's next seq (gapless),
  // stores the message and its (sender, client_msg_id) key, advances the sender's read pointer to
  // the new seq and, for a direct conversation, puts it on both participants' lists.
  // A repeated (sender, client_msg_id) stores nothing and returns the original id/seq with
  // duplicate = true. Implementations are expected to group-commit concurrent calls.
  virtual Result<AppendResult> AppendMessage(const NewMessage& message) = 0;
  // Appends a batch (added after 1.0; the default calls AppendMessage once per message): the
  // same effects and results as AppendMessage on each message in order, one result per message,
  // aligned with `messages`. Seqs of one conversation follow the order of the batch. A message
  // that fails fails alone; the batch is not atomic. Every ok result is durable when the call
  // returns. Stores with a group committer submit the whole batch at once, so it costs one
  // commit (one fsync) and one wake-up of the caller instead of one per message. Blocks.
  virtual std::vector<Result<AppendResult>> AppendMessages(std::span<const NewMessage> messages);
  virtual Result<std::vector<Message>> ListMessages(const ConversationId& conversation, const MessageRange& range) = 0;
  // A conversation nobody wrote to yet returns last_seq 0, first_seq 1 and, for a group, its
  // creation time as last activity (0 for an unknown conversation).
  virtual Result<ConversationState> GetConversationState(const ConversationId& conversation) = 0;
  // Deletes messages with seq < `before_seq` (retention). Their idempotency keys may go too.
  virtual Status TrimHistory(const ConversationId& conversation, Seq before_seq) = 0;

  // ---- conversation list and read state ----
  // The user's conversations, most recent activity first (ties: higher conversation id string
  // first), starting after `after`. A group's conversation is on the list from
  // CreateGroup/AddGroupMember (its activity starts at the group's creation time); a direct one
  // from its first message.
  virtual Result<std::vector<ConversationSummary>> ListConversations(UserId user, const ConversationCursor& after,
                                                                     uint32_t limit) = 0;
  // Moves the read pointer forward only (a lower seq is ignored); returns the pointer after the
  // call. The seq is clamped to the conversation's last seq. not_found when the conversation is
  // not on the user's list.
  virtual Result<Seq> AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) = 0;
  // 0 when the conversation is not on the user's list.
  virtual Result<Seq> GetReadSeq(UserId user, const ConversationId& conversation) = 0;

  // ---- offline push (added after 1.0: not_supported by default) ----
  // The token's text is checked by the engine (1..4096 printable ASCII): a store may assume it.
  //
  // Inserts or replaces the token keyed by (platform, token): a token registered by another user
  // before moves to `token.user`. not_found for an unknown user (so no token outlives DeleteUser);
  // invalid_argument for a platform other than kApns and kFcm.
  virtual Status PutDeviceToken(const DeviceToken& token);
  // Removes the token whoever holds it; ok when it is not there.
  virtual Status DeleteDeviceToken(PushPlatform platform, const std::string& token);
  // The user's tokens, oldest update first (ties: by platform, then token); empty for an unknown
  // user.
  virtual Result<std::vector<DeviceToken>> ListDeviceTokens(UserId user);
  // Defaults (PushSettings{}) for a user who never set them, or who does not exist.
  virtual Result<PushSettings> GetPushSettings(UserId user);
  // not_found for an unknown user.
  virtual Status PutPushSettings(UserId user, const PushSettings& settings);

  // ---- dead letters (added after 1.0: not_supported by default) ----
  // Every field is kept byte for byte (topic, key, payload and error may hold any bytes).
  //
  // Stores `letter` (its id is ignored) and returns the id it got: positive, and greater than
  // every id handed out before, deleted ones included (ids are never reused, across restarts too).
  virtual Result<int64_t> AddDeadLetter(const DeadLetter& letter);
  // At most `limit` dead letters with id > after_id, ascending.
  virtual Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit);
  // not_found when there is none with this id.
  virtual Result<DeadLetter> GetDeadLetter(int64_t id);
  // not_found when there is none with this id.
  virtual Status DeleteDeadLetter(int64_t id);

  // Waits until everything acknowledged so far is on disk (used at shutdown).
  virtual Status Flush() { return Status::Ok(); }
};

// Forwards every call to `target`; subclass it to decorate one method (metrics, caching).
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(std::shared_ptr<Store> target) : target_(std::move(target)) {}
  Store* target() const { return target_.get(); }

  Result<User> CreateUser(const NewUser& u) override { return target_->CreateUser(u); }
  Result<User> GetUser(UserId id) override { return target_->GetUser(id); }
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override { return target_->GetUsers(ids); }
  Result<UserCredentials> GetCredentials(const std::string& n) override { return target_->GetCredentials(n); }
  Status UpdateUser(const User& u) override { return target_->UpdateUser(u); }
  Status UpdatePasswordHash(UserId id, const std::string& h) override { return target_->UpdatePasswordHash(id, h); }
  Status DeleteUser(UserId id) override { return target_->DeleteUser(id); }
  Status PutRefreshToken(const RefreshTokenRecord& r) override { return target_->PutRefreshToken(r); }
  Result<RefreshTokenRecord> GetRefreshToken(const std::string& h) override { return target_->GetRefreshToken(h); }
  Status RotateRefreshToken(const std::string& h, const RefreshTokenRecord& n) override {
    return target_->RotateRefreshToken(h, n);
  }
  Status RevokeRefreshFamily(const std::string& f) override { return target_->RevokeRefreshFamily(f); }
  Status RevokeUserRefreshFamilies(UserId u, const std::string& except) override {
    return target_->RevokeUserRefreshFamilies(u, except);
  }
  Result<bool> IsRefreshFamilyRevoked(const std::string& f) override { return target_->IsRefreshFamilyRevoked(f); }
  Result<uint64_t> PruneRefreshTokens(TimestampMs before) override { return target_->PruneRefreshTokens(before); }
  Result<Group> CreateGroup(const NewGroup& g) override { return target_->CreateGroup(g); }
  Result<Group> GetGroup(GroupId id) override { return target_->GetGroup(id); }
  Status AddGroupMember(GroupId g, const GroupMember& m) override { return target_->AddGroupMember(g, m); }
  Status RemoveGroupMember(GroupId g, UserId u) override { return target_->RemoveGroupMember(g, u); }
  Result<GroupMember> GetGroupMember(GroupId g, UserId u) override { return target_->GetGroupMember(g, u); }
  Status SetGroupMemberRole(GroupId g, UserId u, GroupRole r) override { return target_->SetGroupMemberRole(g, u, r); }
  Status TransferGroupOwnership(GroupId g, UserId f, UserId t) override {
    return target_->TransferGroupOwnership(g, f, t);
  }
  Status DismissGroup(GroupId g) override { return target_->DismissGroup(g); }
  Result<std::vector<GroupMember>> ListGroupMembers(GroupId g, UserId a, uint32_t l) override {
    return target_->ListGroupMembers(g, a, l);
  }
  Status UpdateGroupSettings(GroupId g, const GroupSettings& s) override { return target_->UpdateGroupSettings(g, s); }
  Status PutGroupRelation(const GroupRelation& r) override { return target_->PutGroupRelation(r); }
  Result<GroupRelation> GetGroupRelation(GroupId g, UserId u, GroupRelationKind k) override {
    return target_->GetGroupRelation(g, u, k);
  }
  Status DeleteGroupRelation(GroupId g, UserId u, GroupRelationKind k) override {
    return target_->DeleteGroupRelation(g, u, k);
  }
  Result<std::vector<GroupRelation>> ListGroupRelations(GroupId g, GroupRelationKind k, UserId a, uint32_t l) override {
    return target_->ListGroupRelations(g, k, a, l);
  }
  Result<std::vector<GroupRelation>> ListUserGroupRelations(UserId u, GroupRelationKind k, GroupId a,
                                                            uint32_t l) override {
    return target_->ListUserGroupRelations(u, k, a, l);
  }
  Result<AppendResult> AppendMessage(const NewMessage& m) override { return target_->AppendMessage(m); }
  std::vector<Result<AppendResult>> AppendMessages(std::span<const NewMessage> m) override {
    return target_->AppendMessages(m);
  }
  Result<std::vector<Message>> ListMessages(const ConversationId& c, const MessageRange& r) override {
    return target_->ListMessages(c, r);
  }
  Result<ConversationState> GetConversationState(const ConversationId& c) override {
    return target_->GetConversationState(c);
  }
  Status TrimHistory(const ConversationId& c, Seq s) override { return target_->TrimHistory(c, s); }
  Result<std::vector<ConversationSummary>> ListConversations(UserId u, const ConversationCursor& a,
                                                             uint32_t l) override {
    return target_->ListConversations(u, a, l);
  }
  Result<Seq> AdvanceReadSeq(UserId u, const ConversationId& c, Seq s) override {
    return target_->AdvanceReadSeq(u, c, s);
  }
  Result<Seq> GetReadSeq(UserId u, const ConversationId& c) override { return target_->GetReadSeq(u, c); }
  Status PutDeviceToken(const DeviceToken& t) override { return target_->PutDeviceToken(t); }
  Status DeleteDeviceToken(PushPlatform p, const std::string& t) override { return target_->DeleteDeviceToken(p, t); }
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId u) override { return target_->ListDeviceTokens(u); }
  Result<PushSettings> GetPushSettings(UserId u) override { return target_->GetPushSettings(u); }
  Status PutPushSettings(UserId u, const PushSettings& s) override { return target_->PutPushSettings(u, s); }
  Result<int64_t> AddDeadLetter(const DeadLetter& d) override { return target_->AddDeadLetter(d); }
  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t a, uint32_t l) override {
    return target_->ListDeadLetters(a, l);
  }
  Result<DeadLetter> GetDeadLetter(int64_t id) override { return target_->GetDeadLetter(id); }
  Status DeleteDeadLetter(int64_t id) override { return target_->DeleteDeadLetter(id); }
  Status Flush() override { return target_->Flush(); }

 private:
  std::shared_ptr<Store> target_;
};

// A store that keeps everything in memory (tests, ephemeral hosts). Never fails with unavailable.
std::shared_ptr<Store> NewMemoryStore();

}  // namespace im

#endif  // IM_STORE_H_
