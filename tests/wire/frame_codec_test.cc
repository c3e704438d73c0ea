#include "wire/frame_codec.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/message_differencer.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "wire/json_fast.h"

using namespace im;
using google::protobuf::util::MessageDifferencer;

TEST_CASE("wire: a JSON send-message frame parses into its protobuf body") {
  auto f = wire::ParseClientJson(R"({"type":"send-message","id":"c1","conversation_id":"d:1:2","client_msg_id":"m-1",)"
                                 R"("content_type":"CONTENT_TYPE_TEXT","content":"h\u00e9llo"})");
  REQUIRE_MESSAGE(f.ok(), f.status().ToString());
  CHECK(f->id() == "c1");
  REQUIRE(f->has_send_message());
  CHECK(f->send_message().conversation_id() == "d:1:2");
  CHECK(f->send_message().client_msg_id() == "m-1");
  CHECK(f->send_message().content_type() == v1::CONTENT_TYPE_TEXT);
  CHECK(f->send_message().content() == "h\xC3\xA9llo");
  CHECK(wire::FrameType(*f) == "send-message");

  auto sync = wire::ParseClientJson(
      R"({"type":"sync","id":"s","positions":[{"conversation_id":"g:7","last_seq":"41"},{"conversation_id":"d:1:2","last_seq":3}]})");
  REQUIRE(sync.ok());
  REQUIRE(sync->sync().positions_size() == 2);
  CHECK(sync->sync().positions(0).last_seq() == 41);
  CHECK(sync->sync().positions(1).last_seq() == 3);
  auto ping = wire::ParseClientJson(R"({"type":"ping"})");
  REQUIRE(ping.ok());
  CHECK(ping->has_ping());
  CHECK(ping->id().empty());
}

TEST_CASE("wire: bad JSON frames get invalid_argument naming the problem") {
  auto err = [](std::string_view text) { return wire::ParseClientJson(text).status(); };
  CHECK(err("{not json").code() == StatusCode::kInvalidArgument);
  CHECK(err("[1,2]").message() == "frame must be a JSON object");
  CHECK(err(R"({"id":"x"})").message() == "frame needs a string \"type\"");
  CHECK(err(R"({"type":7})").message() == "frame needs a string \"type\"");
  CHECK(err(R"({"type":"launch-missiles"})").message() == "unknown frame type \"launch-missiles\"");
  CHECK(err(R"({"type":"send-ack"})").message() == "unknown frame type \"send-ack\"");  // a server frame
  CHECK(err(R"({"type":"ping","id":5})").code() == StatusCode::kInvalidArgument);
  CHECK(err(R"({"type":"ping","id":")" + std::string(65, 'x') + "\"}").code() == StatusCode::kInvalidArgument);
  CHECK(err(R"({"type":"read","conversation_id":"g:1","seq":"many"})").code() == StatusCode::kInvalidArgument);
  CHECK(err(R"({"type":"read","conversation_id":["g:1"]})").code() == StatusCode::kInvalidArgument);
  CHECK(err(R"({"type":"read","surprise":true})").code() == StatusCode::kInvalidArgument);
  CHECK(err("{\"type\":\"ping\",\"id\":\"\xC0\xAF\"}").message() == "frame is not valid UTF-8");
  CHECK(wire::ParseClientBinary("\xff\xff\xff").status().code() == StatusCode::kInvalidArgument);
  CHECK(wire::ParseClientBinary("").status().message() == "binary frame has no body");
}

