#include "wire/websocket.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace im::wire::ws;

namespace {

// One client frame: masked with `key`, as a client must send it.
std::string ClientFrame(uint8_t first_byte, std::string_view payload, uint32_t key = 0x11223344, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size()));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(static_cast<uint64_t>(payload.size()) >> (8 * i)));
  }
  const uint8_t k[4] = {static_cast<uint8_t>(key >> 24), static_cast<uint8_t>(key >> 16), static_cast<uint8_t>(key >> 8),
                        static_cast<uint8_t>(key)};
  if (masked) f.append(reinterpret_cast<const char*>(k), 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ (masked ? k[i % 4] : 0)));
  return f;
}

struct Seen {
  WsEvent::Kind kind;
  bool text;
  std::string payload;
  uint16_t code;
};

// Feeds `bytes` in pieces of `chunk` bytes; returns the events and the first error.
std::vector<Seen> FeedAll(FrameParser& p, std::string bytes, size_t chunk, WsError* error) {
  std::vector<Seen> seen;
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    std::string piece = bytes.substr(off, chunk);
    WsError e = p.Feed(piece.data(), piece.size(), [&](const WsEvent& ev) {
      seen.push_back({ev.kind, ev.text, std::string(ev.payload), ev.close_code});
      return true;
    });
    if (e) {
      *error = e;
      break;
    }
  }
  return seen;
}

WsError FirstError(std::string bytes, size_t max = 1 << 20) {
  FrameParser p(max);
  WsError e;
  FeedAll(p, std::move(bytes), 1 << 20, &e);
  return e;
}

}  // namespace

TEST_CASE("websocket: the accept key is the RFC 6455 example's and a malformed key gets none") {
  CHECK(AcceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(AcceptKey("").empty());
  CHECK(AcceptKey("dGhlIHNhbXBsZSBub25jZQ").empty());        // not 24 characters
  CHECK(AcceptKey("dGhlIHNhbXBsZSBub25jZQ!!").empty());      // not base64
  CHECK(AcceptKey("dGhlIHNhbXBsZSBub25jZSE=").empty());      // 17 bytes, not 16
}

TEST_CASE("websocket: server frames use the shortest length form and no mask") {
  for (size_t n : {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}}) {
    std::string out;
    AppendFrame(out, Opcode::kText, std::string(n, 'x'));
    size_t header = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
    REQUIRE(out.size() == header + n);
    CHECK(static_cast<uint8_t>(out[0]) == 0x81);
    CHECK((static_cast<uint8_t>(out[1]) & 0x80) == 0);
    CHECK((static_cast<uint8_t>(out[1]) & 0x7F) == (n < 126 ? n : n <= 0xFFFF ? 126 : 127));
  }
  std::string close;
  AppendCloseFrame(close, 4000, "slow consumer");
  CHECK(close == std::string("\x88\x0F\x0F\xA0slow consumer", 17));
  // A long reason is cut to the control-frame limit without splitting a character.
  std::string long_close;
  AppendCloseFrame(long_close, 1000, std::string(122, 'a') + "\xC3\xA9\xC3\xA9");
  CHECK(long_close.size() == 2 + 2 + 122);
}

TEST_CASE("websocket: frames parse the same however the bytes are split, and nothing is held between them") {
  std::string stream = ClientFrame(0x81, R"({"type":"ping","id":"1"})") + ClientFrame(0x82, std::string(300, '\x07')) +
                       ClientFrame(0x89, "are you there") + ClientFrame(0x8A, "") +
                       ClientFrame(0x81, std::string(70000, 'z'));
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{4096}, stream.size()}) {
    CAPTURE(chunk);
    FrameParser p(1 << 20);
    WsError e;
    auto seen = FeedAll(p, stream, chunk, &e);
    CHECK_FALSE(e);
    REQUIRE(seen.size() == 5);
    CHECK(seen[0].kind == WsEvent::Kind::kMessage);
    CHECK(seen[0].text);
    CHECK(seen[0].payload == R"({"type":"ping","id":"1"})");
    CHECK_FALSE(seen[1].text);
    CHECK(seen[1].payload == std::string(300, '\x07'));
    CHECK(seen[2].kind == WsEvent::Kind::kPing);
    CHECK(seen[2].payload == "are you there");
    CHECK(seen[3].kind == WsEvent::Kind::kPong);
    CHECK(seen[4].payload.size() == 70000);
    CHECK(p.buffered() == 0);
  }
}

TEST_CASE("websocket: a fragmented message is reassembled, with control frames between its fragments") {
  std::string stream = ClientFrame(0x01, "hel") + ClientFrame(0x89, "p") + ClientFrame(0x00, "lo ") +
                       ClientFrame(0x80, "w\xC3\xB6rld");
  FrameParser p(1 << 20);
  WsError e;
  auto seen = FeedAll(p, stream, 5, &e);
  CHECK_FALSE(e);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].kind == WsEvent::Kind::kPing);
  CHECK(seen[1].kind == WsEvent::Kind::kMessage);
  CHECK(seen[1].text);
  CHECK(seen[1].payload == "hello w\xC3\xB6rld");
  CHECK(p.buffered() == 0);
}

