// LogicCore: the logic half of the engine (docs/architecture.md §1). It owns the decisions: auth, access
// checks, persist-first sends with their seq, fanout planning per gateway, presence
// announcements. It serves the LogicApi and handles the im-upstream and im-task records, in imd
// and in im-logic / im-task alike.
#ifndef IM_SRC_ENGINE_LOGIC_CORE_H_
#define IM_SRC_ENGINE_LOGIC_CORE_H_

#include <memory>
#include <span>
#include <string>

#include "engine/access.h"
#include "engine/auth_service.h"
#include "engine/fanout.h"
#include "engine/message_id.h"
#include "im/engine.h"

namespace im {

class LogicCore final : public LogicApi {
 public:
  // `options` has its defaults applied (store, bus, presence, clock, jwt_secret) and outlives this.
  explicit LogicCore(const Options& options);

  Result<User> Register(const std::string& username, const std::string& password,
                        const std::string& display_name) override;
  Result<AuthTokens> Login(const std::string& username, const std::string& password, const DeviceId& device) override;
  Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                        const std::string& keep_refresh_token) override;
  Result<AuthTokens> Refresh(const std::string& refresh_token) override;
  Status Logout(const std::string& refresh_token) override;
  Result<AuthContext> Authenticate(const std::string& access_token) override;
  std::optional<Result<AuthContext>> TryAuthenticate(const std::string& access_token) override;

  Result<User> GetUser(UserId id) override;
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override;
  Result<User> FindUser(const std::string& username) override;
  Result<User> UpdateProfile(UserId actor, const std::string& display_name) override;
  Status DeleteUser(UserId actor) override;

  Result<Group> CreateGroup(UserId actor, const std::string& name, uint32_t max_members,
                            const GroupSettings& settings) override;
  Result<Group> GetGroup(UserId actor, GroupId group) override;
  Status JoinGroup(UserId actor, GroupId group) override;
  Status LeaveGroup(UserId actor, GroupId group) override;
  Status KickMember(UserId actor, GroupId group, UserId target, bool ban) override;
  Status SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) override;
  Status TransferOwnership(UserId actor, GroupId group, UserId new_owner) override;
  Status DismissGroup(UserId actor, GroupId group) override;
  Result<std::vector<GroupMember>> ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) override;
  Result<Group> UpdateGroupSettings(UserId actor, GroupId group, const GroupSettings& settings) override;
  Status InviteMember(UserId actor, GroupId group, UserId invitee) override;
  Status RequestToJoin(UserId actor, GroupId group) override;
  Status ApproveJoinRequest(UserId actor, GroupId group, UserId requester) override;
  Status RemoveGroupRelation(UserId actor, GroupId group, UserId user, GroupRelationKind kind) override;
  Result<std::vector<GroupRelation>> ListGroupRelations(UserId actor, GroupId group, GroupRelationKind kind,
                                                        UserId after, uint32_t limit) override;
  Result<std::vector<GroupRelation>> ListInvitations(UserId actor, GroupId after, uint32_t limit) override;

  Result<std::vector<ConversationSummary>> ListConversations(UserId actor, const ConversationCursor& after,
                                                             uint32_t limit) override;
  Result<HistoryPage> GetHistory(UserId actor, const ConversationId& conversation, const HistoryQuery& query) override;
  Result<Seq> MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) override;
  Result<SyncResult> Sync(UserId actor, const SyncRequest& request) override;
  Status Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) override;

  Result<SearchPage> Search(UserId actor, const SearchRequest& request) override;

  Status RegisterDeviceToken(UserId actor, const DeviceToken& token) override;
  Status UnregisterDeviceToken(UserId actor, PushPlatform platform, const std::string& token) override;
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId actor) override;
  Result<PushSettings> GetPushSettings(UserId actor) override;
  Status SetPushSettings(UserId actor, const PushSettings& settings) override;

  // Bus handler for a batch of im-upstream records: persists its sends with one
  // Store::AppendMessages call (validation and access checks first: a refused send fails alone),
  // announces presence changes, enqueues one search task for the batch, and publishes every
  // event and send result of the batch with one Presence lookup and one downstream record per
  // gateway keyed `downstream_key` (one key per consumer keeps each conversation's events in
  // order at the gateways). Every send gets an answer, failures included. Idempotent (sends carry
  // their client_msg_id: a redelivered send is a duplicate, answered and fanned out again).
  // Fails only when a record could not be published, so that the bus delivers the batch again.
  Status HandleUpstream(std::span<const BusRecord> records, const std::string& downstream_key);
  // The im.fanout task processor (large-group fanout batches).
  std::shared_ptr<Fanout> fanout() const { return fanout_; }

 private:
  // One send of a batch of im-upstream records, from its checks to its answer.
  struct PendingSend {
    const v1::UpstreamMessage* up = nullptr;
    SendRequest request;
    ConversationAccess access;
    Status status;      // a check or the store refused it
    size_t append = 0;  // its place in the AppendMessages batch (when the checks passed)
    AppendResult stored;
  };
  // The checks of a send before the store: device, request, access.
  Status CheckSend(PendingSend& send);
  // After the append: the answer, the search document and the deliveries of one send.
  void CompleteSend(PendingSend& send, FanoutBatch& out, v1::SearchTask& search);
  // The deliveries and the search document of a stored message (the original, for a duplicate).
  void AddMessageEvents(const PendingSend& send, FanoutBatch& out, v1::SearchTask& search);

  // Sends `event` to the conversation's members (and the actor's other devices); `exclude_device`
  // "*" leaves the actor out entirely. Large groups go through a fanout task.
  Status FanoutToConversation(const ConversationId& conversation, const ConversationAccess& access, UserId actor,
                              const std::string& exclude_device, const Event& event);
  void AnnouncePresence(UserId user, bool online);
  uint32_t ClampPage(uint32_t limit) const {
    return limit == 0 || limit > options_.max_page ? options_.max_page : limit;
  }
  // The actor's membership in a live group, or permission_denied.
  Result<GroupMember> RequireMember(UserId actor, GroupId group);
  // The actor's membership with role owner or admin, or permission_denied.
  Result<GroupMember> RequireManager(UserId actor, GroupId group, const char* what);
  // A live group, or not_found with the one message every hidden or missing group gets.
  Result<Group> LiveGroup(GroupId group);
  // The highest seq of `conversation` that `actor` may not read because they joined after it
  // (HistoryVisibility::kJoined); 0 when nothing is hidden or not a group.
  Result<Seq> HiddenThrough(UserId actor, const ConversationId& conversation);

  const Options& options_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::shared_ptr<Fanout> fanout_;
  MessageIdGenerator ids_;
  KnownUsers known_users_;  // peers of direct sends seen to exist (not read again for a minute)
};

}  // namespace im

#endif  // IM_SRC_ENGINE_LOGIC_CORE_H_
