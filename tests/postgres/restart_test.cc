// PostgreSQL stops and restarts under a stream of appends (fsync on, as in production): calls
// during the outage fail with unavailable, calls after it succeed on reopened connections, and
// every acknowledged append is stored exactly once with gapless seqs.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "postgres/postgres_test_util.h"

namespace {

using im::ConversationId;
using im::Seq;
using im::StatusCode;
using im::UserId;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("postgres store: a server restart mid-stream loses no acknowledged append and leaves no gap") {
  auto started = im::test::PostgresCluster::Start({.fsync = true});
  REQUIRE_MESSAGE(started.ok(), started.status().ToString());
  im::test::PostgresCluster& cluster = **started;
  const std::string db = im::test::NewDatabase(cluster);
  auto store = im::test::OpenStore(db, 4, 2000);

  constexpr int kThreads = 4, kPerThread = 400;
  UserId owner = im::test::MakeUser(*store, "owner");
  auto group = store->CreateGroup({"g", owner, 100, im::test::kT0});
  REQUIRE(group.ok());
  const ConversationId conv = ConversationId::Group(group->id);
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(im::test::MakeUser(*store, "s" + std::to_string(t)));
    REQUIRE(store->AddGroupMember(group->id, {senders.back(), im::GroupRole::kMember, im::test::kT0}).ok());
  }

  // Each sender sends keys k0..k399 in order, retrying a key after any failure until it is
  // acknowledged (as a client with an outbox would). A retry of a key whose first attempt did
  // commit comes back as a duplicate of it.
  struct Ack {
    Seq seq = 0;
    bool duplicate = false;
  };
  std::mutex mu;
  std::vector<std::map<std::string, Ack>> acked(kThreads);
  std::map<StatusCode, int> failures;
  std::atomic<int> total_acked{0};
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread && std::chrono::steady_clock::now() < deadline;) {
        std::string key = "k" + std::to_string(i);
        auto r = store->AppendMessage(im::test::Msg(conv, senders[t], key));
        if (!r.ok()) {
          {
            std::lock_guard lock(mu);
            failures[r.status().code()]++;
          }
          std::this_thread::sleep_for(20ms);
          continue;
        }
        {
          std::lock_guard lock(mu);
          acked[t][key] = {r->seq, r->duplicate};
        }
        total_acked++;
        ++i;
      }
    });
  }
  auto wait_for_acks = [&](int n) {
    while (total_acked.load() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  };

  // 1. Stop the server mid-stream (fast: sessions are terminated with 57P01), check calls fail
  //    with unavailable while it is down, start it again.
  wait_for_acks(300);
  REQUIRE(cluster.Stop("fast").ok());
  std::this_thread::sleep_for(100ms);  // acknowledgements already on their way are counted
  const int acked_at_stop = total_acked.load();
  auto down_append = store->AppendMessage(im::test::Msg(conv, owner, "during-outage"));
  CHECK(down_append.status().code() == StatusCode::kUnavailable);
  MESSAGE("append during the outage: " << down_append.status().ToString());
  CHECK(store->GetUser(owner).status().code() == StatusCode::kUnavailable);
  CHECK(store->ListMessages(conv, {0, 0, 10, false}).status().code() == StatusCode::kUnavailable);
  CHECK(store->CreateUser({"newcomer", "N", "h", im::test::kT0}).status().code() == StatusCode::kUnavailable);
  CHECK(store->AdvanceReadSeq(owner, conv, 1).status().code() == StatusCode::kUnavailable);
  std::this_thread::sleep_for(300ms);  // the senders keep failing meanwhile
  CHECK(total_acked.load() == acked_at_stop);
  REQUIRE(cluster.StartAgain().ok());
  // The first calls after the outage succeed: dead pooled connections are noticed and reopened.
  auto user = store->GetUser(owner);
  CHECK_MESSAGE(user.ok(), user.status().ToString());
  auto created = store->CreateUser({"newcomer", "N", "h", im::test::kT0});
  CHECK_MESSAGE(created.ok(), created.status().ToString());
  auto retried = store->AppendMessage(im::test::Msg(conv, owner, "during-outage"));
  CHECK_MESSAGE(retried.ok(), retried.status().ToString());

  // 2. A restart (pg_ctl restart -m fast) while the senders keep going.
  wait_for_acks(acked_at_stop + 400);
  REQUIRE(cluster.Restart("fast").ok());

  for (auto& th : threads) th.join();
  const int expected_total = kThreads * kPerThread + 1;  // plus the owner's "during-outage"
  REQUIRE(total_acked.load() == kThreads * kPerThread);
  for (auto& [code, n] : failures) {
    MESSAGE(n << " failed attempts with " << im::StatusCodeName(code));
    CHECK(code == StatusCode::kUnavailable);
  }
  CHECK(failures[StatusCode::kUnavailable] > 0);

  // Every acknowledged append is stored exactly once, at its acknowledged seq, and seqs are gapless.
  auto check = [&](im::Store& s) {
    std::map<std::pair<int64_t, std::string>, Seq> stored;
    Seq next = 1;
    for (Seq after = 0;;) {
      auto page = s.ListMessages(conv, {after, 0, 500, false});
      REQUIRE_MESSAGE(page.ok(), page.status().ToString());
      if (page->empty()) break;
      for (auto& m : *page) {
        CHECK(m.seq == next++);
        CHECK(stored.emplace(std::pair{m.sender.value, m.client_msg_id}, m.seq).second);
      }
      after = page->back().seq;
    }
    CHECK(next == Seq(expected_total) + 1);
    CHECK(stored.size() == size_t(expected_total));
    for (int t = 0; t < kThreads; ++t) {
      for (auto& [key, ack] : acked[t]) {
        auto it = stored.find({senders[t].value, key});
        REQUIRE(it != stored.end());
        CHECK(it->second == ack.seq);
      }
    }
    auto state = s.GetConversationState(conv);
    REQUIRE(state.ok());
    CHECK(state->last_seq == Seq(expected_total));
  };
  check(*store);
  // And so does a store opened afresh after all this.
  auto reopened = im::test::OpenStore(db);
  check(*reopened);
  int duplicates = 0;
  for (auto& m : acked)
    for (auto& [key, ack] : m) duplicates += ack.duplicate;
  MESSAGE(duplicates << " appends were acknowledged as duplicates of an attempt committed before its connection broke");
}
