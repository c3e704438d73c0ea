#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <map>

#include "im/engine.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;
using im::test::MustRegister;
using im::test::RecordingSink;

namespace {

SendRequest Text(const ConversationId& c, std::string key, std::string text = "hi") {
  return SendRequest{c, std::move(key), ContentType::kText, std::move(text)};
}

struct World {
  std::unique_ptr<Engine> engine = Engine::Open(FastOptions()).value();
  UserId alice = MustRegister(*engine, "alice");
  UserId bob = MustRegister(*engine, "bob");
  UserId carol = MustRegister(*engine, "carol");
  ConversationId ab = ConversationId::Direct(alice, bob);

  std::shared_ptr<RecordingSink> Attach(UserId u, const std::string& device) {
    auto sink = std::make_shared<RecordingSink>();
    REQUIRE(engine->Attach(u, device, sink).ok());
    return sink;
  }
};

}  // namespace

TEST_CASE("send: 1:1 persists first, acks with seq, fans out to the peer and the sender's other devices") {
  World w;
  auto bob_phone = w.Attach(w.bob, "phone");
  auto alice_phone = w.Attach(w.alice, "phone");
  auto alice_laptop = w.Attach(w.alice, "laptop");
  REQUIRE(w.engine->Drain().ok());
  alice_phone->Clear();

  auto ack = w.engine->Send(w.alice, "phone", Text(w.ab, "m1", "hello bob"));
  REQUIRE(ack.ok());
  CHECK(ack->seq == 1);
  CHECK(!ack->duplicate);
  auto reply = w.engine->Send(w.bob, "phone", Text(w.ab, "r1", "hi alice"));
  REQUIRE(reply.ok());
  CHECK(reply->seq == 2);
  REQUIRE(w.engine->Drain().ok());

  auto to_bob = bob_phone->Of<NewMessageEvent>();
  REQUIRE(to_bob.size() == 1);
  CHECK(to_bob[0].message.content == "hello bob");
  CHECK(to_bob[0].message.id == ack->id);
  CHECK(to_bob[0].message.seq == 1);
  CHECK(to_bob[0].message.sender == w.alice);
  // The sending device gets only its ack; the laptop sees both messages.
  auto on_phone = alice_phone->Of<NewMessageEvent>();
  REQUIRE(on_phone.size() == 1);
  CHECK(on_phone[0].message.seq == 2);
  CHECK(alice_laptop->Of<NewMessageEvent>().size() == 2);

  // One Event object is shared by every recipient of a fanout (serialize once in transports).
  auto a = alice_laptop->events().back();
  auto b = alice_phone->events().back();
  CHECK(a.get() == b.get());
}

TEST_CASE("send: idempotent retries return the original id and seq and store nothing") {
  World w;
  auto first = w.engine->Send(w.alice, "phone", Text(w.ab, "same-key", "one")).value();
  auto retry = w.engine->Send(w.alice, "laptop", Text(w.ab, "same-key", "one")).value();
  CHECK(retry.duplicate);
  CHECK(retry.id == first.id);
  CHECK(retry.seq == first.seq);
  auto next = w.engine->Send(w.alice, "phone", Text(w.ab, "other-key", "two")).value();
  CHECK(next.seq == 2);
  auto history = w.engine->GetHistory(w.bob, w.ab, {}).value();
  CHECK(history.messages.size() == 2);
  // Reusing the key for another conversation is refused, and stores nothing there.
  auto ac = ConversationId::Direct(w.alice, w.carol);
  CHECK(w.engine->Send(w.alice, "phone", Text(ac, "same-key", "one")).status().code() == StatusCode::kAlreadyExists);
  CHECK(w.engine->GetHistory(w.carol, ac, {}).value().messages.empty());
}

