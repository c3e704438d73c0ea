#include "engine/logic_core.h"

#include "common/log.h"
#include "common/metrics.h"
#include "engine/records.h"
#include "engine/validation.h"

namespace im {

LogicCore::LogicCore(const Options& options) : options_(options), store_(options.store), ids_(options.node_id) {
  auth_ = std::make_unique<AuthService>(store_, options_);
  fanout_ = std::make_shared<Fanout>(store_, options_.bus, options_.presence, options_.realtime_fanout_max_members,
                                     options_.fanout_batch_size, options_.push_offline);
}

// ---- auth and users ----

Result<User> LogicCore::Register(const std::string& username, const std::string& password,
                                 const std::string& display_name) {
  return auth_->Register(username, password, display_name);
}
Result<AuthTokens> LogicCore::Login(const std::string& username, const std::string& password, const DeviceId& device) {
  return auth_->Login(username, password, device);
}
Status LogicCore::ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                                 const std::string& keep_refresh_token) {
  return auth_->ChangePassword(actor, current_password, new_password, keep_refresh_token);
}
Result<AuthTokens> LogicCore::Refresh(const std::string& token) { return auth_->Refresh(token); }
Status LogicCore::Logout(const std::string& token) { return auth_->Logout(token); }
Result<AuthContext> LogicCore::Authenticate(const std::string& token) { return auth_->Authenticate(token); }

Result<User> LogicCore::GetUser(UserId id) { return store_->GetUser(id); }

Result<User> LogicCore::FindUser(const std::string& username) {
  auto credentials = store_->GetCredentials(username);
  if (!credentials.ok()) {
    if (credentials.status().code() == StatusCode::kNotFound) return Status::NotFound("no user named " + username);
    return credentials.status();
  }
  return store_->GetUser(credentials->id);
}

Result<std::vector<User>> LogicCore::GetUsers(std::span<const UserId> ids) {
  if (ids.size() > options_.max_page) {
    return Status::InvalidArgument("at most " + std::to_string(options_.max_page) + " users per lookup");
  }
  return store_->GetUsers(ids);
}

Result<User> LogicCore::UpdateProfile(UserId actor, const std::string& display_name) {
  IM_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  IM_ASSIGN_OR_RETURN(User user, store_->GetUser(actor));
  user.display_name = display_name;
  IM_RETURN_IF_ERROR(store_->UpdateUser(user));
  return user;
}

Status LogicCore::DeleteUser(UserId actor) {
  // The store refuses while the user owns a live group (failed_precondition).
  return store_->DeleteUser(actor);
}

// ---- upstream records ----

Status LogicCore::HandleUpstream(const BusRecord& record) {
  metrics::Default().upstream_records.Add();
  v1::UpstreamMessage up;
  // A record that does not decode will not decode on a retry either: drop it (the sender times
  // out and retries with the same client_msg_id).
  if (!up.ParseFromString(record.payload)) {
    log::Warn("upstream.malformed", {{"key", record.key}});
    return Status::Ok();
  }
  log::TraceScope trace(up.trace_id());
  if (up.has_presence()) {
    AnnouncePresence(UserId(up.presence().user_id()), up.presence().online());
    return Status::Ok();
  }
  if (!up.has_send()) return Status::Ok();

  const auto& in = up.send();
  Result<SendAck> ack = Status::InvalidArgument("malformed conversation_id");
  if (auto conversation = ConversationId::Parse(in.conversation_id())) {
    SendRequest request{*conversation, in.client_msg_id(),
                        in.type() == v1::CONTENT_TYPE_CUSTOM ? ContentType::kCustom : ContentType::kText, in.content()};
    ack = Persist(UserId(up.user_id()), DeviceId(up.device_id()), request);
  }
  // Every outcome is an answer, failures included: a store that is down surfaces to the client
  // as unavailable (it retries with the same client_msg_id) instead of stalling this
  // conversation's stream behind retries.
  v1::DownstreamMessage out;
  out.set_trace_id(up.trace_id());
  auto* result = out.mutable_send_result();
  result->set_request_id(up.request_id());
  if (ack.ok()) {
    result->set_message_id(ack->id.value);
    result->set_seq(ack->seq);
    result->set_sent_at_ms(ack->sent_at_ms);
    result->set_duplicate(ack->duplicate);
  } else {
    result->set_code(static_cast<int32_t>(ack.status().code()));
    result->set_error_message(ack.status().message());
  }
  return options_.bus->Publish(topics::Downstream(up.gateway_id()), record.key, out.SerializeAsString());
}

// Presence changes go to the user's direct-conversation peers (not to group members: a group of
// 100,000 would turn every login into a broadcast).
void LogicCore::AnnouncePresence(UserId user, bool online) {
  auto list = store_->ListConversations(user, ConversationCursor{}, options_.max_page);
  if (!list.ok()) return;
  std::vector<v1::Target> targets;
  for (const auto& c : *list) {
    if (!c.id.is_direct()) continue;
    v1::Target t;
    t.set_user_id(c.id.PeerOf(user).value);
    targets.push_back(std::move(t));
  }
  v1::Event event;
  ToProto(Event(PresenceEvent{user, online}), &event);
  (void)fanout_->ToUsers(event, targets, "presence:" + std::to_string(user.value));
}

Status LogicCore::FanoutToConversation(const ConversationId& conversation, const ConversationAccess& access,
                                       UserId actor, const std::string& exclude_device, const Event& event) {
  v1::Event pb;
  ToProto(event, &pb);
  if (conversation.is_group()) return fanout_->ToGroup(*access.group, pb, actor, exclude_device);
  std::vector<v1::Target> targets(2);
  targets[0].set_user_id(conversation.PeerOf(actor).value);
  targets[1].set_user_id(actor.value);
  targets[1].set_exclude_device(exclude_device);
  return fanout_->ToUsers(pb, targets, conversation.str());
}

}  // namespace im
