// RemoteStore: the Store seam over im-repo's gRPC services (im/remote_store.h).
#include "im/remote_store.h"

#include <grpcpp/grpcpp.h>

#include "grpc/convert.h"
#include "grpc/unary_client.h"
#include "im/v1/repo.grpc.pb.h"

namespace im {
namespace {

namespace pb = ::im::v1::repo;
using rpc::FromProto;
using rpc::ToProto;

using rpc::Retry;

class RemoteStore final : public Store {
 public:
  explicit RemoteStore(rpc::UnaryClient client)
      : client_(std::move(client)),
        users_(pb::UserService::NewStub(client_.channel())),
        groups_(pb::GroupService::NewStub(client_.channel())),
        messages_(pb::MessageService::NewStub(client_.channel())),
        conversations_(pb::ConversationService::NewStub(client_.channel())) {}

  // ---- users ----
  Result<User> CreateUser(const NewUser& u) override {
    pb::CreateUserRequest req;
    req.set_username(u.username);
    req.set_display_name(u.display_name);
    req.set_password_hash(u.password_hash);
    req.set_created_at_ms(u.created_at_ms);
    v1::User resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->CreateUser(c, q, r); }));
    return FromProto(resp);
  }
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
    out.reserve(resp.users_size());
    for (const auto& u : resp.users()) out.push_back(FromProto(u));
    return out;
  }
  Result<UserCredentials> GetCredentials(const std::string& username) override {
    pb::GetCredentialsRequest req;
    req.set_username(username);
    pb::GetCredentialsResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->GetCredentials(c, q, r); }));
    return UserCredentials{UserId(resp.user_id()), resp.password_hash()};
  }
  Status UpdateUser(const User& u) override {
    pb::UpdateUserRequest req;
    ToProto(u, req.mutable_user());
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->UpdateUser(c, q, r); });
  }
  Status UpdatePasswordHash(UserId id, const std::string& hash) override {
    pb::UpdatePasswordHashRequest req;
    req.set_user_id(id.value);
    req.set_password_hash(hash);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->UpdatePasswordHash(c, q, r); });
  }
  Status DeleteUser(UserId id) override {
    pb::DeleteUserRequest req;
    req.set_user_id(id.value);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->DeleteUser(c, q, r); });
  }

  // ---- refresh tokens ----
  Status PutRefreshToken(const RefreshTokenRecord& record) override {
    pb::RefreshToken req;
    ToProto(record, &req);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->PutRefreshToken(c, q, r); });
  }
  Result<RefreshTokenRecord> GetRefreshToken(const std::string& hash) override {
    pb::GetRefreshTokenRequest req;
    req.set_token_hash(hash);
    pb::RefreshToken resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->GetRefreshToken(c, q, r); }));
    return FromProto(resp);
  }
  Status RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) override {
    pb::RotateRefreshTokenRequest req;
    req.set_old_hash(old_hash);
    ToProto(next, req.mutable_next());
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->RotateRefreshToken(c, q, r); });
  }
  Status RevokeRefreshFamily(const std::string& family) override {
    pb::RevokeRefreshFamilyRequest req;
    req.set_family_id(family);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->RevokeRefreshFamily(c, q, r); });
  }
  Status RevokeUserRefreshFamilies(UserId user, const std::string& except) override {
    pb::RevokeUserRefreshFamiliesRequest req;
    req.set_user_id(user.value);
    req.set_except_family(except);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->RevokeUserRefreshFamilies(c, q, r); });
  }
  Result<bool> IsRefreshFamilyRevoked(const std::string& family) override {
    pb::IsRefreshFamilyRevokedRequest req;
    req.set_family_id(family);
    pb::IsRefreshFamilyRevokedResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->IsRefreshFamilyRevoked(c, q, r); }));
    return resp.revoked();
  }
  Result<uint64_t> PruneRefreshTokens(TimestampMs expired_before) override {
    pb::PruneRefreshTokensRequest req;
    req.set_expired_before_ms(expired_before);
    pb::PruneRefreshTokensResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->PruneRefreshTokens(c, q, r); }));
    return resp.pruned();
  }

  // ---- device tokens and push settings (puts and deletes are idempotent: safe to repeat) ----
  Status PutDeviceToken(const DeviceToken& token) override {
    pb::DeviceToken req;
    ToProto(token, &req);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->PutDeviceToken(c, q, r); });
  }
  Status DeleteDeviceToken(PushPlatform platform, const std::string& token) override {
    pb::DeleteDeviceTokenRequest req;
    req.set_platform(rpc::PlatformToProto(platform));
    req.set_token(token);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->DeleteDeviceToken(c, q, r); });
  }
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId user) override {
    pb::ListDeviceTokensRequest req;
    req.set_user_id(user.value);
    pb::ListDeviceTokensResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->ListDeviceTokens(c, q, r); }));
    std::vector<DeviceToken> out;
    out.reserve(resp.tokens_size());
    for (const auto& t : resp.tokens()) {
      IM_ASSIGN_OR_RETURN(DeviceToken token, FromProto(t));
      out.push_back(std::move(token));
    }
    return out;
  }
  Result<PushSettings> GetPushSettings(UserId user) override {
    pb::GetPushSettingsRequest req;
    req.set_user_id(user.value);
    pb::PushSettings resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return users_->GetPushSettings(c, q, r); }));
    return FromProto(resp);
  }
  Status PutPushSettings(UserId user, const PushSettings& settings) override {
    pb::PutPushSettingsRequest req;
    req.set_user_id(user.value);
    ToProto(settings, req.mutable_settings());
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return users_->PutPushSettings(c, q, r); });
  }

  // ---- groups ----
  Result<Group> CreateGroup(const NewGroup& g) override {
    pb::CreateGroupRequest req;
    req.set_name(g.name);
    req.set_owner_id(g.owner.value);
    req.set_max_members(g.max_members);
    req.set_created_at_ms(g.created_at_ms);
    req.set_join_policy(static_cast<v1::JoinPolicy>(g.join_policy));
    req.set_history_visibility(static_cast<v1::HistoryVisibility>(g.history_visibility));
    v1::Group resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return groups_->CreateGroup(c, q, r); }));
    return FromProto(resp);
  }
  Result<Group> GetGroup(GroupId id) override {
    pb::GetGroupRequest req;
    req.set_group_id(id.value);
    v1::Group resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->GetGroup(c, q, r); }));
    return FromProto(resp);
  }
  Status AddGroupMember(GroupId group, const GroupMember& member) override {
    pb::AddGroupMemberRequest req;
    req.set_group_id(group.value);
    ToProto(member, req.mutable_member());
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return groups_->AddGroupMember(c, q, r); });
  }
  Status RemoveGroupMember(GroupId group, UserId user) override {
    pb::GroupUserRequest req;
    req.set_group_id(group.value);
    req.set_user_id(user.value);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->RemoveGroupMember(c, q, r); });
  }
  Result<GroupMember> GetGroupMember(GroupId group, UserId user) override {
    pb::GroupUserRequest req;
    req.set_group_id(group.value);
    req.set_user_id(user.value);
    v1::GroupMember resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->GetGroupMember(c, q, r); }));
    return FromProto(resp);
  }
  Status SetGroupMemberRole(GroupId group, UserId user, GroupRole role) override {
    pb::SetGroupMemberRoleRequest req;
    req.set_group_id(group.value);
    req.set_user_id(user.value);
    req.set_role(ToProto(role));
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->SetGroupMemberRole(c, q, r); });
  }
  Status TransferGroupOwnership(GroupId group, UserId from, UserId to) override {
    pb::TransferGroupOwnershipRequest req;
    req.set_group_id(group.value);
    req.set_from_user_id(from.value);
    req.set_to_user_id(to.value);
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->TransferGroupOwnership(c, q, r); });
  }
  Status DismissGroup(GroupId group) override {
    pb::DismissGroupRequest req;
    req.set_group_id(group.value);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->DismissGroup(c, q, r); });
  }
  Result<std::vector<GroupMember>> ListGroupMembers(GroupId group, UserId after, uint32_t limit) override {
    pb::ListGroupMembersRequest req;
    req.set_group_id(group.value);
    req.set_after_user_id(after.value);
    req.set_limit(limit);
    pb::ListGroupMembersResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->ListGroupMembers(c, q, r); }));
    std::vector<GroupMember> out;
    out.reserve(resp.members_size());
    for (const auto& m : resp.members()) {
      IM_ASSIGN_OR_RETURN(GroupMember member, FromProto(m));
      out.push_back(member);
    }
    return out;
  }
  Status UpdateGroupSettings(GroupId group, const GroupSettings& settings) override {
    pb::UpdateGroupSettingsRequest req;
    req.set_group_id(group.value);
    req.set_join_policy(static_cast<v1::JoinPolicy>(settings.join_policy));
    req.set_history_visibility(static_cast<v1::HistoryVisibility>(settings.history_visibility));
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->UpdateGroupSettings(c, q, r); });
  }
  // An upsert (a ban again removes nothing more): safe to retry.
  Status PutGroupRelation(const GroupRelation& relation) override {
    v1::GroupRelation req;
    ToProto(relation, &req);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->PutGroupRelation(c, q, r); });
  }
  Result<GroupRelation> GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind) override {
    pb::GroupRelationKey req;
    req.set_group_id(group.value);
    req.set_user_id(user.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    v1::GroupRelation resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->GetGroupRelation(c, q, r); }));
    return FromProto(resp);
  }
  // Not retried: a retry after a delete that happened would answer not_found.
  Status DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind) override {
    pb::GroupRelationKey req;
    req.set_group_id(group.value);
    req.set_user_id(user.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    pb::Empty resp;
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return groups_->DeleteGroupRelation(c, q, r); });
  }
  Result<std::vector<GroupRelation>> ListGroupRelations(GroupId group, GroupRelationKind kind, UserId after,
                                                        uint32_t limit) override {
    pb::ListGroupRelationsRequest req;
    req.set_group_id(group.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    req.set_after_user_id(after.value);
    req.set_limit(limit);
    v1::GroupRelationList resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->ListGroupRelations(c, q, r); }));
    return FromProto(resp);
  }
  Result<std::vector<GroupRelation>> ListUserGroupRelations(UserId user, GroupRelationKind kind, GroupId after,
                                                            uint32_t limit) override {
    pb::ListUserGroupRelationsRequest req;
    req.set_user_id(user.value);
    req.set_kind(static_cast<v1::GroupRelationKind>(kind));
    req.set_after_group_id(after.value);
    req.set_limit(limit);
    v1::GroupRelationList resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return groups_->ListUserGroupRelations(c, q, r); }));
    return FromProto(resp);
  }

  // ---- messages ----
  Result<AppendResult> AppendMessage(const NewMessage& m) override {
    v1::Message req;
    ToProto(m, &req);
    pb::AppendMessageResponse resp;
    // Safe to repeat only with an idempotency key: the store answers a repeat with the original.
    Retry retry = m.client_msg_id.empty() ? Retry::kNo : Retry::kOnUnavailable;
    IM_RETURN_IF_ERROR(
        Call(retry, req, &resp, [this](auto* c, auto& q, auto* r) { return messages_->AppendMessage(c, q, r); }));
    IM_ASSIGN_OR_RETURN(ConversationId conv, rpc::ParseConversationId(resp.conversation_id()));
    return AppendResult{std::move(conv), MessageId(resp.message_id()), resp.seq(), resp.sent_at_ms(), resp.duplicate()};
  }
  Result<std::vector<Message>> ListMessages(const ConversationId& conversation, const MessageRange& range) override {
    pb::ListMessagesRequest req;
    req.set_conversation_id(conversation.str());
    req.set_after_seq(range.after_seq);
    req.set_before_seq(range.before_seq);
    req.set_limit(range.limit);
    req.set_newest_first(range.newest_first);
    pb::ListMessagesResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return messages_->ListMessages(c, q, r); }));
    std::vector<Message> out;
    out.reserve(resp.messages_size());
    for (const auto& pm : resp.messages()) {
      IM_ASSIGN_OR_RETURN(Message msg, rpc::MessageFromProto(pm));
      out.push_back(std::move(msg));
    }
    return out;
  }
  Result<ConversationState> GetConversationState(const ConversationId& conversation) override {
    pb::ConversationRequest req;
    req.set_conversation_id(conversation.str());
    pb::ConversationStateResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return messages_->GetConversationState(c, q, r); }));
    return ConversationState{resp.last_seq(), resp.first_seq(), resp.last_activity_ms()};
  }
  Status TrimHistory(const ConversationId& conversation, Seq before_seq) override {
    pb::TrimHistoryRequest req;
    req.set_conversation_id(conversation.str());
    req.set_before_seq(before_seq);
    pb::Empty resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return messages_->TrimHistory(c, q, r); });
  }

  // ---- conversation list and read state ----
  Result<std::vector<ConversationSummary>> ListConversations(UserId user, const ConversationCursor& after,
                                                             uint32_t limit) override {
    pb::ListConversationsRequest req;
    req.set_user_id(user.value);
    req.set_after_last_activity_ms(after.last_activity_ms);
    req.set_after_conversation_id(after.id.str());
    req.set_limit(limit);
    pb::ListConversationsResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->ListConversations(c, q, r); }));
    std::vector<ConversationSummary> out;
    out.reserve(resp.conversations_size());
    for (const auto& pc : resp.conversations()) {
      IM_ASSIGN_OR_RETURN(ConversationSummary s, FromProto(pc));
      out.push_back(std::move(s));
    }
    return out;
  }
  Result<Seq> AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) override {
    pb::ReadSeqRequest req;
    req.set_user_id(user.value);
    req.set_conversation_id(conversation.str());
    req.set_seq(seq);
    pb::ReadSeqResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->AdvanceReadSeq(c, q, r); }));
    return Seq(resp.read_seq());
  }
  Result<Seq> GetReadSeq(UserId user, const ConversationId& conversation) override {
    pb::ReadSeqRequest req;
    req.set_user_id(user.value);
    req.set_conversation_id(conversation.str());
    pb::ReadSeqResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return conversations_->GetReadSeq(c, q, r); }));
    return Seq(resp.read_seq());
  }

  // ---- dead letters ----
  Result<int64_t> AddDeadLetter(const DeadLetter& letter) override {
    pb::DeadLetter req;
    ToProto(letter, &req);
    pb::DeadLetterId resp;
    // Never repeated: a repeat after a lost answer would store the letter twice.
    IM_RETURN_IF_ERROR(
        Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) { return messages_->AddDeadLetter(c, q, r); }));
    return resp.id();
  }
  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit) override {
    pb::ListDeadLettersRequest req;
    req.set_after_id(after_id);
    req.set_limit(limit);
    pb::ListDeadLettersResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return messages_->ListDeadLetters(c, q, r); }));
    std::vector<DeadLetter> out;
    out.reserve(resp.letters_size());
    for (const auto& d : resp.letters()) out.push_back(FromProto(d));
    return out;
  }
  Result<DeadLetter> GetDeadLetter(int64_t id) override {
    pb::DeadLetterId req;
    req.set_id(id);
    pb::DeadLetter resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp,
                            [this](auto* c, auto& q, auto* r) { return messages_->GetDeadLetter(c, q, r); }));
    return FromProto(resp);
  }
  Status DeleteDeadLetter(int64_t id) override {
    pb::DeadLetterId req;
    req.set_id(id);
    pb::Empty resp;
    // Not repeated: a repeat of a delete that went through would answer not_found.
    return Call(Retry::kNo, req, &resp,
                [this](auto* c, auto& q, auto* r) { return messages_->DeleteDeadLetter(c, q, r); });
  }

  Status Flush() override {
    pb::Empty req, resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return messages_->Flush(c, q, r); });
  }

 private:
  template <typename Req, typename Resp, typename Invoke>
  Status Call(Retry retry, const Req& req, Resp* resp, Invoke invoke) {
    return client_.Call(retry, req, resp, invoke);
  }

  rpc::UnaryClient client_;
  std::unique_ptr<pb::UserService::Stub> users_;
  std::unique_ptr<pb::GroupService::Stub> groups_;
  std::unique_ptr<pb::MessageService::Stub> messages_;
  std::unique_ptr<pb::ConversationService::Stub> conversations_;
};

}  // namespace

Result<std::shared_ptr<Store>> OpenRemoteStore(const RemoteStoreOptions& o) {
  IM_ASSIGN_OR_RETURN(rpc::UnaryClient client, rpc::UnaryClient::Open(rpc::ConfigOf("remote store", "im-repo", o)));
  return std::shared_ptr<Store>(std::make_shared<RemoteStore>(std::move(client)));
}

}  // namespace im
