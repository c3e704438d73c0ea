// RepoServer: the im-repo services over a Store (gRPC synchronous API; see docs/decisions.md).
#include "im/repo_server.h"

#include <grpcpp/grpcpp.h>

#include "grpc/convert.h"
#include "grpc/service_host.h"
#include "grpc/status_mapping.h"
#include "im/v1/repo.grpc.pb.h"

namespace im {
namespace {

namespace pb = ::im::v1::repo;
using ::grpc::ServerContext;
using rpc::FromProto;
using rpc::RelationKindFromProto;
using rpc::Reply;
using rpc::SettingsFromProto;
using rpc::ToGrpcStatus;
using rpc::ToProto;

class UserServiceImpl final : public pb::UserService::Service {
 public:
  explicit UserServiceImpl(Store& store) : store_(store) {}

  ::grpc::Status CreateUser(ServerContext*, const pb::CreateUserRequest* r, v1::User* out) override {
    return Reply(store_.CreateUser(NewUser{r->username(), r->display_name(), r->password_hash(), r->created_at_ms()}),
                 [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status GetUser(ServerContext*, const pb::GetUserRequest* r, v1::User* out) override {
    return Reply(store_.GetUser(UserId(r->user_id())), [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status GetUsers(ServerContext*, const pb::GetUsersRequest* r, pb::GetUsersResponse* out) override {
    std::vector<UserId> ids;
    ids.reserve(r->user_ids_size());
    for (int64_t id : r->user_ids()) ids.emplace_back(id);
    return Reply(store_.GetUsers(ids), [&](const std::vector<User>& users) {
      for (const User& u : users) ToProto(u, out->add_users());
    });
  }
  ::grpc::Status GetCredentials(ServerContext*, const pb::GetCredentialsRequest* r,
                                pb::GetCredentialsResponse* out) override {
    return Reply(store_.GetCredentials(r->username()), [&](const UserCredentials& c) {
      out->set_user_id(c.id.value);
      out->set_password_hash(c.password_hash);
    });
  }
  ::grpc::Status UpdateUser(ServerContext*, const pb::UpdateUserRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.UpdateUser(FromProto(r->user())));
  }
  ::grpc::Status UpdatePasswordHash(ServerContext*, const pb::UpdatePasswordHashRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.UpdatePasswordHash(UserId(r->user_id()), r->password_hash()));
  }
  ::grpc::Status DeleteUser(ServerContext*, const pb::DeleteUserRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.DeleteUser(UserId(r->user_id())));
  }
  ::grpc::Status PutRefreshToken(ServerContext*, const pb::RefreshToken* r, pb::Empty*) override {
    return ToGrpcStatus(store_.PutRefreshToken(FromProto(*r)));
  }
  ::grpc::Status GetRefreshToken(ServerContext*, const pb::GetRefreshTokenRequest* r, pb::RefreshToken* out) override {
    return Reply(store_.GetRefreshToken(r->token_hash()), [&](const RefreshTokenRecord& t) { ToProto(t, out); });
  }
  ::grpc::Status RotateRefreshToken(ServerContext*, const pb::RotateRefreshTokenRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.RotateRefreshToken(r->old_hash(), FromProto(r->next())));
  }
  ::grpc::Status RevokeRefreshFamily(ServerContext*, const pb::RevokeRefreshFamilyRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.RevokeRefreshFamily(r->family_id()));
  }
  ::grpc::Status RevokeUserRefreshFamilies(ServerContext*, const pb::RevokeUserRefreshFamiliesRequest* r,
                                           pb::Empty*) override {
    return ToGrpcStatus(store_.RevokeUserRefreshFamilies(UserId(r->user_id()), r->except_family()));
  }
  ::grpc::Status IsRefreshFamilyRevoked(ServerContext*, const pb::IsRefreshFamilyRevokedRequest* r,
                                        pb::IsRefreshFamilyRevokedResponse* out) override {
    return Reply(store_.IsRefreshFamilyRevoked(r->family_id()), [&](bool revoked) { out->set_revoked(revoked); });
  }
  ::grpc::Status PruneRefreshTokens(ServerContext*, const pb::PruneRefreshTokensRequest* r,
                                    pb::PruneRefreshTokensResponse* out) override {
    return Reply(store_.PruneRefreshTokens(r->expired_before_ms()), [&](uint64_t n) { out->set_pruned(n); });
  }
  ::grpc::Status PutDeviceToken(ServerContext*, const pb::DeviceToken* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(DeviceToken token, FromProto(*r));
    return ToGrpcStatus(store_.PutDeviceToken(token));
  }
  ::grpc::Status DeleteDeviceToken(ServerContext*, const pb::DeleteDeviceTokenRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(PushPlatform platform, rpc::PlatformFromProto(r->platform()));
    return ToGrpcStatus(store_.DeleteDeviceToken(platform, r->token()));
  }
  ::grpc::Status ListDeviceTokens(ServerContext*, const pb::ListDeviceTokensRequest* r,
                                  pb::ListDeviceTokensResponse* out) override {
    return Reply(store_.ListDeviceTokens(UserId(r->user_id())), [&](const std::vector<DeviceToken>& tokens) {
      for (const DeviceToken& t : tokens) ToProto(t, out->add_tokens());
    });
  }
  ::grpc::Status GetPushSettings(ServerContext*, const pb::GetPushSettingsRequest* r, pb::PushSettings* out) override {
    return Reply(store_.GetPushSettings(UserId(r->user_id())), [&](const PushSettings& s) { ToProto(s, out); });
  }
  ::grpc::Status PutPushSettings(ServerContext*, const pb::PutPushSettingsRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.PutPushSettings(UserId(r->user_id()), FromProto(r->settings())));
  }

