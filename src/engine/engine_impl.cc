#include "engine/engine_impl.h"

#include <future>

#include <google/protobuf/arena.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "crypto/random.h"
#include "engine/push_sender.h"
#include "engine/search_indexer.h"
#include "engine/validation.h"
#include "im/v1/records.pb.h"

namespace im {

Result<std::unique_ptr<Engine>> Engine::Open(Options options) {
  if (!options.jwt_secret.empty() && options.jwt_secret.size() < 32) {
    return Status::InvalidArgument("jwt_secret must be at least 32 bytes");
  }
  if (options.node_id < 0 || options.node_id > 1023) return Status::InvalidArgument("node_id must be 0..1023");
  if (options.password_iterations < 1) return Status::InvalidArgument("password_iterations must be positive");
  if (options.gateway_id.empty() || options.gateway_id.size() > 100) {
    return Status::InvalidArgument("gateway_id must be 1..100 bytes");
  }
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
  if (options.upstream_consumers < 1 || options.upstream_consumers > 1024) {
    return Status::InvalidArgument("upstream_consumers must be 1..1024");
  }
  if (options.upstream_max_batch < 1 || options.upstream_max_batch > 10'000) {
    return Status::InvalidArgument("upstream_max_batch must be 1..10000");
  }
  if (options.send_timeout_ms < 1) return Status::InvalidArgument("send_timeout_ms must be positive");
  if (options.task_consumers < 1 || options.task_consumers > 256) {
    return Status::InvalidArgument("task_consumers must be 1..256");
  }
  const TaskRetryPolicy& retry = options.task_retry;
  if (retry.max_attempts < 1 || retry.initial_backoff_ms < 0 || retry.max_backoff_ms < retry.initial_backoff_ms ||
      !(retry.jitter >= 0 && retry.jitter <= 1)) {
    return Status::InvalidArgument(
        "task_retry needs max_attempts >= 1, 0 <= initial_backoff_ms <= max_backoff_ms and jitter in [0, 1]");
  }
  if (options.search_max_conversations == 0)
    return Status::InvalidArgument("search_max_conversations must be positive");
  if (!options.logic && !options.run_logic && !options.run_tasks) {
    return Status::InvalidArgument("no logic half: set run_logic or give Options::logic");
  }
  auto engine = std::make_unique<EngineImpl>(std::move(options));
  IM_RETURN_IF_ERROR(engine->Start());
  return std::unique_ptr<Engine>(std::move(engine));
}

Result<SendAck> Engine::Send(UserId actor, const DeviceId& device, const SendRequest& request) {
  std::promise<Result<SendAck>> result;
  auto future = result.get_future();
  SendAsync(actor, device, request, [&result](Result<SendAck> r) { result.set_value(std::move(r)); });
  return future.get();
}

namespace {

// im-task records handled at once by a task consumer: the im.search tasks among them are one
// index transaction.
constexpr size_t kTaskMaxBatch = 256;

Options WithDefaults(Options o) {
  if (!o.store) o.store = NewMemoryStore();
  if (!o.bus) o.bus = NewInProcessBus();
  if (!o.presence) o.presence = NewMemoryPresence();
  if (!o.clock) o.clock = SystemNowMs;
  if (o.jwt_secret.empty()) o.jwt_secret = crypto::RandomBytes(32);
  return o;
}

}  // namespace

EngineImpl::EngineImpl(Options options) : options_(WithDefaults(std::move(options))) {
  if (options_.run_logic || options_.run_tasks) core_ = std::make_shared<LogicCore>(options_);
  logic_ = options_.logic ? options_.logic : core_;
}

Status EngineImpl::Start() {
  Bus& bus = *options_.bus;
  if (options_.run_gateway) {
    pending_ = std::make_unique<PendingSends>(options_.send_timeout_ms);
    hub_ = std::make_unique<SessionHub>(options_.presence, options_.gateway_id, options_.presence_ttl_ms,
                                        [this](UserId u, bool online) { PublishPresence(u, online); });
    IM_ASSIGN_OR_RETURN(auto sub,
                        bus.Subscribe(topics::Downstream(options_.gateway_id), "gateway-" + options_.gateway_id,
                                      [this](const BusRecord& r) { return HandleDownstream(r); }));
    subscriptions_.push_back(std::move(sub));
  }
  if (options_.run_logic) {
    // Members of one consumer group: each owns a share of the conversations and handles their
    // sends in order and in batches. Each member publishes downstream under a key of its own, so
    // its events reach every gateway in the order it handled them.
    const std::string node = crypto::RandomToken(6);
    for (int i = 0; i < options_.upstream_consumers; ++i) {
      std::string key = "logic:" + node + ":" + std::to_string(i);
      IM_ASSIGN_OR_RETURN(auto sub, bus.SubscribeBatch(topics::kUpstream, "im-logic", options_.upstream_max_batch,
                                                       [core = core_.get(), key](std::span<const BusRecord> r) {
                                                         return core->HandleUpstream(r, key);
                                                       }));
      subscriptions_.push_back(std::move(sub));
    }
  }
  if (options_.run_tasks) IM_RETURN_IF_ERROR(StartTasks());
  return Status::Ok();
}

Status EngineImpl::StartTasks() {
  tasks_ = std::make_unique<TaskDispatcher>(options_.bus, options_.task_retry, options_.clock);
  IM_RETURN_IF_ERROR(tasks_->Register(core_->fanout()));
  if (options_.search) IM_RETURN_IF_ERROR(tasks_->Register(std::make_shared<SearchIndexer>(options_.search)));
  IM_RETURN_IF_ERROR(tasks_->Register(std::make_shared<PushSender>(options_.store, options_.apns, options_.fcm)));
  for (const auto& p : options_.task_processors) {
    if (p && p->type().starts_with("im.")) {
      return Status::InvalidArgument("task type " + std::string(p->type()) + ": the im. prefix is the engine's");
    }
    IM_RETURN_IF_ERROR(tasks_->Register(p));
  }
  dead_letters_ = std::make_unique<DeadLetterKeeper>(options_.store, options_.bus, options_.clock);

  Bus& bus = *options_.bus;
  TaskDispatcher* tasks = tasks_.get();
  for (int i = 0; i < options_.task_consumers; ++i) {
    IM_ASSIGN_OR_RETURN(auto sub,
                        bus.SubscribeBatch(topics::kTask, "im-task", kTaskMaxBatch,
                                           [tasks](std::span<const BusRecord> r) { return tasks->HandleTasks(r); }));
    subscriptions_.push_back(std::move(sub));
  }
  IM_ASSIGN_OR_RETURN(auto retry, bus.Subscribe(topics::kTaskRetry, "im-task-retry",
                                                [tasks](const BusRecord& r) { return tasks->HandleRetry(r); }));
  subscriptions_.push_back(std::move(retry));
  IM_ASSIGN_OR_RETURN(auto dlq,
                      bus.Subscribe(topics::kDeadLetter, "im-dead-letters",
                                    [keeper = dead_letters_.get()](const BusRecord& r) { return keeper->Handle(r); }));
  subscriptions_.push_back(std::move(dlq));
  return Status::Ok();
}

EngineImpl::~EngineImpl() {
  if (hub_) hub_->DetachAll();
  if (tasks_) tasks_->Stop();  // a task waiting for its retry must not hold up shutdown
  (void)options_.bus->Drain();
  subscriptions_.clear();
  pending_.reset();  // fails sends still waiting
  hub_.reset();
  if (core_) (void)options_.store->Flush();
}

// ---- sends ----

void EngineImpl::SendAsync(UserId actor, const DeviceId& device, SendRequest request,
                           std::function<void(Result<SendAck>)> done) {
  if (!hub_) return done(Status::FailedPrecondition("this engine does not run the gateway half"));
  // Checked here too so that bad input fails without a round trip; the logic half checks again.
  if (Status s = ValidateDevice(device); !s.ok()) return done(s);
  if (Status s = ValidateSendRequest(request, options_.max_message_bytes); !s.ok()) return done(s);

  std::string request_id = pending_->Add(std::move(done));
  v1::UpstreamMessage up;
  up.set_trace_id(log::NewTraceId());
  up.set_gateway_id(options_.gateway_id);
  up.set_user_id(actor.value);
  up.set_device_id(device);
  up.set_request_id(request_id);
  up.set_received_at_ms(options_.clock());
  auto* send = up.mutable_send();
  send->set_conversation_id(request.conversation.str());
  send->set_client_msg_id(request.client_msg_id.empty() ? "auto:" + request_id : std::move(request.client_msg_id));
  send->set_type(request.type == ContentType::kCustom ? v1::CONTENT_TYPE_CUSTOM : v1::CONTENT_TYPE_TEXT);
  send->set_content(std::move(request.content));
  Status published = options_.bus->Publish(topics::kUpstream, request.conversation.str(), up.SerializeAsString());
  if (!published.ok()) pending_->Fail(request_id, published);
}

Status EngineImpl::HandleDownstream(const BusRecord& record) {
  // Parsed on an arena that starts in this thread's scratch block: a record for a group of a
  // thousand members is a thousand targets, which the heap would allocate and free one by one.
  alignas(8) static thread_local char scratch[64 * 1024];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = scratch;
  arena_options.initial_block_size = sizeof(scratch);
  google::protobuf::Arena arena(arena_options);
  v1::DownstreamMessage& msg = *google::protobuf::Arena::CreateMessage<v1::DownstreamMessage>(&arena);
  // A record we cannot decode will not decode on a retry either: drop it rather than block the
  // gateway's stream (it is at-least-once; clients recover gaps with sync).
  if (!msg.ParseFromString(record.payload)) {
    log::Warn("downstream.malformed", {{"key", record.key}});
    return Status::Ok();
  }
  if (msg.items_size() == 0) {
    HandleDownstreamItem(msg);
    return Status::Ok();
  }
  for (const v1::DownstreamMessage& item : msg.items()) HandleDownstreamItem(item);
  return Status::Ok();
}

void EngineImpl::HandleDownstreamItem(const v1::DownstreamMessage& msg) {
  if (msg.has_send_result()) {
    metrics::Default().downstream_results.Add();
    pending_->Complete(msg.send_result());
    return;
  }
  if (!msg.has_event()) return;
  metrics::Default().downstream_events.Add();
  hub_->Deliver(msg);
}

void EngineImpl::PublishPresence(UserId user, bool online) {
  v1::UpstreamMessage up;
  up.set_trace_id(log::NewTraceId());
  up.set_gateway_id(options_.gateway_id);
  up.set_user_id(user.value);
  up.set_received_at_ms(options_.clock());
  up.mutable_presence()->set_user_id(user.value);
  up.mutable_presence()->set_online(online);
  (void)options_.bus->Publish(topics::kUpstream, "u:" + std::to_string(user.value), up.SerializeAsString());
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

// ---- task workers ----

Status EngineImpl::EnqueueTask(const Task& task) { return im::EnqueueTask(*options_.bus, task); }

Result<std::vector<DeadLetter>> EngineImpl::ListDeadLetters(int64_t after_id, uint32_t limit) {
  if (!dead_letters_) return Status::FailedPrecondition("this engine does not run the task half");
  return options_.store->ListDeadLetters(after_id, limit == 0 || limit > options_.max_page ? options_.max_page : limit);
}

Status EngineImpl::RedriveDeadLetter(int64_t id) {
  if (!dead_letters_) return Status::FailedPrecondition("this engine does not run the task half");
  return dead_letters_->Redrive(id);
}

Status EngineImpl::DiscardDeadLetter(int64_t id) {
  if (!dead_letters_) return Status::FailedPrecondition("this engine does not run the task half");
  return options_.store->DeleteDeadLetter(id);
}

Status EngineImpl::Drain() { return options_.bus->Drain(); }

}  // namespace im
