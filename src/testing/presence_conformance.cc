// The Presence conformance suite: the executable form of the contract in include/im/presence.h.
#include "im/testing/presence_conformance.h"

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "conformance_check.h"

namespace im::testing {
namespace {

using conformance::Fail;
using conformance::StatusOf;

using Clock = std::chrono::steady_clock;
using Opts = PresenceConformanceOptions;

using Key = std::tuple<int64_t, std::string, std::string>;  // user, device, gateway
using RouteSet = std::multiset<Key>;

RouteSet SetOf(const std::vector<Route>& routes) {
  RouteSet out;
  for (const Route& r : routes) out.emplace(r.user.value, r.device, r.gateway_id);
  return out;
}
RouteSet SetOf(std::initializer_list<Route> routes) { return SetOf(std::vector<Route>(routes)); }

// Ids and names nobody else uses: cases may share one server with other cases and processes.
struct Names {
  Names() {
    std::random_device rd;
    std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(Clock::now().time_since_epoch().count()));
    base = 1'000'000'000'000 + int64_t(gen() % 1'000'000'000'000) * 1000;
    tag = "conformance-" + std::to_string(gen() % 1'000'000'000);
  }
  UserId User(int i) const { return UserId(base + i); }
  std::string Gateway(const std::string& name) const { return tag + "-" + name; }
  int64_t base;
  std::string tag;
};

Result<RouteSet> Routes(Presence& p, std::vector<UserId> users) {
  IM_ASSIGN_OR_RETURN(std::vector<Route> routes, p.Lookup(users));
  return SetOf(routes);
}

// Polls until `pred` holds or `timeout` passes; returns the last value of pred.
template <typename Pred>
bool Eventually(std::chrono::milliseconds timeout, Pred pred) {
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

Status RegisterLookupUnregister(Presence& p, const Opts& o) {
  Names n;
  const int64_t ttl = o.long_ttl.count();
  const std::string gw1 = n.Gateway("gw1"), gw2 = n.Gateway("gw2");
  UserId a = n.User(1), b = n.User(2), c = n.User(3);
  Route a_phone{a, "phone", gw1}, a_laptop{a, "laptop", gw2}, b_phone{b, "phone", gw1};
  ASSIGN_OK(RouteSet none, Routes(p, {a, b, c}));
  EXPECT(none.empty());
  EXPECT_OK(p.Register(a_phone, ttl));
  EXPECT_OK(p.Register(a_laptop, ttl));
  EXPECT_OK(p.Register(b_phone, ttl));
  EXPECT_OK(p.Register(a_phone, ttl));  // a refresh adds nothing
  ASSIGN_OK(RouteSet all, Routes(p, {a, b, c}));
  EXPECT(all == SetOf({a_phone, a_laptop, b_phone}));
  ASSIGN_OK(RouteSet only_b, Routes(p, {b}));
  EXPECT(only_b == SetOf({b_phone}));
  ASSIGN_OK(std::vector<Route> empty, p.Lookup({}));
  EXPECT(empty.empty());

  EXPECT_OK(p.Unregister(a_phone));
  ASSIGN_OK(RouteSet after, Routes(p, {a, b}));
  EXPECT(after == SetOf({a_laptop, b_phone}));
  // Unknown routes: no error, and a route of another gateway or device is not touched.
  EXPECT_OK(p.Unregister(a_phone));
  EXPECT_OK(p.Unregister(Route{a, "laptop", gw1}));
  EXPECT_OK(p.Unregister(Route{a, "tablet", gw2}));
  EXPECT_OK(p.Unregister(Route{c, "phone", gw1}));
  ASSIGN_OK(RouteSet still, Routes(p, {a, b, c}));
  EXPECT(still == SetOf({a_laptop, b_phone}));
  EXPECT_OK(p.Unregister(a_laptop));
  EXPECT_OK(p.Unregister(b_phone));
  ASSIGN_OK(RouteSet gone, Routes(p, {a, b, c}));
  EXPECT(gone.empty());
  return Status::Ok();
}

Status DeviceOnTwoGateways(Presence& p, const Opts& o) {
  Names n;
  const std::string gw1 = n.Gateway("gw1"), gw2 = n.Gateway("gw2");
  UserId a = n.User(1);
  // Binary-safe names: separators a backend might use in its keys.
  Route r1{a, "phone:1|x\n", gw1}, r2{a, "phone:1|x\n", gw2};
  EXPECT_OK(p.Register(r1, o.long_ttl.count()));
  EXPECT_OK(p.Register(r2, o.long_ttl.count()));
  ASSIGN_OK(RouteSet both, Routes(p, {a}));
  EXPECT(both == SetOf({r1, r2}));
  EXPECT_OK(p.Unregister(r1));
  ASSIGN_OK(RouteSet one, Routes(p, {a}));
  EXPECT(one == SetOf({r2}));
  EXPECT_OK(p.Unregister(r2));
  return Status::Ok();
}

Status BatchLookupAndOnline(Presence& p, const Opts& o) {
  Names n;
  const std::string gw1 = n.Gateway("gw1"), gw2 = n.Gateway("gw2");
  std::vector<UserId> users;
  RouteSet want;
  std::vector<bool> want_online;
  for (int i = 0; i < 600; ++i) {
    users.push_back(n.User(i));
    bool online = i % 3 == 0;
    want_online.push_back(online);
    if (!online) continue;
    Route r{n.User(i), "d" + std::to_string(i), i % 2 ? gw1 : gw2};
    EXPECT_OK(p.Register(r, o.long_ttl.count()));
    want.emplace(r.user.value, r.device, r.gateway_id);
    if (i % 9 == 0) {
      Route second{n.User(i), "second", gw1};
      EXPECT_OK(p.Register(second, o.long_ttl.count()));
      want.emplace(second.user.value, second.device, second.gateway_id);
    }
  }
  ASSIGN_OK(RouteSet got, Routes(p, users));
  EXPECT(got == want);
  ASSIGN_OK(std::vector<bool> online, p.Online(users));
  EXPECT(online == want_online);
  // Aligned with the input, duplicates and unknown users included.
  std::vector<UserId> mixed{n.User(3), n.User(1), n.User(3), n.User(100'000), n.User(0)};
  ASSIGN_OK(std::vector<bool> mixed_online, p.Online(mixed));
  EXPECT(mixed_online == (std::vector<bool>{true, false, true, false, true}));
  ASSIGN_OK(std::vector<bool> no_one, p.Online({}));
  EXPECT(no_one.empty());
  for (const auto& [user, device, gateway] : want) EXPECT_OK(p.Unregister(Route{UserId(user), device, gateway}));
  ASSIGN_OK(std::vector<bool> after, p.Online(users));
  EXPECT(after == std::vector<bool>(users.size(), false));
  return Status::Ok();
}

Status InvalidArguments(Presence& p, const Opts&) {
  Names n;
  const std::string gw = n.Gateway("gw");
  EXPECT_CODE(p.Register(Route{UserId(0), "phone", gw}, 1000), StatusCode::kInvalidArgument);
  EXPECT_CODE(p.Register(Route{UserId(-5), "phone", gw}, 1000), StatusCode::kInvalidArgument);
  EXPECT_CODE(p.Register(Route{n.User(1), "phone", ""}, 1000), StatusCode::kInvalidArgument);
  EXPECT_CODE(p.Register(Route{n.User(1), "phone", gw}, -1), StatusCode::kInvalidArgument);
  EXPECT_CODE(p.Unregister(Route{UserId(0), "phone", gw}), StatusCode::kInvalidArgument);
  EXPECT_CODE(p.Unregister(Route{n.User(1), "phone", ""}), StatusCode::kInvalidArgument);
  ASSIGN_OK(RouteSet none, Routes(p, {n.User(1)}));
  EXPECT(none.empty());
  // TTL 0: the backend's default, which is long enough to be seen.
  Route r{n.User(1), "phone", gw};
  EXPECT_OK(p.Register(r, 0));
  ASSIGN_OK(RouteSet one, Routes(p, {n.User(1)}));
  EXPECT(one == SetOf({r}));
  EXPECT_OK(p.Unregister(r));
  return Status::Ok();
}

Status RoutesExpire(Presence& p, const Opts& o) {
  Names n;
  const std::string gw = n.Gateway("gw");
  UserId a = n.User(1), b = n.User(2);
  Route a_short{a, "phone", gw}, a_long{a, "laptop", gw}, b_short{b, "phone", gw};
  EXPECT_OK(p.Register(a_long, o.long_ttl.count()));
  EXPECT_OK(p.Register(a_short, o.short_ttl.count()));
  EXPECT_OK(p.Register(b_short, o.short_ttl.count()));
  Status lookup_error;
  bool expired = Eventually(o.timeout, [&] {
    auto got = Routes(p, {a, b});
    if (!got.ok()) lookup_error = got.status();
    return got.ok() && *got == SetOf({a_long});
  });
  EXPECT_OK(lookup_error);
  EXPECT(expired);  // both short routes expired, the long one did not
  ASSIGN_OK(std::vector<bool> online, p.Online(std::vector<UserId>{a, b}));
  EXPECT(online == (std::vector<bool>{true, false}));
  // An expired route comes back with a new Register.
  EXPECT_OK(p.Register(b_short, o.long_ttl.count()));
  ASSIGN_OK(RouteSet back, Routes(p, {b}));
  EXPECT(back == SetOf({b_short}));
  EXPECT_OK(p.Unregister(a_long));
  EXPECT_OK(p.Unregister(b_short));
  return Status::Ok();
}

// A heartbeat is a Register of a live route: it sets the expiry to ttl after itself, longer or
// shorter than before.
Status RefreshMovesExpiry(Presence& p, const Opts& o) {
  Names n;
  const std::string gw = n.Gateway("gw");
  UserId a = n.User(1), control = n.User(2);
  Route refreshed{a, "phone", gw}, lapsing{control, "phone", gw};
  EXPECT_OK(p.Register(refreshed, o.short_ttl.count()));
  EXPECT_OK(p.Register(lapsing, o.short_ttl.count()));
  EXPECT_OK(p.Register(refreshed, o.long_ttl.count()));  // the heartbeat
  bool lapsed = Eventually(o.timeout, [&] {
    auto got = Routes(p, {control});
    return got.ok() && got->empty();
  });
  EXPECT(lapsed);  // the route that was not refreshed expired…
  ASSIGN_OK(RouteSet kept, Routes(p, {a}));
  EXPECT(kept == SetOf({refreshed}));  // …and the refreshed one, registered at the same time, lives
  // A shorter TTL shortens the expiry.
  EXPECT_OK(p.Register(refreshed, o.short_ttl.count()));
  bool shortened = Eventually(o.timeout, [&] {
    auto got = Routes(p, {a});
    return got.ok() && got->empty();
  });
  EXPECT(shortened);
  return Status::Ok();
}

// A gateway that stops heartbeating loses all its routes; other gateways keep theirs.
Status DeadGatewayExpires(Presence& p, const Opts& o) {
  Names n;
  const std::string dead = n.Gateway("dead"), alive = n.Gateway("alive");
  std::vector<UserId> users;
  RouteSet survivors;
  for (int i = 0; i < 20; ++i) {
    users.push_back(n.User(i));
    EXPECT_OK(p.Register(Route{n.User(i), "phone", dead}, o.short_ttl.count()));
    if (i % 4 == 0) {
      Route r{n.User(i), "laptop", alive};
      EXPECT_OK(p.Register(r, o.long_ttl.count()));
      survivors.emplace(r.user.value, r.device, r.gateway_id);
    }
  }
  bool expired = Eventually(o.timeout, [&] {
    auto got = Routes(p, users);
    return got.ok() && *got == survivors;
  });
  EXPECT(expired);
  ASSIGN_OK(std::vector<bool> online, p.Online(users));
  for (int i = 0; i < 20; ++i) EXPECT(online[i] == (i % 4 == 0));
  for (const auto& [user, device, gateway] : survivors) EXPECT_OK(p.Unregister(Route{UserId(user), device, gateway}));
  return Status::Ok();
}

Status UnregisterGatewayRemovesItsRoutes(Presence& p, const Opts& o) {
  Names n;
  const std::string gw1 = n.Gateway("gw1"), gw2 = n.Gateway("gw2");
  std::vector<UserId> users;
  RouteSet kept;
  for (int i = 0; i < 30; ++i) {
    users.push_back(n.User(i));
    EXPECT_OK(p.Register(Route{n.User(i), "phone", gw1}, o.long_ttl.count()));
    EXPECT_OK(p.Register(Route{n.User(i), "tablet", gw1}, o.long_ttl.count()));
    if (i % 3 == 0) {
      Route r{n.User(i), "laptop", gw2};
      EXPECT_OK(p.Register(r, o.long_ttl.count()));
      kept.emplace(r.user.value, r.device, r.gateway_id);
    }
  }
  EXPECT_OK(p.UnregisterGateway(gw1));
  ASSIGN_OK(RouteSet after, Routes(p, users));
  EXPECT(after == kept);
  ASSIGN_OK(std::vector<bool> online, p.Online(users));
  for (int i = 0; i < 30; ++i) EXPECT(online[i] == (i % 3 == 0));
  EXPECT_OK(p.UnregisterGateway(gw1));  // nothing left: still ok
  EXPECT_OK(p.UnregisterGateway(n.Gateway("never-seen")));
  EXPECT_CODE(p.UnregisterGateway(""), StatusCode::kInvalidArgument);
  // The gateway can come back.
  Route back{n.User(1), "phone", gw1};
  EXPECT_OK(p.Register(back, o.long_ttl.count()));
  ASSIGN_OK(RouteSet one, Routes(p, {n.User(1)}));
  EXPECT(one == SetOf({back}));
  EXPECT_OK(p.UnregisterGateway(gw1));
  EXPECT_OK(p.UnregisterGateway(gw2));
  ASSIGN_OK(RouteSet none, Routes(p, users));
  EXPECT(none.empty());
  return Status::Ok();
}

// Eight gateways register and unregister routes of the same users at once, while a reader looks
// them up; the end state is exactly what the writers left.
Status ConcurrentUpdates(Presence& p, const Opts& o) {
  Names n;
  constexpr int kThreads = 8, kPerThread = 60, kUsers = 10;
  std::vector<UserId> users;
  for (int u = 0; u < kUsers; ++u) users.push_back(n.User(u));
  std::atomic<int> errors{0};
  std::atomic<bool> writing{true};
  std::mutex first_error_mu;
  std::string first_error;
  auto note = [&](const Status& s) {
    if (s.ok()) return;
    errors++;
    std::lock_guard lock(first_error_mu);
    if (first_error.empty()) first_error = s.ToString();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string gw = n.Gateway("gw" + std::to_string(t));
      for (int i = 0; i < kPerThread; ++i) {
        note(p.Register(Route{users[i % kUsers], "d" + std::to_string(i), gw}, o.long_ttl.count()));
        if (i % 2 == 1) note(p.Unregister(Route{users[i % kUsers], "d" + std::to_string(i), gw}));
      }
    });
  }
  std::thread reader([&] {
    while (writing) {
      note(p.Lookup(users).status());
      note(p.Online(users).status());
    }
  });
  for (auto& th : threads) th.join();
  writing = false;
  reader.join();
  if (errors > 0) return Fail(__FILE__, __LINE__, "no errors from concurrent calls, got " + first_error);
  RouteSet want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 2)
      want.emplace(users[i % kUsers].value, "d" + std::to_string(i), n.Gateway("gw" + std::to_string(t)));
  }
  ASSIGN_OK(RouteSet got, Routes(p, users));
  EXPECT(got == want);
  for (const auto& [user, device, gateway] : want) EXPECT_OK(p.Unregister(Route{UserId(user), device, gateway}));
  ASSIGN_OK(RouteSet none, Routes(p, users));
  EXPECT(none.empty());
  return Status::Ok();
}

}  // namespace

