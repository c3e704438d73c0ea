#include "wire/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

#include "common/utf8.h"

namespace im::wire::ws {

namespace {

constexpr std::string_view kHandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void AppendHeader(std::string& out, Opcode opcode, size_t size) {
  char h[kMaxServerHeader];
  size_t n = 2;
  h[0] = static_cast<char>(0x80 | static_cast<uint8_t>(opcode));  // FIN
  if (size < 126) {
    h[1] = static_cast<char>(size);
  } else if (size <= 0xFFFF) {
    h[1] = 126;
    h[2] = static_cast<char>(size >> 8);
    h[3] = static_cast<char>(size);
    n = 4;
  } else {
    h[1] = 127;
    for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<char>(static_cast<uint64_t>(size) >> (56 - 8 * i));
    n = 10;
  }
  out.append(h, n);
}

// Close codes a peer may send (RFC 6455 §7.4): 1000-1003, 1007-1011 and the registered/private
// ranges 3000-4999; 1004-1006 and 1015 are reserved for local use and never appear on the wire.
bool ValidCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

void Unmask(char* p, size_t n, const uint8_t key[4]) {
  // Eight bytes at a time: the key repeated, XORed as one word.
  uint64_t k8;
  uint8_t rep[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::memcpy(&k8, rep, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= k8;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

}  // namespace

std::string AcceptKey(std::string_view client_key) {
  // The key is the base64 of 16 random bytes: 24 characters ending in "==".
  if (client_key.size() != 24) return {};
  unsigned char raw[20];
  if (EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(client_key.data()), 24) != 18 ||
      client_key.substr(22) != "==") {
    return {};
  }
  std::string joined;
  joined.reserve(client_key.size() + kHandshakeGuid.size());
  joined.append(client_key).append(kHandshakeGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  char out[32];
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), digest, SHA_DIGEST_LENGTH);
  return std::string(out, static_cast<size_t>(n));
}

void AppendFrame(std::string& out, Opcode opcode, std::string_view payload) {
  AppendHeader(out, opcode, payload.size());
  out.append(payload);
}

void AppendCloseFrame(std::string& out, uint16_t code, std::string_view reason) {
  if (reason.size() > 123) {
    size_t cut = 123;
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    reason = reason.substr(0, cut);
  }
  AppendHeader(out, Opcode::kClose, 2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code));
  out.append(reason);
}

size_t FrameParser::ParseFrame(char* p, size_t n, WsEvent* event, bool* deliver, WsError* error) {
  if (n < 2) return 0;
  const auto b0 = static_cast<uint8_t>(p[0]);
  const auto b1 = static_cast<uint8_t>(p[1]);
  const bool fin = (b0 & 0x80) != 0;
  const auto opcode = static_cast<Opcode>(b0 & 0x0F);
  if ((b0 & 0x70) != 0) return *error = {kCloseProtocolError, "reserved bits set"}, 0;
  if ((b1 & 0x80) == 0) return *error = {kCloseProtocolError, "client frame not masked"}, 0;
  const bool control = (b0 & 0x08) != 0;
  switch (opcode) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      break;
    default:
      return *error = {kCloseProtocolError, "unknown opcode"}, 0;
  }
  uint64_t length = b1 & 0x7F;
  size_t header = 2;
  if (length == 126) {
    if (n < 4) return 0;
    length = (static_cast<uint64_t>(static_cast<uint8_t>(p[2])) << 8) | static_cast<uint8_t>(p[3]);
    header = 4;
    if (length < 126) return *error = {kCloseProtocolError, "length not in its shortest form"}, 0;
  } else if (length == 127) {
    if (n < 10) return 0;
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<uint8_t>(p[2 + i]);
    header = 10;
    if (length >> 63) return *error = {kCloseProtocolError, "length has its top bit set"}, 0;
    if (length <= 0xFFFF) return *error = {kCloseProtocolError, "length not in its shortest form"}, 0;
  }
  if (control && (!fin || length > 125)) {
    return *error = {kCloseProtocolError, "control frame fragmented or over 125 bytes"}, 0;
  }
  // Checked before waiting for the payload, so an oversized frame is refused at its header.
  if (!control && (in_message_ ? message_.size() : 0) + length > max_message_bytes_) {
    return *error = {kCloseTooBig, "message too big"}, 0;
  }
  if (opcode == Opcode::kContinuation && !in_message_) {
    return *error = {kCloseProtocolError, "continuation without a message"}, 0;
  }
  if ((opcode == Opcode::kText || opcode == Opcode::kBinary) && in_message_) {
    return *error = {kCloseProtocolError, "new message inside a fragmented one"}, 0;
  }
  if (n < header + 4 || n - header - 4 < length) return 0;
  uint8_t key[4];
  std::memcpy(key, p + header, 4);
  char* payload = p + header + 4;
  Unmask(payload, length, key);
  std::string_view data(payload, length);
  const size_t used = header + 4 + length;

  if (control) {
    *deliver = true;
    if (opcode == Opcode::kPing) {
      *event = {WsEvent::Kind::kPing, false, data, 0};
    } else if (opcode == Opcode::kPong) {
      *event = {WsEvent::Kind::kPong, false, data, 0};
    } else {
      uint16_t code = kCloseNoStatus;
      if (length == 1) return *error = {kCloseProtocolError, "close frame of one byte"}, 0;
      if (length >= 2) {
        code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
        if (!ValidCloseCode(code)) return *error = {kCloseProtocolError, "invalid close code"}, 0;
        if (!IsValidUtf8(data.substr(2))) return *error = {kCloseInvalidPayload, "close reason not UTF-8"}, 0;
      }
      *event = {WsEvent::Kind::kClose, false, data.size() >= 2 ? data.substr(2) : std::string_view(), code};
    }
    return used;
  }

  if (opcode != Opcode::kContinuation) message_text_ = opcode == Opcode::kText;
  if (fin && !in_message_) {
    // The common case: a whole message in one frame, delivered in place.
    if (message_text_ && !IsValidUtf8(data)) return *error = {kCloseInvalidPayload, "text message not UTF-8"}, 0;
    *event = {WsEvent::Kind::kMessage, message_text_, data, 0};
    *deliver = true;
    return used;
  }
  in_message_ = true;
  message_.append(data);
  if (!fin) return used;
  in_message_ = false;
  if (message_text_ && !IsValidUtf8(message_)) return *error = {kCloseInvalidPayload, "text message not UTF-8"}, 0;
  *event = {WsEvent::Kind::kMessage, message_text_, message_, 0};
  *deliver = true;
  return used;
}

void FrameParser::Keep(const char* p, size_t n, bool from_partial) {
  if (n == 0) {
    std::string().swap(partial_);  // idle: hold no memory
  } else if (from_partial) {
    partial_.erase(0, static_cast<size_t>(p - partial_.data()));
  } else {
    partial_.assign(p, n);
  }
}

}  // namespace im::wire::ws
