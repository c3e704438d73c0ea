// Events the engine pushes to live sessions, and the SessionSink that receives them.
#ifndef IM_EVENT_H_
#define IM_EVENT_H_

#include <memory>
#include <string>
#include <variant>

#include "im/ids.h"
#include "im/model.h"

namespace im {

// A message was stored in a conversation the session's user belongs to (including the user's own
// message sent from another device).
struct NewMessageEvent {
  Message message;
};

// `reader` moved their read pointer in `conversation` to `read_seq`.
struct ReadReceiptEvent {
  ConversationId conversation;
  UserId reader;
  Seq read_seq = 0;
};

// A user whose presence the session may see came online (first device) or went offline (last).
struct PresenceEvent {
  UserId user;
  bool online = false;
};

// `user` is typing in `conversation` (ephemeral, never stored).
struct TypingEvent {
  ConversationId conversation;
  UserId user;
};

// A login of the session's user was revoked (logout, a password change, refresh-token reuse):
// the transport ends the sessions it opened with that login's tokens (AuthContext::family_id)
// at once, instead of when their access token expires. Not for the client: im::beast closes the
// WebSocket with 1008 "session revoked".
struct LoginRevokedEvent {
  std::string family_id;
  bool all_but = false;  // every login of the user except family_id (empty: every login)
  // Whether a session opened with login `family` must end.
  bool Covers(const std::string& family) const { return all_but ? family != family_id : family == family_id; }
};

using Event = std::variant<NewMessageEvent, ReadReceiptEvent, PresenceEvent, TypingEvent, LoginRevokedEvent>;

// Receives events for one attached session (one device of one user).
//
// Threading: Deliver is called from engine threads, possibly concurrently for different events;
// it must not block — queue the event and return. The same shared Event object is handed to every
// recipient of a fanout, so a transport can serialize it once (see Engine docs).
// At-least-once: a sink may see an event twice (after a redelivery); clients drop duplicate
// messages by message id.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  virtual void Deliver(const std::shared_ptr<const Event>& event) = 0;
};

}  // namespace im

#endif  // IM_EVENT_H_
