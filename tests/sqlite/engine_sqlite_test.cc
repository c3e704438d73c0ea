// The engine scenarios that matter most for durability, run on the SQLite store.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "im/sqlite_store.h"
#include "support/engine_fixture.h"

namespace {

std::string TempDb(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("im-sqlite-engine-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  return path.string();
}

}  // namespace

TEST_CASE("sqlite engine: 8 threads x 10,000 sends with retries give seqs exactly 1..80,000") {
  im::Options o = im::test::FastOptions();
  o.store = im::OpenSqliteStore({.path = TempDb("concurrent.db")}).value();
  auto engine = im::Engine::Open(o).value();
  im::test::CheckConcurrentSendsGapless(*engine, 10'000);
}

TEST_CASE("sqlite engine: everything survives a clean reopen") {
  std::string path = TempDb("reopen.db");
  im::UserId alice, bob;
  std::string refresh;
  {
    im::Options o = im::test::FastOptions();
    o.store = im::OpenSqliteStore({.path = path}).value();
    auto engine = im::Engine::Open(o).value();
    alice = im::test::MustRegister(*engine, "alice");
    bob = im::test::MustRegister(*engine, "bob");
    auto conv = im::ConversationId::Direct(alice, bob);
    for (int i = 0; i < 5; ++i) {
      REQUIRE(engine->Send(alice, "p", {conv, "k" + std::to_string(i), im::ContentType::kText, "m"}).ok());
    }
    REQUIRE(engine->MarkRead(bob, "p", conv, 2).ok());
    refresh = engine->Login("alice", "password-alice", "p").value().refresh_token;
  }
  im::Options o = im::test::FastOptions();
  o.store = im::OpenSqliteStore({.path = path}).value();
  auto engine = im::Engine::Open(o).value();
  auto conv = im::ConversationId::Direct(alice, bob);
  auto list = engine->ListConversations(bob, {}, 10).value();
  REQUIRE(list.size() == 1);
  CHECK(list[0].last_seq == 5);
  CHECK(list[0].unread == 3);
  CHECK(engine->Send(alice, "p", {conv, "k0", im::ContentType::kText, "m"}).value().duplicate);
  CHECK(engine->Send(alice, "p", {conv, "k9", im::ContentType::kText, "m"}).value().seq == 6);
  CHECK(engine->Refresh(refresh).ok());
  CHECK(engine->Login("alice", "password-alice", "p").ok());
}
