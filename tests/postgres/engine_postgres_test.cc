// The engine on the PostgreSQL store: send, history, sync, read state and a reopen, and the
// concurrent-send check every store backend runs.
#include <doctest/doctest.h>

#include <set>

#include "postgres/postgres_test_util.h"
#include "support/engine_fixture.h"

namespace {

im::SendRequest Text(const im::ConversationId& c, std::string key, std::string content = "hi") {
  return {c, std::move(key), im::ContentType::kText, std::move(content)};
}

}  // namespace

TEST_CASE("postgres engine: send, history, sync and read state, then a reopen") {
  const std::string db = im::test::NewDatabase();
  im::UserId alice, bob, carol;
  im::GroupId group;
  {
    im::Options o = im::test::FastOptions();
    o.store = im::test::OpenStore(db);
    auto engine = im::Engine::Open(o).value();
    alice = im::test::MustRegister(*engine, "alice");
    bob = im::test::MustRegister(*engine, "bob");
    carol = im::test::MustRegister(*engine, "carol");
    auto bob_sink = std::make_shared<im::test::RecordingSink>();
    REQUIRE(engine->Attach(bob, "phone", bob_sink).ok());

    auto ab = im::ConversationId::Direct(alice, bob);
    for (int i = 1; i <= 6; ++i) {
      auto ack = engine->Send(alice, "p", Text(ab, "k" + std::to_string(i), "m" + std::to_string(i)));
      REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
      CHECK(ack->seq == im::Seq(i));
      CHECK(!ack->duplicate);
    }
    auto retry = engine->Send(alice, "p", Text(ab, "k2"));
    REQUIRE(retry.ok());
    CHECK((retry->duplicate && retry->seq == 2));
    auto g = engine->CreateGroup(carol, "team", 0, im::test::OpenGroup());
    REQUIRE(g.ok());
    group = g->id;
    REQUIRE(engine->JoinGroup(bob, group).ok());
    auto gc = im::ConversationId::Group(group);
    REQUIRE(engine->Send(carol, "p", Text(gc, "g1", "to the team")).ok());

    // History: newest page first, then older.
    auto page = engine->GetHistory(bob, ab, {0, 0, 4});
    REQUIRE(page.ok());
    REQUIRE(page->messages.size() == 4);
    CHECK(page->messages.front().seq == 3);
    CHECK(page->messages.back().content == "m6");
    CHECK(page->has_more);
    auto older = engine->GetHistory(bob, ab, {0, 3, 4});
    REQUIRE(older.ok());
    CHECK(older->messages.size() == 2);
    CHECK(!older->has_more);

    // Sync from what bob's other device holds: exactly the missing seqs.
    auto sync = engine->Sync(bob, im::SyncRequest{{{ab, 4}}, true, 100});
    REQUIRE(sync.ok());
    REQUIRE(sync->conversations.size() == 2);
    for (auto& c : sync->conversations) {
      CHECK(c.status.ok());
      CHECK(!c.history_lost);
      if (c.conversation == ab) {
        REQUIRE(c.messages.size() == 2);
        CHECK(c.messages[0].seq == 5);
        CHECK(c.last_seq == 6);
      } else {
        CHECK(c.conversation == gc);
        REQUIRE(c.messages.size() == 1);
        CHECK(c.messages[0].content == "to the team");
      }
    }
    REQUIRE(engine->MarkRead(bob, "phone", ab, 5).ok());
    auto list = engine->ListConversations(bob, {}, 10);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK(list->at(0).id == gc);  // the most recent activity
    CHECK(list->at(1).unread == 1);
    REQUIRE(engine->Drain().ok());
    std::set<im::MessageId> delivered;  // at-least-once: count distinct messages
    for (auto& e : bob_sink->Of<im::NewMessageEvent>()) delivered.insert(e.message.id);
    CHECK(delivered.size() == 7);
  }
  // A new engine on a new store object sees everything.
  im::Options o = im::test::FastOptions();
  o.store = im::test::OpenStore(db);
  auto engine = im::Engine::Open(o).value();
  auto ab = im::ConversationId::Direct(alice, bob);
  CHECK(engine->Login("bob", "password-bob", "p").ok());
  auto list = engine->ListConversations(bob, {}, 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK(list->at(1).last_seq == 6);
  CHECK(list->at(1).read_seq == 5);
  auto dup = engine->Send(alice, "p", Text(ab, "k6"));
  REQUIRE(dup.ok());
  CHECK((dup->duplicate && dup->seq == 6));
  auto next = engine->Send(bob, "p", Text(ab, "b1"));
  REQUIRE(next.ok());
  CHECK(next->seq == 7);
  auto members = engine->ListMembers(carol, group, im::UserId(), 10);
  REQUIRE(members.ok());
  CHECK(members->size() == 2);
}

TEST_CASE("postgres engine: 8 threads x 1,000 sends with retries give seqs exactly 1..8,000") {
  im::Options o = im::test::FastOptions();
  o.store = im::test::OpenStore(im::test::NewDatabase());
  auto engine = im::Engine::Open(o).value();
  im::test::CheckConcurrentSendsGapless(*engine, 1000);
}