TEST_CASE("websocket: a close frame gives its code and reason; one without a code gives 1005") {
  FrameParser p(1024);
  WsError e;
  auto seen = FeedAll(p, ClientFrame(0x88, std::string("\x03\xE8", 2) + "bye"), 100, &e);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == WsEvent::Kind::kClose);
  CHECK(seen[0].code == 1000);
  CHECK(seen[0].payload == "bye");
  FrameParser q(1024);
  seen = FeedAll(q, ClientFrame(0x88, ""), 100, &e);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].code == kCloseNoStatus);
}

TEST_CASE("websocket: every rule a server must enforce closes with the right code") {
  CHECK(FirstError(ClientFrame(0x81, "hi", 0, false)).code == kCloseProtocolError);  // unmasked
  CHECK(FirstError(ClientFrame(0xC1, "hi")).code == kCloseProtocolError);            // RSV1 (no extension)
  CHECK(FirstError(ClientFrame(0x83, "hi")).code == kCloseProtocolError);            // reserved data opcode
  CHECK(FirstError(ClientFrame(0x8B, "hi")).code == kCloseProtocolError);            // reserved control opcode
  CHECK(FirstError(ClientFrame(0x09, "p")).code == kCloseProtocolError);             // fragmented ping
  CHECK(FirstError(ClientFrame(0x89, std::string(126, 'p'))).code == kCloseProtocolError);  // ping over 125
  CHECK(FirstError(ClientFrame(0x80, "orphan")).code == kCloseProtocolError);        // continuation, no message
  CHECK(FirstError(ClientFrame(0x01, "a") + ClientFrame(0x81, "b")).code == kCloseProtocolError);  // nested
  CHECK(FirstError(ClientFrame(0x88, "\x03")).code == kCloseProtocolError);          // close of one byte
  CHECK(FirstError(ClientFrame(0x88, std::string("\x03\xED", 2))).code == kCloseProtocolError);  // 1005 on the wire
  CHECK(FirstError(ClientFrame(0x88, std::string("\x03\xE8\xFF", 3))).code == kCloseInvalidPayload);
  CHECK(FirstError(ClientFrame(0x81, "\xC3\x28")).code == kCloseInvalidPayload);     // text not UTF-8
  CHECK(FirstError(ClientFrame(0x01, "\xC3") + ClientFrame(0x80, "\x28")).code == kCloseInvalidPayload);
  CHECK_FALSE(FirstError(ClientFrame(0x01, "\xC3") + ClientFrame(0x80, "\xA9")));   // split character: fine
  CHECK_FALSE(FirstError(ClientFrame(0x82, "\xC3\x28")));                            // binary: any bytes
  // Lengths not in their shortest form.
  CHECK(FirstError(std::string("\x81\xFE\x00\x05", 4) + std::string(4, '\0') + "hello").code == kCloseProtocolError);
  CHECK(FirstError(std::string("\x81\xFF\x00\x00\x00\x00\x00\x00\x00\x05", 10) + std::string(4, '\0') + "hello").code ==
        kCloseProtocolError);
  CHECK(FirstError(std::string("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x00", 10)).code == kCloseProtocolError);
}

TEST_CASE("websocket: a message over the cap is refused at its header, before its payload arrives") {
  FrameParser p(1000);
  std::string header = ClientFrame(0x82, std::string(100000, 'x')).substr(0, 14);
  WsError e = p.Feed(header.data(), header.size(), [](const WsEvent&) { return true; });
  CHECK(e.code == kCloseTooBig);
  // Across fragments too: each is small, their sum is not.
  std::string frags = ClientFrame(0x02, std::string(600, 'x')) + ClientFrame(0x80, std::string(600, 'y'));
  CHECK(FirstError(frags, 1000).code == kCloseTooBig);
  CHECK_FALSE(FirstError(ClientFrame(0x82, std::string(1000, 'x')), 1000));
}

TEST_CASE("websocket: stopping at an event drops the rest of the bytes") {
  std::string stream = ClientFrame(0x88, "") + ClientFrame(0x81, "after the close");
  FrameParser p(1024);
  int events = 0;
  WsError e = p.Feed(stream.data(), stream.size(), [&](const WsEvent&) {
    ++events;
    return false;
  });
  CHECK_FALSE(e);
  CHECK(events == 1);
  CHECK(p.buffered() == 0);
}

TEST_CASE("websocket: random bytes never crash the parser and it never holds more than a frame") {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    FrameParser p(4096);
    std::string bytes(rng() % 200, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (round % 2 == 0 && !bytes.empty()) bytes[1] = static_cast<char>(bytes[1] | 0x80);  // masked: go deeper
    WsError e = p.Feed(bytes.data(), bytes.size(), [](const WsEvent&) { return true; });
    if (e) CHECK((e.code == kCloseProtocolError || e.code == kCloseInvalidPayload || e.code == kCloseTooBig));
    CHECK(p.buffered() <= 4096 + 14);
  }
}