 private:
  Store& store_;
};

class GroupServiceImpl final : public pb::GroupService::Service {
 public:
  explicit GroupServiceImpl(Store& store) : store_(store) {}

  ::grpc::Status CreateGroup(ServerContext*, const pb::CreateGroupRequest* r, v1::Group* out) override {
    GroupSettings settings = SettingsFromProto(r->join_policy(), r->history_visibility());
    return Reply(store_.CreateGroup(NewGroup{r->name(), UserId(r->owner_id()), r->max_members(), r->created_at_ms(),
                                             settings.join_policy, settings.history_visibility}),
                 [&](const Group& g) { ToProto(g, out); });
  }
  ::grpc::Status GetGroup(ServerContext*, const pb::GetGroupRequest* r, v1::Group* out) override {
    return Reply(store_.GetGroup(GroupId(r->group_id())), [&](const Group& g) { ToProto(g, out); });
  }
  ::grpc::Status AddGroupMember(ServerContext*, const pb::AddGroupMemberRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupMember m, FromProto(r->member()));
    return ToGrpcStatus(store_.AddGroupMember(GroupId(r->group_id()), m));
  }
  ::grpc::Status RemoveGroupMember(ServerContext*, const pb::GroupUserRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.RemoveGroupMember(GroupId(r->group_id()), UserId(r->user_id())));
  }
  ::grpc::Status GetGroupMember(ServerContext*, const pb::GroupUserRequest* r, v1::GroupMember* out) override {
    return Reply(store_.GetGroupMember(GroupId(r->group_id()), UserId(r->user_id())),
                 [&](const GroupMember& m) { ToProto(m, out); });
  }
  ::grpc::Status SetGroupMemberRole(ServerContext*, const pb::SetGroupMemberRoleRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupRole role, FromProto(r->role()));
    return ToGrpcStatus(store_.SetGroupMemberRole(GroupId(r->group_id()), UserId(r->user_id()), role));
  }
  ::grpc::Status TransferGroupOwnership(ServerContext*, const pb::TransferGroupOwnershipRequest* r,
                                        pb::Empty*) override {
    return ToGrpcStatus(
        store_.TransferGroupOwnership(GroupId(r->group_id()), UserId(r->from_user_id()), UserId(r->to_user_id())));
  }
  ::grpc::Status DismissGroup(ServerContext*, const pb::DismissGroupRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.DismissGroup(GroupId(r->group_id())));
  }
  ::grpc::Status ListGroupMembers(ServerContext*, const pb::ListGroupMembersRequest* r,
                                  pb::ListGroupMembersResponse* out) override {
    return Reply(store_.ListGroupMembers(GroupId(r->group_id()), UserId(r->after_user_id()), r->limit()),
                 [&](const std::vector<GroupMember>& members) {
                   for (const GroupMember& m : members) ToProto(m, out->add_members());
                 });
  }
  ::grpc::Status UpdateGroupSettings(ServerContext*, const pb::UpdateGroupSettingsRequest* r, pb::Empty*) override {
    return ToGrpcStatus(store_.UpdateGroupSettings(GroupId(r->group_id()),
                                                   SettingsFromProto(r->join_policy(), r->history_visibility())));
  }
  ::grpc::Status PutGroupRelation(ServerContext*, const v1::GroupRelation* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupRelation relation, FromProto(*r));
    return ToGrpcStatus(store_.PutGroupRelation(relation));
  }
  ::grpc::Status GetGroupRelation(ServerContext*, const pb::GroupRelationKey* r, v1::GroupRelation* out) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, RelationKindFromProto(r->kind()));
    return Reply(store_.GetGroupRelation(GroupId(r->group_id()), UserId(r->user_id()), kind),
                 [&](const GroupRelation& relation) { ToProto(relation, out); });
  }
  ::grpc::Status DeleteGroupRelation(ServerContext*, const pb::GroupRelationKey* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, RelationKindFromProto(r->kind()));
    return ToGrpcStatus(store_.DeleteGroupRelation(GroupId(r->group_id()), UserId(r->user_id()), kind));
  }
  ::grpc::Status ListGroupRelations(ServerContext*, const pb::ListGroupRelationsRequest* r,
                                    v1::GroupRelationList* out) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, RelationKindFromProto(r->kind()));
    return Reply(store_.ListGroupRelations(GroupId(r->group_id()), kind, UserId(r->after_user_id()), r->limit()),
                 [&](const std::vector<GroupRelation>& list) { ToProto(list, out); });
  }
  ::grpc::Status ListUserGroupRelations(ServerContext*, const pb::ListUserGroupRelationsRequest* r,
                                        v1::GroupRelationList* out) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, RelationKindFromProto(r->kind()));
    return Reply(store_.ListUserGroupRelations(UserId(r->user_id()), kind, GroupId(r->after_group_id()), r->limit()),
                 [&](const std::vector<GroupRelation>& list) { ToProto(list, out); });
  }

 private:
  Store& store_;
};

