// The SQLite store's device tokens, push settings and dead letters beyond the conformance suite:
// a version-1 database (before they existed) gains their tables on open, and what they store
// survives a reopen, dead-letter ids included.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

#include "im/sqlite_store.h"
#include "sqlite/schema.h"
#include "support/temp_db.h"

namespace {

using im::DeadLetter;
using im::DeviceToken;
using im::PushPlatform;
using im::PushSettings;
using im::StatusCode;
using im::UserId;

constexpr im::TimestampMs kT0 = 1'700'000'000'000;

im::test::TempDbDir temp_dbs("im-sqlite-push");

std::string TempDb(const std::string& name) { return temp_dbs.NewPath(name); }

std::shared_ptr<im::Store> Open(const std::string& path) {
  auto store = im::OpenSqliteStore({.path = path});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return *store;
}

// Runs `sql` on a connection of its own; returns the first column of the first row (or -1).
int64_t Raw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  const char* tail = sql.c_str();
  int64_t first = -1;
  while (*tail != '\0') {
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db, tail, -1, &st, &tail) == SQLITE_OK, sqlite3_errmsg(db));
    if (st == nullptr) break;  // trailing whitespace
    int rc = sqlite3_step(st);
    CHECK_MESSAGE((rc == SQLITE_ROW || rc == SQLITE_DONE), sqlite3_errmsg(db));
    if (rc == SQLITE_ROW && first == -1) first = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return first;
}

int64_t TableCount(const std::string& path) {
  return Raw(path,
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
             "name IN ('device_tokens', 'push_settings', 'dead_letters')");
}

}  // namespace

TEST_CASE("sqlite store: a version-1 database gains the push and dead-letter tables on open") {
  REQUIRE(im::sqlite::LatestSchemaVersion() == 3);
  const std::string path = TempDb("v1.db");
  UserId alice;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
  }
  // Back to what libim 1.0 wrote: version 1, none of the new tables or columns.
  Raw(path,
      "DROP TABLE device_tokens; DROP TABLE push_settings; DROP TABLE dead_letters; "
      "DELETE FROM sqlite_sequence WHERE name = 'dead_letters'; DROP TABLE group_relations; "
      "ALTER TABLE groups DROP COLUMN join_policy; ALTER TABLE groups DROP COLUMN history_visibility; "
      "ALTER TABLE group_members DROP COLUMN joined_seq; PRAGMA user_version = 1;");
  REQUIRE(Raw(path, "PRAGMA user_version") == 1);
  REQUIRE(TableCount(path) == 0);

  auto store = Open(path);
  CHECK(Raw(path, "PRAGMA user_version") == 3);
  CHECK(TableCount(path) == 3);
  CHECK(store->GetUser(alice).value().username == "alice");  // the old data is untouched
  DeviceToken token{alice, PushPlatform::kFcm, "fcm-token", "web", kT0};
  REQUIRE(store->PutDeviceToken(token).ok());
  auto tokens = store->ListDeviceTokens(alice);
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 1);
  CHECK((*tokens)[0].token == "fcm-token");
  REQUIRE(store->PutPushSettings(alice, PushSettings{true, false}).ok());
  CHECK(store->GetPushSettings(alice).value().muted);
  auto id = store->AddDeadLetter(DeadLetter{0, "im-task", "k", "p", "e", 1, kT0});
  REQUIRE_MESSAGE(id.ok(), id.status().ToString());
  CHECK(store->GetDeadLetter(*id).value().payload == "p");
}

TEST_CASE("sqlite store: tokens, settings and dead letters survive a reopen, and dead-letter ids are not reused") {
  const std::string path = TempDb("reopen.db");
  UserId alice;
  int64_t highest = 0;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
    REQUIRE(store->PutDeviceToken({alice, PushPlatform::kApns, "apns-token", "phone", kT0 + 2}).ok());
    REQUIRE(store->PutDeviceToken({alice, PushPlatform::kFcm, "fcm-token", "web", kT0 + 1}).ok());
    REQUIRE(store->PutPushSettings(alice, PushSettings{false, false}).ok());
    for (int i = 0; i < 3; ++i) highest = store->AddDeadLetter({0, "im-task", "k", "p", "e", i, kT0}).value();
    REQUIRE(store->DeleteDeadLetter(highest).ok());  // the highest id goes: it must not come back
  }
  auto store = Open(path);
  auto tokens = store->ListDeviceTokens(alice).value();
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].token == "fcm-token");
  CHECK(tokens[1].token == "apns-token");
  CHECK(tokens[1].device == "phone");
  auto settings = store->GetPushSettings(alice).value();
  CHECK_FALSE(settings.muted);
  CHECK_FALSE(settings.show_preview);
  CHECK(store->ListDeadLetters(0, 10).value().size() == 2);
  CHECK(store->GetDeadLetter(highest).status().code() == StatusCode::kNotFound);
  auto next = store->AddDeadLetter({0, "im-task", "k", "p", "e", 0, kT0});
  REQUIRE(next.ok());
  CHECK(*next > highest);
}
