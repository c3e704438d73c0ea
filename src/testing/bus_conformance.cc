// The Bus conformance suite: the executable form of the contract in include/im/bus.h (the batch
// cases are in bus_conformance_batch.cc; shared helpers in bus_conformance_check.h).
#include "im/testing/bus_conformance.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <stop_token>
#include <thread>

#include "bus_conformance_check.h"

namespace im::testing {
namespace {

using namespace bus_conformance;

// The per-key order of the contract, checked as records are handled. Record n of a key (the
// n-th published with that key, from 0) may be handled only once records 0..n-1 have all been
// handled at least once, by any subscriber; and in each handler's view, the records it sees for
// the first time come in increasing n (redeliveries of records it already saw may come between).
class OrderCheck {
 public:
  void Handled(int handler, const std::string& key, int64_t n) {
    std::lock_guard lock(mu_);
    Key& k = keys_[key];
    if (n > k.prefix + 1 && violation_.empty()) {
      violation_ =
          "record " + std::to_string(n) + " of key '" + key + "' handled before record " + std::to_string(k.prefix + 1);
    }
    if (n == k.prefix + 1) {
      k.prefix = n;
      while (k.beyond.erase(k.prefix + 1)) k.prefix++;
    } else if (n > k.prefix + 1) {
      k.beyond.insert(n);
    }
    View& v = views_[{handler, key}];
    if (v.seen.insert(n).second) {
      if (n < v.max_first && violation_.empty()) {
        violation_ = "handler " + std::to_string(handler) + " saw record " + std::to_string(n) + " of key '" + key +
                     "' for the first time after record " + std::to_string(v.max_first);
      }
      v.max_first = std::max(v.max_first, n);
    }
  }
  // Records 0..count-1 of every key in `counts` were handled.
  bool Complete(const std::map<std::string, int64_t>& counts) {
    std::lock_guard lock(mu_);
    for (const auto& [key, count] : counts) {
      auto it = keys_.find(key);
      int64_t have = it == keys_.end() ? 0 : it->second.prefix + 1;
      if (have < count) return false;
    }
    return true;
  }
  std::string Violation() {
    std::lock_guard lock(mu_);
    return violation_;
  }