class MessageServiceImpl final : public pb::MessageService::Service {
 public:
  explicit MessageServiceImpl(Store& store) : store_(store) {}

  ::grpc::Status AppendMessage(ServerContext*, const v1::Message* r, pb::AppendMessageResponse* out) override {
    IM_GRPC_ASSIGN(NewMessage m, rpc::NewMessageFromProto(*r));
    return Reply(store_.AppendMessage(m), [&](const AppendResult& a) {
      out->set_conversation_id(a.conversation.str());
      out->set_message_id(a.id.value);
      out->set_seq(a.seq);
      out->set_sent_at_ms(a.sent_at_ms);
      out->set_duplicate(a.duplicate);
    });
  }
  ::grpc::Status ListMessages(ServerContext*, const pb::ListMessagesRequest* r,
                              pb::ListMessagesResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, rpc::ParseConversationId(r->conversation_id()));
    MessageRange range{r->after_seq(), r->before_seq(), r->limit(), r->newest_first()};
    return Reply(store_.ListMessages(c, range), [&](const std::vector<Message>& messages) {
      for (const Message& m : messages) im::ToProto(m, out->add_messages());
    });
  }
  ::grpc::Status GetConversationState(ServerContext*, const pb::ConversationRequest* r,
                                      pb::ConversationStateResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, rpc::ParseConversationId(r->conversation_id()));
    return Reply(store_.GetConversationState(c), [&](const ConversationState& s) {
      out->set_last_seq(s.last_seq);
      out->set_first_seq(s.first_seq);
      out->set_last_activity_ms(s.last_activity_ms);
    });
  }
  ::grpc::Status TrimHistory(ServerContext*, const pb::TrimHistoryRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(ConversationId c, rpc::ParseConversationId(r->conversation_id()));
    return ToGrpcStatus(store_.TrimHistory(c, r->before_seq()));
  }
  ::grpc::Status Flush(ServerContext*, const pb::Empty*, pb::Empty*) override { return ToGrpcStatus(store_.Flush()); }
  ::grpc::Status AddDeadLetter(ServerContext*, const pb::DeadLetter* r, pb::DeadLetterId* out) override {
    return Reply(store_.AddDeadLetter(FromProto(*r)), [&](int64_t id) { out->set_id(id); });
  }
  ::grpc::Status ListDeadLetters(ServerContext*, const pb::ListDeadLettersRequest* r,
                                 pb::ListDeadLettersResponse* out) override {
    return Reply(store_.ListDeadLetters(r->after_id(), r->limit()), [&](const std::vector<DeadLetter>& letters) {
      for (const DeadLetter& d : letters) ToProto(d, out->add_letters());
    });
  }
  ::grpc::Status GetDeadLetter(ServerContext*, const pb::DeadLetterId* r, pb::DeadLetter* out) override {
    return Reply(store_.GetDeadLetter(r->id()), [&](const DeadLetter& d) { ToProto(d, out); });
  }
  ::grpc::Status DeleteDeadLetter(ServerContext*, const pb::DeadLetterId* r, pb::Empty*) override {
    return ToGrpcStatus(store_.DeleteDeadLetter(r->id()));
  }

 private:
  Store& store_;
};

class ConversationServiceImpl final : public pb::ConversationService::Service {
 public:
  explicit ConversationServiceImpl(Store& store) : store_(store) {}