std::vector<PresenceConformanceCase> PresenceConformanceCases(PresenceConformanceOptions options) {
  auto bind = [options](Status (*f)(Presence&, const Opts&)) {
    return [options, f](Presence& p) { return f(p, options); };
  };
  std::vector<PresenceConformanceCase> cases = {
      {"routes: register, lookup, unregister", bind(RegisterLookupUnregister)},
      {"routes: one device on two gateways, binary-safe names", bind(DeviceOnTwoGateways)},
      {"lookup: batch of routes and online status", bind(BatchLookupAndOnline)},
      {"errors: invalid routes and TTLs", bind(InvalidArguments)},
      {"ttl: routes expire when not refreshed", bind(RoutesExpire)},
      {"ttl: a heartbeat moves the expiry", bind(RefreshMovesExpiry)},
      {"ttl: a gateway that stops heartbeating loses its routes", bind(DeadGatewayExpires)},
      {"concurrency: several gateways update the same users", bind(ConcurrentUpdates)},
  };
  if (options.unregister_gateway) {
    cases.push_back({"gateways: unregistering a gateway removes its routes", bind(UnregisterGatewayRemovesItsRoutes)});
  }
  return cases;
}

std::vector<std::string> RunPresenceConformance(const std::function<std::shared_ptr<Presence>()>& make_presence,
                                                PresenceConformanceOptions options, bool parallel) {
  auto cases = PresenceConformanceCases(options);
  std::vector<std::string> failures(cases.size());
  auto run = [&](size_t i) {
    auto presence = make_presence();
    Status s = presence ? cases[i].run(*presence) : Status::Internal("the factory returned no presence");
    if (!s.ok()) failures[i] = cases[i].name + ": " + s.message();
  };
  if (parallel) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < cases.size(); ++i) threads.emplace_back(run, i);
    for (auto& t : threads) t.join();
  } else {
    for (size_t i = 0; i < cases.size(); ++i) run(i);
  }
  std::erase_if(failures, [](const std::string& f) { return f.empty(); });
  return failures;
}

}  // namespace im::testing
