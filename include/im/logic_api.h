// LogicApi: the request/response operations of the engine's logic half (docs/architecture.md §1, §3.6): auth,
// users, groups, conversation lists, history, sync, read state, typing. Engine implements it;
// in the split deployment im-gateway reaches im-logic's through gRPC (OpenRemoteLogic,
// im/remote_logic.h) and passes that as Options::logic. Sends are not here: they travel as
// upstream records on the Bus in both deployments (Engine::Send).
//
// Threading: every method is thread-safe and blocks (on the Store, on password hashing, on the
// network for a remote implementation): call it from worker threads, not from a network thread.
// The one exception is TryAuthenticate, which never blocks.
//
// Authorization: methods that take an `actor` act as that user and check that the user may do
// it (membership, role). They trust `actor`: a host either authenticates the user itself or
// calls Authenticate() with the user's access token first.
//
// Errors: invalid_argument (bad input, with what is wrong), unauthenticated (bad credentials or
// token), permission_denied (not a member / not allowed), not_found, already_exists,
// failed_precondition, resource_exhausted (limits), unavailable (store or logic unreachable:
// retry), deadline_exceeded (no answer in time: the operation may or may not have happened).
#ifndef IM_LOGIC_API_H_
#define IM_LOGIC_API_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "im/event.h"
#include "im/ids.h"
#include "im/model.h"
#include "im/search.h"
#include "im/status.h"
#include "im/store.h"

namespace im {

struct AuthTokens {
  UserId user;
  std::string access_token;  // JWT (HS256), short-lived
  TimestampMs access_expires_at_ms = 0;
  std::string refresh_token;  // opaque; single use: Refresh() returns its successor
  TimestampMs refresh_expires_at_ms = 0;
};

struct AuthContext {
  UserId user;
  DeviceId device;
  std::string family_id;  // the login this token descends from
  TimestampMs expires_at_ms = 0;
};

// History paging: with after_seq set, the oldest `limit` messages after it; otherwise the newest
// `limit` messages before before_seq (0: the latest). Messages are returned in ascending seq.
struct HistoryQuery {
  Seq after_seq = 0;
  Seq before_seq = 0;
  uint32_t limit = 50;
};

struct HistoryPage {
  std::vector<Message> messages;
  bool has_more = false;  // more messages exist in the paging direction
};

struct SyncPosition {
  ConversationId conversation;
  Seq last_seq = 0;  // highest contiguous seq the device holds
};

struct SyncRequest {
  std::vector<SyncPosition> positions;
  // Also report conversations of the user that `positions` does not mention (as if last_seq 0).
  // Off by default, as on the wire (a proto3 bool): a sync answers what it asks about.
  bool include_unknown_conversations = false;
  // Messages per conversation; 0 means the default (kDefaultSyncLimit), more than
  // 5 × Options::max_page is clamped.
  uint32_t limit_per_conversation = kDefaultSyncLimit;
  static constexpr uint32_t kDefaultSyncLimit = 100;
};

struct SyncConversation {
  ConversationId conversation;
  Status status;                  // permission_denied if the user is no longer a member
  Seq last_seq = 0;               // the conversation's latest seq
  std::vector<Message> messages;  // exactly the missing seqs, ascending, at most the limit
  bool has_more = false;          // call Sync again from the last returned seq
  // Messages the device misses were trimmed from history: the device cannot recover seqs below
  // first_available_seq and must say so to the user. Never a silent hole.
  bool history_lost = false;
  Seq first_available_seq = 1;
};

struct SyncResult {
  std::vector<SyncConversation> conversations;
};

struct SearchRequest {
  std::string query;  // words; every one must match (see im/search.h)
  // Search one conversation (the actor must belong to it), or, when invalid, every conversation
  // on the actor's list (the most recent Options::search_max_conversations of them).
  ConversationId conversation;
  uint32_t limit = 20;
  MessageId before;  // SearchPage::next_before of the previous page
};

class LogicApi {
 public:
  virtual ~LogicApi() = default;

  // ---- auth ----
  // Username: 3-32 of [a-z0-9_.-], starting with a letter or digit. Password: 8-128 bytes.
  virtual Result<User> Register(const std::string& username, const std::string& password,
                                const std::string& display_name) = 0;
  virtual Result<AuthTokens> Login(const std::string& username, const std::string& password,
                                   const DeviceId& device) = 0;
  // Verifies the current password, stores the new one and revokes every other login of the user
  // (`keep_refresh_token`, when given, keeps that login's family alive).
  virtual Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                                const std::string& keep_refresh_token = "") = 0;
  // Rotates the refresh token. Presenting a token that was already rotated revokes the whole
  // family (every descendant of that login) and returns unauthenticated.
  virtual Result<AuthTokens> Refresh(const std::string& refresh_token) = 0;
  // Revokes the token's family: its refresh and access tokens stop working.
  virtual Status Logout(const std::string& refresh_token) = 0;
  // Verifies an access token: signature, alg (HS256 only), kid, issuer, expiry, and that its
  // family was not revoked.
  virtual Result<AuthContext> Authenticate(const std::string& access_token) = 0;
  // Authenticate when that needs no I/O, else nullopt. The only method here that never blocks:
  // a network thread may call it (a WebSocket upgrade) and hand the call to a worker only when it
  // returns nullopt. The answer is Authenticate's: an invalid or expired token fails, a login seen
  // live within Options::login_cache_ms passes. The default knows nothing and returns nullopt.
  virtual std::optional<Result<AuthContext>> TryAuthenticate(const std::string& access_token) {
    (void)access_token;
    return std::nullopt;
  }

