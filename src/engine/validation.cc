#include "engine/validation.h"

#include <boost/json/parse.hpp>

#include "common/utf8.h"

namespace im {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The code points of well-formed UTF-8, one at a time.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  char32_t cp = n == 1 ? b : b & (0xFF >> (n + 1));
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

// Controls: C0, DEL and C1.
bool IsControl(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// Bidirectional embeddings, overrides and isolates: they reorder the text around a name in a
// client's UI (a name that makes the following text read backwards).
bool IsBidiControl(char32_t c) { return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069); }

// Characters that show nothing: spaces, zero-width characters, fillers. A name made only of
// these looks blank (or like nobody) in every client.
bool IsInvisible(char32_t c) {
  switch (c) {
    case 0x20: case 0xA0: case 0xAD: case 0x034F: case 0x115F: case 0x1160: case 0x1680: case 0x180E:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x2060: case 0x3000: case 0x3164: case 0xFEFF:
    case 0xFFA0:
      return true;
    default:
      return (c >= 0x2000 && c <= 0x200F) || (c >= 0xFE00 && c <= 0xFE0F);  // spaces, zero-width, marks, selectors
  }
}

Status ValidateName(std::string_view what, std::string_view name, size_t max_bytes) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (name.size() > max_bytes) {
    return Status::InvalidArgument(std::string(what) + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!IsValidUtf8(name)) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
  bool visible = false;
  for (size_t i = 0; i < name.size();) {
    char32_t c = NextCodePoint(name, i);
    if (IsControl(c)) return Status::InvalidArgument(std::string(what) + " contains control characters");
    if (IsBidiControl(c)) {
      return Status::InvalidArgument(std::string(what) + " contains bidirectional override characters");
    }
    visible = visible || !IsInvisible(c);
  }
  if (!visible) return Status::InvalidArgument(std::string(what) + " has no visible character");
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

Status ValidateGroupSettings(const GroupSettings& settings) {
  switch (settings.join_policy) {
    case JoinPolicy::kOpen:
    case JoinPolicy::kInvite:
    case JoinPolicy::kApproval:
      break;
    default:
      return Status::InvalidArgument("join_policy must be open, invite or approval");
  }
  switch (settings.history_visibility) {
    case HistoryVisibility::kFull:
    case HistoryVisibility::kJoined:
      return Status::Ok();
  }
  return Status::InvalidArgument("history_visibility must be joined or full");
}

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
