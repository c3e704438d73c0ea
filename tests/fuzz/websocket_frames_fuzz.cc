// The WebSocket framing of the gateway (src/wire/websocket.h): a client's byte stream through
// FrameParser, once whole and once cut into reads of sizes the input chooses, which must give the
// same events and the same verdict; every event within the limits (message size, control payload
// size, UTF-8 of text and close reasons) and the parser's memory within its promise. Also the
// handshake's AcceptKey, and the server's own frames, masked as a client would send them, back
// through the parser.
#include <string>
#include <tuple>
#include <vector>

#include "common/utf8.h"
#include "fuzz/fuzz_check.h"
#include "wire/websocket.h"

namespace ws = im::wire::ws;

namespace {

constexpr size_t kMaxMessage = 4096;  // small, so the fuzzer reaches the cap

using Event = std::tuple<ws::WsEvent::Kind, bool, std::string, uint16_t>;

struct Outcome {
  std::vector<Event> events;
  uint16_t error = 0;
};

// Feeds `stream` in reads of the sizes `cuts` gives (cycled; empty: all at once).
Outcome Parse(std::string stream, std::string_view cuts) {
  ws::FrameParser parser(kMaxMessage);
  Outcome out;
  bool closed = false;
  size_t off = 0;
  for (size_t i = 0; off < stream.size() && !closed && out.error == 0; ++i) {
    size_t n = cuts.empty() ? stream.size() : 1 + static_cast<uint8_t>(cuts[i % cuts.size()]) % 64;
    n = std::min(n, stream.size() - off);
    ws::WsError e = parser.Feed(stream.data() + off, n, [&](const ws::WsEvent& ev) {
      if (ev.kind == ws::WsEvent::Kind::kMessage) {
        FUZZ_CHECK(ev.payload.size() <= kMaxMessage);
        if (ev.text) FUZZ_CHECK(im::IsValidUtf8(ev.payload));
      } else {
        FUZZ_CHECK(ev.payload.size() <= 125);
        if (ev.kind == ws::WsEvent::Kind::kClose) FUZZ_CHECK(im::IsValidUtf8(ev.payload));
      }
      out.events.emplace_back(ev.kind, ev.text, std::string(ev.payload), ev.close_code);
      closed = ev.kind == ws::WsEvent::Kind::kClose;
      return !closed;  // as a session does: nothing after a close
    });
    out.error = e.code;
    off += n;
    // At most one message so far plus one frame of it (its header is at most 14 bytes).
    FUZZ_CHECK(parser.buffered() <= kMaxMessage + 14);
  }
  return out;
}

// A server frame as a client would send it: the mask bit set, with a zero key.
std::string Masked(std::string frame) {
  size_t header = (frame[1] & 0x7F) == 126 ? 4 : (frame[1] & 0x7F) == 127 ? 10 : 2;
  frame[1] = static_cast<char>(frame[1] | 0x80);
  frame.insert(header, 4, '\0');
  return frame;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = im::fuzz::AsText(data, size);
  // The first byte says how long the cut list is; the cuts follow, then the stream.
  const size_t ncuts = input.empty() ? 0 : std::min<size_t>(static_cast<uint8_t>(input[0]) % 8, input.size() - 1);
  const std::string_view cuts = input.substr(input.empty() ? 0 : 1, ncuts);
  const std::string stream(input.substr(std::min(input.size(), 1 + ncuts)));

  const Outcome whole = Parse(stream, {});
  const Outcome pieces = Parse(stream, cuts.empty() ? std::string_view("\x00", 1) : cuts);
  FUZZ_CHECK(whole.events == pieces.events);
  FUZZ_CHECK(whole.error == pieces.error);

  const std::string accept = ws::AcceptKey(stream.substr(0, 24));
  FUZZ_CHECK(accept.empty() || accept.size() == 28);

  // Our own frames parse back to what was framed.
  std::string framed;
  ws::AppendFrame(framed, im::IsValidUtf8(stream) ? ws::Opcode::kText : ws::Opcode::kBinary, stream);
  const Outcome echo = Parse(Masked(framed), {});
  if (stream.size() <= kMaxMessage) {
    FUZZ_CHECK(echo.error == 0 && echo.events.size() == 1 && std::get<2>(echo.events[0]) == stream);
  } else {
    FUZZ_CHECK(echo.error == ws::kCloseTooBig);
  }
  const uint16_t code = stream.size() >= 2 ? static_cast<uint16_t>(3000 + static_cast<uint8_t>(stream[0]) * 7) : 1000;
  std::string close;
  ws::AppendCloseFrame(close, code, stream);
  const Outcome closed = Parse(Masked(close), {});
  if (im::IsValidUtf8(stream)) {
    FUZZ_CHECK(closed.error == 0 && closed.events.size() == 1);
    FUZZ_CHECK(std::get<3>(closed.events[0]) == code);
    FUZZ_CHECK(stream.substr(0, std::get<2>(closed.events[0]).size()) == std::get<2>(closed.events[0]));
  }
  return 0;
}
