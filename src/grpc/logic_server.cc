// LogicServer: the im-logic services over a LogicApi (gRPC synchronous API, like RepoServer).
#include "im/logic_server.h"

#include <grpcpp/grpcpp.h>

#include "engine/records.h"
#include "grpc/convert.h"
#include "grpc/service_host.h"
#include "grpc/status_mapping.h"
#include "im/v1/logic.grpc.pb.h"

namespace im {
namespace {

namespace pb = ::im::v1::logic;
using ::grpc::ServerContext;
using rpc::Reply;
using rpc::ToGrpcStatus;
using rpc::ToProto;

// A request's conversation id must name a conversation.
Result<ConversationId> Conversation(const std::string& text) {
  auto c = ConversationId::Parse(text);
  if (!c) return Status::InvalidArgument("malformed conversation_id \"" + text.substr(0, 80) + "\"");
  return *c;
}

void FillTokens(const AuthTokens& t, pb::AuthResponse* out) {
  out->set_user_id(t.user.value);
  out->set_access_token(t.access_token);
  out->set_access_expires_at_ms(t.access_expires_at_ms);
  out->set_refresh_token(t.refresh_token);
  out->set_refresh_expires_at_ms(t.refresh_expires_at_ms);
}

class AuthServiceImpl final : public pb::AuthService::Service {
 public:
  explicit AuthServiceImpl(LogicApi& logic) : logic_(logic) {}

