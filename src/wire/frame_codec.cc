#include "wire/frame_codec.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/utf8.h"
#include "wire/json_fast.h"

namespace im::wire {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr size_t kMaxIdBytes = 64;

std::string TypeOf(const FieldDescriptor& field) {
  std::string type = field.name();
  std::replace(type.begin(), type.end(), '_', '-');
  return type;
}

const FieldDescriptor* BodyField(const Message& frame, std::string_view type) {
  const auto* body = frame.GetDescriptor()->FindOneofByName("body");
  for (int i = 0; i < body->field_count(); ++i) {
    if (TypeOf(*body->field(i)) == type) return body->field(i);
  }
  return nullptr;
}

// Fills a frame body from the frame's members (without "type" and "id") faster than protobuf's
// JSON mapping; false leaves the body to the mapping.
using FastBodyDecoder = bool (*)(const boost::json::object& members, Message& body);

Status ParseJsonInto(std::string_view text, Message& frame, FastBodyDecoder fast) {
  if (!IsValidUtf8(text)) return Status::InvalidArgument("frame is not valid UTF-8");
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec) return Status::InvalidArgument("frame is not JSON: " + ec.message());
  auto* object = doc.if_object();
  if (object == nullptr) return Status::InvalidArgument("frame must be a JSON object");

  auto type_it = object->find("type");
  if (type_it == object->end() || !type_it->value().is_string()) {
    return Status::InvalidArgument("frame needs a string \"type\"");
  }
  std::string type(type_it->value().get_string());
  const FieldDescriptor* field = BodyField(frame, type);
  if (field == nullptr) return Status::InvalidArgument("unknown frame type \"" + type + "\"");
  object->erase(type_it);

  if (auto id_it = object->find("id"); id_it != object->end()) {
    if (!id_it->value().is_string() || id_it->value().get_string().size() > kMaxIdBytes) {
      return Status::InvalidArgument("\"id\" must be a string of at most 64 bytes");
    }
    frame.GetReflection()->SetString(&frame, frame.GetDescriptor()->FindFieldByName("id"),
                                     std::string(id_it->value().get_string()));
    object->erase(id_it);
  }

  Message* body = frame.GetReflection()->MutableMessage(&frame, field);
  if (fast != nullptr && fast(*object, *body)) return Status::Ok();
  body->Clear();  // what a declined fast decode may have filled in
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(boost::json::serialize(*object), body, options);
  if (!parsed.ok()) {
    return Status::InvalidArgument("bad \"" + type + "\" frame: " + std::string(parsed.message()));
  }
  return Status::Ok();
}

}  // namespace

namespace detail {

std::string ToJsonReflection(const Message& frame) {
  std::string out = "{\"type\":" + boost::json::serialize(boost::json::string(FrameType(frame)));
  const std::string& id = frame.GetReflection()->GetString(frame, frame.GetDescriptor()->FindFieldByName("id"));
  if (!id.empty()) out += ",\"id\":" + boost::json::serialize(boost::json::string(id));
  const auto* body = frame.GetDescriptor()->FindOneofByName("body");
  if (const FieldDescriptor* field = frame.GetReflection()->GetOneofFieldDescriptor(frame, body)) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string fields;
    (void)google::protobuf::util::MessageToJsonString(frame.GetReflection()->GetMessage(frame, field), &fields,
                                                      options);
    // fields is "{…}": splice its members after type and id.
    if (fields.size() > 2) out += "," + fields.substr(1, fields.size() - 2);
  }
  out += "}";
  return out;
}

Result<v1::ClientFrame> ParseClientJsonReflection(std::string_view text) {
  v1::ClientFrame frame;
  IM_RETURN_IF_ERROR(ParseJsonInto(text, frame, nullptr));
  return frame;
}

}  // namespace detail

std::string FrameType(const Message& frame) {
  const auto* body = frame.GetDescriptor()->FindOneofByName("body");
  const FieldDescriptor* field = body ? frame.GetReflection()->GetOneofFieldDescriptor(frame, body) : nullptr;
  return field ? TypeOf(*field) : std::string();
}

Result<v1::ClientFrame> ParseClientJson(std::string_view text) {
  v1::ClientFrame frame;
  IM_RETURN_IF_ERROR(ParseJsonInto(text, frame, &detail::DecodeClientBodyFast));
  return frame;
}

Result<v1::ServerFrame> ParseServerJson(std::string_view text) {
  v1::ServerFrame frame;
  IM_RETURN_IF_ERROR(ParseJsonInto(text, frame, nullptr));
  return frame;
}

std::string FrameIdOf(std::string_view text) {
  if (!IsValidUtf8(text)) return "";
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  const auto* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) return "";
  auto it = object->find("id");
  if (it == object->end() || !it->value().is_string() || it->value().get_string().size() > kMaxIdBytes) return "";
  return std::string(it->value().get_string());
}

Result<v1::ClientFrame> ParseClientBinary(std::string_view bytes) {
  v1::ClientFrame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("binary frame is not an im.v1.ClientFrame");
  }
  if (frame.body_case() == v1::ClientFrame::BODY_NOT_SET) return Status::InvalidArgument("binary frame has no body");
  return frame;
}

std::string ToJson(const v1::ServerFrame& frame) {
  std::string out;
  if (detail::EncodeServerFrameFast(frame, out)) return out;
  return detail::ToJsonReflection(frame);
}

std::string ToJson(const v1::ClientFrame& frame) { return detail::ToJsonReflection(frame); }

}  // namespace im::wire
