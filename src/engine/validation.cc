#include "engine/validation.h"

#include <boost/json/parse.hpp>

#include "common/utf8.h"

namespace im {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

Status ValidateName(std::string_view what, std::string_view name, size_t max_bytes) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (name.size() > max_bytes) {
    return Status::InvalidArgument(std::string(what) + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!IsValidUtf8(name)) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument(std::string(what) + " contains control characters");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> NormalizeUsername(std::string_view username) {
  if (username.size() < 3 || username.size() > 32) {
    return Status::InvalidArgument("username must be 3 to 32 characters");
  }
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!IsLowerAlnum(c) && c != '_' && c != '.' && c != '-') {
      return Status::InvalidArgument("username may contain only letters, digits, '_', '.' and '-'");
    }
  }
  if (!IsLowerAlnum(out[0])) return Status::InvalidArgument("username must start with a letter or digit");
  return out;
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < 8) return Status::InvalidArgument("password must be at least 8 bytes");
  if (password.size() > 128) return Status::InvalidArgument("password must be at most 128 bytes");
  if (!IsValidUtf8(password)) return Status::InvalidArgument("password is not valid UTF-8");
  return Status::Ok();
}

Status ValidateDisplayName(std::string_view name) { return ValidateName("display name", name, 64); }

Status ValidateGroupName(std::string_view name) { return ValidateName("group name", name, 128); }

Status ValidateDevice(std::string_view device) {
  if (device.empty() || device.size() > 64) return Status::InvalidArgument("device id must be 1 to 64 bytes");
  if (!IsPrintableAscii(device)) return Status::InvalidArgument("device id must be printable ASCII");
  return Status::Ok();
}

Status ValidateSendRequest(const SendRequest& r, uint32_t max_message_bytes) {
  if (!r.conversation.valid()) return Status::InvalidArgument("conversation id is missing or malformed");
  if (r.client_msg_id.size() > 64) return Status::InvalidArgument("client_msg_id is longer than 64 bytes");
  if (!IsPrintableAscii(r.client_msg_id)) return Status::InvalidArgument("client_msg_id must be printable ASCII");
  if (r.content.empty()) return Status::InvalidArgument("message content is empty");
  if (r.content.size() > max_message_bytes) {
    return Status::ResourceExhausted("message content exceeds " + std::to_string(max_message_bytes) + " bytes");
  }
  if (!IsValidUtf8(r.content)) return Status::InvalidArgument("message content is not valid UTF-8");
  switch (r.type) {
    case ContentType::kText:
      return Status::Ok();
    case ContentType::kCustom: {
      boost::system::error_code ec;
      (void)boost::json::parse(r.content, ec);
      if (ec) return Status::InvalidArgument("custom content is not a JSON document: " + ec.message());
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown content type");
}

}  // namespace im
