#include "engine/logic_core.h"

#include "common/log.h"
#include "common/metrics.h"
#include "engine/records.h"
#include "engine/search_indexer.h"
#include "engine/task_dispatcher.h"
#include "engine/validation.h"

namespace im {

LogicCore::LogicCore(const Options& options) : options_(options), store_(options.store), ids_(options.node_id) {
  // A revoked login's live sessions end within a fanout's time, on whichever gateways hold them.
  auth_ = std::make_unique<AuthService>(store_, options_, [this](UserId user, const LoginRevokedEvent& revoked) {
    v1::Event event;
    ToProto(Event(revoked), &event);
    std::vector<v1::Target> targets(1);
    targets[0].set_user_id(user.value);
    (void)fanout_->ToUsers(event, targets, "u:" + std::to_string(user.value));
  });
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
std::optional<Result<AuthContext>> LogicCore::TryAuthenticate(const std::string& token) {
  return auth_->TryAuthenticate(token);
}

Result<User> LogicCore::GetUser(UserId id) { return store_->GetUser(id); }

Result<User> LogicCore::FindUser(const std::string& username) {
  // Folded as register and login fold it ("Bob" is "bob"); a name that could not exist is not found.
  auto name = NormalizeUsername(username);
  if (!name.ok()) return Status::NotFound("no such user");
  auto credentials = store_->GetCredentials(*name);
  if (!credentials.ok()) {
    if (credentials.status().code() == StatusCode::kNotFound) return Status::NotFound("no user named " + *name);
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
  IM_RETURN_IF_ERROR(store_->DeleteUser(actor));
  known_users_.Forget(actor);
  return Status::Ok();
}

// ---- upstream records ----

Status LogicCore::HandleUpstream(std::span<const BusRecord> records, const std::string& downstream_key) {
  metrics::Default().upstream_records.Add(records.size());
  std::vector<v1::UpstreamMessage> ups(records.size());
  std::vector<PendingSend> sends;
  sends.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    v1::UpstreamMessage& up = ups[i];
    // A record that does not decode will not decode on a retry either: drop it (the sender times
    // out and retries with the same client_msg_id).
    if (!up.ParseFromString(records[i].payload)) {
      log::Warn("upstream.malformed", {{"key", records[i].key}});
      continue;
    }
    if (up.has_presence()) {
      log::TraceScope trace(up.trace_id());
      AnnouncePresence(UserId(up.presence().user_id()), up.presence().online());
      continue;
    }
    if (!up.has_send()) continue;
    PendingSend& send = sends.emplace_back();
    send.up = &up;
    log::TraceScope trace(up.trace_id());
    send.status = CheckSend(send);
  }

  // One store call for every send that passed its checks: one commit, one wake-up.
  std::vector<NewMessage> batch;
  batch.reserve(sends.size());
  for (PendingSend& send : sends) {
    if (!send.status.ok()) continue;
    const TimestampMs now = options_.clock();
    send.append = batch.size();
    batch.push_back(NewMessage{ids_.Next(now), send.request.conversation, UserId(send.up->user_id()),
                               send.request.client_msg_id, send.request.type, send.request.content, now});
  }
  std::vector<Result<AppendResult>> stored;
  if (!batch.empty()) stored = store_->AppendMessages(batch);

  FanoutBatch out(*fanout_);
  v1::SearchTask search;
  for (PendingSend& send : sends) {
    log::TraceScope trace(send.up->trace_id());
    if (send.status.ok()) {
      if (stored[send.append].ok()) {
        send.stored = std::move(stored[send.append]).value();
      } else {
        send.status = stored[send.append].status();
      }
    }
    CompleteSend(send, out, search);
  }
  if (options_.search && search.index_size() > 0) {
    Task task{std::string(SearchIndexer::kTaskType), downstream_key, search.SerializeAsString()};
    if (Status s = EnqueueTask(*options_.bus, task); !s.ok()) {
      log::Warn("search.enqueue_failed",
                {{"messages", static_cast<int64_t>(search.index_size())}, {"error", s.ToString()}});
    }
  }
  return out.Publish(downstream_key);
}

// Presence changes go to the user's direct-conversation peers (not to group members: a group of
// 100,000 would turn every login into a broadcast).
void LogicCore::AnnouncePresence(UserId user, bool online) {
  auto list = store_->ListConversations(user, ConversationCursor{}, options_.max_page);
  if (!list.ok()) return;
  std::vector<v1::Target> targets;
  for (const auto& c : *list) {
    if (!c.id.is_direct()) continue;
    // Only to peers the user has answered: their read pointer in the chat moved (a send moves it,
    // and so does reading, which a read receipt already tells the peer). One unsolicited message
    // does not buy its sender the recipient's online status.
    if (c.read_seq == 0) continue;
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
