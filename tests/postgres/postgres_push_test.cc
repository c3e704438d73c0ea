// The PostgreSQL store's device tokens, push settings and dead letters beyond the conformance
// suite: a version-1 database gains their tables on open, DeleteUser racing registrations leaves
// no orphan, and dead-letter ids keep increasing across stores.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "postgres/postgres_test_util.h"
#include "postgres/schema.h"

namespace {

using im::DeadLetter;
using im::PushPlatform;
using im::PushSettings;
using im::StatusCode;
using im::UserId;
using im::test::kT0;
using im::test::MakeUser;
using im::test::NewDatabase;
using im::test::OpenStore;
using im::test::Sql;

int CountNewTables(const std::string& db) {
  return Sql(db,
             "SELECT (to_regclass('device_tokens') IS NOT NULL)::int + (to_regclass('push_settings') IS NOT NULL)::int "
             "+ (to_regclass('dead_letters') IS NOT NULL)::int")[0][0]
      .as<int>();
}

}  // namespace

TEST_CASE("postgres store: a version-1 database gains the push and dead-letter tables on open") {
  REQUIRE(im::postgres::LatestSchemaVersion() == 3);
  const std::string db = NewDatabase();
  UserId alice;
  {
    auto store = OpenStore(db);
    alice = MakeUser(*store, "alice");
  }
  // Back to what libim 1.0 wrote: migration 1 only.
  Sql(db, "DROP TABLE device_tokens, push_settings, dead_letters, group_relations");
  Sql(db, "ALTER TABLE groups DROP COLUMN join_policy, DROP COLUMN history_visibility");
  Sql(db, "ALTER TABLE group_members DROP COLUMN joined_seq");
  Sql(db, "DELETE FROM schema_migrations WHERE version >= 2");
  REQUIRE(CountNewTables(db) == 0);
  REQUIRE(Sql(db, "SELECT max(version) FROM schema_migrations")[0][0].as<int>() == 1);

  auto store = OpenStore(db);
  CHECK(CountNewTables(db) == 3);
  auto migrations = Sql(db, "SELECT count(*), max(version) FROM schema_migrations");
  CHECK(migrations[0][0].as<int>() == 3);
  CHECK(migrations[0][1].as<int>() == 3);
  CHECK(store->GetUser(alice).value().username == "alice");
  REQUIRE(store->PutDeviceToken({alice, PushPlatform::kApns, "apns-token", "phone", kT0}).ok());
  CHECK(store->ListDeviceTokens(alice).value().size() == 1);
  REQUIRE(store->PutPushSettings(alice, PushSettings{true, false}).ok());
  CHECK(store->GetPushSettings(alice).value().muted);
  auto id = store->AddDeadLetter(DeadLetter{0, "im-task", "k", "p", "e", 1, kT0});
  REQUIRE_MESSAGE(id.ok(), id.status().ToString());
  CHECK(store->GetDeadLetter(*id).value().payload == "p");
  // Opening again migrates nothing.
  { auto again = OpenStore(db); }
  CHECK(Sql(db, "SELECT count(*) FROM schema_migrations")[0][0].as<int>() == 3);
}

TEST_CASE("postgres store: registrations racing DeleteUser leave no token or setting without its user") {
  const std::string db = NewDatabase();
  auto first = OpenStore(db);
  auto second = OpenStore(db);  // another process's store: its own connections
  constexpr int kRounds = 40;
  int registered_after_delete = 0;
  for (int round = 0; round < kRounds; ++round) {
    UserId u = MakeUser(*first, "user" + std::to_string(round));
    std::atomic<bool> started{false};
    std::thread registrar([&] {
      for (int i = 0; i < 8; ++i) {
        auto s = second->PutDeviceToken(
            {u, PushPlatform::kFcm, "t" + std::to_string(round) + "-" + std::to_string(i), "d", kT0 + i});
        if (s.code() == StatusCode::kNotFound) registered_after_delete++;
        (void)second->PutPushSettings(u, PushSettings{true, false});
        started = true;
      }
    });
    while (!started) std::this_thread::yield();  // delete while registrations are under way
    REQUIRE(first->DeleteUser(u).ok());
    registrar.join();
  }
  MESSAGE(registered_after_delete << " of " << kRounds * 8 << " registrations found their user deleted");
  auto orphans = Sql(db,
                     "SELECT (SELECT count(*) FROM device_tokens t WHERE NOT EXISTS "
                     "(SELECT 1 FROM users u WHERE u.id = t.user_id)) + (SELECT count(*) FROM push_settings s "
                     "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id))");
  CHECK(orphans[0][0].as<int64_t>() == 0);
}

TEST_CASE("postgres store: dead-letter ids from two stores are distinct and never reused") {
  const std::string db = NewDatabase();
  auto first = OpenStore(db);
  auto second = OpenStore(db);
  int64_t a = first->AddDeadLetter({0, "t", "k", "p", "e", 1, kT0}).value();
  int64_t b = second->AddDeadLetter({0, "t", "k", "p", "e", 1, kT0}).value();
  CHECK(b > a);
  REQUIRE(second->DeleteDeadLetter(b).ok());
  CHECK(first->GetDeadLetter(b).status().code() == StatusCode::kNotFound);
  int64_t c = first->AddDeadLetter({0, "t", "k", "p", "e", 1, kT0}).value();
  CHECK(c > b);
  auto all = second->ListDeadLetters(0, 10).value();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == a);
  CHECK(all[1].id == c);
}