TEST_CASE("send: content is validated") {
  World w;
  auto err = [&](SendRequest r) { return w.engine->Send(w.alice, "phone", r).status().code(); };
  CHECK(err(Text(w.ab, "k", "")) == StatusCode::kInvalidArgument);
  CHECK(err(Text(w.ab, "k", "bad \xC0\xAF utf8")) == StatusCode::kInvalidArgument);
  CHECK(err(Text(w.ab, "k", std::string(64 * 1024 + 1, 'x'))) == StatusCode::kResourceExhausted);
  CHECK(err(Text(w.ab, std::string(65, 'k'))) == StatusCode::kInvalidArgument);
  CHECK(err(Text(ConversationId(), "k")) == StatusCode::kInvalidArgument);
  CHECK(err(SendRequest{w.ab, "k", ContentType::kCustom, "{not json"}) == StatusCode::kInvalidArgument);
  CHECK(w.engine->Send(w.alice, "phone", SendRequest{w.ab, "k", ContentType::kCustom, R"({"card":{"id":7}})"}).ok());
  CHECK(w.engine->Send(w.alice, "phone", Text(w.ab, "big", std::string(64 * 1024, 'x'))).ok());
  CHECK(w.engine->Send(w.alice, "bad\ndevice", Text(w.ab, "k2")).status().code() == StatusCode::kInvalidArgument);
  // Nothing invalid was stored.
  CHECK(w.engine->GetHistory(w.alice, w.ab, {}).value().messages.size() == 2);
}

TEST_CASE("authorization: outsiders can neither send to nor read a 1:1 or a group") {
  World w;
  REQUIRE(w.engine->Send(w.alice, "phone", Text(w.ab, "m1", "private")).ok());
  auto group = w.engine->CreateGroup(w.alice, "ab-only", 0, test::OpenGroup()).value();
  REQUIRE(w.engine->JoinGroup(w.bob, group.id).ok());
  auto gc = ConversationId::Group(group.id);
  REQUIRE(w.engine->Send(w.bob, "phone", Text(gc, "g1", "group secret")).ok());

  const auto denied = StatusCode::kPermissionDenied;
  CHECK(w.engine->Send(w.carol, "phone", Text(w.ab, "x1")).status().code() == denied);
  CHECK(w.engine->GetHistory(w.carol, w.ab, {}).status().code() == denied);
  CHECK(w.engine->MarkRead(w.carol, "phone", w.ab, 1).status().code() == denied);
  CHECK(w.engine->Typing(w.carol, "phone", w.ab).code() == denied);
  CHECK(w.engine->Send(w.carol, "phone", Text(gc, "x2")).status().code() == denied);
  CHECK(w.engine->GetHistory(w.carol, gc, {}).status().code() == denied);
  CHECK(w.engine->ListMembers(w.carol, group.id, UserId(), 10).status().code() == denied);
  auto sync = w.engine->Sync(w.carol, SyncRequest{{{w.ab, 0}, {gc, 0}}, true, 100}).value();
  REQUIRE(sync.conversations.size() == 2);
  for (auto& c : sync.conversations) {
    CHECK(c.status.code() == denied);
    CHECK(c.messages.empty());
  }
  // A group that does not exist looks the same as one you are not in.
  CHECK(w.engine->Send(w.carol, "phone", Text(ConversationId::Group(GroupId(4242)), "x3")).status().code() == denied);
  // Messaging a user that does not exist.
  CHECK(w.engine->Send(w.alice, "phone", Text(ConversationId::Direct(w.alice, UserId(4242)), "x4")).status().code() ==
        StatusCode::kNotFound);

  // After leaving, a former member loses access to new and old messages alike.
  REQUIRE(w.engine->LeaveGroup(w.bob, group.id).ok());
  CHECK(w.engine->GetHistory(w.bob, gc, {}).status().code() == denied);
  CHECK(w.engine->Send(w.bob, "phone", Text(gc, "g2")).status().code() == denied);
}

