// EngineImpl: the Engine behind Engine::Open. Wires the logic half (auth, access checks, persist,
// fanout planning) to the gateway half (SessionHub) through the Bus, exactly as the split
// deployment does across processes.
#ifndef IM_SRC_ENGINE_ENGINE_IMPL_H_
#define IM_SRC_ENGINE_ENGINE_IMPL_H_

#include <memory>

#include "engine/access.h"
#include "engine/auth_service.h"
#include "engine/fanout.h"
#include "engine/message_id.h"
#include "engine/session_hub.h"
#include "engine/worker_pool.h"
#include "im/engine.h"

namespace im {

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(Options options);
  ~EngineImpl() override;
  Status Start();

  Result<User> Register(const std::string& username, const std::string& password,
                        const std::string& display_name) override;
  Result<AuthTokens> Login(const std::string& username, const std::string& password, const DeviceId& device) override;
  Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                        const std::string& keep_refresh_token) override;
  Result<AuthTokens> Refresh(const std::string& refresh_token) override;
  Status Logout(const std::string& refresh_token) override;
  Result<AuthContext> Authenticate(const std::string& access_token) override;

  Result<User> GetUser(UserId id) override;
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override;
  Result<User> FindUser(const std::string& username) override;
  Result<User> UpdateProfile(UserId actor, const std::string& display_name) override;
  Status DeleteUser(UserId actor) override;

  Result<Group> CreateGroup(UserId actor, const std::string& name, uint32_t max_members) override;
  Result<Group> GetGroup(UserId actor, GroupId group) override;
  Status JoinGroup(UserId actor, GroupId group) override;
  Status LeaveGroup(UserId actor, GroupId group) override;
  Status KickMember(UserId actor, GroupId group, UserId target) override;
  Status SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) override;
  Status TransferOwnership(UserId actor, GroupId group, UserId new_owner) override;
  Status DismissGroup(UserId actor, GroupId group) override;
  Result<std::vector<GroupMember>> ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) override;

  Result<std::vector<ConversationSummary>> ListConversations(UserId actor, const ConversationCursor& after,
                                                             uint32_t limit) override;
  Result<HistoryPage> GetHistory(UserId actor, const ConversationId& conversation, const HistoryQuery& query) override;
  Result<SendAck> Send(UserId actor, const DeviceId& device, const SendRequest& request) override;
  void SendAsync(UserId actor, const DeviceId& device, SendRequest request,
                 std::function<void(Result<SendAck>)> done) override;
  Result<Seq> MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) override;
  Result<SyncResult> Sync(UserId actor, const SyncRequest& request) override;
  Status Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) override;

  Result<SessionId> Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink) override;
  void Detach(SessionId session) override;
  Result<std::vector<bool>> GetPresence(std::span<const UserId> users) override;
  Status Drain() override;

 private:
  // Sends `event` to the conversation's members (and the actor's other devices); `exclude_device`
  // "*" leaves the actor out entirely. Large groups go through a fanout task.
  Status FanoutToConversation(const ConversationId& conversation, const ConversationAccess& access, UserId actor,
                              const std::string& exclude_device, const Event& event);
  void OnPresenceChanged(UserId user, bool online);
  uint32_t ClampPage(uint32_t limit) const {
    return limit == 0 || limit > options_.max_page ? options_.max_page : limit;
  }
  // The actor's membership in a live group, or permission_denied.
  Result<GroupMember> RequireMember(UserId actor, GroupId group);

  Options options_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<Fanout> fanout_;
  MessageIdGenerator ids_;
  std::unique_ptr<SessionHub> hub_;
  std::unique_ptr<WorkerPool> workers_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_ENGINE_IMPL_H_
