// EngineImpl: the Engine behind Engine::Open. It runs the parts Options selects and wires them
// through the Bus exactly as the split deployment does across processes: the gateway half
// (SessionHub, sends published upstream and matched with their results), the logic half
// (LogicCore consuming im-upstream) and the task workers (im-task). LogicApi calls go to
// Options::logic when set, else to the local LogicCore.
#ifndef IM_SRC_ENGINE_ENGINE_IMPL_H_
#define IM_SRC_ENGINE_ENGINE_IMPL_H_

#include <memory>

#include "engine/dead_letter_keeper.h"
#include "engine/logic_core.h"
#include "engine/pending_sends.h"
#include "engine/session_hub.h"
#include "engine/task_dispatcher.h"
#include "im/engine.h"

namespace im {

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(Options options);
  ~EngineImpl() override;
  Status Start();

  Result<User> Register(const std::string& username, const std::string& password,
                        const std::string& display_name) override {
    return logic_->Register(username, password, display_name);
  }
  Result<AuthTokens> Login(const std::string& username, const std::string& password, const DeviceId& device) override {
    return logic_->Login(username, password, device);
  }
  Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                        const std::string& keep_refresh_token) override {
    return logic_->ChangePassword(actor, current_password, new_password, keep_refresh_token);
  }
  Result<AuthTokens> Refresh(const std::string& refresh_token) override { return logic_->Refresh(refresh_token); }
  Status Logout(const std::string& refresh_token) override { return logic_->Logout(refresh_token); }
  std::optional<Result<AuthContext>> TryAuthenticate(const std::string& access_token) override {
    return logic_->TryAuthenticate(access_token);
  }
  Result<AuthContext> Authenticate(const std::string& access_token) override {
    return logic_->Authenticate(access_token);
  }

  Result<User> GetUser(UserId id) override { return logic_->GetUser(id); }
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override { return logic_->GetUsers(ids); }
  Result<User> FindUser(const std::string& username) override { return logic_->FindUser(username); }
  Result<User> UpdateProfile(UserId actor, const std::string& display_name) override {
    return logic_->UpdateProfile(actor, display_name);
  }
  Status DeleteUser(UserId actor) override { return logic_->DeleteUser(actor); }

  Result<Group> CreateGroup(UserId actor, const std::string& name, uint32_t max_members,
                            const GroupSettings& settings) override {
    return logic_->CreateGroup(actor, name, max_members, settings);
  }
  Result<Group> GetGroup(UserId actor, GroupId group) override { return logic_->GetGroup(actor, group); }
  Status JoinGroup(UserId actor, GroupId group) override { return logic_->JoinGroup(actor, group); }
  Status LeaveGroup(UserId actor, GroupId group) override { return logic_->LeaveGroup(actor, group); }
  Status KickMember(UserId actor, GroupId group, UserId target, bool ban) override {
    return logic_->KickMember(actor, group, target, ban);
  }
  Status SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) override {
    return logic_->SetMemberRole(actor, group, target, role);
  }
  Status TransferOwnership(UserId actor, GroupId group, UserId new_owner) override {
    return logic_->TransferOwnership(actor, group, new_owner);
  }
  Status DismissGroup(UserId actor, GroupId group) override { return logic_->DismissGroup(actor, group); }
  Result<std::vector<GroupMember>> ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) override {
    return logic_->ListMembers(actor, group, after, limit);
  }
  Result<Group> UpdateGroupSettings(UserId actor, GroupId group, const GroupSettings& settings) override {
    return logic_->UpdateGroupSettings(actor, group, settings);
  }
  Status InviteMember(UserId actor, GroupId group, UserId invitee) override {
    return logic_->InviteMember(actor, group, invitee);
  }
  Status RequestToJoin(UserId actor, GroupId group) override { return logic_->RequestToJoin(actor, group); }
  Status ApproveJoinRequest(UserId actor, GroupId group, UserId requester) override {
    return logic_->ApproveJoinRequest(actor, group, requester);
  }
  Status RemoveGroupRelation(UserId actor, GroupId group, UserId user, GroupRelationKind kind) override {
    return logic_->RemoveGroupRelation(actor, group, user, kind);
  }
  Result<std::vector<GroupRelation>> ListGroupRelations(UserId actor, GroupId group, GroupRelationKind kind,
                                                        UserId after, uint32_t limit) override {
    return logic_->ListGroupRelations(actor, group, kind, after, limit);
  }
  Result<std::vector<GroupRelation>> ListInvitations(UserId actor, GroupId after, uint32_t limit) override {
    return logic_->ListInvitations(actor, after, limit);
  }

  Result<std::vector<ConversationSummary>> ListConversations(UserId actor, const ConversationCursor& after,
                                                             uint32_t limit) override {
    return logic_->ListConversations(actor, after, limit);
  }
  Result<HistoryPage> GetHistory(UserId actor, const ConversationId& conversation, const HistoryQuery& query) override {
    return logic_->GetHistory(actor, conversation, query);
  }
  Result<Seq> MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) override {
    return logic_->MarkRead(actor, device, conversation, seq);
  }
  Result<SyncResult> Sync(UserId actor, const SyncRequest& request) override { return logic_->Sync(actor, request); }
  Status Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) override {
    return logic_->Typing(actor, device, conversation);
  }

  Result<SearchPage> Search(UserId actor, const SearchRequest& request) override {
    return logic_->Search(actor, request);
  }
  Status RegisterDeviceToken(UserId actor, const DeviceToken& token) override {
    return logic_->RegisterDeviceToken(actor, token);
  }
  Status UnregisterDeviceToken(UserId actor, PushPlatform platform, const std::string& token) override {
    return logic_->UnregisterDeviceToken(actor, platform, token);
  }
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId actor) override { return logic_->ListDeviceTokens(actor); }
  Result<PushSettings> GetPushSettings(UserId actor) override { return logic_->GetPushSettings(actor); }
  Status SetPushSettings(UserId actor, const PushSettings& settings) override {
    return logic_->SetPushSettings(actor, settings);
  }

  void SendAsync(UserId actor, const DeviceId& device, SendRequest request,
                 std::function<void(Result<SendAck>)> done) override;
  Result<SessionId> Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink) override;
  void Detach(SessionId session) override;
  Result<std::vector<bool>> GetPresence(std::span<const UserId> users) override;
  Status EnqueueTask(const Task& task) override;
  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit) override;
  Status RedriveDeadLetter(int64_t id) override;
  Status DiscardDeadLetter(int64_t id) override;
  Status Drain() override;

 private:
  // Subscribes the task half: im-task, im-task-retry, im-dead-letter.
  Status StartTasks();
  // Bus handler for im-downstream-<gateway_id>: send results and events for local sessions.
  Status HandleDownstream(const BusRecord& record);
  // One event (to the local sessions of its targets) or one send result (to the waiting send).
  void HandleDownstreamItem(const v1::DownstreamMessage& msg);
  // SessionHub callback: the logic half announces the change to the user's peers.
  void PublishPresence(UserId user, bool online);

  Options options_;
  std::shared_ptr<LogicCore> core_;  // when this engine runs the logic half or the task workers
  std::shared_ptr<LogicApi> logic_;  // options_.logic, else core_
  std::unique_ptr<PendingSends> pending_;
  std::unique_ptr<SessionHub> hub_;
  std::unique_ptr<TaskDispatcher> tasks_;  // when this engine runs the task half
  std::unique_ptr<DeadLetterKeeper> dead_letters_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_ENGINE_IMPL_H_