  ::grpc::Status Login(ServerContext*, const pb::LoginRequest* r, pb::AuthResponse* out) override {
    return Reply(logic_.Login(r->username(), r->password(), r->device_id()),
                 [&](const AuthTokens& t) { FillTokens(t, out); });
  }
  ::grpc::Status Register(ServerContext*, const pb::RegisterRequest* r, v1::User* out) override {
    return Reply(logic_.Register(r->username(), r->password(), r->display_name()),
                 [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status RefreshToken(ServerContext*, const pb::RefreshTokenRequest* r, pb::AuthResponse* out) override {
    return Reply(logic_.Refresh(r->refresh_token()), [&](const AuthTokens& t) { FillTokens(t, out); });
  }
  ::grpc::Status Logout(ServerContext*, const pb::LogoutRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.Logout(r->refresh_token()));
  }
  ::grpc::Status Authenticate(ServerContext*, const pb::AuthenticateRequest* r,
                              pb::AuthenticateResponse* out) override {
    return Reply(logic_.Authenticate(r->access_token()), [&](const AuthContext& a) {
      out->set_user_id(a.user.value);
      out->set_device_id(a.device);
      out->set_family_id(a.family_id);
      out->set_expires_at_ms(a.expires_at_ms);
    });
  }
  ::grpc::Status ChangePassword(ServerContext*, const pb::ChangePasswordRequest* r, pb::Empty*) override {
    return ToGrpcStatus(
        logic_.ChangePassword(UserId(r->user_id()), r->current_password(), r->new_password(), r->keep_refresh_token()));
  }

 private:
  LogicApi& logic_;
};

class UserServiceImpl final : public pb::UserService::Service {
 public:
  explicit UserServiceImpl(LogicApi& logic) : logic_(logic) {}

  ::grpc::Status GetUser(ServerContext*, const pb::GetUserRequest* r, v1::User* out) override {
    return Reply(logic_.GetUser(UserId(r->user_id())), [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status GetUsers(ServerContext*, const pb::GetUsersRequest* r, pb::GetUsersResponse* out) override {
    std::vector<UserId> ids(r->user_ids().begin(), r->user_ids().end());
    return Reply(logic_.GetUsers(ids), [&](const std::vector<User>& users) {
      for (const User& u : users) ToProto(u, out->add_users());
    });
  }
  ::grpc::Status FindUser(ServerContext*, const pb::FindUserRequest* r, v1::User* out) override {
    return Reply(logic_.FindUser(r->username()), [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status UpdateProfile(ServerContext*, const pb::UpdateProfileRequest* r, v1::User* out) override {
    return Reply(logic_.UpdateProfile(UserId(r->user_id()), r->display_name()),
                 [&](const User& u) { ToProto(u, out); });
  }
  ::grpc::Status DeleteUser(ServerContext*, const pb::DeleteUserRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.DeleteUser(UserId(r->user_id())));
  }

 private:
  LogicApi& logic_;
};

class ConversationServiceImpl final : public pb::ConversationService::Service {
 public:
  explicit ConversationServiceImpl(LogicApi& logic) : logic_(logic) {}

  ::grpc::Status GetConversations(ServerContext*, const pb::GetConversationsRequest* r,
                                  pb::GetConversationsResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId after, rpc::ParseConversationId(r->after_conversation_id()));
    return Reply(logic_.ListConversations(UserId(r->user_id()), ConversationCursor{r->after_last_activity_ms(), after},
                                          r->limit()),
                 [&](const std::vector<ConversationSummary>& list) {
                   for (const auto& c : list) ToProto(c, out->add_conversations());
                 });
  }
  ::grpc::Status GetMessages(ServerContext*, const pb::GetMessagesRequest* r, pb::GetMessagesResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, Conversation(r->conversation_id()));
    return Reply(logic_.GetHistory(UserId(r->user_id()), c, HistoryQuery{r->after_seq(), r->before_seq(), r->limit()}),
                 [&](const HistoryPage& page) {
                   for (const auto& m : page.messages) im::ToProto(m, out->add_messages());
                   out->set_has_more(page.has_more);
                 });
  }
  ::grpc::Status MarkAsRead(ServerContext*, const pb::MarkAsReadRequest* r, pb::MarkAsReadResponse* out) override {
    IM_GRPC_ASSIGN(ConversationId c, Conversation(r->conversation_id()));
    return Reply(logic_.MarkRead(UserId(r->user_id()), r->device_id(), c, r->seq()),
                 [&](Seq seq) { out->set_read_seq(seq); });
  }
  ::grpc::Status Sync(ServerContext*, const pb::SyncRequest* r, pb::SyncResponse* out) override {
    SyncRequest request;
    request.include_unknown_conversations = r->include_unknown_conversations();
    request.limit_per_conversation = r->limit_per_conversation();
    for (const auto& p : r->positions()) {
      IM_GRPC_ASSIGN(ConversationId c, Conversation(p.conversation_id()));
      request.positions.push_back(SyncPosition{std::move(c), p.last_seq()});
    }
    return Reply(logic_.Sync(UserId(r->user_id()), request), [&](const SyncResult& result) {
      for (const auto& c : result.conversations) {
        auto* sc = out->add_conversations();
        sc->set_conversation_id(c.conversation.str());
        sc->set_code(static_cast<int32_t>(c.status.code()));
        sc->set_error_message(c.status.message());
        sc->set_last_seq(c.last_seq);
        for (const auto& m : c.messages) im::ToProto(m, sc->add_messages());
        sc->set_has_more(c.has_more);
        sc->set_history_lost(c.history_lost);
        sc->set_first_available_seq(c.first_available_seq);
      }
    });
  }
  ::grpc::Status Typing(ServerContext*, const pb::TypingRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(ConversationId c, Conversation(r->conversation_id()));
    return ToGrpcStatus(logic_.Typing(UserId(r->user_id()), r->device_id(), c));
  }
  ::grpc::Status Search(ServerContext*, const pb::SearchRequest* r, pb::SearchResponse* out) override {
    SearchRequest request{r->query(), ConversationId(), r->limit(), MessageId(r->before_message_id())};
    if (!r->conversation_id().empty()) {
      IM_GRPC_ASSIGN(request.conversation, Conversation(r->conversation_id()));
    }
    return Reply(logic_.Search(UserId(r->user_id()), request), [&](const SearchPage& page) {
      for (const SearchHit& h : page.hits) {
        auto* hit = out->add_hits();
        hit->set_message_id(h.id.value);
        hit->set_conversation_id(h.conversation.str());
        hit->set_seq(h.seq);
        hit->set_sender_id(h.sender.value);
        hit->set_sent_at_ms(h.sent_at_ms);
        hit->set_highlight(h.highlight);
      }
      out->set_next_before_message_id(page.next_before.value);
    });
  }

 private:
  LogicApi& logic_;
};

class GroupServiceImpl final : public pb::GroupService::Service {
 public:
  explicit GroupServiceImpl(LogicApi& logic) : logic_(logic) {}

  ::grpc::Status CreateGroup(ServerContext*, const pb::CreateGroupRequest* r, v1::Group* out) override {
    return Reply(logic_.CreateGroup(UserId(r->user_id()), r->name(), r->max_members(),
                                    rpc::SettingsFromProto(r->join_policy(), r->history_visibility())),
                 [&](const Group& g) { ToProto(g, out); });
  }
  ::grpc::Status GetGroup(ServerContext*, const pb::GroupRequest* r, v1::Group* out) override {
    return Reply(logic_.GetGroup(UserId(r->user_id()), GroupId(r->group_id())),
                 [&](const Group& g) { ToProto(g, out); });
  }
  ::grpc::Status JoinGroup(ServerContext*, const pb::GroupRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.JoinGroup(UserId(r->user_id()), GroupId(r->group_id())));
  }
  ::grpc::Status LeaveGroup(ServerContext*, const pb::GroupRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.LeaveGroup(UserId(r->user_id()), GroupId(r->group_id())));
  }
  ::grpc::Status KickMember(ServerContext*, const pb::GroupTargetRequest* r, pb::Empty*) override {
    return ToGrpcStatus(
        logic_.KickMember(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id()), r->ban()));
  }
  ::grpc::Status SetMemberRole(ServerContext*, const pb::GroupTargetRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupRole role, rpc::FromProto(r->role()));
    return ToGrpcStatus(
        logic_.SetMemberRole(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id()), role));
  }
  ::grpc::Status TransferOwnership(ServerContext*, const pb::GroupTargetRequest* r, pb::Empty*) override {
    return ToGrpcStatus(
        logic_.TransferOwnership(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id())));
  }
  ::grpc::Status DismissGroup(ServerContext*, const pb::GroupRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.DismissGroup(UserId(r->user_id()), GroupId(r->group_id())));
  }
  ::grpc::Status GetGroupMembers(ServerContext*, const pb::GetGroupMembersRequest* r,
                                 pb::GetGroupMembersResponse* out) override {
    return Reply(
        logic_.ListMembers(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->after_user_id()), r->limit()),
        [&](const std::vector<GroupMember>& members) {
          for (const auto& m : members) ToProto(m, out->add_members());
        });
  }
  ::grpc::Status UpdateGroupSettings(ServerContext*, const pb::UpdateGroupSettingsRequest* r, v1::Group* out) override {
    return Reply(logic_.UpdateGroupSettings(UserId(r->user_id()), GroupId(r->group_id()),
                                            rpc::SettingsFromProto(r->join_policy(), r->history_visibility())),
                 [&](const Group& g) { ToProto(g, out); });
  }
  ::grpc::Status InviteMember(ServerContext*, const pb::GroupTargetRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.InviteMember(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id())));
  }
  ::grpc::Status RequestToJoin(ServerContext*, const pb::GroupRequest* r, pb::Empty*) override {
    return ToGrpcStatus(logic_.RequestToJoin(UserId(r->user_id()), GroupId(r->group_id())));
  }
  ::grpc::Status ApproveJoinRequest(ServerContext*, const pb::GroupTargetRequest* r, pb::Empty*) override {
    return ToGrpcStatus(
        logic_.ApproveJoinRequest(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id())));
  }
  ::grpc::Status RemoveGroupRelation(ServerContext*, const pb::GroupRelationRequest* r, pb::Empty*) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, rpc::RelationKindFromProto(r->kind()));
    return ToGrpcStatus(
        logic_.RemoveGroupRelation(UserId(r->user_id()), GroupId(r->group_id()), UserId(r->target_user_id()), kind));
  }
  ::grpc::Status ListGroupRelations(ServerContext*, const pb::GroupRelationRequest* r,
                                    v1::GroupRelationList* out) override {
    IM_GRPC_ASSIGN(GroupRelationKind kind, rpc::RelationKindFromProto(r->kind()));
    return Reply(logic_.ListGroupRelations(UserId(r->user_id()), GroupId(r->group_id()), kind,
                                           UserId(r->target_user_id()), r->limit()),
                 [&](const std::vector<GroupRelation>& list) { ToProto(list, out); });
  }
  ::grpc::Status ListInvitations(ServerContext*, const pb::ListInvitationsRequest* r,
                                 v1::GroupRelationList* out) override {
    return Reply(logic_.ListInvitations(UserId(r->user_id()), GroupId(r->after_group_id()), r->limit()),
                 [&](const std::vector<GroupRelation>& list) { ToProto(list, out); });
  }

 private:
  LogicApi& logic_;
};

