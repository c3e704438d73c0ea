// The PostgreSQL store on a real server: the Store conformance suite, plus what only a shared,
// networked, group-committed store can get wrong — several stores (processes) appending to one
// conversation, reopening, concurrent migrations, broken connections, pool exhaustion, values
// the server refuses, rows written behind the counter's back.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "im/testing/store_conformance.h"
#include "postgres/append_writer.h"
#include "postgres/connection_pool.h"
#include "postgres/schema.h"
#include "postgres/postgres_test_util.h"

namespace {

using im::ConversationId;
using im::GroupMember;
using im::GroupRole;
using im::Seq;
using im::StatusCode;
using im::UserId;
using im::test::kT0;
using im::test::MakeUser;
using im::test::Msg;
using im::test::NewDatabase;
using im::test::OpenStore;
using im::test::Sql;

}  // namespace

TEST_CASE("postgres store: passes every Store conformance case") {
  auto cases = im::testing::StoreConformanceCases();
  MESSAGE(cases.size() << " conformance cases");
  for (auto& c : cases) {
    auto store = OpenStore(NewDatabase());
    auto start = std::chrono::steady_clock::now();
    im::Status status = c.run(*store);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(c.name << ": " << (status.ok() ? "ok" : status.message()) << " (" << ms << " ms)");
    CHECK_MESSAGE(status.ok(), (c.name + ": " + status.message()));
  }
}

TEST_CASE("postgres store: 8 threads x 2,000 appends to one conversation from two stores are gapless") {
  // Two stores with their own pools and writers, as two im-logic processes would have.
  const std::string db = NewDatabase();
  auto first = OpenStore(db);
  auto second = OpenStore(db);
  constexpr int kThreads = 8, kPerThread = 2000;
  UserId owner = MakeUser(*first, "owner");
  auto group = first->CreateGroup({"g", owner, 100, kT0});
  REQUIRE(group.ok());
  const ConversationId conv = ConversationId::Group(group->id);
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(MakeUser(*first, "s" + std::to_string(t)));
    REQUIRE(first->AddGroupMember(group->id, {senders.back(), GroupRole::kMember, kT0}).ok());
  }
  const auto before = im::postgres::GlobalAppendStats().batches.load();
  std::atomic<int> errors{0}, retries{0}, retries_ok{0};
  std::vector<std::map<std::string, std::pair<Seq, int64_t>>> acked(kThreads);  // key -> seq, id
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      im::Store& mine = t % 2 == 0 ? *first : *second;
      im::Store& other = t % 2 == 0 ? *second : *first;
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "k" + std::to_string(i);
        auto m = Msg(conv, senders[t], key);
        auto r = mine.AppendMessage(m);
        if (!r.ok() || r->duplicate || r->id != m.id) {
          errors++;
          continue;
        }
        acked[t][key] = {r->seq, r->id.value};
        if (i % 7 == 3) {  // a retry, through the other store, of an earlier send (sometimes this one)
          retries++;
          std::string old = "k" + std::to_string(i % 14 == 3 ? i : i / 2);
          auto d = other.AppendMessage(Msg(conv, senders[t], old));
          if (d.ok() && d->duplicate && d->seq == acked[t][old].first && d->id.value == acked[t][old].second &&
              d->conversation == conv) {
            retries_ok++;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  const auto batches = im::postgres::GlobalAppendStats().batches.load() - before;
  MESSAGE((kThreads * kPerThread + retries.load()) << " appends in " << ms << " ms, " << batches << " transactions");
  CHECK(errors.load() == 0);
  CHECK(retries_ok.load() == retries.load());
  CHECK(batches < uint64_t(kThreads * kPerThread));  // group commit did batch

  std::set<Seq> seqs;
  for (auto& m : acked)
    for (auto& [key, v] : m) seqs.insert(v.first);
  constexpr Seq kTotal = kThreads * kPerThread;
  CHECK(seqs.size() == kTotal);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == kTotal);
  auto state = second->GetConversationState(conv);
  REQUIRE(state.ok());
  CHECK(state->last_seq == kTotal);
  // History agrees, from either store: each seq once, in order, at its acknowledged key.
  Seq next = 1;
  for (Seq after = 0;;) {
    auto page = (next % 2 ? first : second)->ListMessages(conv, {after, 0, 1000, false});
    REQUIRE(page.ok());
    if (page->empty()) break;
    for (auto& m : *page) {
      CHECK(m.seq == next++);
      size_t t = std::find(senders.begin(), senders.end(), m.sender) - senders.begin();
      REQUIRE(t < senders.size());
      CHECK(acked[t].at(m.client_msg_id).first == m.seq);
    }
    after = page->back().seq;
  }
  CHECK(next == kTotal + 1);
  // Each sender's read pointer is at their last own message.
  for (int t = 0; t < kThreads; ++t) {
    Seq last = 0;
    for (auto& [key, v] : acked[t]) last = std::max(last, v.first);
    auto read = first->GetReadSeq(senders[t], conv);
    REQUIRE(read.ok());
    CHECK(*read == last);
  }
}

