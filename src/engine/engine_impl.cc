#include "engine/engine_impl.h"

#include <thread>

#include "common/clock.h"
#include "crypto/random.h"
#include "engine/records.h"
#include "engine/validation.h"

namespace im {

Result<std::unique_ptr<Engine>> Engine::Open(Options options) {
  if (!options.jwt_secret.empty() && options.jwt_secret.size() < 32) {
    return Status::InvalidArgument("jwt_secret must be at least 32 bytes");
  }
  if (options.node_id < 0 || options.node_id > 1023) return Status::InvalidArgument("node_id must be 0..1023");
  if (options.password_iterations < 1) return Status::InvalidArgument("password_iterations must be positive");
  if (options.gateway_id.empty()) return Status::InvalidArgument("gateway_id must not be empty");
  if (options.max_page == 0 || options.max_page > 10'000) return Status::InvalidArgument("max_page must be 1..10000");
  if (options.fanout_batch_size == 0 || options.fanout_batch_size > 100'000) {
    return Status::InvalidArgument("fanout_batch_size must be 1..100000");
  }
  if (options.realtime_fanout_max_members > 100'000) {
    return Status::InvalidArgument("realtime_fanout_max_members must be at most 100000");
  }
  if (options.max_message_bytes == 0 || options.max_message_bytes > 16 * 1024 * 1024) {
    return Status::InvalidArgument("max_message_bytes must be 1..16 MiB");
  }
  auto engine = std::make_unique<EngineImpl>(std::move(options));
  IM_RETURN_IF_ERROR(engine->Start());
  return std::unique_ptr<Engine>(std::move(engine));
}

namespace {

Options WithDefaults(Options o) {
  if (!o.store) o.store = NewMemoryStore();
  if (!o.bus) o.bus = NewInProcessBus();
  if (!o.presence) o.presence = NewMemoryPresence();
  if (!o.clock) o.clock = SystemNowMs;
  if (o.jwt_secret.empty()) o.jwt_secret = crypto::RandomBytes(32);
  if (o.worker_threads <= 0) o.worker_threads = std::max(2u, std::thread::hardware_concurrency());
  return o;
}

}  // namespace

EngineImpl::EngineImpl(Options options)
    : options_(WithDefaults(std::move(options))), store_(options_.store), ids_(options_.node_id) {
  auth_ = std::make_unique<AuthService>(store_, options_);
  fanout_ = std::make_unique<Fanout>(store_, options_.bus, options_.presence, options_.realtime_fanout_max_members,
                                     options_.fanout_batch_size);
  workers_ = std::make_unique<WorkerPool>(options_.worker_threads);
}

Status EngineImpl::Start() {
  Bus& bus = *options_.bus;
  if (options_.run_gateway) {
    hub_ = std::make_unique<SessionHub>(options_.presence, options_.gateway_id, options_.presence_ttl_ms,
                                        [this](UserId u, bool online) { OnPresenceChanged(u, online); });
    IM_ASSIGN_OR_RETURN(auto sub,
                        bus.Subscribe(topics::Downstream(options_.gateway_id), "gateway-" + options_.gateway_id,
                                      [this](const BusRecord& r) { return hub_->HandleDownstream(r); }));
    subscriptions_.push_back(std::move(sub));
  }
  if (options_.run_logic) {
    IM_ASSIGN_OR_RETURN(auto sub, bus.Subscribe(topics::kTask, "im-task-fanout",
                                                [this](const BusRecord& r) { return fanout_->HandleTask(r); }));
    subscriptions_.push_back(std::move(sub));
  }
  return Status::Ok();
}

EngineImpl::~EngineImpl() {
  if (hub_) hub_->DetachAll();
  workers_.reset();  // finishes queued async sends
  (void)options_.bus->Drain();
  subscriptions_.clear();
  hub_.reset();
  (void)store_->Flush();
}

// ---- auth and users ----

Result<User> EngineImpl::Register(const std::string& username, const std::string& password,
                                  const std::string& display_name) {
  return auth_->Register(username, password, display_name);
}
Result<AuthTokens> EngineImpl::Login(const std::string& username, const std::string& password, const DeviceId& device) {
  return auth_->Login(username, password, device);
}
Status EngineImpl::ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                                  const std::string& keep_refresh_token) {
  return auth_->ChangePassword(actor, current_password, new_password, keep_refresh_token);
}
Result<AuthTokens> EngineImpl::Refresh(const std::string& token) { return auth_->Refresh(token); }
Status EngineImpl::Logout(const std::string& token) { return auth_->Logout(token); }
Result<AuthContext> EngineImpl::Authenticate(const std::string& token) { return auth_->Authenticate(token); }

Result<User> EngineImpl::GetUser(UserId id) { return store_->GetUser(id); }

Result<User> EngineImpl::FindUser(const std::string& username) {
  auto credentials = store_->GetCredentials(username);
  if (!credentials.ok()) {
    if (credentials.status().code() == StatusCode::kNotFound) return Status::NotFound("no user named " + username);
    return credentials.status();
  }
  return store_->GetUser(credentials->id);
}

Result<std::vector<User>> EngineImpl::GetUsers(std::span<const UserId> ids) {
  if (ids.size() > options_.max_page) {
    return Status::InvalidArgument("at most " + std::to_string(options_.max_page) + " users per lookup");
  }
  return store_->GetUsers(ids);
}

Result<User> EngineImpl::UpdateProfile(UserId actor, const std::string& display_name) {
  IM_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  IM_ASSIGN_OR_RETURN(User user, store_->GetUser(actor));
  user.display_name = display_name;
  IM_RETURN_IF_ERROR(store_->UpdateUser(user));
  return user;
}

Status EngineImpl::DeleteUser(UserId actor) {
  // The store refuses while the user owns a live group (failed_precondition).
  return store_->DeleteUser(actor);
}

// ---- sessions and presence ----

Result<SessionId> EngineImpl::Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink) {
  if (!hub_) return Status::FailedPrecondition("this engine does not run the gateway half");
  IM_RETURN_IF_ERROR(ValidateDevice(device));
  if (!user.valid()) return Status::InvalidArgument("invalid user id");
  return hub_->Attach(user, device, std::move(sink));
}

void EngineImpl::Detach(SessionId session) {
  if (hub_) hub_->Detach(session);
}

Result<std::vector<bool>> EngineImpl::GetPresence(std::span<const UserId> users) {
  if (users.size() > options_.max_page) {
    return Status::InvalidArgument("at most " + std::to_string(options_.max_page) + " users per lookup");
  }
  return options_.presence->Online(users);
}

// Presence changes go to the user's direct-conversation peers (not to group members: a group of
// 100,000 would turn every login into a broadcast).
void EngineImpl::OnPresenceChanged(UserId user, bool online) {
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

Status EngineImpl::FanoutToConversation(const ConversationId& conversation, const ConversationAccess& access,
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

Status EngineImpl::Drain() { return options_.bus->Drain(); }

}  // namespace im