TEST_CASE("wire: server frames print as flat JSON that parses back to the same frame") {
  v1::ServerFrame ack;
  ack.set_id("c1");
  auto* a = ack.mutable_send_ack();
  a->set_message_id(1234567890123456789);
  a->set_seq(42);
  a->set_conversation_id("d:1:2");
  std::string json = wire::ToJson(ack);
  CHECK(json.rfind(R"({"type":"send-ack","id":"c1",)", 0) == 0);
  CHECK(json.find(R"("message_id":"1234567890123456789")") != std::string::npos);  // 64-bit ints as strings
  CHECK(json.find(R"("duplicate":false)") != std::string::npos);
  auto back = wire::ParseServerJson(json);
  REQUIRE(back.ok());
  CHECK(back->SerializeAsString() == ack.SerializeAsString());

  v1::ServerFrame error;
  error.mutable_error()->set_code("permission_denied");
  error.mutable_error()->set_message("not a member of \"g:1\"");
  std::string e = wire::ToJson(error);
  CHECK(e == R"({"type":"error","code":"permission_denied","message":"not a member of \"g:1\""})");

  v1::ClientFrame binary;
  binary.set_id("b");
  binary.mutable_read()->set_conversation_id("g:9");
  binary.mutable_read()->set_seq(3);
  auto parsed = wire::ParseClientBinary(binary.SerializeAsString());
  REQUIRE(parsed.ok());
  CHECK(parsed->read().seq() == 3);
  CHECK(wire::ToJson(*parsed) == R"({"type":"read","id":"b","conversation_id":"g:9","seq":"3"})");
}

namespace {

// Text that is hard on a JSON encoder: quotes, backslashes, every control character, DEL,
// HTML-sensitive characters, U+2028/2029, non-ASCII UTF-8, emoji (4-byte sequences, a modifier
// pair), and the empty string (no pieces).
std::string TrickyText(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = [] {
    std::vector<std::string> p = {"hi",
                                  "\"",
                                  "\\",
                                  "\\\"",
                                  "/",
                                  "\\u0041",
                                  " ",
                                  "\x7f",
                                  "<b>&amp;</b>",
                                  "h\xC3\xA9llo",
                                  "\xE4\xBD\xA0\xE5\xA5\xBD",
                                  "\xE2\x80\xA8\xE2\x80\xA9",
                                  "\xF0\x9F\x98\x80",
                                  "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
                                  "{\"a\":[1,\"b\"]}",
                                  "d:1:2"};
    for (int c = 0; c < 0x20; ++c) p.emplace_back(1, static_cast<char>(c));
    return p;
  }();
  std::string text;
  for (auto n = rng() % 6; n > 0; --n) text += pieces[rng() % pieces.size()];
  return text;
}

int64_t Int64(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return 0;
    case 1:
      return std::numeric_limits<int64_t>::max();
    case 2:
      return std::numeric_limits<int64_t>::min();
    case 3:
      return -1;
    case 4:
      return static_cast<int64_t>(rng() % 1000);
    default:
      return static_cast<int64_t>(rng());
  }
}

uint64_t Uint64(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0:
      return 0;
    case 1:
      return std::numeric_limits<uint64_t>::max();
    default:
      return rng();
  }
}

// Declared values, and values the enum does not declare (proto3 enums are open).
v1::ContentType AnyContentType(std::mt19937_64& rng) {
  static const int values[] = {v1::CONTENT_TYPE_UNSPECIFIED, v1::CONTENT_TYPE_TEXT, v1::CONTENT_TYPE_CUSTOM, 7, -1};
  return static_cast<v1::ContentType>(values[rng() % std::size(values)]);
}

v1::ServerFrame HotServerFrame(std::mt19937_64& rng) {
  v1::ServerFrame frame;
  if (rng() % 2) frame.set_id(TrickyText(rng));
  switch (rng() % 4) {
    case 0: {
      auto* ack = frame.mutable_send_ack();
      ack->set_message_id(Int64(rng));
      ack->set_seq(Uint64(rng));
      ack->set_sent_at_ms(Int64(rng));
      ack->set_duplicate(rng() % 2);
      ack->set_conversation_id(TrickyText(rng));
      ack->set_client_msg_id(TrickyText(rng));
      break;
    }
    case 1: {
      auto* body = frame.mutable_new_message();
      if (rng() % 8 == 0) break;  // no message at all
      auto* message = body->mutable_message();
      message->set_id(Int64(rng));
      message->set_conversation_id(TrickyText(rng));
      message->set_seq(Uint64(rng));
      message->set_sender_id(Int64(rng));
      message->set_client_msg_id(TrickyText(rng));
      message->set_type(AnyContentType(rng));
      message->set_content(TrickyText(rng));
      message->set_sent_at_ms(Int64(rng));
      break;
    }
    case 2:
      frame.mutable_pong()->set_client_time_ms(Int64(rng));
      frame.mutable_pong()->set_server_time_ms(Int64(rng));
      break;
    default: {
      auto* error = frame.mutable_error();
      error->set_code(TrickyText(rng));
      error->set_message(TrickyText(rng));
      static const uint32_t waits[] = {0, 20, std::numeric_limits<uint32_t>::max()};
      if (rng() % 2) error->set_retry_after_ms(waits[rng() % std::size(waits)]);
      break;
    }
  }
  return frame;
}

