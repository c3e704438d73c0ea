// Client frames in JSON, through the session protocol, against a real engine.
#include "gateway/session_protocol.h"

#include <doctest/doctest.h>

#include <future>

#include "support/engine_fixture.h"
#include "wire/frame_codec.h"

using namespace im;

namespace {

struct Chat {
  std::unique_ptr<Engine> engine = Engine::Open(test::FastOptions()).value();
  UserId alice = test::MustRegister(*engine, "alice");
  UserId bob = test::MustRegister(*engine, "bob");
  UserId carol = test::MustRegister(*engine, "carol");
  std::string ab = ConversationId::Direct(alice, bob).str();

  v1::ServerFrame Call(UserId user, const std::string& json) {
    auto frame = wire::ParseClientJson(json);
    REQUIRE_MESSAGE(frame.ok(), frame.status().ToString());
    std::promise<std::optional<v1::ServerFrame>> reply;
    gateway::SessionProtocol(*engine, user, "web").Handle(*frame, [&](auto r) { reply.set_value(std::move(r)); });
    auto answer = reply.get_future().get();
    REQUIRE(answer.has_value());
    return *answer;
  }
};

}  // namespace

TEST_CASE("session protocol: send-message is acked with id and seq, and a resend gets the same") {
  Chat c;
  auto ack = c.Call(c.alice, R"({"type":"send-message","id":"1","conversation_id":")" + c.ab +
                                 R"(","client_msg_id":"k1","content":"hi"})");
  REQUIRE(ack.has_send_ack());
  CHECK(ack.id() == "1");
  CHECK(ack.send_ack().seq() == 1);
  CHECK(!ack.send_ack().duplicate());
  auto again = c.Call(c.alice, R"({"type":"send-message","id":"2","conversation_id":")" + c.ab +
                                   R"(","client_msg_id":"k1","content":"hi"})");
  CHECK(again.id() == "2");
  CHECK(again.send_ack().duplicate());
  CHECK(again.send_ack().message_id() == ack.send_ack().message_id());
  CHECK(again.send_ack().seq() == 1);
}

TEST_CASE("session protocol: read, sync and ping replies") {
  Chat c;
  for (int i = 0; i < 3; ++i) {
    (void)c.Call(c.alice, R"({"type":"send-message","id":"s","conversation_id":")" + c.ab + R"(","client_msg_id":"k)" +
                              std::to_string(i) + R"(","content":"m"})");
  }
  auto read = c.Call(c.bob, R"({"type":"read","id":"r","conversation_id":")" + c.ab + R"(","seq":2})");
  REQUIRE(read.has_read_receipt());
  CHECK(read.read_receipt().read_seq() == 2);
  CHECK(read.read_receipt().reader_id() == c.bob.value);

  auto sync =
      c.Call(c.bob, R"({"type":"sync","id":"y","positions":[{"conversation_id":")" + c.ab + R"(","last_seq":1}]})");
  REQUIRE(sync.has_sync_result());
  REQUIRE(sync.sync_result().conversations_size() == 1);
  const auto& conv = sync.sync_result().conversations(0);
  CHECK(conv.error_code().empty());
  REQUIRE(conv.messages_size() == 2);
  CHECK(conv.messages(0).seq() == 2);
  CHECK(conv.messages(1).seq() == 3);

  auto pong = c.Call(c.bob, R"({"type":"ping","id":"p","client_time_ms":5})");
  REQUIRE(pong.has_pong());
  CHECK(pong.pong().client_time_ms() == 5);
  CHECK(pong.pong().server_time_ms() > 0);
}

TEST_CASE("session protocol: errors come back as error frames with the request id") {
  Chat c;
  auto bad = c.Call(c.alice, R"({"type":"send-message","id":"e1","conversation_id":"x:1","content":"m"})");
  REQUIRE(bad.has_error());
  CHECK(bad.id() == "e1");
  CHECK(bad.error().code() == "invalid_argument");
  auto outsider =
      c.Call(c.carol, R"({"type":"send-message","id":"e2","conversation_id":")" + c.ab + R"(","content":"let me in"})");
  CHECK(outsider.error().code() == "permission_denied");
  auto empty = c.Call(c.alice, R"({"type":"send-message","id":"e3","conversation_id":")" + c.ab + R"("})");
  CHECK(empty.error().code() == "invalid_argument");
  auto typing = c.Call(c.carol, R"({"type":"typing","id":"e4","conversation_id":")" + c.ab + R"("})");
  CHECK(typing.error().code() == "permission_denied");
  CHECK(wire::ToJson(gateway::SessionProtocol::ErrorFrame("e5", Status::ResourceExhausted("slow down"))) ==
        R"({"type":"error","id":"e5","code":"resource_exhausted","message":"slow down"})");
}

TEST_CASE("session protocol: events become pushed frames without an id") {
  Message m{MessageId(77), ConversationId::Direct(UserId(1), UserId(2)), 5, UserId(1), "k", ContentType::kText, "hello",
            1000};
  auto frame = gateway::SessionProtocol::FromEvent(Event(NewMessageEvent{m}));
  std::string json = wire::ToJson(frame);
  CHECK(json.rfind(R"({"type":"new-message","message":{"id":"77","conversation_id":"d:1:2","seq":"5",)", 0) == 0);
  auto presence = gateway::SessionProtocol::FromEvent(Event(PresenceEvent{UserId(3), true}));
  CHECK(wire::ToJson(presence) == R"({"type":"presence","user_id":"3","online":true})");
}
