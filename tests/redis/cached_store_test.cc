// CachedStore against a real redis-server (redis_fixture.h): the store conformance suite through
// the cache, reads served from Redis after the first, every write visible to the next read, and
// a Redis outage that costs speed but never a wrong or failed answer.
#include <doctest/doctest.h>

#include <atomic>

#include "im/cached_store.h"
#include "im/testing/store_conformance.h"
#include "redis/redis_fixture.h"

using namespace im;
using im::test::RedisServer;

namespace {

std::unique_ptr<RedisServer> MustStartRedis() {
  auto server = RedisServer::Start();
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  return std::move(server).value();
}

CachedStoreOptions OptionsFor(const RedisServer& server, const std::string& prefix) {
  CachedStoreOptions o;
  o.port = server.port();
  o.key_prefix = prefix;
  return o;
}

// Counts the reads that reach the store behind the cache.
class CountingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<User> GetUser(UserId id) override {
    user_reads++;
    return StoreWrapper::GetUser(id);
  }
  Result<GroupMember> GetGroupMember(GroupId g, UserId u) override {
    member_reads++;
    return StoreWrapper::GetGroupMember(g, u);
  }
  Result<std::vector<GroupMember>> ListGroupMembers(GroupId g, UserId after, uint32_t limit) override {
    list_reads++;
    return StoreWrapper::ListGroupMembers(g, after, limit);
  }
  std::atomic<int> user_reads{0}, member_reads{0}, list_reads{0};
};

}  // namespace

TEST_CASE("cached store passes the store conformance suite") {
  auto server = MustStartRedis();
  int n = 0;
  for (auto& c : im::testing::StoreConformanceCases()) {
    // A prefix per case: every case starts a new store whose ids repeat the previous one's.
    auto store = OpenCachedStore(NewMemoryStore(), OptionsFor(*server, "case" + std::to_string(n++) + ":"));
    REQUIRE(store.ok());
    Status s = c.run(**store);
    CHECK_MESSAGE(s.ok(), c.name << ": " << s.message());
  }
}

TEST_CASE("cached store: reads come from Redis after the first, writes are seen at once") {
  auto server = MustStartRedis();
  auto counting = std::make_shared<CountingStore>(NewMemoryStore());
  auto cache = OpenCachedStore(counting, OptionsFor(*server, "t:")).value();

  User alice = cache->CreateUser({"alice", "Alice", "hash", 1}).value();
  User bob = cache->CreateUser({"bob", "Bob", "hash", 1}).value();
  REQUIRE(cache->GetUser(alice.id).ok());
  REQUIRE(cache->GetUser(alice.id).ok());
  CHECK(counting->user_reads == 1);
  CHECK(cache->Stats().hits >= 1);

  alice.display_name = "Alice A.";
  REQUIRE(cache->UpdateUser(alice).ok());
  CHECK(cache->GetUser(alice.id)->display_name == "Alice A.");

  Group g = cache->CreateGroup({"team", alice.id, 10, 1}).value();
  CHECK(cache->GetGroup(g.id)->member_count == 1);
  REQUIRE(cache->GetGroupMember(g.id, alice.id).ok());
  REQUIRE(cache->GetGroupMember(g.id, alice.id).ok());
  CHECK(counting->member_reads == 1);
  CHECK(cache->GetGroupMember(g.id, bob.id).status().code() == StatusCode::kNotFound);
  REQUIRE(cache->ListGroupMembers(g.id, UserId(), 100)->size() == 1);

  REQUIRE(cache->AddGroupMember(g.id, {bob.id, GroupRole::kMember, 2}).ok());
  CHECK(cache->GetGroup(g.id)->member_count == 2);
  CHECK(cache->GetGroupMember(g.id, bob.id).ok());
  auto members = cache->ListGroupMembers(g.id, UserId(), 100);
  REQUIRE(members.ok());
  CHECK(members->size() == 2);
  int lists = counting->list_reads;
  REQUIRE(cache->ListGroupMembers(g.id, UserId(), 100).ok());
  CHECK(counting->list_reads == lists);  // served from the cache

  REQUIRE(cache->SetGroupMemberRole(g.id, bob.id, GroupRole::kAdmin).ok());
  CHECK(cache->GetGroupMember(g.id, bob.id)->role == GroupRole::kAdmin);
  REQUIRE(cache->TransferGroupOwnership(g.id, alice.id, bob.id).ok());
  CHECK(cache->GetGroup(g.id)->owner == bob.id);
  CHECK(cache->GetGroupMember(g.id, alice.id)->role == GroupRole::kAdmin);
  REQUIRE(cache->RemoveGroupMember(g.id, alice.id).ok());
  CHECK(cache->GetGroupMember(g.id, alice.id).status().code() == StatusCode::kNotFound);
  CHECK(cache->ListGroupMembers(g.id, UserId(), 100)->size() == 1);

  // Deleting a user drops their cached memberships too.
  Group other = cache->CreateGroup({"other", bob.id, 10, 1}).value();
  REQUIRE(cache->AddGroupMember(other.id, {alice.id, GroupRole::kMember, 3}).ok());
  REQUIRE(cache->GetGroupMember(other.id, alice.id).ok());
  REQUIRE(cache->DeleteUser(alice.id).ok());
  CHECK(cache->GetUser(alice.id).status().code() == StatusCode::kNotFound);
  CHECK(cache->GetGroupMember(other.id, alice.id).status().code() == StatusCode::kNotFound);

  REQUIRE(cache->DismissGroup(g.id).ok());
  CHECK(cache->GetGroup(g.id)->dismissed);
  CHECK(cache->GetGroupMember(g.id, bob.id).status().code() == StatusCode::kNotFound);
  CHECK(cache->Stats().stale_deletes == 0);
}

TEST_CASE("cached store: with Redis down every call still answers from the store") {
  auto server = MustStartRedis();
  auto cache = OpenCachedStore(NewMemoryStore(), OptionsFor(*server, "down:")).value();
  User alice = cache->CreateUser({"alice", "Alice", "hash", 1}).value();
  REQUIRE(cache->GetUser(alice.id).ok());  // now cached
  server->Kill();
  alice.display_name = "changed while Redis was down";
  REQUIRE(cache->UpdateUser(alice).ok());
  CHECK(cache->Stats().stale_deletes == 1);
  auto read = cache->GetUser(alice.id);
  REQUIRE(read.ok());
  CHECK(read->display_name == "changed while Redis was down");
  CHECK(cache->Stats().redis_errors >= 1);
  Group g = cache->CreateGroup({"team", alice.id, 10, 1}).value();
  CHECK(cache->GetGroupMember(g.id, alice.id).ok());
}