 private:
  struct Key {
    int64_t prefix = -1;  // records 0..prefix were all handled
    std::set<int64_t> beyond;
  };
  struct View {
    std::set<int64_t> seen;
    int64_t max_first = -1;
  };
  std::mutex mu_;
  std::map<std::string, Key> keys_;
  std::map<std::pair<int, std::string>, View> views_;
  std::string violation_;
};

// Collects the first error a background publisher met.
struct PublishErrors {
  std::mutex mu;
  std::string first;
  void Add(const Status& s) {
    std::lock_guard lock(mu);
    if (first.empty()) first = s.ToString();
  }
  std::string Get() {
    std::lock_guard lock(mu);
    return first;
  }
};

// ---- cases ----

Status DeliveryIntact(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("delivery");
  auto log = std::make_shared<Log>();
  ASSIGN_OK(auto sub, bus.Subscribe(topic, topic + "-g", Recorder(log)));

  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  std::vector<std::pair<std::string, std::string>> sent;
  for (int i = 0; i < 20; ++i)
    sent.emplace_back("key-" + std::to_string(i), "payload " + std::to_string(i) + all_bytes);
  sent.emplace_back("", "a record with an empty key");
  sent.emplace_back("empty-payload", "");
  sent.emplace_back("large", std::string(256 * 1024, 'x'));
  sent.emplace_back("a key/with slashes and \xe2\x98\x83", "non-ASCII key");
  for (const auto& [k, p] : sent) EXPECT_OK(bus.Publish(topic, k, p));

  auto distinct = [&] {
    std::set<std::pair<std::string, std::string>> got;
    for (const auto& r : log->Snapshot()) got.emplace(r.key, r.payload);
    return got;
  };
  WAIT(distinct().size() >= sent.size());
  EXPECT_OK(bus.Drain());
  const std::set<std::pair<std::string, std::string>> want(sent.begin(), sent.end());
  EXPECT(distinct() == want);
  for (const auto& r : log->Snapshot()) {
    EXPECT_MSG(r.topic == topic, r.topic);
    EXPECT_MSG(r.attempt == 1, "attempt " + std::to_string(r.attempt));
  }
  return Status::Ok();
}

Status PerKeyOrder(Bus& bus, const BusConformanceOptions& opts) {
  constexpr int kThreads = 4, kKeysPerThread = 8, kRounds = 40;
  const std::string topic = Unique("order");
  auto one = std::make_shared<OrderCheck>(), other = std::make_shared<OrderCheck>();
  auto handler = [](std::shared_ptr<OrderCheck> check) {
    return [check](const BusRecord& r) {
      check->Handled(0, r.key, std::stoll(r.payload));
      return Status::Ok();
    };
  };
  // Two groups: each sees every key in order.
  ASSIGN_OK(auto sub1, bus.Subscribe(topic, topic + "-g1", handler(one)));
  ASSIGN_OK(auto sub2, bus.Subscribe(topic, topic + "-g2", handler(other)));

  std::map<std::string, int64_t> counts;
  std::vector<std::vector<std::string>> keys(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int j = 0; j < kKeysPerThread; ++j) {
      // Keys are owned by one thread each (order across threads is not defined); thread 0
      // also owns the empty key.
      std::string key = t == 0 && j == 0 ? "" : "k" + std::to_string(t) + "-" + std::to_string(j);
      keys[t].push_back(key);
      counts[key] = kRounds;
    }
  }
  auto errors = std::make_shared<PublishErrors>();
  {
    std::vector<std::jthread> publishers;
    for (int t = 0; t < kThreads; ++t) {
      publishers.emplace_back([&bus, &topic, errors, mine = keys[t]] {
        for (int r = 0; r < kRounds; ++r) {
          for (const auto& k : mine) {
            Status s = bus.Publish(topic, k, std::to_string(r));
            if (!s.ok()) errors->Add(s);
          }
        }
      });
    }
  }
  EXPECT_MSG(errors->Get().empty(), errors->Get());
  WAIT(one->Complete(counts) && other->Complete(counts));
  EXPECT_OK(bus.Drain());
  EXPECT_MSG(one->Violation().empty(), one->Violation());
  EXPECT_MSG(other->Violation().empty(), other->Violation());
  return Status::Ok();
}

Status GroupsShareAndEachGroupGetsAll(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("groups");
  auto a = std::make_shared<Log>(), b = std::make_shared<Log>(), c = std::make_shared<Log>();
  ASSIGN_OK(auto sub_a, bus.Subscribe(topic, topic + "-shared", Recorder(a)));
  ASSIGN_OK(auto sub_b, bus.Subscribe(topic, topic + "-shared", Recorder(b)));
  ASSIGN_OK(auto sub_c, bus.Subscribe(topic, topic + "-alone", Recorder(c)));

  // Until both subscribers of the shared group handle records, the group may still be forming
  // (a Kafka group rebalances as members join, and may redeliver meanwhile): send probes.
  const auto deadline = Clock::now() + opts.timeout;
  for (int probe = 0; a->Size() == 0 || b->Size() == 0 || c->Size() == 0; ++probe) {
    EXPECT_MSG(Clock::now() < deadline, "both subscribers of a group to get records");
    EXPECT_OK(bus.Publish(topic, "probe-" + std::to_string(probe), "probe"));
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_OK(bus.Drain());

  // With the group settled and handlers succeeding, each record is handled exactly once per group.
  constexpr int kRecords = 200, kKeys = 40;
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_OK(bus.Publish(topic, "k" + std::to_string(i % kKeys), "main-" + std::to_string(i)));
  }
  auto merged = [&] {
    auto counts = a->CountByPayload("main-");
    for (const auto& [p, n] : b->CountByPayload("main-")) counts[p] += n;
    return counts;
  };
  WAIT(merged().size() == kRecords && c->CountByPayload("main-").size() == kRecords);
  EXPECT_OK(bus.Drain());
  for (const auto& [payload, n] : merged()) EXPECT_MSG(n == 1, payload + " handled " + std::to_string(n) + " times");
  for (const auto& [payload, n] : c->CountByPayload("main-")) {
    EXPECT_MSG(n == 1, payload + " handled " + std::to_string(n) + " times by the other group");
  }
  EXPECT(!a->CountByPayload("main-").empty());  // the records were shared...
  EXPECT(!b->CountByPayload("main-").empty());  // ...between both subscribers
  return Status::Ok();
}

Status FailedRecordIsRedelivered(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("redelivery");
  auto log = std::make_shared<Log>();
  ASSIGN_OK(auto sub, bus.Subscribe(topic, topic + "-g", [log](const BusRecord& r) {
    log->Add(r);
    if (r.payload == "flaky" && r.attempt < 3)
      return Status::Unavailable("flaky, attempt " + std::to_string(r.attempt));
    return Status::Ok();
  }));
  for (const char* p : {"before", "flaky", "after-1", "after-2"}) EXPECT_OK(bus.Publish(topic, "k", p));
  WAIT(log->SawPayload("after-2"));
  EXPECT_OK(bus.Drain());
  std::vector<std::pair<std::string, int>> seen;
  for (const auto& r : log->Snapshot()) seen.emplace_back(r.payload, r.attempt);
  const std::vector<std::pair<std::string, int>> want = {{"before", 1}, {"flaky", 1},   {"flaky", 2},
                                                         {"flaky", 3},  {"after-1", 1}, {"after-2", 1}};
  std::string got;
  for (const auto& [p, n] : seen) got += p + "/" + std::to_string(n) + " ";
  EXPECT_MSG(seen == want, "deliveries in this order: " + got);
  return Status::Ok();
}

Status ExhaustedRecordIsDeadLettered(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("dead-letter");
  const std::string key = "k/1";  // the dead letter's key is "<topic>/<key>": split at the first '/'
  auto log = std::make_shared<Log>(), dead = std::make_shared<Log>();
  ASSIGN_OK(auto dlq, bus.Subscribe(topics::kDeadLetter, topic + "-dlq", [dead, topic](const BusRecord& r) {
    const std::string* origin = r.header(dead_letter::kOriginTopic);
    if (origin && *origin == topic) dead->Add(r);  // dead letters of other cases and runs are not ours
    return Status::Ok();
  }));
  ASSIGN_OK(auto sub, bus.Subscribe(topic, topic + "-g", [log](const BusRecord& r) {
    log->Add(r);
    if (r.payload == "poison") return Status::Internal("poisoned record, attempt " + std::to_string(r.attempt));
    return Status::Ok();
  }));
  EXPECT_OK(bus.Publish(topic, key, "poison"));
  EXPECT_OK(bus.Publish(topic, key, "after"));
  WAIT(dead->Size() >= 1 && log->SawPayload("after"));
  EXPECT_OK(bus.Drain());

  auto seen = log->Snapshot();
  std::vector<int> attempts;
  size_t last_poison = 0, first_after = seen.size();
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i].payload == "poison") {
      attempts.push_back(seen[i].attempt);
      last_poison = i;
    } else if (seen[i].payload == "after" && first_after == seen.size()) {
      first_after = i;
    }
  }
  EXPECT_MSG(attempts.size() >= 3, std::to_string(attempts.size()) + " attempts");
  for (size_t i = 0; i < attempts.size(); ++i) EXPECT(attempts[i] == static_cast<int>(i) + 1);
  EXPECT(first_after > last_poison);  // later records of the key wait for the failing one

  auto letters = dead->Snapshot();
  EXPECT_MSG(letters.size() == 1, std::to_string(letters.size()) + " dead letters");
  const BusRecord& d = letters[0];
  EXPECT(d.topic == topics::kDeadLetter);
  EXPECT_MSG(d.key == topic + "/" + key, d.key);
  EXPECT(d.payload == "poison");
  const std::string* origin_key = d.header(dead_letter::kOriginKey);
  EXPECT(origin_key && *origin_key == key);
  const std::string* error = d.header(dead_letter::kError);
  EXPECT(error && error->find("poisoned record") != std::string::npos);
  const std::string* n = d.header(dead_letter::kAttempts);
  EXPECT(n && *n == std::to_string(attempts.size()));

  // Once dead-lettered, the record is not tried again.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT(log->CountByPayload("poison")["poison"] == static_cast<int>(attempts.size()));
  return Status::Ok();
}

