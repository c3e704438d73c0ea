// The gateway half heartbeats its routes: every local session's route is registered again every
// presence_ttl_ms/3, so a presence that lost its state (a Redis restart) gets it back.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "im/engine.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;
using im::test::MustRegister;
using im::test::RecordingSink;

namespace {

class CountingPresence : public PresenceWrapper {
 public:
  using PresenceWrapper::PresenceWrapper;
  Status Register(const Route& r, int64_t ttl) override {
    registers++;
    last_ttl = ttl;
    return PresenceWrapper::Register(r, ttl);
  }
  std::atomic<int> registers{0};
  std::atomic<int64_t> last_ttl{0};
};

template <typename Pred>
bool Eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

TEST_CASE("presence heartbeat: the session hub re-registers its routes and restores lost ones") {
  auto memory = NewMemoryPresence();
  auto presence = std::make_shared<CountingPresence>(memory);
  Options o = FastOptions();
  o.presence = presence;
  o.presence_ttl_ms = 600;  // refreshed every 200 ms
  o.gateway_id = "gw-heartbeat";
  auto engine = Engine::Open(o).value();
  UserId alice = MustRegister(*engine, "alice");
  auto sink = std::make_shared<RecordingSink>();
  auto session = engine->Attach(alice, "phone", sink);
  REQUIRE(session.ok());
  const int after_attach = presence->registers.load();
  CHECK(after_attach >= 1);
  // Heartbeats keep coming, with the engine's TTL.
  CHECK(Eventually([&] { return presence->registers.load() >= after_attach + 3; }));
  CHECK(presence->last_ttl.load() == 600);

  // The presence forgets the route (a restarted Redis): the next heartbeat puts it back.
  std::vector<UserId> users{alice};
  REQUIRE(memory->Unregister(Route{alice, "phone", "gw-heartbeat"}).ok());
  CHECK(Eventually([&] {
    auto online = engine->GetPresence(users);
    return online.ok() && online->at(0);
  }));

  // Detached: no more heartbeats for that route, and it is gone at once.
  engine->Detach(*session);
  auto online = engine->GetPresence(users);
  REQUIRE(online.ok());
  CHECK_FALSE(online->at(0));
  auto routes = memory->Lookup(users);
  REQUIRE(routes.ok());
  CHECK(routes->empty());
}
