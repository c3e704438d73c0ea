#include "gateway/session_protocol.h"

#include <atomic>
#include <memory>

#include "common/clock.h"
#include "common/fault_injection.h"
#include "common/log.h"
#include "engine/records.h"

namespace im::gateway {
namespace {

Result<ConversationId> ParseConversation(const std::string& text) {
  auto c = ConversationId::Parse(text);
  if (!c) return Status::InvalidArgument("malformed conversation_id \"" + text.substr(0, 80) + "\"");
  return *c;
}

Result<ContentType> ParseContentType(v1::ContentType type) {
  switch (type) {
    case v1::CONTENT_TYPE_UNSPECIFIED:  // omitted in JSON: text
    case v1::CONTENT_TYPE_TEXT:
      return ContentType::kText;
    case v1::CONTENT_TYPE_CUSTOM:
      return ContentType::kCustom;
    default:
      return Status::InvalidArgument("unknown content_type");
  }
}

v1::ServerFrame AckFrame(const SendAck& ack, const v1::SendMessage& in) {
  v1::ServerFrame out;
  auto* a = out.mutable_send_ack();
  a->set_message_id(ack.id.value);
  a->set_seq(ack.seq);
  a->set_sent_at_ms(ack.sent_at_ms);
  a->set_duplicate(ack.duplicate);
  a->set_conversation_id(in.conversation_id());
  a->set_client_msg_id(in.client_msg_id());
  return out;
}

Result<v1::ServerFrame> Sync(Engine& engine, UserId user, const v1::SyncRequest& in) {
  SyncRequest request;
  request.include_unknown_conversations = in.include_unknown_conversations();
  if (in.limit_per_conversation() != 0) request.limit_per_conversation = in.limit_per_conversation();
  for (const auto& p : in.positions()) {
    IM_ASSIGN_OR_RETURN(ConversationId conversation, ParseConversation(p.conversation_id()));
    request.positions.push_back(SyncPosition{std::move(conversation), p.last_seq()});
  }
  IM_ASSIGN_OR_RETURN(SyncResult result, engine.Sync(user, request));
  v1::ServerFrame out;
  auto* r = out.mutable_sync_result();
  for (const auto& c : result.conversations) {
    auto* sc = r->add_conversations();
    sc->set_conversation_id(c.conversation.str());
    if (!c.status.ok()) sc->set_error_code(std::string(StatusCodeName(c.status.code())));
    sc->set_last_seq(c.last_seq);
    for (const auto& m : c.messages) ToProto(m, sc->add_messages());
    sc->set_has_more(c.has_more);
    sc->set_history_lost(c.history_lost);
    sc->set_first_available_seq(c.first_available_seq);
  }
  return out;
}

Result<v1::ServerFrame> Read(Engine& engine, UserId user, const DeviceId& device, const v1::MarkRead& in) {
  IM_ASSIGN_OR_RETURN(ConversationId conversation, ParseConversation(in.conversation_id()));
  IM_ASSIGN_OR_RETURN(Seq seq, engine.MarkRead(user, device, conversation, in.seq()));
  return SessionProtocol::FromEvent(Event(ReadReceiptEvent{conversation, user, seq}));
}

}  // namespace

void SessionProtocol::Handle(const v1::ClientFrame& frame, Reply reply_to) {
  Result<v1::ServerFrame> reply = Status::InvalidArgument("frame has no body");
  bool no_reply = false;
  // An engine call that throws (a store or network failure surfacing as an exception) answers
  // internal for this frame: the exception must not reach the caller's thread, and the reply
  // still runs exactly once.
  try {
    FaultPoint("ws.frame");
    switch (frame.body_case()) {
      case v1::ClientFrame::kSendMessage: {
        const auto& in = frame.send_message();
        auto conversation = ParseConversation(in.conversation_id());
        auto type = ParseContentType(in.content_type());
        if (!conversation.ok() || !type.ok()) {
          reply = !conversation.ok() ? conversation.status() : type.status();
          break;
        }
        // Shared with the callback, so that whichever of it and a throwing SendAsync comes first
        // answers, and only once.
        struct Once {
          explicit Once(Reply r) : reply(std::move(r)) {}
          void Run(v1::ServerFrame out) {
            if (!done.exchange(true)) reply(std::move(out));
          }
          Reply reply;
          std::atomic<bool> done{false};
        };
        auto once = std::make_shared<Once>(std::move(reply_to));
        try {
          engine_.SendAsync(user_, device_, SendRequest{*conversation, in.client_msg_id(), *type, in.content()},
                            [id = frame.id(), in, once](Result<SendAck> ack) {
                              v1::ServerFrame out = ack.ok() ? AckFrame(*ack, in) : ErrorFrame("", ack.status());
                              out.set_id(id);
                              once->Run(std::move(out));
                            });
        } catch (...) {
          log::Error("ws.frame_threw", {{"frame", "send_message"}, {"error", CurrentExceptionMessage()}});
          once->Run(ErrorFrame(frame.id(), Status::Internal("internal error")));
        }
        return;
      }
      case v1::ClientFrame::kSync:
        reply = Sync(engine_, user_, frame.sync());
        break;
      case v1::ClientFrame::kRead:
        reply = Read(engine_, user_, device_, frame.read());
        break;
      case v1::ClientFrame::kTyping: {
        auto conversation = ParseConversation(frame.typing().conversation_id());
        Status s = conversation.ok() ? engine_.Typing(user_, device_, *conversation) : conversation.status();
        if (s.ok()) {
          no_reply = true;
        } else {
          reply = s;
        }
        break;
      }
      case v1::ClientFrame::kAck:
        // Delivery receipts are accepted and not yet recorded (at-least-once delivery is
        // reconciled by sync; see docs/protocol.md).
        no_reply = true;
        break;
      case v1::ClientFrame::kPing: {
        v1::ServerFrame pong;
        pong.mutable_pong()->set_client_time_ms(frame.ping().client_time_ms());
        pong.mutable_pong()->set_server_time_ms(SystemNowMs());
        reply = std::move(pong);
        break;
      }
      case v1::ClientFrame::BODY_NOT_SET:
        break;
    }
  } catch (...) {
    log::Error("ws.frame_threw", {{"error", CurrentExceptionMessage()}});
    reply = Status::Internal("internal error");
    no_reply = false;
  }
  if (no_reply) return reply_to(std::nullopt);
  v1::ServerFrame out = reply.ok() ? std::move(reply).value() : ErrorFrame("", reply.status());
  out.set_id(frame.id());
  reply_to(std::move(out));
}

v1::ServerFrame SessionProtocol::FromEvent(const Event& event) {
  v1::Event pb;
  ToProto(event, &pb);
  v1::ServerFrame out;
  switch (pb.kind_case()) {
    case v1::Event::kNewMessage:
      *out.mutable_new_message()->mutable_message() = pb.new_message();
      break;
    case v1::Event::kReadReceipt:
      *out.mutable_read_receipt() = pb.read_receipt();
      break;
    case v1::Event::kPresence:
      *out.mutable_presence() = pb.presence();
      break;
    case v1::Event::kTyping:
      *out.mutable_typing() = pb.typing();
      break;
    case v1::Event::kLoginRevoked:
      // Transports end the session instead; one that forwards it tells the client why.
      return ErrorFrame("", Status::Unauthenticated("session revoked"));
    case v1::Event::KIND_NOT_SET:
      break;
  }
  return out;
}

v1::ServerFrame SessionProtocol::ErrorFrame(const std::string& id, const Status& status) {
  v1::ServerFrame out;
  out.set_id(id);
  out.mutable_error()->set_code(std::string(StatusCodeName(status.code())));
  out.mutable_error()->set_message(status.message());
  return out;
}

}  // namespace im::gateway
