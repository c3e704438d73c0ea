// The SQLite store's group policy beyond the conformance suite: a version-2 database (before join
// policies) is migrated to version 3, and its groups and members keep the access they had.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

#include "im/sqlite_store.h"
#include "sqlite/schema.h"
#include "support/temp_db.h"

namespace {

using namespace im;

constexpr TimestampMs kT0 = 1'700'000'000'000;

test::TempDbDir temp_dbs("im-sqlite-group-policy");

std::shared_ptr<Store> Open(const std::string& path) {
  auto store = OpenSqliteStore({.path = path});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return *store;
}

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  CHECK_MESSAGE(rc == SQLITE_OK, (error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("sqlite store: groups of a version-2 database stay open with full history after the upgrade") {
  REQUIRE(sqlite::LatestSchemaVersion() == 3);
  const std::string path = temp_dbs.NewPath("v2.db");
  GroupId g;
  UserId alice, bob;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
    bob = store->CreateUser({"bob", "Bob", "hash", kT0}).value().id;
    g = store->CreateGroup({"old", alice, 10, kT0}).value().id;
    REQUIRE(
        store->AppendMessage({MessageId(1), ConversationId::Group(g), alice, "k", ContentType::kText, "x", kT0}).ok());
    REQUIRE(store->AddGroupMember(g, {bob, GroupRole::kMember, kT0}).ok());
  }
  // Back to what version 2 wrote.
  Exec(path,
       "DROP TABLE group_relations; ALTER TABLE groups DROP COLUMN join_policy; "
       "ALTER TABLE groups DROP COLUMN history_visibility; ALTER TABLE group_members DROP COLUMN joined_seq; "
       "PRAGMA user_version = 2;");
  auto store = Open(path);
  auto group = store->GetGroup(g);
  REQUIRE(group.ok());
  CHECK(group->join_policy == JoinPolicy::kOpen);
  CHECK(group->history_visibility == HistoryVisibility::kFull);
  auto member = store->GetGroupMember(g, bob);
  REQUIRE(member.ok());
  CHECK(member->joined_seq == 0);
  // The new table works on the migrated file.
  REQUIRE(store->PutGroupRelation({g, bob, GroupRelationKind::kBan, alice, kT0}).ok());
  CHECK(store->GetGroupMember(g, bob).status().code() == StatusCode::kNotFound);
}
