// The Redis presence against a real redis-server started by the test (redis_fixture.h).
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "im/redis_presence.h"
#include "im/testing/presence_conformance.h"
#include "redis/redis_fixture.h"

using namespace im;
using im::test::RedisServer;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<RedisServer> MustStartRedis() {
  auto server = RedisServer::Start();
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  return std::move(server).value();
}

std::shared_ptr<Presence> MustOpen(const RedisPresenceOptions& o) {
  auto p = OpenRedisPresence(o);
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  return *p;
}

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

TEST_CASE("redis presence passes the presence conformance suite") {
  auto server = MustStartRedis();
  for (auto& c : im::testing::PresenceConformanceCases()) {
    auto presence = MustOpen(server->PresenceOptions());
    Status s = c.run(*presence);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
}

TEST_CASE("redis presence passes the presence conformance suite with every case at once") {
  auto server = MustStartRedis();
  // Each case its own presence (as separate gateway processes would), all on one server.
  auto failures = im::testing::RunPresenceConformance([&] { return MustOpen(server->PresenceOptions()); }, {},
                                                      /*parallel=*/true);
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

TEST_CASE("redis presence: one presence with a pool of one serves the cases at once") {
  auto server = MustStartRedis();
  auto o = server->PresenceOptions();
  o.pool_size = 1;
  o.command_timeout_ms = 10'000;  // calls queue for the one connection
  auto shared = MustOpen(o);
  auto failures = im::testing::RunPresenceConformance([&] { return shared; }, {}, /*parallel=*/true);
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

TEST_CASE("redis presence: bad options and an unreachable server") {
  RedisPresenceOptions o;
  o.port = 0;
  CHECK(OpenRedisPresence(o).status().code() == StatusCode::kInvalidArgument);
  o.port = 6379;
  o.pool_size = 0;
  CHECK(OpenRedisPresence(o).status().code() == StatusCode::kInvalidArgument);
  o.pool_size = 1;
  o.ttl_ms = 0;
  CHECK(OpenRedisPresence(o).status().code() == StatusCode::kInvalidArgument);
  o.ttl_ms = 1000;
  o.command_timeout_ms = 0;
  CHECK(OpenRedisPresence(o).status().code() == StatusCode::kInvalidArgument);

  // A port nobody listens on (a server that was started and killed).
  auto server = MustStartRedis();
  auto unreachable = server->PresenceOptions();
  server->Kill();
  auto t0 = Clock::now();
  auto p = OpenRedisPresence(unreachable);
  CHECK(p.status().code() == StatusCode::kUnavailable);
  CHECK(SecondsSince(t0) < 5);
}

TEST_CASE("redis presence: AUTH and SELECT") {
  auto server = MustStartRedis();
  auto o = server->PresenceOptions();
  o.db = 3;
  auto presence = MustOpen(o);
  std::vector<UserId> users{UserId(42)};
  REQUIRE(presence->Register(Route{UserId(42), "phone", "gw"}, 60'000).ok());
  // Another database does not see the route.
  o.db = 4;
  auto other = MustOpen(o);
  auto none = other->Lookup(users);
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto one = presence->Lookup(users);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  // A password the server does not have: refused, as unavailable with Redis's reason.
  o.password = "secret";
  auto refused = OpenRedisPresence(o);
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  CHECK(refused.status().message().find("AUTH") != std::string::npos);
}

TEST_CASE("redis presence: an outage fails calls with unavailable within the timeout, then calls work again") {
  auto server = MustStartRedis();
  auto o = server->PresenceOptions();
  o.command_timeout_ms = 1000;
  auto presence = MustOpen(o);
  Route r{UserId(7), "phone", "gw1"};
  std::vector<UserId> users{UserId(7)};
  REQUIRE(presence->Register(r, 60'000).ok());

  SUBCASE("server killed and restarted (no data survives)") {
    server->Kill();
    for (int i = 0; i < 3; ++i) {
      auto t0 = Clock::now();
      CHECK(presence->Register(r, 60'000).code() == StatusCode::kUnavailable);
      CHECK(presence->Lookup(users).status().code() == StatusCode::kUnavailable);
      CHECK(presence->Online(users).status().code() == StatusCode::kUnavailable);
      CHECK(SecondsSince(t0) < 3 * 1.0 + 2);  // three calls, each bounded by command_timeout_ms
    }
    REQUIRE_MESSAGE(server->Restart().ok(), server->LogTail());
    // The restarted server is empty (and has no scripts loaded: NOSCRIPT is handled).
    auto empty = presence->Lookup(users);
    REQUIRE_MESSAGE(empty.ok(), empty.status().ToString());
    CHECK(empty->empty());
    // The next heartbeat brings the route back.
    REQUIRE(presence->Register(r, 60'000).ok());
    auto back = presence->Lookup(users);
    REQUIRE(back.ok());
    CHECK(back->size() == 1);
  }

  SUBCASE("server frozen (SIGSTOP): calls time out instead of hanging") {
    server->Pause();
    auto t0 = Clock::now();
    CHECK(presence->Lookup(users).status().code() == StatusCode::kUnavailable);
    double took = SecondsSince(t0);
    CHECK(took >= 0.9);  // it did wait for the server…
    CHECK(took < 3.0);   // …but not much past command_timeout_ms
    t0 = Clock::now();
    CHECK(presence->Register(r, 60'000).code() == StatusCode::kUnavailable);
    CHECK(SecondsSince(t0) < 3.0);
    server->Resume();
    // Frozen, not restarted: the data is still there.
    auto still = presence->Lookup(users);
    REQUIRE_MESSAGE(still.ok(), still.status().ToString());
    CHECK(still->size() == 1);
  }
}
