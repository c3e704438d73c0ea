#include "wire/frame_codec.h"

#include <doctest/doctest.h>

using namespace im;

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