TEST_CASE("postgres store: duplicates inside one batch store one message") {
  auto store = OpenStore(NewDatabase());
  UserId a = MakeUser(*store, "alice"), b = MakeUser(*store, "bob");
  const ConversationId conv = ConversationId::Direct(a, b);
  for (int round = 0; round < 5; ++round) {
    std::string key = "same-" + std::to_string(round);
    std::vector<std::thread> threads;
    std::vector<im::Result<im::AppendResult>> results(16, im::Status::Internal("not run"));
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] { results[t] = store->AppendMessage(Msg(conv, a, key)); });
    }
    for (auto& th : threads) th.join();
    int originals = 0;
    for (auto& r : results) {
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK(r->seq == Seq(round + 1));
      CHECK(r->id == results[0]->id);
      if (!r->duplicate) originals++;
    }
    CHECK(originals == 1);
  }
  auto all = store->ListMessages(conv, {0, 0, 100, false});
  REQUIRE(all.ok());
  CHECK(all->size() == 5);
}

TEST_CASE("postgres store: everything survives a reopen, and reopening migrates nothing twice") {
  const std::string db = NewDatabase();
  UserId alice, bob;
  im::GroupId gid;
  {
    auto store = OpenStore(db);
    alice = MakeUser(*store, "alice");
    bob = MakeUser(*store, "bob");
    auto g = store->CreateGroup({"team", alice, 10, kT0});
    REQUIRE(g.ok());
    gid = g->id;
    REQUIRE(store->AddGroupMember(gid, {bob, GroupRole::kAdmin, kT0 + 1}).ok());
    for (int i = 1; i <= 5; ++i) {
      REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(alice, bob), alice, "d" + std::to_string(i), kT0 + i)).ok());
      REQUIRE(store->AppendMessage(Msg(ConversationId::Group(gid), bob, "g" + std::to_string(i), kT0 + 10 + i)).ok());
    }
    REQUIRE(store->AdvanceReadSeq(bob, ConversationId::Direct(alice, bob), 2).ok());
    REQUIRE(store->PutRefreshToken({"h1", alice, "fam", "phone", kT0 + 1000, false, false}).ok());
    REQUIRE(store->Flush().ok());
  }
  auto store = OpenStore(db);
  auto migrations = Sql(db, "SELECT count(*), max(version) FROM schema_migrations");
  CHECK(migrations[0][0].as<int>() == im::postgres::LatestSchemaVersion());
  CHECK(migrations[0][1].as<int>() == im::postgres::LatestSchemaVersion());
  auto list = store->ListConversations(bob, {}, 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK(list->at(0).id == ConversationId::Group(gid));
  CHECK(list->at(0).last_seq == 5);
  CHECK(list->at(0).unread == 0);
  CHECK(list->at(1).last_seq == 5);
  CHECK(list->at(1).unread == 3);
  CHECK(list->at(1).last_message->content == "hello");
  auto member = store->GetGroupMember(gid, bob);
  REQUIRE(member.ok());
  CHECK(member->role == GroupRole::kAdmin);
  auto dup = store->AppendMessage(Msg(ConversationId::Direct(alice, bob), alice, "d3"));
  REQUIRE(dup.ok());
  CHECK((dup->duplicate && dup->seq == 3));
  auto next = store->AppendMessage(Msg(ConversationId::Direct(alice, bob), alice, "d6"));
  REQUIRE(next.ok());
  CHECK(next->seq == 6);
  auto token = store->GetRefreshToken("h1");
  REQUIRE(token.ok());
  CHECK(token->family_id == "fam");
  CHECK(store->GetCredentials("alice").ok());
}

