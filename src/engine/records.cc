#include "engine/records.h"

namespace im {
namespace {

Result<ConversationId> ParseConversation(const std::string& text) {
  auto c = ConversationId::Parse(text);
  if (!c) return Status::InvalidArgument("bad conversation id in record: " + text);
  return *c;
}

}  // namespace

void ToProto(const Message& m, v1::Message* out) {
  out->set_id(m.id.value);
  out->set_conversation_id(m.conversation.str());
  out->set_seq(m.seq);
  out->set_sender_id(m.sender.value);
  out->set_client_msg_id(m.client_msg_id);
  out->set_type(m.type == ContentType::kCustom ? v1::CONTENT_TYPE_CUSTOM : v1::CONTENT_TYPE_TEXT);
  out->set_content(m.content);
  out->set_sent_at_ms(m.sent_at_ms);
}

Result<Message> FromProto(const v1::Message& m) {
  IM_ASSIGN_OR_RETURN(ConversationId conv, ParseConversation(m.conversation_id()));
  if (m.type() != v1::CONTENT_TYPE_TEXT && m.type() != v1::CONTENT_TYPE_CUSTOM) {
    return Status::InvalidArgument("unknown content type in record");
  }
  return Message{MessageId(m.id()), std::move(conv),
                 m.seq(),           UserId(m.sender_id()),
                 m.client_msg_id(), m.type() == v1::CONTENT_TYPE_CUSTOM ? ContentType::kCustom : ContentType::kText,
                 m.content(),       m.sent_at_ms()};
}

void ToProto(const Event& e, v1::Event* out) {
  std::visit(
      [out](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, NewMessageEvent>) {
          ToProto(ev.message, out->mutable_new_message());
        } else if constexpr (std::is_same_v<T, ReadReceiptEvent>) {
          auto* r = out->mutable_read_receipt();
          r->set_conversation_id(ev.conversation.str());
          r->set_reader_id(ev.reader.value);
          r->set_read_seq(ev.read_seq);
        } else if constexpr (std::is_same_v<T, PresenceEvent>) {
          auto* p = out->mutable_presence();
          p->set_user_id(ev.user.value);
          p->set_online(ev.online);
        } else if constexpr (std::is_same_v<T, TypingEvent>) {
          auto* t = out->mutable_typing();
          t->set_conversation_id(ev.conversation.str());
          t->set_user_id(ev.user.value);
        } else {
          static_assert(std::is_same_v<T, LoginRevokedEvent>);
          auto* r = out->mutable_login_revoked();
          r->set_family_id(ev.family_id);
          r->set_all_but(ev.all_but);
        }
      },
      e);
}

Result<Event> FromProto(const v1::Event& e) {
  switch (e.kind_case()) {
    case v1::Event::kNewMessage: {
      IM_ASSIGN_OR_RETURN(Message m, FromProto(e.new_message()));
      return Event(NewMessageEvent{std::move(m)});
    }
    case v1::Event::kReadReceipt: {
      IM_ASSIGN_OR_RETURN(ConversationId c, ParseConversation(e.read_receipt().conversation_id()));
      return Event(ReadReceiptEvent{std::move(c), UserId(e.read_receipt().reader_id()), e.read_receipt().read_seq()});
    }
    case v1::Event::kPresence:
      return Event(PresenceEvent{UserId(e.presence().user_id()), e.presence().online()});
    case v1::Event::kTyping: {
      IM_ASSIGN_OR_RETURN(ConversationId c, ParseConversation(e.typing().conversation_id()));
      return Event(TypingEvent{std::move(c), UserId(e.typing().user_id())});
    }
    case v1::Event::kLoginRevoked:
      return Event(LoginRevokedEvent{e.login_revoked().family_id(), e.login_revoked().all_but()});
    case v1::Event::KIND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("record carries no event");
}

}  // namespace im
