// The engine's halves in separate Engine objects, as the split deployment runs them in separate
// processes: a gateway-only engine reaches a logic-only engine through the Bus (sends) and the
// LogicApi (everything else).
#include <doctest/doctest.h>

#include <chrono>

#include "im/engine.h"
#include "support/counting_bus.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;
using im::test::MustRegister;
using im::test::RecordingSink;

namespace {

struct Split {
  std::shared_ptr<test::CountingBus> bus = std::make_shared<test::CountingBus>(NewInProcessBus());
  std::shared_ptr<Presence> presence = NewMemoryPresence();
  std::shared_ptr<Engine> logic;
  std::unique_ptr<Engine> gateway;

  explicit Split(int64_t send_timeout_ms = 10'000, std::shared_ptr<Bus> gateway_bus = nullptr) {
    Options o = FastOptions();
    o.bus = bus;
    o.presence = presence;
    o.run_gateway = false;
    logic = Engine::Open(o).value();

    Options g = FastOptions();
    g.bus = gateway_bus ? gateway_bus : bus;
    g.presence = presence;
    g.run_logic = false;
    g.run_tasks = false;
    g.logic = logic;
    g.gateway_id = "gw-a";
    g.send_timeout_ms = send_timeout_ms;
    gateway = Engine::Open(g).value();
  }
};

}  // namespace

TEST_CASE("split halves: a gateway-only engine chats through a logic-only engine") {
  Split s;
  UserId alice = MustRegister(*s.gateway, "alice");  // LogicApi call, answered by the logic engine
  UserId bob = MustRegister(*s.gateway, "bob");
  auto bob_sink = std::make_shared<RecordingSink>();
  REQUIRE(s.gateway->Attach(bob, "phone", bob_sink).ok());
  CHECK(s.logic->Attach(bob, "x", bob_sink).status().code() == StatusCode::kFailedPrecondition);

  auto ab = ConversationId::Direct(alice, bob);
  auto first = s.gateway->Send(alice, "web", {ab, "k1", ContentType::kText, "hi"});
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  CHECK(first->seq == 1);
  auto again = s.gateway->Send(alice, "web", {ab, "k1", ContentType::kText, "hi"});
  REQUIRE(again.ok());
  CHECK(again->duplicate);
  CHECK(again->id == first->id);
  REQUIRE(s.gateway->Drain().ok());
  REQUIRE(bob_sink->Of<NewMessageEvent>().size() >= 1);
  CHECK(bob_sink->Of<NewMessageEvent>()[0].message.content == "hi");
  CHECK(s.bus->SendResults(topics::Downstream("gw-a")) == 2);

  // No client_msg_id: the gateway makes one per send, so two sends are two messages.
  auto a = s.gateway->Send(alice, "web", {ab, "", ContentType::kText, "one"});
  auto b = s.gateway->Send(alice, "web", {ab, "", ContentType::kText, "two"});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->seq == 2);
  CHECK(b->seq == 3);
  CHECK(!b->duplicate);

  // Errors decided by the logic half come back through the send result.
  UserId carol = MustRegister(*s.gateway, "carol");
  auto denied = s.gateway->Send(carol, "web", {ab, "c1", ContentType::kText, "let me in"});
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  auto history = s.gateway->GetHistory(alice, ab, HistoryQuery{});
  REQUIRE(history.ok());
  CHECK(history->messages.size() == 3);
}

TEST_CASE("split halves: bad input fails at the gateway without a bus round trip") {
  Split s;
  UserId alice = MustRegister(*s.gateway, "alice");
  UserId bob = MustRegister(*s.gateway, "bob");
  s.bus->Reset();
  auto r = s.gateway->Send(alice, "web", {ConversationId::Direct(alice, bob), "k", ContentType::kText, ""});
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(s.bus->Count(std::string(topics::kUpstream)) == 0);
}

TEST_CASE("split halves: a send nobody answers fails with deadline_exceeded after send_timeout_ms") {
  // The gateway publishes to a bus no logic instance consumes.
  Split s(/*send_timeout_ms=*/300, /*gateway_bus=*/NewInProcessBus());
  UserId alice = MustRegister(*s.gateway, "alice");
  UserId bob = MustRegister(*s.gateway, "bob");
  auto start = std::chrono::steady_clock::now();
  auto r = s.gateway->Send(alice, "web", {ConversationId::Direct(alice, bob), "k", ContentType::kText, "hello?"});
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(r.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(5));
}

TEST_CASE("split halves: an engine with neither a logic half nor Options::logic is refused") {
  Options o = FastOptions();
  o.run_logic = false;
  o.run_tasks = false;
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
}
