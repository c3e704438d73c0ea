// The engine with a Kafka bus: two engines (two gateway processes of the split deployment) share
// a store and presence, and each has its own Kafka bus on the mock cluster. Deliveries to the
// other gateway's users, and large-group fanout tasks, cross Kafka.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <thread>

#include "im/engine.h"
#include "im/kafka_bus.h"
#include "kafka/mock_kafka.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;
using im::test::MockBusOptions;
using im::test::MustRegister;
using im::test::RecordingSink;
using im::test::UniqueName;
using namespace std::chrono_literals;

namespace {

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The distinct messages a sink received (delivery is at-least-once).
std::set<MessageId> Messages(RecordingSink& sink) {
  std::set<MessageId> ids;
  for (const auto& e : sink.Of<NewMessageEvent>()) ids.insert(e.message.id);
  return ids;
}

}  // namespace

TEST_CASE("engine on the kafka bus: direct and large-group messages cross the bus between gateways") {
  std::shared_ptr<KafkaBus> bus1 = KafkaBus::Open(MockBusOptions()).value();
  std::shared_ptr<KafkaBus> bus2 = KafkaBus::Open(MockBusOptions()).value();
  Options o = FastOptions();
  o.store = NewMemoryStore();
  o.presence = NewMemoryPresence();
  o.realtime_fanout_max_members = 3;  // the group below goes through fanout tasks (im-task)...
  o.fanout_batch_size = 2;            // ...in batches of two members
  // The first sends can wait out the consumer groups' first rebalances on the mock cluster
  // (seconds each on a loaded 2-core machine): this test is about crossing the bus, not latency.
  o.send_timeout_ms = 30'000;
  o.bus = bus1;
  o.gateway_id = UniqueName("gw1");
  auto gw1 = Engine::Open(o).value();
  o.bus = bus2;
  o.gateway_id = UniqueName("gw2");
  o.node_id = 2;
  auto gw2 = Engine::Open(o).value();

  UserId alice = MustRegister(*gw1, "alice"), bob = MustRegister(*gw1, "bob");
  UserId carol = MustRegister(*gw1, "carol"), dave = MustRegister(*gw1, "dave");
  auto alice_phone = std::make_shared<RecordingSink>(), alice_laptop = std::make_shared<RecordingSink>();
  auto bob_sink = std::make_shared<RecordingSink>(), carol_sink = std::make_shared<RecordingSink>();
  auto dave_sink = std::make_shared<RecordingSink>();
  REQUIRE(gw1->Attach(alice, "phone", alice_phone).ok());
  REQUIRE(gw1->Attach(alice, "laptop", alice_laptop).ok());
  REQUIRE(gw2->Attach(bob, "phone", bob_sink).ok());
  REQUIRE(gw2->Attach(carol, "phone", carol_sink).ok());
  REQUIRE(gw1->Attach(dave, "phone", dave_sink).ok());

  // alice (gw1) -> bob (gw2), and back.
  auto ab = ConversationId::Direct(alice, bob);
  auto hello = gw1->Send(alice, "phone", {ab, "m1", ContentType::kText, "hello over kafka"});
  REQUIRE(hello.ok());
  auto reply = gw2->Send(bob, "phone", {ab, "m2", ContentType::kText, "and back"});
  REQUIRE(reply.ok());
  CHECK(WaitFor([&] { return Messages(*bob_sink).contains(hello->id); }));
  CHECK(WaitFor([&] { return Messages(*alice_phone).contains(reply->id); }));
  CHECK(WaitFor([&] { return Messages(*alice_laptop) == std::set<MessageId>{hello->id, reply->id}; }));
  CHECK(Messages(*bob_sink) == std::set<MessageId>{hello->id});  // the reply came from bob's only device

  // A group of four: fanout tasks on im-task, handled by whichever engine's task consumer owns
  // the partition, one downstream record per gateway and batch.
  auto group = gw1->CreateGroup(alice, "four", 0, test::OpenGroup()).value();
  for (UserId u : {bob, carol, dave}) REQUIRE(gw1->JoinGroup(u, group.id).ok());
  auto g = ConversationId::Group(group.id);
  auto to_group = gw1->Send(alice, "phone", {g, "g1", ContentType::kText, "to the group"});
  REQUIRE(to_group.ok());
  for (auto* sink : {bob_sink.get(), carol_sink.get(), dave_sink.get(), alice_laptop.get()}) {
    CHECK(WaitFor([&] { return Messages(*sink).contains(to_group->id); }));
  }
  CHECK(!Messages(*alice_phone).contains(to_group->id));  // the sending device gets the ack instead

  // Both gateways drain: everything they published is handled and committed.
  CHECK(gw1->Drain().ok());
  CHECK(gw2->Drain().ok());
  auto history = gw2->GetHistory(carol, g, HistoryQuery{0, 0, 10});
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 1);
  CHECK(history->messages[0].seq == 1);
  CHECK(bus1->Stats().delivery_errors == 0);
  CHECK(bus2->Stats().delivery_errors == 0);
  CHECK(bus1->Stats().handled + bus2->Stats().handled > 0);
}