TEST_CASE("history: paged by seq in both directions with has_more") {
  World w;
  for (int i = 1; i <= 25; ++i) REQUIRE(w.engine->Send(w.alice, "p", Text(w.ab, "k" + std::to_string(i))).ok());
  auto latest = w.engine->GetHistory(w.bob, w.ab, HistoryQuery{0, 0, 10}).value();
  REQUIRE(latest.messages.size() == 10);
  CHECK(latest.messages.front().seq == 16);
  CHECK(latest.messages.back().seq == 25);
  CHECK(latest.has_more);
  auto older = w.engine->GetHistory(w.bob, w.ab, HistoryQuery{0, 16, 10}).value();
  CHECK(older.messages.front().seq == 6);
  CHECK(older.messages.back().seq == 15);
  auto oldest = w.engine->GetHistory(w.bob, w.ab, HistoryQuery{0, 6, 10}).value();
  CHECK(oldest.messages.size() == 5);
  CHECK(!oldest.has_more);
  auto forward = w.engine->GetHistory(w.bob, w.ab, HistoryQuery{20, 0, 10}).value();
  CHECK(forward.messages.size() == 5);
  CHECK(forward.messages.front().seq == 21);
  CHECK(!forward.has_more);
  // The page size is capped.
  auto capped = w.engine->GetHistory(w.bob, w.ab, HistoryQuery{0, 0, 100000}).value();
  CHECK(capped.messages.size() == 25);
}

TEST_CASE("sync: returns exactly the missing messages, paged, and says when history is gone") {
  World w;
  auto group = w.engine->CreateGroup(w.bob, "g", 0, test::OpenGroup()).value();
  REQUIRE(w.engine->JoinGroup(w.alice, group.id).ok());
  auto gc = ConversationId::Group(group.id);
  for (int i = 1; i <= 10; ++i) REQUIRE(w.engine->Send(w.bob, "p", Text(w.ab, "d" + std::to_string(i))).ok());
  for (int i = 1; i <= 3; ++i) REQUIRE(w.engine->Send(w.bob, "p", Text(gc, "g" + std::to_string(i))).ok());

  // The device had seqs 1..7 of the 1:1 and knew nothing of the group.
  auto r = w.engine->Sync(w.alice, SyncRequest{{{w.ab, 7}}, true, 100}).value();
  REQUIRE(r.conversations.size() == 2);
  for (auto& c : r.conversations) {
    CHECK(c.status.ok());
    CHECK(!c.history_lost);
    CHECK(!c.has_more);
    if (c.conversation == w.ab) {
      REQUIRE(c.messages.size() == 3);
      CHECK(c.messages[0].seq == 8);
      CHECK(c.messages[2].seq == 10);
      CHECK(c.last_seq == 10);
    } else {
      CHECK(c.conversation == gc);
      REQUIRE(c.messages.size() == 3);
      CHECK(c.messages[0].seq == 1);
    }
  }

  // Paged: 2 at a time.
  auto p1 = w.engine->Sync(w.alice, SyncRequest{{{w.ab, 5}}, false, 2}).value();
  REQUIRE(p1.conversations.size() == 1);
  CHECK(p1.conversations[0].messages.size() == 2);
  CHECK(p1.conversations[0].has_more);
  auto p2 = w.engine->Sync(w.alice, SyncRequest{{{w.ab, 7}}, false, 2}).value();
  CHECK(p2.conversations[0].messages[0].seq == 8);

  // Up to date: nothing.
  auto none = w.engine->Sync(w.alice, SyncRequest{{{w.ab, 10}}, false, 100}).value();
  CHECK(none.conversations[0].messages.empty());
  CHECK(!none.conversations[0].has_more);
}

