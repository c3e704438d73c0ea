// RemoteStore: the Store seam over im-repo's gRPC services (im/remote_store.h).
#include "im/remote_store.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "grpc/convert.h"
#include "grpc/status_mapping.h"
#include "im/v1/repo.grpc.pb.h"

namespace im {
namespace {

namespace pb = ::im::v1::repo;
using rpc::FromProto;
using rpc::ToProto;

enum class Retry : bool { kNo = false, kOnUnavailable = true };

bool IsIpv4Literal(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return false;
  int dots = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (a[i] == '.') {
      ++dots;
    } else if (a[i] < '0' || a[i] > '9') {
      return false;
    }
  }
  return dots == 3 && std::all_of(a.begin() + colon + 1, a.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsIpv6Literal(const std::string& a) { return a.size() > 4 && a[0] == '[' && a.find("]:") != std::string::npos; }

// One gRPC target for the addresses (see docs/decisions.md): a single address as it is (gRPC's
// DNS resolver), several IP literals as a static "ipv4:"/"ipv6:" list.
Result<std::string> TargetOf(const std::vector<std::string>& addresses) {
  if (addresses.empty()) return Status::InvalidArgument("remote store: no address");
  if (addresses.size() == 1) {
    if (addresses[0].empty()) return Status::InvalidArgument("remote store: empty address");
    return addresses[0];
  }
  bool v4 = std::all_of(addresses.begin(), addresses.end(), IsIpv4Literal);
  bool v6 = std::all_of(addresses.begin(), addresses.end(), IsIpv6Literal);
  if (!v4 && !v6) {
    return Status::InvalidArgument(
        "remote store: several addresses must all be IPv4 (a.b.c.d:port) or all IPv6 ([::1]:port) literals");
  }
  std::string target = v4 ? "ipv4:" : "ipv6:";
  for (size_t i = 0; i < addresses.size(); ++i) target += (i ? "," : "") + addresses[i];
  return target;
}

class RemoteStore final : public Store {
 public:
  RemoteStore(const RemoteStoreOptions& o, std::shared_ptr<::grpc::Channel> channel)
      : options_(o),
        users_(pb::UserService::NewStub(channel)),
        groups_(pb::GroupService::NewStub(channel)),
        messages_(pb::MessageService::NewStub(channel)),
        conversations_(pb::ConversationService::NewStub(channel)),
        channel_(std::move(channel)) {}

  // ---- users ----
  Result<User> CreateUser(const NewUser& u) override {
    pb::CreateUserRequest req;
    req.set_username(u.username);
    req.set_display_name(u.display_name);
    req.set_password_hash(u.password_hash);
    req.set_created_at_ms(u.created_at_ms);
    v1::User resp;
    IM_RETURN_IF_ERROR(Call(Retry::kNo, req, &resp, [this](auto* c, auto& q, auto* r) {
      return users_->CreateUser(c, q, r);
    }));
    return FromProto(resp);
  }
  Result<User> GetUser(UserId id) override {
    pb::GetUserRequest req;
    req.set_user_id(id.value);
    v1::User resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->GetUser(c, q, r); }));
    return FromProto(resp);
  }
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override {
    pb::GetUsersRequest req;
    for (UserId id : ids) req.add_user_ids(id.value);
    pb::GetUsersResponse resp;
    IM_RETURN_IF_ERROR(
        Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) { return users_->GetUsers(c, q, r); }));
    std::vector<User> out;
    out.reserve(resp.users_size());
    for (const auto& u : resp.users()) out.push_back(FromProto(u));
    return out;
  }
  Result<UserCredentials> GetCredentials(const std::string& username) override {
    pb::GetCredentialsRequest req;
    req.set_username(username);
    pb::GetCredentialsResponse resp;
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) {
      return users_->GetCredentials(c, q, r);
    }));
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
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) {
      return users_->GetRefreshToken(c, q, r);
    }));
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
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) {
      return users_->IsRefreshFamilyRevoked(c, q, r);
    }));
    return resp.revoked();
  }

  // ---- groups ----
  Result<Group> CreateGroup(const NewGroup& g) override {
    pb::CreateGroupRequest req;
    req.set_name(g.name);
    req.set_owner_id(g.owner.value);
    req.set_max_members(g.max_members);
    req.set_created_at_ms(g.created_at_ms);
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
    return AppendResult{std::move(conv), MessageId(resp.message_id()), resp.seq(), resp.sent_at_ms(),
                        resp.duplicate()};
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
    IM_RETURN_IF_ERROR(Call(Retry::kOnUnavailable, req, &resp, [this](auto* c, auto& q, auto* r) {
      return conversations_->ListConversations(c, q, r);
    }));
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

  Status Flush() override {
    pb::Empty req, resp;
    return Call(Retry::kOnUnavailable, req, &resp,
                [this](auto* c, auto& q, auto* r) { return messages_->Flush(c, q, r); });
  }

 private:
  // One unary call with a deadline per attempt; unavailable is retried with exponential backoff
  // and jitter when `retry` allows it.
  template <typename Req, typename Resp, typename Invoke>
  Status Call(Retry retry, const Req& req, Resp* resp, Invoke invoke) {
    if (retry == Retry::kNo) {
      // A write that must not be repeated is sent only over a connection: until one is up (or
      // the deadline passes) it waits, so its unavailable then means it was never sent. A
      // fail-fast call would fail at once on a channel still (re)connecting.
      auto connect_by = std::chrono::system_clock::now() + std::chrono::milliseconds(options_.deadline_ms);
      if (!channel_->WaitForConnected(connect_by)) {
        return Status::Unavailable("remote store: no im-repo server reachable within " +
                                   std::to_string(options_.deadline_ms) + " ms; nothing was sent");
      }
    }
    double backoff_ms = double(options_.initial_backoff_ms);
    for (int attempt = 1;; ++attempt) {
      ::grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(options_.deadline_ms));
      Status s = rpc::FromGrpcStatus(invoke(&context, req, resp));
      if (s.ok() || retry == Retry::kNo || s.code() != StatusCode::kUnavailable ||
          attempt >= options_.max_attempts) {
        return s;
      }
      resp->Clear();
      thread_local std::minstd_rand rng{std::random_device{}()};
      std::uniform_real_distribution<double> jitter(backoff_ms / 2, backoff_ms);
      std::this_thread::sleep_for(std::chrono::microseconds(int64_t(jitter(rng) * 1000)));
      backoff_ms = std::min(backoff_ms * options_.backoff_multiplier, double(options_.max_backoff_ms));
    }
  }

  const RemoteStoreOptions options_;
  std::unique_ptr<pb::UserService::Stub> users_;
  std::unique_ptr<pb::GroupService::Stub> groups_;
  std::unique_ptr<pb::MessageService::Stub> messages_;
  std::unique_ptr<pb::ConversationService::Stub> conversations_;
  std::shared_ptr<::grpc::Channel> channel_;
};

}  // namespace

