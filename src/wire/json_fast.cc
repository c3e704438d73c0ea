#include "wire/json_fast.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "common/json_string.h"
#include "common/utf8.h"

namespace im::wire::detail {
namespace {

// ---- decoding ----

std::string_view View(boost::json::string_view s) { return {s.data(), s.size()}; }

bool StringOf(const boost::json::value& value, std::string& out) {
  const auto* s = value.if_string();
  if (s == nullptr) return false;  // null and numbers are the mapping's business (null: unset)
  out.assign(s->data(), s->size());
  return true;
}

// The mapping reads an int64 from a JSON number (even 1E3 or 5.0) or from a string that strtoll-like
// parsing accepts ("007", "+5", "-0"). Clients send the two plain forms; only those are taken
// here. Boost.JSON holds an integer that does not fit int64 as uint64 or double, so both of those
// are left to the mapping too (which rejects what is out of range).
bool Int64Of(const boost::json::value& value, int64_t& out) {
  if (const auto* n = value.if_int64()) {
    out = *n;
    return true;
  }
  const auto* s = value.if_string();
  if (s == nullptr || s->empty()) return false;
  const std::string_view text = View(*s);
  const std::string_view digits = text.front() == '-' ? text.substr(1) : text;
  if (digits.empty() || (digits.front() == '0' && text.size() != 1)) return false;  // leading zeros, "-0"
  // from_chars takes no '+', no spaces and no exponent, and reports out-of-range values.
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// An enum by its exact value name. The mapping also takes numbers (even unknown values) and
// numbers in strings; those go to it.
bool ContentTypeOf(const boost::json::value& value, v1::ContentType& out) {
  const auto* s = value.if_string();
  if (s == nullptr) return false;
  for (int i = v1::ContentType_MIN; i <= v1::ContentType_MAX; ++i) {
    if (v1::ContentType_IsValid(i) && v1::ContentType_Name(static_cast<v1::ContentType>(i)) == View(*s)) {
      out = static_cast<v1::ContentType>(i);
      return true;
    }
  }
  return false;
}

// Members by their proto names only: the mapping also accepts the lowerCamelCase json_name
// ("conversationId"), and when both spellings appear the later one wins, so any other name
// leaves the whole body to it.
bool DecodeSendMessage(const boost::json::object& members, v1::SendMessage& body) {
  for (const auto& member : members) {
    const std::string_view key = View(member.key());
    const boost::json::value& value = member.value();
    if (key == "conversation_id") {
      if (!StringOf(value, *body.mutable_conversation_id())) return false;
    } else if (key == "client_msg_id") {
      if (!StringOf(value, *body.mutable_client_msg_id())) return false;
    } else if (key == "content_type") {
      v1::ContentType type;
      if (!ContentTypeOf(value, type)) return false;
      body.set_content_type(type);
    } else if (key == "content") {
      if (!StringOf(value, *body.mutable_content())) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool DecodePing(const boost::json::object& members, v1::Ping& body) {
  for (const auto& member : members) {
    int64_t time_ms;
    if (View(member.key()) != "client_time_ms" || !Int64Of(member.value(), time_ms)) return false;
    body.set_client_time_ms(time_ms);
  }
  return true;
}

// An array of ids. The mapping is laxer (a bare value for a one-element list, nulls and nested
// arrays inside it); those forms go to it.
bool DecodeAck(const boost::json::object& members, v1::AckMessages& body) {
  for (const auto& member : members) {
    const auto* ids = member.value().if_array();
    if (View(member.key()) != "message_ids" || ids == nullptr) return false;
    body.mutable_message_ids()->Reserve(static_cast<int>(ids->size()));
    for (const boost::json::value& element : *ids) {
      int64_t id;
      if (!Int64Of(element, id)) return false;
      body.add_message_ids(id);
    }
  }
  return true;
}

// ---- encoding ----

// A JSON string literal. RFC 8259 requires escaping only '"', '\' and U+0000..U+001F; the rest,
// non-ASCII UTF-8 included, is copied as is (the mapping also escapes '<', '>', U+007F, U+2028
// and U+2029, which changes the text but not the value). False for invalid UTF-8: the mapping
// drops some of those bytes and keeps others, and that output stays as it was.
bool AppendString(std::string_view s, std::string& out) {
  if (!IsValidUtf8(s)) return false;
  AppendJsonString(out, s);
  return true;
}

template <typename Int>
void AppendNumber(Int value, std::string& out) {
  char digits[24];  // 20 digits and a sign at most
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

// 64-bit integers are JSON strings in the mapping (JavaScript numbers cannot hold them).
template <typename Int>
void AppendQuoted(Int value, std::string& out) {
  out += '"';
  AppendNumber(value, out);
  out += '"';
}

void AppendBool(bool value, std::string& out) { out += value ? "true" : "false"; }

// The value name; the number for a value the enum does not declare (proto3 enums are open), as
// the mapping prints it.
void AppendContentType(v1::ContentType type, std::string& out) {
  if (v1::ContentType_IsValid(type)) {
    out += '"';
    out += v1::ContentType_Name(type);  // an identifier: nothing to escape
    out += '"';
  } else {
    AppendNumber(static_cast<int>(type), out);
  }
}

// The bodies' members follow "type" (and "id"), so each starts with a comma. Every field is
// written, at its default too (always_print_primitive_fields), in field number order like the
// mapping's output.
bool EncodeSendAck(const v1::SendAck& ack, std::string& out) {
  out += ",\"message_id\":";
  AppendQuoted(ack.message_id(), out);
  out += ",\"seq\":";
  AppendQuoted(ack.seq(), out);
  out += ",\"sent_at_ms\":";
  AppendQuoted(ack.sent_at_ms(), out);
  out += ",\"duplicate\":";
  AppendBool(ack.duplicate(), out);
  out += ",\"conversation_id\":";
  if (!AppendString(ack.conversation_id(), out)) return false;
  out += ",\"client_msg_id\":";
  return AppendString(ack.client_msg_id(), out);
}

bool EncodeNewMessage(const v1::NewMessage& body, std::string& out) {
  // always_print_primitive_fields does not cover message fields: an unset one is left out.
  if (!body.has_message()) return true;
  const v1::Message& message = body.message();
  out += ",\"message\":{\"id\":";
  AppendQuoted(message.id(), out);
  out += ",\"conversation_id\":";
  if (!AppendString(message.conversation_id(), out)) return false;
  out += ",\"seq\":";
  AppendQuoted(message.seq(), out);
  out += ",\"sender_id\":";
  AppendQuoted(message.sender_id(), out);
  out += ",\"client_msg_id\":";
  if (!AppendString(message.client_msg_id(), out)) return false;
  out += ",\"type\":";
  AppendContentType(message.type(), out);
  out += ",\"content\":";
  if (!AppendString(message.content(), out)) return false;
  out += ",\"sent_at_ms\":";
  AppendQuoted(message.sent_at_ms(), out);
  out += '}';
  return true;
}

void EncodePong(const v1::Pong& pong, std::string& out) {
  out += ",\"client_time_ms\":";
  AppendQuoted(pong.client_time_ms(), out);
  out += ",\"server_time_ms\":";
  AppendQuoted(pong.server_time_ms(), out);
}

bool EncodeError(const v1::Error& error, std::string& out) {
  out += ",\"code\":";
  if (!AppendString(error.code(), out)) return false;
  out += ",\"message\":";
  if (!AppendString(error.message(), out)) return false;
  // A proto3 optional field has presence: printed when set (even to 0), never as a default.
  if (error.has_retry_after_ms()) {
    out += ",\"retry_after_ms\":";
    AppendNumber(error.retry_after_ms(), out);  // 32 bits: a JSON number
  }
  return true;
}

}  // namespace

bool DecodeClientBodyFast(const boost::json::object& members, google::protobuf::Message& body) {
  if (auto* send = google::protobuf::DynamicCastToGenerated<v1::SendMessage>(&body)) {
    return DecodeSendMessage(members, *send);
  }
  if (auto* ping = google::protobuf::DynamicCastToGenerated<v1::Ping>(&body)) return DecodePing(members, *ping);
  if (auto* ack = google::protobuf::DynamicCastToGenerated<v1::AckMessages>(&body)) return DecodeAck(members, *ack);
  return false;
}

bool EncodeServerFrameFast(const v1::ServerFrame& frame, std::string& out) {
  std::string_view type;  // FrameType(frame), without its reflection
  size_t text_bytes = frame.id().size();
  switch (frame.body_case()) {
    case v1::ServerFrame::kSendAck:
      type = "send-ack";
      text_bytes += frame.send_ack().conversation_id().size() + frame.send_ack().client_msg_id().size();
      break;
    case v1::ServerFrame::kNewMessage:
      type = "new-message";
      text_bytes += frame.new_message().message().conversation_id().size() +
                    frame.new_message().message().client_msg_id().size() +
                    frame.new_message().message().content().size();
      break;
    case v1::ServerFrame::kPong:
      type = "pong";
      break;
    case v1::ServerFrame::kError:
      type = "error";
      text_bytes += frame.error().code().size() + frame.error().message().size();
      break;
    default:
      return false;
  }
  // Room for the member names and numbers, and the strings unless they need escapes: one
  // allocation for most frames.
  out.reserve(out.size() + 256 + text_bytes);
  out += "{\"type\":\"";
  out += type;
  out += '"';
  if (!frame.id().empty()) {
    out += ",\"id\":";
    if (!AppendString(frame.id(), out)) return false;
  }
  bool ok = true;
  switch (frame.body_case()) {
    case v1::ServerFrame::kSendAck:
      ok = EncodeSendAck(frame.send_ack(), out);
      break;
    case v1::ServerFrame::kNewMessage:
      ok = EncodeNewMessage(frame.new_message(), out);
      break;
    case v1::ServerFrame::kPong:
      EncodePong(frame.pong(), out);
      break;
    case v1::ServerFrame::kError:
      ok = EncodeError(frame.error(), out);
      break;
    default:
      return false;
  }
  out += '}';
  return ok;
}

}  // namespace im::wire::detail