  ::grpc::Status ListConversations(ServerContext*, const pb::ListConversationsRequest* r,
                                   pb::ListConversationsResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId after, rpc::ParseConversationId(r->after_conversation_id()));
    ConversationCursor cursor{r->after_last_activity_ms(), std::move(after)};
    return Reply(store_.ListConversations(UserId(r->user_id()), cursor, r->limit()),
                 [&](const std::vector<ConversationSummary>& list) {
                   for (const ConversationSummary& c : list) ToProto(c, out->add_conversations());
                 });
  }
  ::grpc::Status AdvanceReadSeq(ServerContext*, const pb::ReadSeqRequest* r, pb::ReadSeqResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, rpc::ParseConversationId(r->conversation_id()));
    return Reply(store_.AdvanceReadSeq(UserId(r->user_id()), c, r->seq()), [&](Seq seq) { out->set_read_seq(seq); });
  }
  ::grpc::Status GetReadSeq(ServerContext*, const pb::ReadSeqRequest* r, pb::ReadSeqResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, rpc::ParseConversationId(r->conversation_id()));
    return Reply(store_.GetReadSeq(UserId(r->user_id()), c), [&](Seq seq) { out->set_read_seq(seq); });
  }

 private:
  Store& store_;
};

class OnlineStatusServiceImpl final : public pb::OnlineStatusService::Service {
 public:
  explicit OnlineStatusServiceImpl(Presence& presence) : presence_(presence) {}

  ::grpc::Status Register(ServerContext*, const pb::RegisterRouteRequest* r, pb::Empty*) override {
    return ToGrpcStatus(presence_.Register(RouteOf(r->route()), r->ttl_ms()));
  }
  ::grpc::Status Unregister(ServerContext*, const pb::Route* r, pb::Empty*) override {
    return ToGrpcStatus(presence_.Unregister(RouteOf(*r)));
  }
  ::grpc::Status Lookup(ServerContext*, const pb::LookupRoutesRequest* r, pb::LookupRoutesResponse* out) override {
    std::vector<UserId> users(r->user_ids().begin(), r->user_ids().end());
    return Reply(presence_.Lookup(users), [&](const std::vector<Route>& routes) {
      for (const Route& route : routes) {
        auto* pr = out->add_routes();
        pr->set_user_id(route.user.value);
        pr->set_device_id(route.device);
        pr->set_gateway_id(route.gateway_id);
      }
    });
  }
  ::grpc::Status Online(ServerContext*, const pb::OnlineRequest* r, pb::OnlineResponse* out) override {
    std::vector<UserId> users(r->user_ids().begin(), r->user_ids().end());
    return Reply(presence_.Online(users), [&](const std::vector<bool>& online) {
      for (bool o : online) out->add_online(o);
    });
  }

 private:
  static Route RouteOf(const pb::Route& r) { return Route{UserId(r.user_id()), r.device_id(), r.gateway_id()}; }
  Presence& presence_;
};

class RepoServerImpl final : public RepoServer {
 public:
  RepoServerImpl(std::shared_ptr<Store> store, std::shared_ptr<Presence> presence, int64_t grace_ms)
      : store_(std::move(store)),
        presence_(std::move(presence)),
        grace_ms_(grace_ms),
        users_(*store_),
        groups_(*store_),
        messages_(*store_),
        conversations_(*store_) {}
  ~RepoServerImpl() override { Shutdown(grace_ms_); }

  Status Start(const RepoServerOptions& o) {
    std::vector<::grpc::Service*> services{&users_, &groups_, &messages_, &conversations_};
    if (presence_) {
      online_ = std::make_unique<OnlineStatusServiceImpl>(*presence_);
      services.push_back(online_.get());
    }
    return host_.Start("im-repo", o.listen_address, o.threads, o.max_message_bytes, services);
  }

  int port() const override { return host_.port(); }
  void Shutdown(int64_t grace_ms) override { host_.Shutdown(grace_ms); }

 private:
  std::shared_ptr<Store> store_;
  std::shared_ptr<Presence> presence_;
  int64_t grace_ms_;
  UserServiceImpl users_;
  GroupServiceImpl groups_;
  MessageServiceImpl messages_;
  ConversationServiceImpl conversations_;
  std::unique_ptr<OnlineStatusServiceImpl> online_;
  rpc::ServiceHost host_;  // last: shut down before the services go
};

}  // namespace

Result<std::unique_ptr<RepoServer>> StartRepoServer(std::shared_ptr<Store> store, const RepoServerOptions& options) {
  if (!store) return Status::InvalidArgument("im-repo: no store");
  if (options.threads < 2) return Status::InvalidArgument("im-repo: threads must be at least 2");
  if (options.max_message_bytes <= 0) return Status::InvalidArgument("im-repo: max_message_bytes must be positive");
  auto server = std::make_unique<RepoServerImpl>(std::move(store), options.presence, options.shutdown_grace_ms);
  IM_RETURN_IF_ERROR(server->Start(options));
  return std::unique_ptr<RepoServer>(std::move(server));
}

}  // namespace im