TEST_CASE("sync: limit 0 is the default, not one message; unknown conversations are off by default, as on the wire") {
  World w;
  auto group = w.engine->CreateGroup(w.bob, "g").value();
  REQUIRE(w.engine->JoinGroup(w.alice, group.id).ok());
  for (int i = 1; i <= 5; ++i) REQUIRE(w.engine->Send(w.bob, "p", Text(w.ab, "d" + std::to_string(i))).ok());

  SyncRequest defaults;
  CHECK_FALSE(defaults.include_unknown_conversations);
  CHECK(defaults.limit_per_conversation == SyncRequest::kDefaultSyncLimit);
  defaults.positions.push_back(SyncPosition{w.ab, 0});
  defaults.limit_per_conversation = 0;
  auto r = w.engine->Sync(w.alice, defaults).value();
  REQUIRE(r.conversations.size() == 1);  // the group is not mentioned, so not answered
  CHECK(r.conversations[0].messages.size() == 5);
  CHECK_FALSE(r.conversations[0].has_more);
}

TEST_CASE("history and sync: a reply stops at max_reply_bytes with has_more, and paging still reaches every message") {
  // 200 KiB: four 50 KB messages a page; 40 KiB: less than one, so one a page (progress).
  for (uint32_t budget : {200u * 1024, 40u * 1024}) {
    CAPTURE(budget);
    const size_t per_page = std::max<size_t>(1, budget / (50'000 + 160));
    Options o = FastOptions();
    o.max_reply_bytes = budget;
    auto engine = Engine::Open(o).value();
    UserId alice = MustRegister(*engine, "alice");
    UserId bob = MustRegister(*engine, "bob");
    auto ab = ConversationId::Direct(alice, bob);
    auto group = engine->CreateGroup(bob, "g", 0, test::OpenGroup()).value();
    REQUIRE(engine->JoinGroup(alice, group.id).ok());
    auto gc = ConversationId::Group(group.id);
    const std::string big(50'000, 'x');
    for (int i = 1; i <= 10; ++i) REQUIRE(engine->Send(alice, "p", Text(ab, "b" + std::to_string(i), big)).ok());
    REQUIRE(engine->Send(bob, "p", Text(gc, "g1", "small")).ok());

    // History, newest first: short pages with has_more, contiguous, down to seq 1.
    std::vector<Seq> seen;
    Seq before = 0;
    for (int guard = 0; guard < 20; ++guard) {
      auto page = engine->GetHistory(bob, ab, HistoryQuery{0, before, 200}).value();
      REQUIRE(!page.messages.empty());
      CHECK(page.messages.size() <= per_page);
      for (auto it = page.messages.rbegin(); it != page.messages.rend(); ++it) seen.push_back(it->seq);
      before = page.messages.front().seq;
      if (!page.has_more) break;
    }
    REQUIRE(seen.size() == 10);
    for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == 10 - i);
    // Forward from seq 1: the page ends early, has_more says so.
    auto forward = engine->GetHistory(bob, ab, HistoryQuery{1, 0, 200}).value();
    CHECK(forward.has_more);
    CHECK(forward.messages.front().seq == 2);
    CHECK(forward.messages.size() == per_page);

    // Sync: one budget for the whole reply; conversations past it report has_more without
    // messages, and syncing again from what arrived gets the rest, gapless.
    std::map<ConversationId, Seq> have;
    int rounds = 0;
    for (; rounds < 30; ++rounds) {
      SyncRequest req{{}, true, 1000};
      for (auto& [c, s] : have) req.positions.push_back({c, s});
      auto r = engine->Sync(alice, req).value();
      size_t count = 0;
      bool more = false;
      for (auto& c : r.conversations) {
        for (auto& m : c.messages) {
          CHECK(m.seq == have[c.conversation] + 1);
          have[c.conversation] = m.seq;
          count += m.content.size() > 1000;
        }
        more = more || c.has_more;
      }
      CHECK(count <= per_page);
      if (!more) break;
    }
    CHECK(rounds >= 10 / static_cast<int>(per_page));
    CHECK(have[ab] == 10);
    CHECK(have[gc] == 1);
  }
}

TEST_CASE("sync: trimmed history is reported, never a silent hole") {
  Options o = FastOptions();
  auto store = NewMemoryStore();
  o.store = store;
  auto engine = Engine::Open(o).value();
  UserId a = MustRegister(*engine, "alice"), b = MustRegister(*engine, "bob");
  auto c = ConversationId::Direct(a, b);
  for (int i = 1; i <= 10; ++i) REQUIRE(engine->Send(a, "p", Text(c, "k" + std::to_string(i))).ok());
  REQUIRE(store->TrimHistory(c, 6).ok());
  auto r = engine->Sync(b, SyncRequest{{{c, 2}}, false, 100}).value();
  REQUIRE(r.conversations.size() == 1);
  auto& s = r.conversations[0];
  CHECK(s.history_lost);
  CHECK(s.first_available_seq == 6);
  REQUIRE(s.messages.size() == 5);
  CHECK(s.messages.front().seq == 6);
  // A device that already had everything below the trim point lost nothing.
  auto ok = engine->Sync(b, SyncRequest{{{c, 5}}, false, 100}).value();
  CHECK(!ok.conversations[0].history_lost);
  CHECK(ok.conversations[0].messages.size() == 5);
}

TEST_CASE("read state: unread counts, read receipts to the other members and the reader's other devices") {
  World w;
  auto alice_phone = w.Attach(w.alice, "phone");
  auto bob_phone = w.Attach(w.bob, "phone");
  auto bob_laptop = w.Attach(w.bob, "laptop");
  for (int i = 1; i <= 4; ++i) REQUIRE(w.engine->Send(w.alice, "phone", Text(w.ab, "k" + std::to_string(i))).ok());
  auto list = w.engine->ListConversations(w.bob, {}, 10).value();
  REQUIRE(list.size() == 1);
  CHECK(list[0].unread == 4);
  CHECK(list[0].last_message->seq == 4);
  CHECK(w.engine->ListConversations(w.alice, {}, 10).value()[0].unread == 0);

  REQUIRE(w.engine->Drain().ok());
  auto read = w.engine->MarkRead(w.bob, "phone", w.ab, 3);
  REQUIRE(read.ok());
  CHECK(*read == 3);
  CHECK(w.engine->ListConversations(w.bob, {}, 10).value()[0].unread == 1);
  // Going backwards changes nothing and sends no receipt.
  CHECK(w.engine->MarkRead(w.bob, "phone", w.ab, 1).value() == 3);
  REQUIRE(w.engine->Drain().ok());

  auto receipts = alice_phone->Of<ReadReceiptEvent>();
  REQUIRE(receipts.size() == 1);
  CHECK(receipts[0].reader == w.bob);
  CHECK(receipts[0].read_seq == 3);
  CHECK(bob_laptop->Of<ReadReceiptEvent>().size() == 1);
  CHECK(bob_phone->Of<ReadReceiptEvent>().empty());
}

TEST_CASE("groups: roles, kicks, transfer, dismiss") {
  World w;
  UserId dave = MustRegister(*w.engine, "dave");
  auto g = w.engine->CreateGroup(w.alice, "team", 0, test::OpenGroup()).value();
  CHECK(g.owner == w.alice);
  CHECK(g.max_members == 100000);
  for (UserId u : {w.bob, w.carol, dave}) REQUIRE(w.engine->JoinGroup(u, g.id).ok());
  CHECK(w.engine->JoinGroup(w.bob, g.id).code() == StatusCode::kAlreadyExists);
  CHECK(w.engine->GetGroup(w.alice, g.id).value().member_count == 4);

  CHECK(w.engine->KickMember(w.bob, g.id, w.carol).code() == StatusCode::kPermissionDenied);
  CHECK(w.engine->SetMemberRole(w.bob, g.id, w.bob, GroupRole::kAdmin).code() == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->SetMemberRole(w.alice, g.id, w.bob, GroupRole::kAdmin).ok());
  CHECK(w.engine->SetMemberRole(w.alice, g.id, w.bob, GroupRole::kOwner).code() == StatusCode::kInvalidArgument);
  REQUIRE(w.engine->KickMember(w.bob, g.id, w.carol).ok());  // admin kicks a member
  CHECK(w.engine->KickMember(w.bob, g.id, w.alice).code() == StatusCode::kPermissionDenied);
  CHECK(w.engine->LeaveGroup(w.alice, g.id).code() == StatusCode::kFailedPrecondition);

  auto page1 = w.engine->ListMembers(dave, g.id, UserId(), 2).value();
  REQUIRE(page1.size() == 2);
  auto page2 = w.engine->ListMembers(dave, g.id, page1.back().user, 2).value();
  CHECK(page2.size() == 1);

  CHECK(w.engine->TransferOwnership(w.bob, g.id, dave).code() == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->TransferOwnership(w.alice, g.id, dave).ok());
  CHECK(w.engine->GetGroup(w.alice, g.id).value().owner == dave);
  REQUIRE(w.engine->LeaveGroup(w.alice, g.id).ok());  // no longer the owner
  CHECK(w.engine->DismissGroup(w.bob, g.id).code() == StatusCode::kPermissionDenied);
  CHECK(w.engine->DeleteUser(dave).code() == StatusCode::kFailedPrecondition);  // owns a group
  REQUIRE(w.engine->DismissGroup(dave, g.id).ok());
  CHECK(w.engine->GetGroup(dave, g.id).status().code() == StatusCode::kNotFound);
  CHECK(w.engine->Send(dave, "p", Text(ConversationId::Group(g.id), "late")).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.engine->JoinGroup(w.carol, g.id).code() == StatusCode::kNotFound);
  CHECK(w.engine->DeleteUser(dave).ok());
  CHECK(w.engine->GetUser(dave).status().code() == StatusCode::kNotFound);
}

TEST_CASE("groups: a full group refuses members") {
  World w;
  auto g = w.engine->CreateGroup(w.alice, "pair", 2, test::OpenGroup()).value();
  REQUIRE(w.engine->JoinGroup(w.bob, g.id).ok());
  CHECK(w.engine->JoinGroup(w.carol, g.id).code() == StatusCode::kResourceExhausted);
  CHECK(w.engine->CreateGroup(w.alice, "", 0).status().code() == StatusCode::kInvalidArgument);
  CHECK(w.engine->CreateGroup(w.alice, "huge", 200000).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("fanout: a group above the realtime threshold is delivered by the task worker in batches") {
  Options o = FastOptions();
  o.realtime_fanout_max_members = 5;
  o.fanout_batch_size = 4;
  auto engine = Engine::Open(o).value();
  UserId owner = MustRegister(*engine, "owner");
  auto g = engine->CreateGroup(owner, "big", 0, test::OpenGroup()).value();
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 13; ++i) {
    UserId u = MustRegister(*engine, "member" + std::to_string(i));
    REQUIRE(engine->JoinGroup(u, g.id).ok());
    if (i % 3 == 0) continue;  // some members are offline
    sinks.push_back(std::make_shared<RecordingSink>());
    REQUIRE(engine->Attach(u, "d", sinks.back()).ok());
  }
  auto owner_other = std::make_shared<RecordingSink>();
  REQUIRE(engine->Attach(owner, "tablet", owner_other).ok());
  REQUIRE(engine->Send(owner, "phone", Text(ConversationId::Group(g.id), "k1", "to everyone")).ok());
  REQUIRE(engine->Drain().ok());
  for (auto& s : sinks) {
    auto got = s->Of<NewMessageEvent>();
    REQUIRE(got.size() == 1);
    CHECK(got[0].message.content == "to everyone");
  }
  CHECK(owner_other->Of<NewMessageEvent>().size() == 1);
  // Typing is not fanned out to large groups; small-group typing is tested below.
  CHECK(engine->Typing(owner, "phone", ConversationId::Group(g.id)).ok());
}

TEST_CASE("presence: direct-chat peers see a user come online and go offline, and typing reaches the peer") {
  World w;
  REQUIRE(w.engine->Send(w.alice, "p", Text(w.ab, "k1")).ok());
  auto bob = w.Attach(w.bob, "phone");
  auto session = w.engine->Attach(w.alice, "phone", std::make_shared<RecordingSink>());
  REQUIRE(session.ok());
  auto second = w.engine->Attach(w.alice, "laptop", std::make_shared<RecordingSink>());
  REQUIRE(w.engine->Drain().ok());
  std::vector<UserId> both{w.alice, w.carol};
  auto online = w.engine->GetPresence(both).value();
  CHECK(online == std::vector<bool>{true, false});
  auto ev = bob->Of<PresenceEvent>();
  REQUIRE(ev.size() == 1);  // the second device does not announce again
  CHECK(ev[0].user == w.alice);
  CHECK(ev[0].online);

  REQUIRE(w.engine->Typing(w.alice, "phone", w.ab).ok());
  w.engine->Detach(*session);
  w.engine->Detach(*second);
  REQUIRE(w.engine->Drain().ok());
  ev = bob->Of<PresenceEvent>();
  REQUIRE(ev.size() == 2);
  CHECK(!ev[1].online);
  CHECK(w.engine->GetPresence(both).value() == std::vector<bool>{false, false});
  auto typing = bob->Of<TypingEvent>();
  REQUIRE(typing.size() == 1);
  CHECK(typing[0].user == w.alice);
}

TEST_CASE("presence: an unsolicited message does not show its sender the recipient's presence; a reply or a read does") {
  World w;
  auto ac = ConversationId::Direct(w.alice, w.carol);
  REQUIRE(w.engine->Send(w.carol, "p", Text(ac, "spam", "hello stranger")).ok());
  auto carol = w.Attach(w.carol, "phone");
  auto session = w.engine->Attach(w.alice, "phone", std::make_shared<RecordingSink>());
  REQUIRE(session.ok());
  REQUIRE(w.engine->Drain().ok());
  CHECK(carol->Of<PresenceEvent>().empty());  // alice never answered carol
  w.engine->Detach(*session);
  REQUIRE(w.engine->Drain().ok());
  CHECK(carol->Of<PresenceEvent>().empty());

  // Alice reads carol's message: the read receipt tells carol as much, so presence follows.
  REQUIRE(w.engine->MarkRead(w.alice, "phone", ac, 1).ok());
  session = w.engine->Attach(w.alice, "phone", std::make_shared<RecordingSink>());
  REQUIRE(session.ok());
  REQUIRE(w.engine->Drain().ok());
  auto ev = carol->Of<PresenceEvent>();
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].user == w.alice);
  CHECK(ev[0].online);
  w.engine->Detach(*session);

  // A reply does too, in the other direction as well: bob wrote first, alice answered.
  auto bob = w.Attach(w.bob, "phone");
  REQUIRE(w.engine->Send(w.bob, "p", Text(w.ab, "b1", "hi alice")).ok());
  REQUIRE(w.engine->Send(w.alice, "p", Text(w.ab, "a1", "hi bob")).ok());
  REQUIRE(w.engine->Drain().ok());
  bob->Clear();
  session = w.engine->Attach(w.alice, "laptop", std::make_shared<RecordingSink>());
  REQUIRE(session.ok());
  REQUIRE(w.engine->Drain().ok());
  CHECK(bob->Of<PresenceEvent>().size() == 1);
}

TEST_CASE("send async: the callback gets the ack once the message is durable") {
  World w;
  std::promise<Result<SendAck>> done;
  w.engine->SendAsync(w.alice, "p", Text(w.ab, "async"), [&](Result<SendAck> r) { done.set_value(std::move(r)); });
  auto r = done.get_future().get();
  REQUIRE(r.ok());
  CHECK(r->seq == 1);
  CHECK(w.engine->GetHistory(w.bob, w.ab, {}).value().messages.size() == 1);
}

TEST_CASE("concurrency: 8 threads x 10,000 sends with retries give seqs exactly 1..80,000 (memory store)") {
  auto engine = Engine::Open(FastOptions()).value();
  im::test::CheckConcurrentSendsGapless(*engine, 10'000);
}