Status DrainWaitsForHandlers(Bus& bus, const BusConformanceOptions& opts) {
  const std::string first = Unique("drain-first"), second = first + "-second";
  struct Counts {
    std::mutex mu;
    std::set<std::string> first, second;
    size_t Of(std::set<std::string> Counts::*which) {
      std::lock_guard lock(mu);
      return (this->*which).size();
    }
  };
  auto counts = std::make_shared<Counts>();
  ASSIGN_OK(auto sub2, bus.Subscribe(second, second + "-g", [counts](const BusRecord& r) {
    std::lock_guard lock(counts->mu);
    counts->second.insert(r.payload);
    return Status::Ok();
  }));
  // A slow handler that publishes a record of its own: Drain waits for that one too.
  ASSIGN_OK(auto sub1, bus.Subscribe(first, first + "-g", [counts, &bus, second](const BusRecord& r) {
    std::this_thread::sleep_for(milliseconds(2));
    Status s = bus.Publish(second, r.key, r.payload);
    if (!s.ok()) return s;
    std::lock_guard lock(counts->mu);
    counts->first.insert(r.payload);
    return Status::Ok();
  }));
  constexpr size_t kRecords = 40;
  for (size_t i = 0; i < kRecords; ++i) EXPECT_OK(bus.Publish(first, "k" + std::to_string(i % 5), std::to_string(i)));
  EXPECT_OK(bus.Drain());
  // No waiting here: Drain has returned, so everything must already be handled.
  EXPECT_MSG(counts->Of(&Counts::first) == kRecords, std::to_string(counts->Of(&Counts::first)));
  EXPECT_MSG(counts->Of(&Counts::second) == kRecords, std::to_string(counts->Of(&Counts::second)));
  return Status::Ok();
}

