// RFC 6455 WebSocket framing for the server end of a connection, with no I/O: the handshake's
// accept key, the frames a server writes (unmasked), and an incremental parser of the frames a
// client writes (masked) that reassembles fragmented messages and enforces every rule a server
// must (masking, reserved bits, opcodes, control-frame limits, the message size cap, UTF-8 in
// text messages and close reasons). The gateway's sessions (src/beast) drive it over their
// sockets: owning the framing is what lets a session write many frames with one system call and
// hold no read buffer while idle (docs/decisions.md, "WebSocket framing in the gateway").
#ifndef IM_SRC_WIRE_WEBSOCKET_H_
#define IM_SRC_WIRE_WEBSOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace im::wire::ws {

enum class Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Close codes (RFC 6455 §7.4.1) the server sends.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseNoStatus = 1005;  // received only: a close frame without a code
inline constexpr uint16_t kCloseInvalidPayload = 1007;
inline constexpr uint16_t kClosePolicy = 1008;
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key; empty when the key is not
// the base64 form of 16 bytes (the handshake is then refused with 400).
std::string AcceptKey(std::string_view client_key);

// The largest header of a server frame (2 bytes + a 64-bit length).
inline constexpr size_t kMaxServerHeader = 10;

// Appends one whole, final, unmasked frame: header and payload.
void AppendFrame(std::string& out, Opcode opcode, std::string_view payload);
// Appends a close frame with `code` and `reason` (cut to fit the 125-byte control-frame limit at
// a UTF-8 character boundary).
void AppendCloseFrame(std::string& out, uint16_t code, std::string_view reason);

// What the parser found: one whole message, or one control frame.
struct WsEvent {
  enum class Kind { kMessage, kPing, kPong, kClose };
  Kind kind = Kind::kMessage;
  bool text = false;         // kMessage: text (1) or binary (2)
  std::string_view payload;  // unmasked; valid only during the callback
  uint16_t close_code = 0;   // kClose: the client's code, kCloseNoStatus when it sent none
};

// Why the parser gave up: the close code to send and a reason for the log.
struct WsError {
  uint16_t code = 0;  // 0: no error
  const char* reason = "";
  explicit operator bool() const { return code != 0; }
};

// Parses a client's byte stream into events. Not thread-safe; one per connection. Memory: none
// while idle between whole frames; a frame split across reads, or a fragmented message, is kept
// until it completes (at most max_message_bytes plus one frame header).
class FrameParser {
 public:
  explicit FrameParser(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Consumes `data` (unmasked in place, hence mutable), calling on_event(const WsEvent&) -> bool
  // for each event in order; it returns false to stop (e.g. after a close): the bytes after that
  // event are dropped. Returns the first protocol error; after one the parser must not be fed
  // again (the connection is closed with error.code).
  template <class OnEvent>
  WsError Feed(char* data, size_t size, OnEvent&& on_event);

  // Bytes held for an incomplete frame or message (for memory accounting and tests).
  size_t buffered() const { return partial_.size() + message_.size(); }

 private:
  // The next whole frame at p[0..n): its size in bytes (0: incomplete) and, through `event`, what
  // it carries; `*deliver` says whether `event` is complete (a fragment is not).
  size_t ParseFrame(char* p, size_t n, WsEvent* event, bool* deliver, WsError* error);
  void Keep(const char* p, size_t n, bool from_partial);

  const size_t max_message_bytes_;
  std::string partial_;          // bytes of a frame not yet complete
  std::string message_;          // payloads of a fragmented message so far
  bool in_message_ = false;      // a fragmented message has started
  bool message_text_ = false;
};

template <class OnEvent>
WsError FrameParser::Feed(char* data, size_t size, OnEvent&& on_event) {
  const bool from_partial = !partial_.empty();
  if (from_partial) {
    partial_.append(data, size);
    data = partial_.data();
    size = partial_.size();
  }
  size_t off = 0;
  while (off < size) {
    WsEvent event;
    bool deliver = false;
    WsError error;
    size_t used = ParseFrame(data + off, size - off, &event, &deliver, &error);
    if (error) return error;
    if (used == 0) break;
    off += used;
    if (!deliver) continue;
    bool go_on = on_event(static_cast<const WsEvent&>(event));
    if (event.kind == WsEvent::Kind::kMessage && !message_.empty()) std::string().swap(message_);
    if (!go_on) {
      std::string().swap(partial_);
      return {};
    }
  }
  Keep(data + off, size - off, from_partial);
  return {};
}

}  // namespace im::wire::ws

#endif  // IM_SRC_WIRE_WEBSOCKET_H_