// A frame body as a client commonly writes it, from the fields set in `frame`, in an order and
// with the int64 spellings (string or number) drawn from `rng`.
boost::json::object CommonMembers(const v1::ClientFrame& frame, std::mt19937_64& rng) {
  auto int64 = [&rng](int64_t v) { return rng() % 2 ? boost::json::value(std::to_string(v)) : boost::json::value(v); };
  boost::json::object members;
  if (frame.has_send_message()) {
    const auto& send = frame.send_message();
    // A member at its default may be left out.
    if (rng() % 4 || !send.content().empty()) members["content"] = send.content();
    if (rng() % 4 || !send.conversation_id().empty()) members["conversation_id"] = send.conversation_id();
    if (rng() % 4 || !send.client_msg_id().empty()) members["client_msg_id"] = send.client_msg_id();
    if (rng() % 4 || send.content_type() != v1::CONTENT_TYPE_UNSPECIFIED) {
      members["content_type"] = v1::ContentType_Name(send.content_type());
    }
  } else if (frame.has_ping()) {
    if (rng() % 4 || frame.ping().client_time_ms() != 0)
      members["client_time_ms"] = int64(frame.ping().client_time_ms());
  } else {
    boost::json::array ids;
    for (int64_t id : frame.ack().message_ids()) ids.push_back(int64(id));
    if (rng() % 4 || !ids.empty()) members["message_ids"] = std::move(ids);
  }
  return members;
}

v1::ClientFrame HotClientFrame(std::mt19937_64& rng) {
  v1::ClientFrame frame;
  static const char* const ids[] = {"c1", "", "\"\\\n", "\xF0\x9F\x98\x80",
                                    "0123456789012345678901234567890123456789012345678901234567890123"};
  frame.set_id(ids[rng() % std::size(ids)]);
  switch (rng() % 3) {
    case 0: {
      auto* send = frame.mutable_send_message();
      send->set_conversation_id(TrickyText(rng));
      send->set_client_msg_id(TrickyText(rng));
      send->set_content_type(static_cast<v1::ContentType>(rng() % 3));
      send->set_content(TrickyText(rng));
      break;
    }
    case 1:
      frame.mutable_ping()->set_client_time_ms(Int64(rng));
      break;
    default:
      frame.mutable_ack();
      for (auto n = rng() % 5; n > 0; --n) frame.mutable_ack()->add_message_ids(Int64(rng));
  }
  return frame;
}

// The whole frame: "type" and "id" in front of the body's members.
std::string FrameText(const v1::ClientFrame& frame, const boost::json::object& members) {
  boost::json::object object;
  object["type"] = wire::FrameType(frame);
  if (!frame.id().empty()) object["id"] = frame.id();
  for (const auto& member : members) object[member.key()] = member.value();
  return boost::json::serialize(object);
}

// Whether the direct decoder takes the body of a send-message, ping or ack frame (false: it is
// left to the JSON mapping).
bool FastDecodes(std::string_view text) {
  boost::json::object members = boost::json::parse(text).as_object();
  const std::string type(members.at("type").as_string());
  members.erase("type");
  members.erase("id");
  v1::ClientFrame frame;
  google::protobuf::Message* body = frame.mutable_ack();
  if (type == "send-message") body = frame.mutable_send_message();
  if (type == "ping") body = frame.mutable_ping();
  return wire::detail::DecodeClientBodyFast(members, *body);
}

