// Helpers shared by the PostgreSQL store tests: a fresh database per test case in the process's
// throwaway cluster, opening stores on it, and raw SQL for inspecting or poking the database.
#ifndef IM_TESTS_POSTGRES_POSTGRES_TEST_UTIL_H_
#define IM_TESTS_POSTGRES_POSTGRES_TEST_UTIL_H_

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "im/postgres_store.h"
#include "im/store.h"
#include "support/postgres_fixture.h"

namespace im::test {

constexpr TimestampMs kT0 = 1'700'000'000'000;

inline PostgresCluster& Cluster() {
  auto cluster = SharedPostgresCluster();
  REQUIRE_MESSAGE(cluster.ok(), cluster.status().ToString());
  return **cluster;
}

// A new empty database in the shared cluster; returns its conninfo.
inline std::string NewDatabase(PostgresCluster& cluster = Cluster()) {
  auto conninfo = cluster.CreateDatabase();
  REQUIRE_MESSAGE(conninfo.ok(), conninfo.status().ToString());
  return *conninfo;
}

inline std::shared_ptr<Store> OpenStore(const std::string& conninfo, int pool_size = 4, int checkout_timeout_ms = 5000) {
  auto store = OpenPostgresStore({.conninfo = conninfo, .pool_size = pool_size,
                                  .checkout_timeout_ms = checkout_timeout_ms});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return *store;
}

// Runs one statement on a connection of its own and returns the result.
inline pqxx::result Sql(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction t(c);
  return t.exec(sql);
}

inline NewMessage Msg(const ConversationId& c, UserId sender, std::string key, TimestampMs at = kT0,
                      std::string content = "hello") {
  static std::atomic<int64_t> next_id{1};
  return NewMessage{MessageId(next_id++), c, sender, std::move(key), ContentType::kText, std::move(content), at};
}

inline UserId MakeUser(Store& s, const std::string& name) {
  auto u = s.CreateUser({name, "Name " + name, "hash-" + name, kT0});
  REQUIRE_MESSAGE(u.ok(), u.status().ToString());
  return u->id;
}

}  // namespace im::test

#endif  // IM_TESTS_POSTGRES_POSTGRES_TEST_UTIL_H_
