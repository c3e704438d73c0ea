// Helpers shared by the engine tests of every store backend.
#ifndef IM_TESTS_SUPPORT_ENGINE_FIXTURE_H_
#define IM_TESTS_SUPPORT_ENGINE_FIXTURE_H_

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "im/engine.h"

namespace im::test {

// A SessionSink that records what it receives.
class RecordingSink : public SessionSink {
 public:
  void Deliver(const std::shared_ptr<const Event>& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<std::shared_ptr<const Event>> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  template <typename T>
  std::vector<T> Of() {
    std::vector<T> out;
    for (auto& e : events()) {
      if (auto* v = std::get_if<T>(e.get())) out.push_back(*v);
    }
    return out;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<const Event>> events_;
};

// Options that make tests fast: cheap password hashing, a fixed JWT key.
inline Options FastOptions() {
  Options o;
  o.password_iterations = 1000;
  o.jwt_secret = std::string(32, 'k');
  o.upstream_consumers = 4;  // enough to overlap appends; a test engine needs no more threads
  return o;
}

// A group anyone may join and read from its start, for tests about something other than who may
// join (new groups are invite-only, with history from each member's join).
inline GroupSettings OpenGroup() { return GroupSettings{JoinPolicy::kOpen, HistoryVisibility::kFull}; }

inline UserId MustRegister(Engine& e, const std::string& name) {
  auto u = e.Register(name, "password-" + name, "");
  REQUIRE_MESSAGE(u.ok(), u.status().ToString());
  return u->id;
}

// 8 threads x `per_thread` sends into one group conversation, each thread retrying one of its
// earlier sends every 7th message: the seqs must be exactly 1..8*per_thread, no duplicates, and
// every retry must return the original id and seq.
inline void CheckConcurrentSendsGapless(Engine& engine, int per_thread) {
  constexpr int kThreads = 8;
  UserId owner = MustRegister(engine, "owner");
  auto group = engine.CreateGroup(owner, "load", 0, OpenGroup());
  REQUIRE(group.ok());
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(MustRegister(engine, "sender" + std::to_string(t)));
    REQUIRE(engine.JoinGroup(senders.back(), group->id).ok());
  }
  auto conv = ConversationId::Group(group->id);
  std::atomic<int> errors{0}, retries_ok{0}, retries{0};
  std::vector<std::vector<SendAck>> acks(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        SendRequest req{conv, "t" + std::to_string(t) + "-" + std::to_string(i), ContentType::kText, "message"};
        auto ack = engine.Send(senders[t], "dev", req);
        if (!ack.ok() || ack->duplicate) {
          errors++;
          continue;
        }
        acks[t].push_back(*ack);
        if (i % 7 == 6) {
          int j = i / 2;
          retries++;
          SendRequest again{conv, "t" + std::to_string(t) + "-" + std::to_string(j), ContentType::kText, "message"};
          auto dup = engine.Send(senders[t], "dev", again);
          if (dup.ok() && dup->duplicate && dup->seq == acks[t][j].seq && dup->id == acks[t][j].id) retries_ok++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);
  CHECK(retries_ok.load() == retries.load());
  std::set<Seq> seqs;
  std::set<MessageId> ids;
  for (auto& v : acks) {
    for (auto& a : v) {
      seqs.insert(a.seq);
      ids.insert(a.id);
    }
  }
  const size_t total = size_t(kThreads) * per_thread;
  CHECK(seqs.size() == total);
  CHECK(ids.size() == total);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == total);
  // History agrees: every seq once, in order, nothing extra from the retries (paged from the
  // newest backwards, as a client scrolls up).
  Seq expect = total;
  HistoryQuery q{0, 0, 200};
  for (;;) {
    auto page = engine.GetHistory(owner, conv, q);
    REQUIRE(page.ok());
    for (auto it = page->messages.rbegin(); it != page->messages.rend(); ++it) {
      if (it->seq != expect) FAIL("history seq " << it->seq << " where " << expect << " was expected");
      expect--;
    }
    if (!page->has_more) break;
    q.before_seq = page->messages.front().seq;
  }
  CHECK(expect == 0);
}

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_ENGINE_FIXTURE_H_
