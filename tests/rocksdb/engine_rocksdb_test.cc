// The engine on the RocksDB store: send, history and sync through the whole engine, concurrent
// sends, and a reopen.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "im/rocksdb_store.h"
#include "support/engine_fixture.h"

namespace {

std::string TempDir(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("im-rocksdb-engine-" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Removes this process's databases at exit.
struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / ("im-rocksdb-engine-" + std::to_string(::getpid())), ec);
  }
} cleanup;

std::unique_ptr<im::Engine> OpenEngine(const std::string& path) {
  im::Options o = im::test::FastOptions();
  auto store = im::OpenRocksDbStore({.path = path});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  o.store = *store;
  auto engine = im::Engine::Open(o);
  REQUIRE_MESSAGE(engine.ok(), engine.status().ToString());
  return std::move(engine).value();
}

im::SendRequest Text(const im::ConversationId& c, std::string key, std::string text) {
  return {c, std::move(key), im::ContentType::kText, std::move(text)};
}

}  // namespace

TEST_CASE("rocksdb engine: send, history and sync, live delivery, and the same after a reopen") {
  const std::string path = TempDir("scenario");
  im::UserId alice, bob, carol;
  im::GroupId group;
  std::string refresh;
  {
    auto engine = OpenEngine(path);
    alice = im::test::MustRegister(*engine, "alice");
    bob = im::test::MustRegister(*engine, "bob");
    carol = im::test::MustRegister(*engine, "carol");
    auto sink = std::make_shared<im::test::RecordingSink>();
    REQUIRE(engine->Attach(bob, "phone", sink).ok());

    const auto ab = im::ConversationId::Direct(alice, bob);
    for (int i = 1; i <= 5; ++i) {
      auto ack = engine->Send(alice, "laptop", Text(ab, "a" + std::to_string(i), "hi " + std::to_string(i)));
      REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
      CHECK(ack->seq == im::Seq(i));
    }
    auto retry = engine->Send(alice, "laptop", Text(ab, "a3", "again"));
    REQUIRE(retry.ok());
    CHECK(retry->duplicate);
    CHECK(retry->seq == 3);
    REQUIRE(engine->Drain().ok());
    CHECK(sink->Of<im::NewMessageEvent>().size() >= 5);  // at-least-once: the retry is fanned out again

    auto history = engine->GetHistory(bob, ab, {0, 0, 3});
    REQUIRE(history.ok());
    REQUIRE(history->messages.size() == 3);
    CHECK(history->messages.front().seq == 3);
    CHECK(history->messages.back().content == "hi 5");
    CHECK(history->has_more);

    group = engine->CreateGroup(carol, "team", 0, im::test::OpenGroup()).value().id;
    REQUIRE(engine->JoinGroup(bob, group).ok());
    const auto gc = im::ConversationId::Group(group);
    REQUIRE(engine->Send(carol, "web", Text(gc, "c1", "welcome")).ok());
    REQUIRE(engine->MarkRead(bob, "phone", ab, 2).ok());

    // A device that holds ab up to 2 and knows nothing of the group.
    auto sync = engine->Sync(bob, {{{ab, 2}}, true, 100});
    REQUIRE(sync.ok());
    REQUIRE(sync->conversations.size() == 2);
    for (auto& c : sync->conversations) {
      CHECK(c.status.ok());
      CHECK_FALSE(c.history_lost);
      if (c.conversation == ab) {
        REQUIRE(c.messages.size() == 3);
        CHECK(c.messages[0].seq == 3);
        CHECK(c.last_seq == 5);
      } else {
        CHECK(c.conversation == gc);
        REQUIRE(c.messages.size() == 1);
        CHECK(c.messages[0].content == "welcome");
      }
    }
    refresh = engine->Login("bob", "password-bob", "phone").value().refresh_token;
  }

  auto engine = OpenEngine(path);
  const auto ab = im::ConversationId::Direct(alice, bob);
  auto list = engine->ListConversations(bob, {}, 10).value();
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == im::ConversationId::Group(group));
  CHECK(list[1].id == ab);
  CHECK(list[1].unread == 3);
  auto sync = engine->Sync(bob, {{{ab, 4}}, false, 100}).value();
  REQUIRE(sync.conversations.size() == 1);
  REQUIRE(sync.conversations[0].messages.size() == 1);
  CHECK(sync.conversations[0].messages[0].seq == 5);
  CHECK(engine->Send(alice, "laptop", Text(ab, "a1", "x")).value().duplicate);
  CHECK(engine->Send(alice, "laptop", Text(ab, "a6", "six")).value().seq == 6);
  CHECK(engine->Refresh(refresh).ok());
  CHECK(engine->Login("carol", "password-carol", "web").ok());
}

TEST_CASE("rocksdb engine: 8 threads x 2,000 sends with retries give seqs exactly 1..16,000") {
  auto engine = OpenEngine(TempDir("concurrent"));
  im::test::CheckConcurrentSendsGapless(*engine, 2'000);
}