TEST_CASE("postgres store: concurrent opens of a new database migrate it once") {
  const std::string db = NewDatabase();
  constexpr int kOpeners = 6;
  std::vector<std::thread> threads;
  std::vector<im::Status> results(kOpeners);
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto store = im::OpenPostgresStore({.conninfo = db, .pool_size = 1});
      results[i] = store.ok() ? im::Status::Ok() : store.status();
      if (store.ok()) results[i] = (*store)->CreateUser({"u" + std::to_string(i), "U", "h", kT0}).status();
    });
  }
  for (auto& t : threads) t.join();
  for (auto& s : results) CHECK_MESSAGE(s.ok(), s.ToString());
  auto rows = Sql(db, "SELECT version FROM schema_migrations ORDER BY version");
  REQUIRE(rows.size() == size_t(im::postgres::LatestSchemaVersion()));
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i][0].as<int>() == int(i) + 1);
  CHECK(Sql(db, "SELECT count(*) FROM users")[0][0].as<int>() == kOpeners);
}

TEST_CASE("postgres store: a database from a newer libim is refused") {
  const std::string db = NewDatabase();
  OpenStore(db);
  Sql(db, "INSERT INTO schema_migrations(version) VALUES(" + std::to_string(im::postgres::LatestSchemaVersion() + 1) +
              ")");
  auto store = im::OpenPostgresStore({.conninfo = db});
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("postgres store: bad options are invalid_argument, an unreachable server unavailable") {
  CHECK(im::OpenPostgresStore({.conninfo = ""}).status().code() == StatusCode::kInvalidArgument);
  CHECK(im::OpenPostgresStore({.conninfo = "host=127.0.0.1", .pool_size = 0}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(im::OpenPostgresStore({.conninfo = "host=127.0.0.1", .checkout_timeout_ms = -1}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(im::OpenPostgresStore({.conninfo = "host=127.0.0.1", .max_batch = 0}).status().code() ==
        StatusCode::kInvalidArgument);
  // Port 1 on loopback: nothing listens there.
  auto refused = im::OpenPostgresStore({.conninfo = "host=127.0.0.1 port=1 user=postgres connect_timeout=2"});
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  MESSAGE(refused.status().ToString());
  // A database that does not exist: the server refuses the connection.
  auto& cluster = im::test::Cluster();
  CHECK(im::OpenPostgresStore({.conninfo = cluster.ConnInfo("no_such_database")}).status().code() ==
        StatusCode::kUnavailable);
}

TEST_CASE("postgres store: a pool with every connection leased times out with unavailable") {
  const std::string db = NewDatabase();
  im::postgres::ConnectionPool pool(db, 1, std::chrono::milliseconds(100));
  const auto timeouts = im::postgres::GlobalConnectionStats().checkout_timeouts.load();
  {
    auto held = pool.Acquire();
    REQUIRE(held.ok());
    auto start = std::chrono::steady_clock::now();
    auto blocked = pool.Acquire();
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(blocked.status().code() == StatusCode::kUnavailable);
    CHECK(waited >= std::chrono::milliseconds(100));
    CHECK(im::postgres::GlobalConnectionStats().checkout_timeouts.load() == timeouts + 1);
    // A waiter gets the connection as soon as it is released.
    std::thread releaser([lease = std::move(held).value()]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      (void)lease;  // released when the thread ends
    });
    auto later = pool.Acquire();
    releaser.join();
    CHECK(later.ok());
  }
}

TEST_CASE("postgres store: connections killed by the server are replaced on their next use") {
  const std::string db = NewDatabase();
  auto store = OpenStore(db, 3);
  UserId a = MakeUser(*store, "alice"), b = MakeUser(*store, "bob");
  const ConversationId conv = ConversationId::Direct(a, b);
  REQUIRE(store->AppendMessage(Msg(conv, a, "before")).ok());
  const auto discarded = im::postgres::GlobalConnectionStats().discarded.load();
  // Every session of the store's database (the pool's and the writer's) is terminated.
  auto killed = Sql(db,
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()) t");
  CHECK(killed[0][0].as<int>() >= 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the FATAL messages arrive
  for (int i = 0; i < 6; ++i) {
    auto user = store->GetUser(a);
    CHECK_MESSAGE(user.ok(), user.status().ToString());
    CHECK(store->UpdateUser({b, "bob", "Bob " + std::to_string(i), 0}).ok());
  }
  auto after = store->AppendMessage(Msg(conv, a, "after"));
  REQUIRE_MESSAGE(after.ok(), after.status().ToString());
  CHECK(after->seq == 2);
  // The writer's connection and (at least) the pooled one the calls above leased were replaced.
  CHECK(im::postgres::GlobalConnectionStats().discarded.load() >= discarded + 2);
}

TEST_CASE("postgres store: a seq taken behind the counter's back is skipped, not overwritten") {
  const std::string db = NewDatabase();
  auto store = OpenStore(db);
  UserId a = MakeUser(*store, "alice"), b = MakeUser(*store, "bob");
  const ConversationId conv = ConversationId::Direct(a, b);
  for (int i = 1; i <= 3; ++i) REQUIRE(store->AppendMessage(Msg(conv, a, "k" + std::to_string(i))).ok());
  // Another writer that ignores the counter puts a row at seq 4.
  Sql(db, "INSERT INTO messages(conversation_id, seq, id, sender_id, client_msg_id, type, content, sent_at_ms) "
          "VALUES('" + conv.str() + "', 4, 999, " + std::to_string(b.value) + ", 'foreign', 1, 'x', 0)");
  auto r = store->AppendMessage(Msg(conv, a, "k4"));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->seq == 5);
  auto all = store->ListMessages(conv, {0, 0, 100, false});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK(all->at(3).client_msg_id == "foreign");
  CHECK(all->at(4).client_msg_id == "k4");
  auto state = store->GetConversationState(conv);
  REQUIRE(state.ok());
  CHECK(state->last_seq == 5);
}

TEST_CASE("postgres store: values the server refuses fail alone, with invalid_argument") {
  auto store = OpenStore(NewDatabase());
  UserId a = MakeUser(*store, "alice"), b = MakeUser(*store, "bob");
  const ConversationId conv = ConversationId::Direct(a, b);
  // NUL bytes cannot be stored in text: refused before they are cut short.
  CHECK(store->AppendMessage(Msg(conv, a, std::string("k\0x", 3))).status().code() == StatusCode::kInvalidArgument);
  CHECK(store->CreateUser({std::string("ev\0l", 4), "x", "h", kT0}).status().code() == StatusCode::kInvalidArgument);
  // Invalid UTF-8: the server refuses it (22021).
  auto bad_user = store->CreateUser({"\xff\xfe", "x", "h", kT0});
  CHECK(bad_user.status().code() == StatusCode::kInvalidArgument);
  MESSAGE(bad_user.status().ToString());
  // Among concurrent appends, the one with an invalid key fails and the others are stored.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    std::vector<StatusCode> codes(16);
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        std::string key = t == 5 ? "bad\xc3" : "r" + std::to_string(round) + "-" + std::to_string(t);
        codes[t] = store->AppendMessage(Msg(conv, a, key)).status().code();
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 16; ++t) CHECK(codes[t] == (t == 5 ? StatusCode::kInvalidArgument : StatusCode::kOk));
  }
  auto state = store->GetConversationState(conv);
  REQUIRE(state.ok());
  CHECK(state->last_seq == 45);
  auto all = store->ListMessages(conv, {0, 0, 100, false});
  REQUIRE(all.ok());
  CHECK(all->size() == 45);
  CHECK(all->back().seq == 45);
  // Content is bytes: anything goes, large too.
  std::string blob(300'000, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  auto big = store->AppendMessage(Msg(conv, b, "big", kT0, blob));
  REQUIRE(big.ok());
  auto got = store->ListMessages(conv, {big->seq - 1, 0, 1, false});
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK(got->at(0).content == blob);
}