Status UnsubscribeStopsDelivery(Bus& bus, const BusConformanceOptions& opts) {
  const std::string topic = Unique("unsubscribe");
  struct State {
    std::atomic<int> inside{0}, calls{0};
    std::atomic<long> published{0};
  };
  auto state = std::make_shared<State>();
  auto errors = std::make_shared<PublishErrors>();
  ASSIGN_OK(auto sub, bus.Subscribe(topic, topic + "-g", [state](const BusRecord&) {
    state->inside++;
    state->calls++;
    std::this_thread::sleep_for(milliseconds(1));
    state->inside--;
    return Status::Ok();
  }));
  std::jthread publisher([&bus, topic, state, errors](std::stop_token stop) {
    for (long i = 0; !stop.stop_requested(); ++i) {
      Status s = bus.Publish(topic, "k" + std::to_string(i % 8), std::to_string(i));
      if (!s.ok()) errors->Add(s);
      state->published++;
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  WAIT(state->calls >= 20);
  sub.reset();
  EXPECT(state->inside == 0);  // the destructor returned: no handler is running...
  const int calls = state->calls;
  const long published = state->published;
  WAIT(state->published >= published + 50);  // ...and records keep coming
  publisher.request_stop();
  publisher.join();
  EXPECT_OK(bus.Drain());
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_MSG(state->calls == calls, std::to_string(state->calls - calls) + " calls after unsubscribing");
  EXPECT_MSG(errors->Get().empty(), errors->Get());
  return Status::Ok();
}

Status HandlersRunOneAtATime(Bus& bus, const BusConformanceOptions& opts) {
  constexpr int kThreads = 4, kPerThread = 100;
  const std::string topic = Unique("serial");
  struct State {
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    std::mutex mu;
    std::set<std::thread::id> handler_threads;
    std::set<std::string> handled;
  };
  auto state = std::make_shared<State>();
  ASSIGN_OK(auto sub, bus.Subscribe(topic, topic + "-g", [state](const BusRecord& r) {
    if (state->inside.fetch_add(1) != 0) state->overlapped = true;
    std::this_thread::yield();
    Status result = Status::Ok();
    if (r.payload.ends_with("fails-once") && r.attempt == 1) result = Status::Unavailable("fails once");
    {
      std::lock_guard lock(state->mu);
      state->handler_threads.insert(std::this_thread::get_id());
      if (result.ok()) state->handled.insert(r.payload);
    }
    state->inside.fetch_sub(1);
    return result;
  }));
  auto errors = std::make_shared<PublishErrors>();
  std::set<std::thread::id> publisher_threads{std::this_thread::get_id()};
  std::mutex publisher_mu;
  {
    std::vector<std::jthread> publishers;
    for (int t = 0; t < kThreads; ++t) {
      publishers.emplace_back([&, t] {
        {
          std::lock_guard lock(publisher_mu);
          publisher_threads.insert(std::this_thread::get_id());
        }
        for (int i = 0; i < kPerThread; ++i) {
          std::string payload = std::to_string(t) + "-" + std::to_string(i) + (i % 25 == 0 ? "-fails-once" : "");
          Status s = bus.Publish(topic, "k" + std::to_string(i % 20), payload);
          if (!s.ok()) errors->Add(s);
        }
      });
    }
  }
  EXPECT_MSG(errors->Get().empty(), errors->Get());
  auto handled = [&] {
    std::lock_guard lock(state->mu);
    return state->handled.size();
  };
  WAIT(handled() == size_t(kThreads) * kPerThread);
  EXPECT_OK(bus.Drain());
  EXPECT(!state->overlapped);
  std::lock_guard lock(state->mu);
  for (auto id : state->handler_threads) EXPECT(!publisher_threads.count(id));  // a bus-owned thread
  return Status::Ok();
}

Status MembershipChangesKeepOrder(Bus& bus, const BusConformanceOptions& opts) {
  constexpr int kKeys = 16;
  const std::string topic = Unique("membership"), group = topic + "-g";
  auto check = std::make_shared<OrderCheck>();
  auto calls = std::make_shared<std::array<std::atomic<long>, 2>>();
  auto handler = [check, calls](int who) {
    return [check, calls, who](const BusRecord& r) {
      check->Handled(who, r.key, std::stoll(r.payload));
      (*calls)[who]++;
      return Status::Ok();
    };
  };
  auto rounds = std::make_shared<std::atomic<int64_t>>(0);
  auto errors = std::make_shared<PublishErrors>();
  ASSIGN_OK(auto first, bus.Subscribe(topic, group, handler(0)));
  std::jthread publisher([&bus, topic, rounds, errors](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const int64_t r = rounds->load();
      for (int k = 0; k < kKeys; ++k) {
        Status s = bus.Publish(topic, "m" + std::to_string(k), std::to_string(r));
        if (!s.ok()) errors->Add(s);
      }
      rounds->store(r + 1);
      std::this_thread::sleep_for(milliseconds(25));
    }
  });
  WAIT((*calls)[0] >= 2 * kKeys);
  ASSIGN_OK(auto second, bus.Subscribe(topic, group, handler(1)));  // joins mid-stream
  WAIT((*calls)[1] >= 2 * kKeys);
  first.reset();  // leaves mid-stream
  const long at_leave = (*calls)[1];
  WAIT((*calls)[1] >= at_leave + 4 * kKeys);
  publisher.request_stop();
  publisher.join();
  EXPECT_MSG(errors->Get().empty(), errors->Get());
  std::map<std::string, int64_t> counts;
  for (int k = 0; k < kKeys; ++k) counts["m" + std::to_string(k)] = rounds->load();
  WAIT(check->Complete(counts));
  EXPECT_OK(bus.Drain());
  EXPECT_MSG(check->Violation().empty(), check->Violation());
  return Status::Ok();
}

}  // namespace

std::vector<BusConformanceCase> BusConformanceCases(BusConformanceOptions options) {
  auto bind = [options](Status (*fn)(Bus&, const BusConformanceOptions&)) {
    return [fn, options](Bus& bus) { return fn(bus, options); };
  };
  return {
      {"delivery: every record arrives, bytes intact", bind(DeliveryIntact)},
      {"order: per key, with interleaved publishers on several threads", bind(PerKeyOrder)},
      {"groups: subscribers of a group share records, each group gets all", bind(GroupsShareAndEachGroupGetsAll)},
      {"redelivery: a failed record comes again with attempt+1, before later ones", bind(FailedRecordIsRedelivered)},
      {"dead letters: after max attempts, with origin and error", bind(ExhaustedRecordIsDeadLettered)},
      {"drain: waits for handlers and what they publish", bind(DrainWaitsForHandlers)},
      {"unsubscribe: no handler call after the destructor returns", bind(UnsubscribeStopsDelivery)},
      {"serial: handlers of one subscription never overlap", bind(HandlersRunOneAtATime)},
      {"membership: a subscriber joins and one leaves mid-stream, nothing lost, order kept",
       bind(MembershipChangesKeepOrder)},
      {"batch: every record once, per key in order, at most max_batch at a time", bind(BatchesKeepEveryRecordInOrder)},
      {"batch: a failed batch is retried record by record, the bad one dead-lettered alone",
       bind(FailedBatchIsRetriedRecordByRecord)},
  };
}

std::vector<std::string> RunBusConformance(const std::function<std::shared_ptr<Bus>()>& make_bus,
                                           BusConformanceOptions options, bool parallel) {
  auto cases = BusConformanceCases(options);
  std::vector<Status> results(cases.size());
  auto run = [&](size_t i) {
    auto bus = make_bus();
    results[i] = bus ? cases[i].run(*bus) : Status::Internal("the factory returned no bus");
  };
  if (parallel) {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < cases.size(); ++i) threads.emplace_back(run, i);
  } else {
    for (size_t i = 0; i < cases.size(); ++i) run(i);
  }
  std::vector<std::string> failures;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!results[i].ok()) failures.push_back(cases[i].name + ": " + results[i].message());
  }
  return failures;
}

}  // namespace im::testing
