// RemoteLogic: the LogicApi over im-logic's gRPC services (im/remote_logic.h).
#include "im/remote_logic.h"

#include <grpcpp/grpcpp.h>

#include "engine/records.h"
#include "grpc/convert.h"
#include "grpc/unary_client.h"
#include "im/v1/logic.grpc.pb.h"

namespace im {
namespace {

namespace pb = ::im::v1::logic;
using rpc::FromProto;
using rpc::Retry;
using rpc::ToProto;

AuthTokens TokensOf(const pb::AuthResponse& r) {
  return AuthTokens{UserId(r.user_id()), r.access_token(), r.access_expires_at_ms(), r.refresh_token(),
                    r.refresh_expires_at_ms()};
}

// Messages from the logic half: the same strict parse as records on the bus.
Status AppendMessages(const google::protobuf::RepeatedPtrField<v1::Message>& in, std::vector<Message>* out) {
  out->reserve(in.size());
  for (const auto& m : in) {
    IM_ASSIGN_OR_RETURN(Message msg, im::FromProto(m));
    out->push_back(std::move(msg));
  }
  return Status::Ok();
}

class RemoteLogic final : public LogicApi {
 public:
  explicit RemoteLogic(rpc::UnaryClient client)
      : client_(std::move(client)),
        auth_(pb::AuthService::NewStub(client_.channel())),
        users_(pb::UserService::NewStub(client_.channel())),
        conversations_(pb::ConversationService::NewStub(client_.channel())),
        groups_(pb::GroupService::NewStub(client_.channel())),
        push_(pb::PushService::NewStub(client_.channel())) {}

