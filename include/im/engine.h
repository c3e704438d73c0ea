// Engine: the libim instant-messaging engine. Open one per process (or per tenant), give it a
// Store, a Bus and a Presence (or take the in-memory defaults), attach sessions, call it.
//
//   im::Options options;
//   options.store = im::OpenSqliteStore({.path = "data/im.db"}).value();
//   auto engine = im::Engine::Open(std::move(options)).value();
//   auto alice = engine->Register("alice", "correct horse", "Alice").value();
//
// An Engine runs the halves of docs/architecture.md §1 that Options selects: the gateway half (local
// sessions), the logic half (decisions and persistence), the task workers. Request/response
// operations are the LogicApi (im/logic_api.h): this engine's own logic half, or Options::logic
// (im-logic over gRPC). A send travels as an upstream record on the Bus to whichever logic
// instance owns the conversation, and its ack comes back as a downstream record addressed to this
// engine's gateway id: the same path in-process and over Kafka.
//
// Threading: every method is thread-safe. LogicApi methods and Send block (Store, password
// hashing, network): call them from your worker threads, not from a network thread, or use
// SendAsync. Events reach sessions through their SessionSink from engine threads.
#ifndef IM_ENGINE_H_
#define IM_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "im/event.h"
#include "im/ids.h"
#include "im/logic_api.h"
#include "im/model.h"
#include "im/options.h"
#include "im/status.h"
#include "im/store.h"
#include "im/task.h"

namespace im {

struct SendRequest {
  // For the first message to a user use ConversationId::Direct(me, them).
  ConversationId conversation;
  // Idempotency key chosen by the client (<= 64 bytes); a retry with the same key returns the
  // original id/seq. Empty: no idempotency.
  std::string client_msg_id;
  ContentType type = ContentType::kText;
  std::string content;  // UTF-8 text, or a JSON document for kCustom
};

struct SendAck {
  MessageId id;
  Seq seq = 0;
  TimestampMs sent_at_ms = 0;
  bool duplicate = false;  // this was a retry of an already stored message
};

using SessionId = uint64_t;

class Engine : public LogicApi {
 public:
  // Opens the engine: applies defaults, starts bus subscriptions.
  static Result<std::unique_ptr<Engine>> Open(Options options);
  // Detaches all sessions, drains the bus and flushes the store.
  ~Engine() override = default;

  // ---- sends (gateway half) ----
  // Persists first, then acks, then fans out to every online session of every member (the
  // sender's other devices included, `device` excluded). A client_msg_id the sender already used
  // in another conversation is already_exists. An empty client_msg_id gets one generated here, so
  // that a redelivered upstream record never stores the message twice.
  // deadline_exceeded when no logic instance answered within Options::send_timeout_ms (the
  // message may have been stored: retry with the same client_msg_id). Needs the gateway half.
  // Never call it from a SessionSink or a SendAsync callback: the ack arrives on the engine thread
  // that would be waiting for it (use SendAsync there).
  Result<SendAck> Send(UserId actor, const DeviceId& device, const SendRequest& request);
  // Same as Send without blocking: `done` runs once on an engine thread (the bus's or the
  // timeout's) with the ack or the error. Keep it short: post heavy work elsewhere.
  virtual void SendAsync(UserId actor, const DeviceId& device, SendRequest request,
                         std::function<void(Result<SendAck>)> done) = 0;

  // ---- sessions (gateway half) ----
  // Registers a live session. The first session of a user makes them online: their direct-chat
  // peers get a PresenceEvent. The engine keeps `sink` until Detach.
  virtual Result<SessionId> Attach(UserId user, const DeviceId& device, std::shared_ptr<SessionSink> sink) = 0;
  virtual void Detach(SessionId session) = 0;
  // Online status of each user, in the order given.
  virtual Result<std::vector<bool>> GetPresence(std::span<const UserId> users) = 0;

  // ---- task workers (include/im/task.h) ----
  // Publishes a task for the processor registered for task.type (here or in im-task).
  virtual Status EnqueueTask(const Task& task) = 0;
  // The dead letters kept in the Store, ascending by id (needs the task half).
  virtual Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit) = 0;
  // Sends a dead letter back where it came from (a task: to its processor, as a first attempt)
  // and forgets it. not_found for an unknown id. Needs the task half.
  virtual Status RedriveDeadLetter(int64_t id) = 0;
  // Forgets a dead letter without re-driving it (its cause will not go away). not_found for an
  // unknown id. Needs the task half.
  virtual Status DiscardDeadLetter(int64_t id) = 0;

  // Waits until every event and task produced so far has been delivered (tests, shutdown).
  virtual Status Drain() = 0;
};

}  // namespace im

#endif  // IM_ENGINE_H_