PushPlatform FromProto(pb::PushPlatform p) {
  // An unknown value stays unknown (0), which validation refuses with invalid_argument.
  return p == pb::PUSH_PLATFORM_FCM ? PushPlatform::kFcm
         : p == pb::PUSH_PLATFORM_APNS ? PushPlatform::kApns
                                       : PushPlatform{};
}

pb::PushPlatform ToProto(PushPlatform p) {
  return p == PushPlatform::kFcm ? pb::PUSH_PLATFORM_FCM : pb::PUSH_PLATFORM_APNS;
}

class PushServiceImpl final : public pb::PushService::Service {
 public:
  explicit PushServiceImpl(LogicApi& logic) : logic_(logic) {}

  ::grpc::Status RegisterDeviceToken(ServerContext*, const pb::DeviceTokenRequest* r, pb::Empty*) override {
    DeviceToken t{UserId(r->user_id()), FromProto(r->token().platform()), r->token().token(), r->token().device_id()};
    return ToGrpcStatus(logic_.RegisterDeviceToken(UserId(r->user_id()), t));
  }
  ::grpc::Status UnregisterDeviceToken(ServerContext*, const pb::DeviceTokenRequest* r, pb::Empty*) override {
    return ToGrpcStatus(
        logic_.UnregisterDeviceToken(UserId(r->user_id()), FromProto(r->token().platform()), r->token().token()));
  }
  ::grpc::Status ListDeviceTokens(ServerContext*, const pb::UserRequest* r, pb::DeviceTokensResponse* out) override {
    return Reply(logic_.ListDeviceTokens(UserId(r->user_id())), [&](const std::vector<DeviceToken>& tokens) {
      for (const DeviceToken& t : tokens) {
        auto* pt = out->add_tokens();
        pt->set_platform(ToProto(t.platform));
        pt->set_token(t.token);
        pt->set_device_id(t.device);
        pt->set_updated_at_ms(t.updated_at_ms);
      }
    });
  }
  ::grpc::Status GetPushSettings(ServerContext*, const pb::UserRequest* r, pb::PushSettings* out) override {
    return Reply(logic_.GetPushSettings(UserId(r->user_id())), [&](const PushSettings& s) {
      out->set_muted(s.muted);
      out->set_show_preview(s.show_preview);
    });
  }
  ::grpc::Status SetPushSettings(ServerContext*, const pb::SetPushSettingsRequest* r, pb::Empty*) override {
    PushSettings settings{r->settings().muted(), r->settings().show_preview()};
    return ToGrpcStatus(logic_.SetPushSettings(UserId(r->user_id()), settings));
  }