// ParseClientJson answers as the JSON mapping alone does: the same frame, or the same error.
void CheckParsesAsMapping(const std::string& text) {
  INFO(text);
  auto parsed = wire::ParseClientJson(text);
  auto mapped = wire::detail::ParseClientJsonReflection(text);
  REQUIRE(parsed.ok() == mapped.ok());
  if (mapped.ok()) {
    CHECK(MessageDifferencer::Equals(*parsed, *mapped));
  } else {
    CHECK(parsed.status().ToString() == mapped.status().ToString());
  }
}

}  // namespace

TEST_CASE("wire: the direct encoder writes send-ack, new-message, pong and error frames as the JSON mapping does") {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 3000; ++i) {
    const v1::ServerFrame frame = HotServerFrame(rng);
    std::string fast;
    REQUIRE_MESSAGE(wire::detail::EncodeServerFrameFast(frame, fast), frame.ShortDebugString());
    const std::string mapped = wire::detail::ToJsonReflection(frame);
    INFO(fast);
    INFO(mapped);
    CHECK(wire::ToJson(frame) == fast);
    CHECK(boost::json::parse(fast) == boost::json::parse(mapped));  // the same members and values
    auto back = wire::ParseServerJson(fast);
    REQUIRE(back.ok());
    CHECK(MessageDifferencer::Equals(*back, frame));
  }

  v1::ServerFrame limited;  // docs/protocol.md's example, byte for byte
  limited.set_id("f201");
  limited.mutable_error()->set_code("resource_exhausted");
  limited.mutable_error()->set_message("rate limit exceeded: slow down");
  limited.mutable_error()->set_retry_after_ms(20);
  CHECK(
      wire::ToJson(limited) ==
      R"({"type":"error","id":"f201","code":"resource_exhausted","message":"rate limit exceeded: slow down","retry_after_ms":20})");
  v1::ServerFrame pushed;
  auto* message = pushed.mutable_new_message()->mutable_message();
  message->set_id(1234567890123);
  message->set_conversation_id("d:1:2");
  message->set_seq(42);
  message->set_sender_id(1);
  message->set_client_msg_id("7f3a-1");
  message->set_type(v1::CONTENT_TYPE_TEXT);
  message->set_content("hi");
  message->set_sent_at_ms(1764380000123);
  CHECK(wire::ToJson(pushed) ==
        R"({"type":"new-message","message":{"id":"1234567890123","conversation_id":"d:1:2","seq":"42","sender_id":"1",)"
        R"("client_msg_id":"7f3a-1","type":"CONTENT_TYPE_TEXT","content":"hi","sent_at_ms":"1764380000123"}})");
}

TEST_CASE("wire: server frames the direct encoder leaves alone keep the JSON mapping's output") {
  v1::ServerFrame sync;
  sync.set_id("s1");
  auto* conversation = sync.mutable_sync_result()->add_conversations();
  conversation->set_conversation_id("g:7");
  conversation->add_messages()->set_content("hi");
  v1::ServerFrame receipt;
  receipt.mutable_read_receipt()->set_read_seq(3);
  v1::ServerFrame empty;  // no body
  // Not UTF-8 (a store never holds such content): the mapping's handling of it is kept as it is.
  v1::ServerFrame broken;
  broken.mutable_new_message()->mutable_message()->set_content("bad \xff\xfe utf8 \xc0\xaf");
  for (const v1::ServerFrame* frame : {&sync, &receipt, &empty, &broken}) {
    std::string fast;
    CHECK_FALSE(wire::detail::EncodeServerFrameFast(*frame, fast));
    CHECK(wire::ToJson(*frame) == wire::detail::ToJsonReflection(*frame));
  }
}

TEST_CASE("wire: the direct decoder reads send-message, ping and ack frames as the JSON mapping does") {
  std::mt19937_64 rng(20240602);
  for (int i = 0; i < 3000; ++i) {
    const v1::ClientFrame frame = HotClientFrame(rng);
    const std::string text = FrameText(frame, CommonMembers(frame, rng));
    INFO(text);
    CHECK(FastDecodes(text));
    auto parsed = wire::ParseClientJson(text);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    CHECK(MessageDifferencer::Equals(*parsed, frame));
    CheckParsesAsMapping(text);
  }
}