  // ---- auth ----
  Result<User> Register(const std::string& username, const std::string& password,
                        const std::string& display_name) override {
    pb::RegisterRequest req;
    req.set_username(username);
    req.set_password(password);
    req.set_display_name(display_name);
    v1::User resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return auth_->Register(c, q, r); }));
    return FromProto(resp);
  }
  Result<AuthTokens> Login(const std::string& username, const std::string& password, const DeviceId& device) override {
    pb::LoginRequest req;
    req.set_username(username);
    req.set_password(password);
    req.set_device_id(device);
    pb::AuthResponse resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return auth_->Login(c, q, r); }));
    return TokensOf(resp);
  }
  Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                        const std::string& keep_refresh_token) override {
    pb::ChangePasswordRequest req;
    req.set_user_id(actor.value);
    req.set_current_password(current_password);
    req.set_new_password(new_password);
    req.set_keep_refresh_token(keep_refresh_token);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return auth_->ChangePassword(c, q, r); });
  }
  Result<AuthTokens> Refresh(const std::string& refresh_token) override {
    pb::RefreshTokenRequest req;
    req.set_refresh_token(refresh_token);
    pb::AuthResponse resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return auth_->RefreshToken(c, q, r); }));
    return TokensOf(resp);
  }
  Status Logout(const std::string& refresh_token) override {
    pb::LogoutRequest req;
    req.set_refresh_token(refresh_token);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return auth_->Logout(c, q, r); });
  }
  Result<AuthContext> Authenticate(const std::string& access_token) override {
    pb::AuthenticateRequest req;
    req.set_access_token(access_token);
    pb::AuthenticateResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return auth_->Authenticate(c, q, r); }));
    return AuthContext{UserId(resp.user_id()), resp.device_id(), resp.family_id(), resp.expires_at_ms()};
  }

  // ---- users ----
  Result<User> GetUser(UserId id) override {
    pb::GetUserRequest req;
    req.set_user_id(id.value);
    v1::User resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->GetUser(c, q, r); }));
    return FromProto(resp);
  }
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override {
    pb::GetUsersRequest req;
    for (UserId id : ids) req.add_user_ids(id.value);
    pb::GetUsersResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->GetUsers(c, q, r); }));
    std::vector<User> out;
    for (const auto& u : resp.users()) out.push_back(FromProto(u));
    return out;
  }
  Result<User> FindUser(const std::string& username) override {
    pb::FindUserRequest req;
    req.set_username(username);
    v1::User resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->FindUser(c, q, r); }));
    return FromProto(resp);
  }
  Result<User> UpdateProfile(UserId actor, const std::string& display_name) override {
    pb::UpdateProfileRequest req;
    req.set_user_id(actor.value);
    req.set_display_name(display_name);
    v1::User resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->UpdateProfile(c, q, r); }));
    return FromProto(resp);
  }
  Status DeleteUser(UserId actor) override {
    pb::DeleteUserRequest req;
    req.set_user_id(actor.value);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->DeleteUser(c, q, r); });
  }

  // ---- groups ----
  Result<Group> CreateGroup(UserId actor, const std::string& name, uint32_t max_members,
                            const GroupSettings& settings) override {
    pb::CreateGroupRequest req;
    req.set_user_id(actor.value);
    req.set_name(name);
    req.set_max_members(max_members);
    req.set_join_policy(static_cast<v1::JoinPolicy>(settings.join_policy));
    req.set_history_visibility(static_cast<v1::HistoryVisibility>(settings.history_visibility));
    v1::Group resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return groups_->CreateGroup(c, q, r); }));
    return FromProto(resp);
  }
  Result<Group> GetGroup(UserId actor, GroupId group) override {
    v1::Group resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, GroupRequest(actor, group), &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->GetGroup(c, q, r); }));
    return FromProto(resp);
  }
  Status JoinGroup(UserId actor, GroupId group) override {
    pb::Empty resp;
    return Call(Retry::kNo, GroupRequest(actor, group), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->JoinGroup(c, q, r); });
  }
  Status LeaveGroup(UserId actor, GroupId group) override {
    pb::Empty resp;
    return Call(Retry::kNo, GroupRequest(actor, group), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->LeaveGroup(c, q, r); });
  }
  Status KickMember(UserId actor, GroupId group, UserId target, bool ban) override {
    auto req = TargetRequest(actor, group, target);
    req.set_ban(ban);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return groups_->KickMember(c, q, r); });
  }
  Status SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) override {
    auto req = TargetRequest(actor, group, target);
    req.set_role(ToProto(role));
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->SetMemberRole(c, q, r); });
  }
  Status TransferOwnership(UserId actor, GroupId group, UserId new_owner) override {
    pb::Empty resp;
    return Call(Retry::kNo, TargetRequest(actor, group, new_owner), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->TransferOwnership(c, q, r); });
  }
  Status DismissGroup(UserId actor, GroupId group) override {
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, GroupRequest(actor, group), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->DismissGroup(c, q, r); });
  }
  Result<std::vector<GroupMember>> ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) override {
    pb::GetGroupMembersRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    req.set_after_user_id(after.value);
    req.set_limit(limit);
    pb::GetGroupMembersResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->GetGroupMembers(c, q, r); }));
    std::vector<GroupMember> out;
    for (const auto& m : resp.members()) {
      IM_ASSIGN_OR_RETURN(GroupMember member, FromProto(m));
      out.push_back(member);
    }
    return out;
  }
  Result<Group> UpdateGroupSettings(UserId actor, GroupId group, const GroupSettings& settings) override {
    pb::UpdateGroupSettingsRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    req.set_join_policy(static_cast<v1::JoinPolicy>(settings.join_policy));
    req.set_history_visibility(static_cast<v1::HistoryVisibility>(settings.history_visibility));
    v1::Group resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->UpdateGroupSettings(c, q, r); }));
    return FromProto(resp);
  }
  Status InviteMember(UserId actor, GroupId group, UserId invitee) override {
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, TargetRequest(actor, group, invitee), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->InviteMember(c, q, r); });
  }
  Status RequestToJoin(UserId actor, GroupId group) override {
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, GroupRequest(actor, group), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->RequestToJoin(c, q, r); });
  }
  Status ApproveJoinRequest(UserId actor, GroupId group, UserId requester) override {
    pb::Empty resp;
    return Call(Retry::kNo, TargetRequest(actor, group, requester), &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->ApproveJoinRequest(c, q, r); });
  }
  Status RemoveGroupRelation(UserId actor, GroupId group, UserId user, GroupRelationKind kind) override {
    pb::GroupRelationRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    req.set_target_user_id(user.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->RemoveGroupRelation(c, q, r); });
  }
  Result<std::vector<GroupRelation>> ListGroupRelations(UserId actor, GroupId group, GroupRelationKind kind,
                                                        UserId after, uint32_t limit) override {
    pb::GroupRelationRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    req.set_target_user_id(after.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    req.set_limit(limit);
    v1::GroupRelationList resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->ListGroupRelations(c, q, r); }));
    return FromProto(resp);
  }
  Result<std::vector<GroupRelation>> ListInvitations(UserId actor, GroupId after, uint32_t limit) override {
    pb::ListInvitationsRequest req;
    req.set_user_id(actor.value);
    req.set_after_group_id(after.value);
    req.set_limit(limit);
    v1::GroupRelationList resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->ListInvitations(c, q, r); }));
    return FromProto(resp);
  }

  // ---- conversations ----
  Result<std::vector<ConversationSummary>> ListConversations(UserId actor, const ConversationCursor& after,
                                                             uint32_t limit) override {
    pb::GetConversationsRequest req;
    req.set_user_id(actor.value);
    req.set_after_last_activity_ms(after.last_activity_ms);
    if (after.id.valid()) req.set_after_conversation_id(after.id.str());
    req.set_limit(limit);
    pb::GetConversationsResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->GetConversations(c, q, r); }));
    std::vector<ConversationSummary> out;
    for (const auto& pc : resp.conversations()) {
      IM_ASSIGN_OR_RETURN(ConversationSummary s, FromProto(pc));
      out.push_back(std::move(s));
    }
    return out;
  }
  Result<HistoryPage> GetHistory(UserId actor, const ConversationId& conversation, const HistoryQuery& query) override {
    pb::GetMessagesRequest req;
    req.set_user_id(actor.value);
    req.set_conversation_id(conversation.str());
    req.set_after_seq(query.after_seq);
    req.set_before_seq(query.before_seq);
    req.set_limit(query.limit);
    pb::GetMessagesResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->GetMessages(c, q, r); }));
    HistoryPage page;
    IM_RETURN_IF_ERROR(AppendMessages(resp.messages(), &page.messages));
    page.has_more = resp.has_more();
    return page;
  }
  Result<Seq> MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) override {
    pb::MarkAsReadRequest req;
    req.set_user_id(actor.value);
    req.set_device_id(device);
    req.set_conversation_id(conversation.str());
    req.set_seq(seq);
    pb::MarkAsReadResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->MarkAsRead(c, q, r); }));
    return Seq(resp.read_seq());
  }
  Result<SyncResult> Sync(UserId actor, const SyncRequest& request) override {
    pb::SyncRequest req;
    req.set_user_id(actor.value);
    req.set_include_unknown_conversations(request.include_unknown_conversations);
    req.set_limit_per_conversation(request.limit_per_conversation);
    for (const auto& p : request.positions) {
      auto* pos = req.add_positions();
      pos->set_conversation_id(p.conversation.str());
      pos->set_last_seq(p.last_seq);
    }
    pb::SyncResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->Sync(c, q, r); }));
    SyncResult result;
    for (const auto& sc : resp.conversations()) {
      SyncConversation c;
      auto id = ConversationId::Parse(sc.conversation_id());
      if (!id) return Status::Internal("im-logic answered a sync with a malformed conversation id");
      c.conversation = *id;
      if (sc.code() != 0) {
        auto code = StatusCodeFromName(StatusCodeName(static_cast<StatusCode>(sc.code())));
        c.status = Status(code.value_or(StatusCode::kInternal), sc.error_message());
      }
      c.last_seq = sc.last_seq();
      IM_RETURN_IF_ERROR(AppendMessages(sc.messages(), &c.messages));
      c.has_more = sc.has_more();
      c.history_lost = sc.history_lost();
      c.first_available_seq = sc.first_available_seq();
      result.conversations.push_back(std::move(c));
    }
    return result;
  }
  Status Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) override {
    pb::TypingRequest req;
    req.set_user_id(actor.value);
    req.set_device_id(device);
    req.set_conversation_id(conversation.str());
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return conversations_->Typing(c, q, r); });
  }

  Result<SearchPage> Search(UserId actor, const SearchRequest& request) override {
    pb::SearchRequest req;
    req.set_user_id(actor.value);
    req.set_query(request.query);
    if (request.conversation.valid()) req.set_conversation_id(request.conversation.str());
    req.set_limit(request.limit);
    req.set_before_message_id(request.before.value);
    pb::SearchResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->Search(c, q, r); }));
    SearchPage page;
    for (const auto& h : resp.hits()) {
      auto id = ConversationId::Parse(h.conversation_id());
      if (!id) return Status::Internal("im-logic answered a search with a malformed conversation id");
      page.hits.push_back(SearchHit{MessageId(h.message_id()), *id, h.seq(), UserId(h.sender_id()), h.sent_at_ms(),
                                    h.highlight()});
    }
    page.next_before = MessageId(resp.next_before_message_id());
    return page;
  }

  Status RegisterDeviceToken(UserId actor, const DeviceToken& token) override {
    pb::DeviceTokenRequest req = TokenRequest(actor, token.platform, token.token);
    req.mutable_token()->set_device_id(token.device);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return push_->RegisterDeviceToken(c, q, r); });
  }
  Status UnregisterDeviceToken(UserId actor, PushPlatform platform, const std::string& token) override {
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, TokenRequest(actor, platform, token), &resp,
                [this](auto* c, auto& q, auto* r) { return push_->UnregisterDeviceToken(c, q, r); });
  }
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId actor) override {
    pb::UserRequest req;
    req.set_user_id(actor.value);
    pb::DeviceTokensResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return push_->ListDeviceTokens(c, q, r); }));
    std::vector<DeviceToken> tokens;
    for (const auto& t : resp.tokens()) {
      tokens.push_back(DeviceToken{actor, t.platform() == pb::PUSH_PLATFORM_FCM ? PushPlatform::kFcm : PushPlatform::kApns,
                                   t.token(), t.device_id(), t.updated_at_ms()});
    }
    return tokens;
  }
  Result<PushSettings> GetPushSettings(UserId actor) override {
    pb::UserRequest req;
    req.set_user_id(actor.value);
    pb::PushSettings resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return push_->GetPushSettings(c, q, r); }));
    return PushSettings{resp.muted(), resp.show_preview()};
  }
  Status SetPushSettings(UserId actor, const PushSettings& settings) override {
    pb::SetPushSettingsRequest req;
    req.set_user_id(actor.value);
    req.mutable_settings()->set_muted(settings.muted);
    req.mutable_settings()->set_show_preview(settings.show_preview);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return push_->SetPushSettings(c, q, r); });
  }

 private:
  static pb::DeviceTokenRequest TokenRequest(UserId actor, PushPlatform platform, const std::string& token) {
    pb::DeviceTokenRequest req;
    req.set_user_id(actor.value);
    req.mutable_token()->set_platform(platform == PushPlatform::kFcm   ? pb::PUSH_PLATFORM_FCM
                                      : platform == PushPlatform::kApns ? pb::PUSH_PLATFORM_APNS
                                                                        : pb::PUSH_PLATFORM_UNSPECIFIED);
    req.mutable_token()->set_token(token);
    return req;
  }
  template <typename Req, typename Resp, typename Invoke>
  Status Call(Retry retry, const Req& req, Resp* resp, Invoke invoke) {
    return client_.Call(retry, req, resp, invoke);
  }
  static pb::GroupRequest GroupRequest(UserId actor, GroupId group) {
    pb::GroupRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    return req;
  }
  static pb::GroupTargetRequest TargetRequest(UserId actor, GroupId group, UserId target) {
    pb::GroupTargetRequest req;
    req.set_user_id(actor.value);
    req.set_group_id(group.value);
    req.set_target_user_id(target.value);
    return req;
  }

  rpc::UnaryClient client_;
  std::unique_ptr<pb::AuthService::Stub> auth_;
  std::unique_ptr<pb::UserService::Stub> users_;
  std::unique_ptr<pb::ConversationService::Stub> conversations_;
  std::unique_ptr<pb::GroupService::Stub> groups_;
  std::unique_ptr<pb::PushService::Stub> push_;
};

}  // namespace

Result<std::shared_ptr<LogicApi>> OpenRemoteLogic(const RemoteLogicOptions& o) {
  IM_ASSIGN_OR_RETURN(rpc::UnaryClient client, rpc::UnaryClient::Open(rpc::ConfigOf("remote logic", "im-logic", o)));
  return std::shared_ptr<LogicApi>(std::make_shared<RemoteLogic>(std::move(client)));
}

}  // namespace im
