// The Store conformance suite through the network: RemoteStore -> RepoServer -> a store. Every
// expectation of the suite (codes included) must hold as it does for the store itself.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "grpc/repo_fixture.h"
#include "im/testing/store_conformance.h"
#ifdef IM_GRPC_TEST_SQLITE
#include "im/sqlite_store.h"
#endif

namespace im::test {
namespace {

TEST_CASE("remote store conformance: RemoteStore -> RepoServer -> MemoryStore, fresh server per case") {
  int cases = 0;
  for (auto& c : testing::StoreConformanceCases()) {
    auto server = Serve(NewMemoryStore());
    auto remote = Connect(RemoteOptions({server->port()}));
    Status s = c.run(*remote);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
    ++cases;
  }
  CHECK(cases == int(testing::StoreConformanceCases().size()));
}

#ifdef IM_GRPC_TEST_SQLITE
TEST_CASE("remote store conformance: RemoteStore -> RepoServer -> SqliteStore") {
  auto dir = std::filesystem::temp_directory_path() / ("im-grpc-sqlite-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  int n = 0;
  for (auto& c : testing::StoreConformanceCases()) {
    auto sqlite = OpenSqliteStore(SqliteStoreOptions{(dir / ("case" + std::to_string(n++) + ".db")).string(), false});
    REQUIRE_MESSAGE(sqlite.ok(), sqlite.status().ToString());
    auto server = Serve(*sqlite);
    auto remote = Connect(RemoteOptions({server->port()}));
    Status s = c.run(*remote);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
  std::filesystem::remove_all(dir);
}
#endif

}  // namespace
}  // namespace im::test