TEST_CASE("wire: uncommon spellings and bad frames go to the JSON mapping and get its answer") {
  // Accepted by the mapping in forms the direct decoder does not read itself.
  const std::vector<std::string> uncommon = {
      R"({"type":"send-message","conversationId":"d:1:2","clientMsgId":"m","contentType":"CONTENT_TYPE_TEXT"})",
      R"({"type":"send-message","conversation_id":"x","conversationId":"y"})",
      R"({"type":"send-message","content_type":1})",
      R"({"type":"send-message","content_type":7})",
      R"({"type":"send-message","content_type":-1})",
      R"({"type":"send-message","content_type":"1"})",
      R"({"type":"send-message","content_type":1.0})",
      R"({"type":"send-message","content":null,"content_type":null})",
      R"({"type":"ping","clientTimeMs":"7"})",
      R"({"type":"ping","client_time_ms":null})",
      R"({"type":"ping","client_time_ms":"007"})",
      R"({"type":"ping","client_time_ms":"+5"})",
      R"({"type":"ping","client_time_ms":"-0"})",
      R"({"type":"ping","client_time_ms":1e3})",
      R"({"type":"ping","client_time_ms":5.0})",
      R"({"type":"ack","messageIds":[1]})",
      R"({"type":"ack","message_ids":null})",
      R"({"type":"ack","message_ids":[null]})",
      R"({"type":"ack","message_ids":5})",
      R"({"type":"ack","message_ids":"5"})",
      R"({"type":"ack","message_ids":[1.0,"2"]})",
      R"({"type":"ack","message_ids":[[1]]})",
  };
  // Refused: unknown members, wrong types, bad enum names, int64 out of range or misspelled.
  const std::vector<std::string> bad = {
      R"({"type":"send-message","surprise":true})",
      R"({"type":"send-message","conversation_id":5})",
      R"({"type":"send-message","content":["hi"]})",
      R"({"type":"send-message","content":{"text":"hi"}})",
      R"({"type":"send-message","content_type":"CONTENT_TYPE_VIDEO"})",
      R"({"type":"send-message","content_type":"content_type_text"})",
      R"({"type":"send-message","content_type":""})",
      R"({"type":"send-message","content_type":true})",
      R"({"type":"send-message","content_type":2147483648})",
      R"({"type":"ping","client_time_ms":"many"})",
      R"({"type":"ping","client_time_ms":""})",
      R"({"type":"ping","client_time_ms":" 5"})",
      R"({"type":"ping","client_time_ms":"5.5"})",
      R"({"type":"ping","client_time_ms":"1e3"})",
      R"({"type":"ping","client_time_ms":5.5})",
      R"({"type":"ping","client_time_ms":true})",
      R"({"type":"ping","client_time_ms":9223372036854775808})",
      R"({"type":"ping","client_time_ms":"9223372036854775808"})",
      R"({"type":"ping","client_time_ms":"-9223372036854775809"})",
      R"({"type":"ping","client_time_ms":[1]})",
      R"({"type":"ping","server_time_ms":"1"})",
      R"({"type":"ack","message_ids":["x"]})",
      R"({"type":"ack","message_ids":[true]})",
      R"({"type":"ack","message_ids":{"a":1}})",
  };
  for (const auto* texts : {&uncommon, &bad}) {
    for (const std::string& text : *texts) {
      INFO(text);
      CHECK_FALSE(FastDecodes(text));
      CheckParsesAsMapping(text);
      CHECK(wire::ParseClientJson(text).ok() == (texts == &uncommon));
    }
  }
  // Bad before the body is looked at: the frame-level checks are the same for every type.
  const std::vector<std::string> frame_level = {"{not json",
                                                "[1]",
                                                R"({"type":"ping","id":5})",
                                                R"({"id":"x","client_time_ms":"1"})",
                                                R"({"type":"ping","id":")" + std::string(65, 'x') + "\"}",
                                                "{\"type\":\"send-message\",\"content\":\"\xC0\xAF\"}"};
  for (const std::string& text : frame_level) {
    CheckParsesAsMapping(text);
    CHECK(wire::ParseClientJson(text).status().code() == StatusCode::kInvalidArgument);
  }
}