 private:
  LogicApi& logic_;
};

class LogicServerImpl final : public LogicServer {
 public:
  LogicServerImpl(std::shared_ptr<LogicApi> logic, int64_t grace_ms)
      : logic_(std::move(logic)),
        grace_ms_(grace_ms),
        auth_(*logic_),
        users_(*logic_),
        conversations_(*logic_),
        groups_(*logic_),
        push_(*logic_) {}
  ~LogicServerImpl() override { Shutdown(grace_ms_); }

  Status Start(const LogicServerOptions& o) {
    return host_.Start("im-logic", o.listen_address, o.threads, o.max_message_bytes,
                       {&auth_, &users_, &conversations_, &groups_, &push_});
  }

  int port() const override { return host_.port(); }
  void Shutdown(int64_t grace_ms) override { host_.Shutdown(grace_ms); }

 private:
  std::shared_ptr<LogicApi> logic_;
  int64_t grace_ms_;
  AuthServiceImpl auth_;
  UserServiceImpl users_;
  ConversationServiceImpl conversations_;
  GroupServiceImpl groups_;
  PushServiceImpl push_;
  rpc::ServiceHost host_;  // last: shut down before the services go
};

}  // namespace

Result<std::unique_ptr<LogicServer>> StartLogicServer(std::shared_ptr<LogicApi> logic,
                                                      const LogicServerOptions& options) {
  if (!logic) return Status::InvalidArgument("im-logic: no logic");
  if (options.threads < 2) return Status::InvalidArgument("im-logic: threads must be at least 2");
  if (options.max_message_bytes <= 0) return Status::InvalidArgument("im-logic: max_message_bytes must be positive");
  auto server = std::make_unique<LogicServerImpl>(std::move(logic), options.shutdown_grace_ms);
  IM_RETURN_IF_ERROR(server->Start(options));
  return std::unique_ptr<LogicServer>(std::move(server));
}

}  // namespace im