  // ---- users ----
  virtual Result<User> GetUser(UserId id) = 0;
  virtual Result<std::vector<User>> GetUsers(std::span<const UserId> ids) = 0;
  // By exact username (to start a chat with someone); not_found when there is no such user.
  virtual Result<User> FindUser(const std::string& username) = 0;
  virtual Result<User> UpdateProfile(UserId actor, const std::string& display_name) = 0;
  // failed_precondition while the user still owns a group.
  virtual Status DeleteUser(UserId actor) = 0;

  // ---- groups ----
  // Who may do what: docs/architecture.md "Group policy" and docs/security.md "Authorization".
  //
  // The actor becomes owner. max_members 0: Options::default_max_group_members. New groups are
  // invite-only with history from each member's join unless `settings` says otherwise.
  virtual Result<Group> CreateGroup(UserId actor, const std::string& name, uint32_t max_members = 0,
                                    const GroupSettings& settings = {}) = 0;
  // The group's profile, for its members, users it invited, and anyone when it is open or takes
  // join requests. Everyone else gets not_found, the same answer as for an id that does not
  // exist or a dismissed group.
  virtual Result<Group> GetGroup(UserId actor, GroupId group) = 0;
  // Joins an open group, or any group that invited the actor (accepting the invitation).
  // not_found as for GetGroup; permission_denied for a banned user of a visible group, or an
  // approval group without an invitation (ask with RequestToJoin); already_exists for a member;
  // resource_exhausted when the group is full.
  virtual Status JoinGroup(UserId actor, GroupId group) = 0;
  // The owner cannot leave (transfer ownership or dismiss first).
  virtual Status LeaveGroup(UserId actor, GroupId group) = 0;
  // Owner kicks anyone else; an admin kicks plain members. With `ban`, the target also goes on
  // the group's ban list (also when not a member: owner or admin, never the owner).
  virtual Status KickMember(UserId actor, GroupId group, UserId target, bool ban = false) = 0;
  // Owner only; role is member or admin.
  virtual Status SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) = 0;
  virtual Status TransferOwnership(UserId actor, GroupId group, UserId new_owner) = 0;
  virtual Status DismissGroup(UserId actor, GroupId group) = 0;
  // Members only. Paged by user id: pass the last user of the previous page as `after`.
  virtual Result<std::vector<GroupMember>> ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) = 0;
  // Owner only: the join policy and history visibility. Returns the group after the change.
  virtual Result<Group> UpdateGroupSettings(UserId actor, GroupId group, const GroupSettings& settings) = 0;
  // Owner or admin: invites an existing user who is neither a member nor banned (inviting again
  // renews the invitation). The invitee accepts with JoinGroup, declines with RemoveGroupRelation.
  virtual Status InviteMember(UserId actor, GroupId group, UserId invitee) = 0;
  // Asks to join an approval group (asking again changes nothing). not_found as for GetGroup;
  // permission_denied when banned; already_exists for a member; failed_precondition for an open
  // group (join it) or when the actor holds an invitation (join to accept it).
  virtual Status RequestToJoin(UserId actor, GroupId group) = 0;
  // Owner or admin: the requester becomes a member. not_found when there is no such request.
  virtual Status ApproveJoinRequest(UserId actor, GroupId group, UserId requester) = 0;
  // Deletes `user`'s invitation (the invitee declines, an owner or admin revokes), join request
  // (the requester withdraws, an owner or admin rejects) or ban (an owner or admin unbans).
  // not_found when there is none.
  virtual Status RemoveGroupRelation(UserId actor, GroupId group, UserId user, GroupRelationKind kind) = 0;
  // Owner or admin: the group's pending invitations, join requests or bans, by user id.
  virtual Result<std::vector<GroupRelation>> ListGroupRelations(UserId actor, GroupId group, GroupRelationKind kind,
                                                                UserId after, uint32_t limit) = 0;
  // The actor's own pending invitations to live groups, by group id.
  virtual Result<std::vector<GroupRelation>> ListInvitations(UserId actor, GroupId after, uint32_t limit) = 0;

  // ---- conversations and messages ----
  // Most recent activity first; pass the last row of a page as `after` for the next one.
  virtual Result<std::vector<ConversationSummary>> ListConversations(UserId actor, const ConversationCursor& after,
                                                                     uint32_t limit) = 0;
  virtual Result<HistoryPage> GetHistory(UserId actor, const ConversationId& conversation,
                                         const HistoryQuery& query) = 0;
  // Advances the read pointer and sends a read receipt to the other members and the actor's other
  // devices. Returns the pointer after the call.
  virtual Result<Seq> MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) = 0;
  virtual Result<SyncResult> Sync(UserId actor, const SyncRequest& request) = 0;
  // Ephemeral "is typing" to the other members' sessions.
  virtual Status Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) = 0;

  // ---- search ----
  // Text messages of the conversations the actor belongs to now (a group they left is no longer
  // searched), newest first. not_supported when no SearchIndex is configured; invalid_argument
  // for a query without words.
  virtual Result<SearchPage> Search(UserId actor, const SearchRequest& request) = 0;

  // ---- offline push ----
  // Registers the actor's device for pushes (token.user is ignored: the actor's). A token held by
  // another user moves to the actor. At most 20 tokens per user: the oldest is dropped.
  virtual Status RegisterDeviceToken(UserId actor, const DeviceToken& token) = 0;
  // not_found unless the actor holds the token.
  virtual Status UnregisterDeviceToken(UserId actor, PushPlatform platform, const std::string& token) = 0;
  virtual Result<std::vector<DeviceToken>> ListDeviceTokens(UserId actor) = 0;
  virtual Result<PushSettings> GetPushSettings(UserId actor) = 0;
  virtual Status SetPushSettings(UserId actor, const PushSettings& settings) = 0;
};

}  // namespace im

#endif  // IM_LOGIC_API_H_
