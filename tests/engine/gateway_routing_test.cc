// Two engines sharing one store, bus and presence behave like two gateways of the split
// deployment: fanout is routed per gateway, one downstream record per gateway per delivery.
#include <doctest/doctest.h>

#include <map>
#include <mutex>

#include "im/engine.h"
#include "support/counting_bus.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::CountingBus;
using im::test::FastOptions;
using im::test::MustRegister;
using im::test::RecordingSink;

namespace {

// Counts records per topic.
struct TwoGateways {
  std::shared_ptr<CountingBus> bus = std::make_shared<CountingBus>(NewInProcessBus());
  std::unique_ptr<Engine> gw1, gw2;

  explicit TwoGateways(uint32_t realtime_max = 500, uint32_t batch = 1000) {
    Options o = FastOptions();
    o.store = NewMemoryStore();
    o.presence = NewMemoryPresence();
    o.bus = bus;
    o.realtime_fanout_max_members = realtime_max;
    o.fanout_batch_size = batch;
    o.gateway_id = "gw1";
    gw1 = Engine::Open(o).value();
    o.gateway_id = "gw2";
    o.node_id = 2;
    gw2 = Engine::Open(o).value();
  }
};

}  // namespace

TEST_CASE("routing: users on different gateways chat with one downstream record per gateway") {
  TwoGateways t;
  UserId alice = MustRegister(*t.gw1, "alice");
  UserId bob = MustRegister(*t.gw1, "bob");
  UserId carol = MustRegister(*t.gw1, "carol");
  auto alice_sink = std::make_shared<RecordingSink>();
  auto bob_sink = std::make_shared<RecordingSink>();
  auto carol_sink = std::make_shared<RecordingSink>();
  auto bob_laptop = std::make_shared<RecordingSink>();
  REQUIRE(t.gw1->Attach(alice, "phone", alice_sink).ok());
  REQUIRE(t.gw2->Attach(bob, "phone", bob_sink).ok());
  REQUIRE(t.gw2->Attach(carol, "phone", carol_sink).ok());
  REQUIRE(t.gw1->Attach(bob, "laptop", bob_laptop).ok());  // bob is on both gateways

  auto ab = ConversationId::Direct(alice, bob);
  REQUIRE(t.gw1->Send(alice, "phone", {ab, "m1", ContentType::kText, "cross-gateway"}).ok());
  REQUIRE(t.gw2->Send(bob, "phone", {ab, "m2", ContentType::kText, "and back"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  CHECK(bob_sink->Of<NewMessageEvent>().size() == 1);  // m1 only: m2 was sent from this device
  CHECK(bob_laptop->Of<NewMessageEvent>().size() == 2);
  REQUIRE(alice_sink->Of<NewMessageEvent>().size() == 1);
  CHECK(alice_sink->Of<NewMessageEvent>()[0].message.content == "and back");

  auto group = t.gw1->CreateGroup(alice, "trio", 0, test::OpenGroup()).value();
  REQUIRE(t.gw2->JoinGroup(bob, group.id).ok());
  REQUIRE(t.gw2->JoinGroup(carol, group.id).ok());
  REQUIRE(t.gw1->Drain().ok());
  t.bus->Reset();
  REQUIRE(t.gw1->Send(alice, "phone", {ConversationId::Group(group.id), "g1", ContentType::kText, "hi all"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  // bob and carol on gw2 share one record; alice's other devices and bob's laptop share gw1's.
  CHECK(t.bus->Count(topics::Downstream("gw2")) == 1);
  CHECK(t.bus->Count(topics::Downstream("gw1")) == 1);
  // The send went upstream once, and its ack came back to the sender's gateway only.
  CHECK(t.bus->Count(std::string(topics::kUpstream)) == 1);
  CHECK(t.bus->SendResults(topics::Downstream("gw1")) == 1);
  CHECK(t.bus->SendResults(topics::Downstream("gw2")) == 0);
  CHECK(carol_sink->Of<NewMessageEvent>().size() == 1);
  CHECK(bob_sink->Of<NewMessageEvent>().size() == 2);
  CHECK(bob_laptop->Of<NewMessageEvent>().size() == 3);
}

TEST_CASE("routing: a large group goes through fanout tasks with one downstream record per gateway per batch") {
  TwoGateways t(/*realtime_max=*/10, /*batch=*/25);
  UserId owner = MustRegister(*t.gw1, "owner");
  auto group = t.gw1->CreateGroup(owner, "large", 0, test::OpenGroup()).value();
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 60; ++i) {
    UserId u = MustRegister(*t.gw1, "user" + std::to_string(i));
    REQUIRE(t.gw1->JoinGroup(u, group.id).ok());
    sinks.push_back(std::make_shared<RecordingSink>());
    REQUIRE((i % 2 ? t.gw1 : t.gw2)->Attach(u, "d", sinks.back()).ok());
  }
  REQUIRE(t.gw1->Drain().ok());
  t.bus->Reset();
  REQUIRE(t.gw1->Send(owner, "phone", {ConversationId::Group(group.id), "big", ContentType::kText, "hello"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  for (auto& s : sinks) CHECK(s->Of<NewMessageEvent>().size() == 1);
  // 61 members in batches of 25: 3 batches (tasks), each batch one record per gateway.
  CHECK(t.bus->Count(std::string(topics::kTask)) == 3);
  CHECK(t.bus->Count(topics::Downstream("gw1")) == 3);
  CHECK(t.bus->Count(topics::Downstream("gw2")) == 3);
}