Result<std::shared_ptr<Store>> OpenRemoteStore(const RemoteStoreOptions& options) {
  IM_ASSIGN_OR_RETURN(std::string target, TargetOf(options.addresses));
  if (options.deadline_ms <= 0) return Status::InvalidArgument("remote store: deadline_ms must be positive");
  if (options.max_attempts < 1) return Status::InvalidArgument("remote store: max_attempts must be at least 1");
  if (options.initial_backoff_ms < 0 || options.max_backoff_ms < options.initial_backoff_ms ||
      options.backoff_multiplier < 1.0 || options.reconnect_backoff_ms <= 0 || options.max_message_bytes <= 0) {
    return Status::InvalidArgument("remote store: bad backoff or message size options");
  }
  ::grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // Subchannels of its own: another channel's connection state (say, to a server that used the
  // same port before) never leaks into this one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  int reconnect = int(std::min<int64_t>(options.reconnect_backoff_ms, INT32_MAX));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, reconnect);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, reconnect);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, int(std::clamp<int64_t>(options.max_backoff_ms, reconnect, INT32_MAX)));
  auto channel = ::grpc::CreateCustomChannel(target, ::grpc::InsecureChannelCredentials(), args);
  if (!channel) return Status::Internal("remote store: cannot create a channel to " + target);
  return std::shared_ptr<Store>(std::make_shared<RemoteStore>(options, std::move(channel)));
}

}  // namespace im
