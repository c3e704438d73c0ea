// Two engines sharing one Redis (each with its own RedisPresence, as two im-gateway processes
// would) and one in-process bus: fanout reaches the right gateway, and survives a Redis restart
// once the gateways' heartbeats have registered their sessions again.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "im/engine.h"
#include "im/redis_presence.h"
#include "redis/redis_fixture.h"
#include "support/counting_bus.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::CountingBus;
using im::test::FastOptions;
using im::test::MustRegister;
using im::test::RecordingSink;
using im::test::RedisServer;
using Clock = std::chrono::steady_clock;

namespace {

struct TwoGateways {
  std::unique_ptr<RedisServer> redis;
  std::shared_ptr<CountingBus> bus = std::make_shared<CountingBus>(NewInProcessBus());
  std::unique_ptr<Engine> gw1, gw2;

  explicit TwoGateways(int64_t presence_ttl_ms = 120'000) {
    auto started = RedisServer::Start();
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    redis = std::move(started).value();
    Options o = FastOptions();
    o.store = NewMemoryStore();
    o.bus = bus;
    o.presence_ttl_ms = presence_ttl_ms;
    auto ro = redis->PresenceOptions();
    ro.command_timeout_ms = 1000;
    auto p1 = OpenRedisPresence(ro);
    auto p2 = OpenRedisPresence(ro);
    REQUIRE_MESSAGE(p1.ok(), p1.status().ToString());
    REQUIRE_MESSAGE(p2.ok(), p2.status().ToString());
    o.presence = *p1;
    o.gateway_id = "gw1";
    gw1 = Engine::Open(o).value();
    o.presence = *p2;
    o.gateway_id = "gw2";
    o.node_id = 2;
    gw2 = Engine::Open(o).value();
  }
  ~TwoGateways() {
    gw1.reset();
    gw2.reset();
  }
};

template <typename Pred>
bool Eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("engine with redis presence: a message is routed to the recipient's gateway only") {
  TwoGateways t;
  UserId alice = MustRegister(*t.gw1, "alice");
  UserId bob = MustRegister(*t.gw1, "bob");
  auto alice_sink = std::make_shared<RecordingSink>();
  auto bob_sink = std::make_shared<RecordingSink>();
  REQUIRE(t.gw1->Attach(alice, "phone", alice_sink).ok());
  REQUIRE(t.gw2->Attach(bob, "phone", bob_sink).ok());
  std::vector<UserId> both{alice, bob};
  auto online = t.gw1->GetPresence(both);
  REQUIRE(online.ok());
  CHECK(*online == std::vector<bool>{true, true});

  // The attaches' presence announcements are handled before counting: one handled after the send
  // would find the new conversation and tell bob, a second record to gw2.
  REQUIRE(t.gw1->Drain().ok());
  t.bus->Reset();
  auto ab = ConversationId::Direct(alice, bob);
  REQUIRE(t.gw1->Send(alice, "phone", {ab, "m1", ContentType::kText, "via redis"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  REQUIRE(bob_sink->Of<NewMessageEvent>().size() == 1);
  CHECK(bob_sink->Of<NewMessageEvent>()[0].message.content == "via redis");
  CHECK(alice_sink->Of<NewMessageEvent>().empty());  // the sending device is excluded
  // One record to each gateway holding a session of the conversation: bob's gw2, and gw1 for
  // alice's other devices (none here besides the sender).
  CHECK(t.bus->Count(topics::Downstream("gw2")) == 1);
  CHECK(t.bus->Count(topics::Downstream("gw1")) <= 1);
}

TEST_CASE("engine with redis presence: after a Redis restart heartbeats restore the routes and delivery resumes") {
  TwoGateways t(/*presence_ttl_ms=*/1500);  // heartbeat every 500 ms
  UserId alice = MustRegister(*t.gw1, "alice");
  UserId bob = MustRegister(*t.gw1, "bob");
  auto alice_sink = std::make_shared<RecordingSink>();
  auto bob_sink = std::make_shared<RecordingSink>();
  REQUIRE(t.gw1->Attach(alice, "phone", alice_sink).ok());
  REQUIRE(t.gw2->Attach(bob, "phone", bob_sink).ok());
  auto ab = ConversationId::Direct(alice, bob);
  REQUIRE(t.gw1->Send(alice, "phone", {ab, "m1", ContentType::kText, "before"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  REQUIRE(bob_sink->Of<NewMessageEvent>().size() == 1);

  t.redis->Kill();
  std::vector<UserId> users{bob};
  auto t0 = Clock::now();
  auto down = t.gw1->GetPresence(users);
  CHECK(down.status().code() == StatusCode::kUnavailable);
  CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 3.0);
  // Sessions cannot attach while presence is down (the route could not be registered).
  auto laptop_sink = std::make_shared<RecordingSink>();
  CHECK(t.gw2->Attach(bob, "laptop", laptop_sink).status().code() == StatusCode::kUnavailable);
  // A send is persisted and acknowledged; its fanout fails (the recipient syncs later).
  auto during = t.gw1->Send(alice, "phone", {ab, "m2", ContentType::kText, "during"});
  CHECK(during.ok());

  REQUIRE_MESSAGE(t.redis->Restart().ok(), t.redis->LogTail());
  // The restarted Redis is empty; the gateways' heartbeats register their sessions again.
  CHECK(Eventually([&] {
    auto online = t.gw1->GetPresence(users);
    return online.ok() && online->at(0);
  }));
  bob_sink->Clear();
  REQUIRE(t.gw1->Send(alice, "phone", {ab, "m3", ContentType::kText, "after"}).ok());
  REQUIRE(t.gw1->Drain().ok());
  auto got = bob_sink->Of<NewMessageEvent>();
  REQUIRE(got.size() == 1);
  CHECK(got[0].message.content == "after");
  // And the history has all three, the one sent during the outage included.
  auto history = t.gw2->GetHistory(bob, ab, HistoryQuery{0, 0, 10});
  REQUIRE(history.ok());
  CHECK(history->messages.size() == 3);
}
