// The pieces of the gateway's abuse limits on their own: client addresses behind proxies, keyed
// token buckets, the bounded auth pool and the connection caps.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "beast/bounded_pool.h"
#include "beast/client_address.h"
#include "beast/connection_limits.h"
#include "beast/keyed_limiter.h"
#include "beast/rate_limiter.h"

namespace im::test {
namespace {

namespace ip = boost::asio::ip;
using gateway::ClientAddress;
using gateway::ClientKey;
using gateway::TrustedProxies;

TrustedProxies Trust(std::vector<std::string> entries) {
  auto parsed = TrustedProxies::Parse(entries);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return std::move(parsed).value();
}

std::string Client(std::string_view peer, std::string_view forwarded_for, const TrustedProxies& trusted) {
  return ClientAddress(ip::make_address(peer), forwarded_for, trusted).to_string();
}

TEST_CASE("client address: X-Forwarded-For from a peer that is not a trusted proxy is ignored") {
  CHECK(Client("203.0.113.5", "198.51.100.1", TrustedProxies()) == "203.0.113.5");
  CHECK(Client("203.0.113.5", "198.51.100.1", Trust({"10.0.0.0/8"})) == "203.0.113.5");
}

TEST_CASE("client address: behind trusted proxies the rightmost untrusted address is the client") {
  TrustedProxies trusted = Trust({"10.0.0.0/8", "192.0.2.1"});
  // The client forged "1.1.1.1"; the first proxy appended the real client, the second proxy itself.
  CHECK(Client("10.1.2.3", "1.1.1.1, 198.51.100.7, 192.0.2.1", trusted) == "198.51.100.7");
  CHECK(Client("192.0.2.1", "198.51.100.7", trusted) == "198.51.100.7");
  // Only trusted hops: the leftmost one is the best we know.
  CHECK(Client("10.1.2.3", "10.4.4.4", trusted) == "10.4.4.4");
  // No header: the proxy itself.
  CHECK(Client("10.1.2.3", "", trusted) == "10.1.2.3");
  // A malformed entry stops the walk at the last good hop.
  CHECK(Client("10.1.2.3", "198.51.100.7, not-an-ip", trusted) == "10.1.2.3");
  CHECK(Client("10.1.2.3", "[2001:db8::9]:443", trusted) == "2001:db8::9");
  CHECK(Client("10.1.2.3", "198.51.100.7:5555", trusted) == "198.51.100.7");
}

TEST_CASE("client address: trusted networks match by prefix, IPv4 also when IPv4-mapped") {
  TrustedProxies trusted = Trust({"10.0.0.0/8", "fd00::/8"});
  CHECK(trusted.Contains(ip::make_address("10.255.0.1")));
  CHECK_FALSE(trusted.Contains(ip::make_address("11.0.0.1")));
  CHECK(trusted.Contains(ip::make_address("::ffff:10.0.0.1")));
  CHECK(trusted.Contains(ip::make_address("fd12::1")));
  CHECK_FALSE(trusted.Contains(ip::make_address("fe80::1")));
  CHECK_FALSE(TrustedProxies::Parse({"10.0.0.0/33"}).ok());
  CHECK_FALSE(TrustedProxies::Parse({"proxy.example.com"}).ok());
  CHECK_FALSE(TrustedProxies::Parse({"10.0.0.0/"}).ok());
}

TEST_CASE("client key: an IPv6 client counts by its /64, an IPv4-mapped one as IPv4") {
  CHECK(ClientKey(ip::make_address("2001:db8:1:2:aaaa::1")) == ClientKey(ip::make_address("2001:db8:1:2:bbbb::9")));
  CHECK(ClientKey(ip::make_address("2001:db8:1:2::1")) != ClientKey(ip::make_address("2001:db8:1:3::1")));
  CHECK(ClientKey(ip::make_address("::ffff:198.51.100.7")) == "198.51.100.7");
}

TEST_CASE("keyed limiter: a spent key waits whole seconds until its next token; other keys are unaffected") {
  gateway::KeyedLimiter limiter(0.5, 2);  // one token per 2 s
  auto t0 = gateway::KeyedLimiter::Clock::now();
  CHECK(limiter.TryTake("a", t0) == 0);
  CHECK(limiter.TryTake("a", t0) == 0);
  CHECK(limiter.TryTake("a", t0) == 2);
  CHECK(limiter.TryTake("b", t0) == 0);
  CHECK(limiter.TryTake("a", t0 + std::chrono::milliseconds(1500)) == 1);
  CHECK(limiter.TryTake("a", t0 + std::chrono::seconds(2)) == 0);
}

TEST_CASE("keyed limiter: Charge counts failures that Wait then reports, without creating buckets on Wait") {
  gateway::KeyedLimiter limiter(1.0 / 60, 2);
  auto t0 = gateway::KeyedLimiter::Clock::now();
  CHECK(limiter.Wait("alice", t0) == 0);
  CHECK(limiter.size() == 0);
  limiter.Charge("alice", t0);
  CHECK(limiter.Wait("alice", t0) == 0);
  limiter.Charge("alice", t0);
  CHECK(limiter.Wait("alice", t0) == 60);
}

TEST_CASE("keyed limiter: buckets that have refilled are forgotten, so many keys do not grow it without bound") {
  gateway::KeyedLimiter limiter(10, 1);  // refills in 0.1 s
  auto t = gateway::KeyedLimiter::Clock::now();
  for (int i = 0; i < 100'000; ++i) {
    t += std::chrono::milliseconds(1);
    (void)limiter.TryTake("client-" + std::to_string(i), t);
  }
  // At most the keys of the last ~100 ms, plus one sweep's slack.
  CHECK(limiter.size() < 2 * 1024);
}

TEST_CASE("keyed limiter: a rate of 0 is no limit") {
  gateway::KeyedLimiter limiter(0, 0);
  for (int i = 0; i < 1000; ++i) CHECK(limiter.TryTake("a") == 0);
  CHECK(limiter.size() == 0);
}

TEST_CASE("bounded pool: refuses a task at once when its threads are busy and its queue is full") {
  gateway::BoundedPool pool(1, 1);
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  auto blocker = [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
  };
  CHECK(pool.TryPost(blocker));  // running
  CHECK(pool.TryPost(blocker));  // queued
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(pool.TryPost(blocker));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(50));
  release = true;
  pool.Join();
  CHECK(ran == 2);
  CHECK(pool.load() == 0);
}

TEST_CASE("bounded pool: a task that throws frees its place and the pool carries on") {
  gateway::BoundedPool pool(1, 0);
  std::atomic<int> ran{0};
  CHECK(pool.TryPost([] { throw std::runtime_error("boom"); }));
  for (int i = 0; i < 200 && pool.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(pool.TryPost([&] { ++ran; }));
  pool.Join();
  CHECK(ran == 1);
}

TEST_CASE("connection limits: caps the total and each address, and a released slot is reusable") {
  gateway::ConnectionLimits limits(3, 2);
  using Refused = gateway::ConnectionLimits::Refused;
  Refused why;
  auto a1 = limits.TryAcquire("198.51.100.1", true, &why);
  auto a2 = limits.TryAcquire("198.51.100.1", true, &why);
  CHECK(a1);
  CHECK(a2);
  CHECK_FALSE(limits.TryAcquire("198.51.100.1", true, &why));
  CHECK(why == Refused::kPerIp);
  {
    auto b = limits.TryAcquire("198.51.100.2", true, &why);
    CHECK(b);
    CHECK_FALSE(limits.TryAcquire("198.51.100.3", true, &why));
    CHECK(why == Refused::kTotal);
  }
  // The per-address cap does not apply to an exempt peer (a trusted proxy).
  auto proxy = limits.TryAcquire("198.51.100.1", false, &why);
  CHECK(proxy);
  CHECK(limits.max_total() == 3);
}

TEST_CASE("connection limits: without a configured total the cap follows RLIMIT_NOFILE and leaves room") {
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  uint32_t derived = gateway::DefaultMaxConnections();
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (1u << 24)) {
    const auto soft = static_cast<uint32_t>(limit.rlim_cur);
    CHECK(derived >= soft / 2);                                 // most of them for connections
    CHECK(derived <= soft - std::min<uint32_t>(256, soft / 2));  // room for the stores
  }
  CHECK(gateway::ConnectionLimits(0, 0).max_total() == derived);
}

TEST_CASE("per-user frame limiter: buckets that have refilled are forgotten, so many users do not grow it without bound") {
  gateway::PerUserLimiter limiter(10, 1);  // refills in 0.1 s
  auto t = std::chrono::steady_clock::now();
  for (int64_t i = 1; i <= 100'000; ++i) {
    t += std::chrono::milliseconds(1);
    CHECK(limiter.TryTake(UserId{i}, t));
  }
  CHECK(limiter.size() < 2 * gateway::PerUserLimiter::kMinPruneAt);
  // A user who spent their burst is still limited: pruning forgets only full buckets.
  CHECK_FALSE(limiter.TryTake(UserId{100'000}, t));
}

}  // namespace
}  // namespace im::test
