// Search through the engine as imd runs it (SQLite store + SQLite FTS5 index, in-process bus):
// messages are indexed by the im.search task, and a user only ever finds messages of the
// conversations they belong to now.
#include <doctest/doctest.h>

#include <set>

#include "im/sqlite_search.h"
#include "im/sqlite_store.h"
#include "support/engine_fixture.h"
#include "support/temp_db.h"

namespace im {
namespace {

test::TempDbDir temp_dbs("im-engine-search");

std::string TempPath(const std::string& name) { return temp_dbs.NewPath(name); }

struct SearchWorld {
  std::unique_ptr<Engine> engine;
  UserId alice, bob, carol;
  GroupId group;

  explicit SearchWorld(const std::string& name) {
    Options o = test::FastOptions();
    o.store = OpenSqliteStore({.path = TempPath(name + ".db")}).value();
    o.search = OpenSqliteSearchIndex({.path = TempPath(name + "-search.db")}).value();
    engine = Engine::Open(std::move(o)).value();
    alice = test::MustRegister(*engine, "alice");
    bob = test::MustRegister(*engine, "bob");
    carol = test::MustRegister(*engine, "carol");
    group = engine->CreateGroup(alice, "hikers", 0, test::OpenGroup()).value().id;
    REQUIRE(engine->JoinGroup(bob, group).ok());
    REQUIRE(engine->JoinGroup(carol, group).ok());
  }
  void Send(UserId from, const ConversationId& to, const std::string& text) {
    auto ack = engine->Send(from, "dev", SendRequest{to, "", ContentType::kText, text});
    REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
  }
  std::set<std::string> Found(UserId who, const std::string& q, ConversationId in = {}) {
    auto page = engine->Search(who, SearchRequest{q, in, 50, {}});
    REQUIRE_MESSAGE(page.ok(), page.status().ToString());
    std::set<std::string> out;
    for (const auto& h : page->hits) out.insert(h.conversation.str());
    return out;
  }
};

TEST_CASE("search finds only the caller's conversations, and stops finding a group once they leave it") {
  SearchWorld w("membership");
  auto ab = ConversationId::Direct(w.alice, w.bob);
  auto ac = ConversationId::Direct(w.alice, w.carol);
  auto g = ConversationId::Group(w.group);
  w.Send(w.alice, ab, "the quick brown fox");
  w.Send(w.alice, g, "a fox crossed the trail");
  w.Send(w.alice, ac, "carol, the fox secret");
  REQUIRE(w.engine->Send(w.alice, "dev", SendRequest{ac, "", ContentType::kCustom, R"({"fox":1})"}).ok());
  REQUIRE(w.engine->Drain().ok());

  CHECK(w.Found(w.bob, "fox") == std::set<std::string>{ab.str(), g.str()});
  CHECK(w.Found(w.carol, "fox") == std::set<std::string>{ac.str(), g.str()});
  CHECK(w.Found(w.alice, "fox") == std::set<std::string>{ab.str(), ac.str(), g.str()});
  CHECK(w.Found(w.bob, "FOX trail") == std::set<std::string>{g.str()});
  // Naming a conversation one is not in is refused, not silently empty.
  CHECK(w.engine->Search(w.bob, SearchRequest{"fox", ac, 20, {}}).status().code() == StatusCode::kPermissionDenied);
  CHECK(w.Found(w.bob, "fox", ab) == std::set<std::string>{ab.str()});

  REQUIRE(w.engine->LeaveGroup(w.bob, w.group).ok());
  CHECK(w.Found(w.bob, "fox") == std::set<std::string>{ab.str()});
  CHECK(w.Found(w.bob, "trail").empty());
  CHECK(w.engine->Search(w.bob, SearchRequest{"fox", g, 20, {}}).status().code() == StatusCode::kPermissionDenied);

  REQUIRE(w.engine->KickMember(w.alice, w.group, w.carol).ok());
  CHECK(w.Found(w.carol, "fox") == std::set<std::string>{ac.str()});
  // A new member finds the group's messages (history is readable to members).
  auto dave = test::MustRegister(*w.engine, "dave");
  CHECK(w.Found(dave, "fox").empty());
  REQUIRE(w.engine->JoinGroup(dave, w.group).ok());
  CHECK(w.Found(dave, "fox") == std::set<std::string>{g.str()});
  REQUIRE(w.engine->DismissGroup(w.alice, w.group).ok());
  CHECK(w.Found(dave, "fox").empty());
  CHECK(w.Found(w.alice, "fox") == std::set<std::string>{ab.str(), ac.str()});
}

TEST_CASE("search pages newest first without duplicates, with highlights") {
  SearchWorld w("paging");
  auto ab = ConversationId::Direct(w.alice, w.bob);
  for (int i = 0; i < 25; ++i) w.Send(i % 2 ? w.alice : w.bob, ab, "report number " + std::to_string(i));
  w.Send(w.alice, ab, "unrelated");
  REQUIRE(w.engine->Drain().ok());
  std::vector<Seq> seqs;
  SearchRequest q{"report", ab, 10, {}};
  int pages = 0;
  while (true) {
    auto page = w.engine->Search(w.bob, q).value();
    ++pages;
    for (const auto& h : page.hits) {
      seqs.push_back(h.seq);
      CHECK(h.highlight.find("<mark>report</mark>") != std::string::npos);
    }
    if (!page.next_before.valid()) break;
    q.before = page.next_before;
  }
  CHECK(pages == 3);
  REQUIRE(seqs.size() == 25);
  for (size_t i = 0; i + 1 < seqs.size(); ++i) CHECK(seqs[i] == seqs[i + 1] + 1);  // newest first, no gap
  CHECK(seqs.front() == 25);
}

TEST_CASE("search errors: no words, and no index configured") {
  SearchWorld w("errors");
  CHECK(w.engine->Search(w.bob, SearchRequest{"  !!! ", {}, 10, {}}).status().code() == StatusCode::kInvalidArgument);
  auto plain = Engine::Open(test::FastOptions()).value();
  auto u = test::MustRegister(*plain, "zed");
  CHECK(plain->Search(u, SearchRequest{"hello", {}, 10, {}}).status().code() == StatusCode::kNotSupported);
}

}  // namespace
}  // namespace im
