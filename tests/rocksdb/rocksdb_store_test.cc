// The RocksDB store: the Store conformance suite, plus what only a durable, group-committed,
// on-disk store can get wrong (reopen, versions, batching, corrupt values, shutdown).
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "im/rocksdb_store.h"
#include "im/testing/store_conformance.h"
#include "rocksdb/codec.h"
#include "rocksdb/schema.h"
#include "rocksdb/write_queue.h"
#include "support/raw_rocksdb.h"

namespace {

namespace fs = std::filesystem;
using im::ConversationId;
using im::GroupId;
using im::GroupRole;
using im::HistoryVisibility;
using im::JoinPolicy;
using im::MessageId;
using im::NewMessage;
using im::Seq;
using im::StatusCode;
using im::UserId;
using im::rocks::Cf;

constexpr im::TimestampMs kT0 = 1'700'000'000'000;

fs::path TempRoot() { return fs::temp_directory_path() / ("im-rocksdb-store-" + std::to_string(::getpid())); }

// Removes this process's databases at exit (every store is closed by then).
struct TempRootCleanup {
  ~TempRootCleanup() {
    std::error_code ec;
    fs::remove_all(TempRoot(), ec);
  }
} temp_root_cleanup;

// A fresh, not yet existing database directory.
std::string TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = TempRoot() / (std::to_string(counter++) + "-" + name);
  fs::remove_all(dir);
  return dir.string();
}

std::shared_ptr<im::Store> Open(const std::string& path, bool sync = true, int max_batch = 1024) {
  auto store = im::OpenRocksDbStore({.path = path, .sync = sync, .max_batch = max_batch});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return *store;
}

NewMessage Msg(const ConversationId& c, UserId sender, std::string key, im::TimestampMs at = kT0,
               std::string content = "hello") {
  static std::atomic<int64_t> next_id{1};
  return NewMessage{MessageId(next_id++), c, sender, std::move(key), im::ContentType::kText, std::move(content), at};
}

UserId MakeUser(im::Store& s, const std::string& name) {
  auto u = s.CreateUser({name, "Name " + name, "hash-" + name, kT0});
  REQUIRE_MESSAGE(u.ok(), u.status().ToString());
  return u->id;
}

using im::test::RawDb;

// Seqs 1..n in order, nothing else, read in pages.
void CheckGapless(im::Store& store, const ConversationId& c, Seq n) {
  auto state = store.GetConversationState(c);
  REQUIRE(state.ok());
  CHECK(state->last_seq == n);
  Seq next = 1;
  for (Seq after = 0;;) {
    auto page = store.ListMessages(c, {after, 0, 500, false});
    REQUIRE(page.ok());
    if (page->empty()) break;
    for (auto& m : *page) {
      if (m.seq != next) FAIL("seq " << m.seq << " where " << next << " was expected");
      next++;
    }
    after = page->back().seq;
  }
  CHECK(next == n + 1);
}

}  // namespace

TEST_CASE("rocksdb store: passes every Store conformance case") {
  for (auto& c : im::testing::StoreConformanceCases()) {
    auto store = Open(TempDir("conformance"));
    im::Status status = c.run(*store);
    CHECK_MESSAGE(status.ok(), (c.name + ": " + status.message()));
  }
}

TEST_CASE("rocksdb store: 8 threads x 2,000 appends to one conversation: seqs 1..16,000, retries get the original") {
  auto store = Open(TempDir("gapless"));
  constexpr int kThreads = 8, kPerThread = 2000;
  UserId owner = MakeUser(*store, "owner");
  auto group = store->CreateGroup({"g", owner, 100, kT0});
  REQUIRE(group.ok());
  const ConversationId conv = ConversationId::Group(group->id);
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(MakeUser(*store, "s" + std::to_string(t)));
    REQUIRE(store->AddGroupMember(group->id, {senders.back(), GroupRole::kMember, kT0}).ok());
  }
  const auto before = im::rocks::GlobalWriteQueueStats();
  std::atomic<int> errors{0}, retries{0}, retries_ok{0};
  std::vector<std::map<std::string, im::AppendResult>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "k" + std::to_string(i);
        NewMessage m = Msg(conv, senders[t], key);
        auto r = store->AppendMessage(m);
        if (!r.ok() || r->duplicate || r->id != m.id) {
          errors++;
          continue;
        }
        acked[t][key] = *r;
        if (i % 7 == 3) {  // retry an earlier send (sometimes the one just made) with a new id
          const std::string old = "k" + std::to_string(i % 14 == 3 ? i : i / 2);
          const im::AppendResult& original = acked[t].at(old);
          retries++;
          auto d = store->AppendMessage(Msg(conv, senders[t], old, kT0 + 1, "retry"));
          if (d.ok() && d->duplicate && d->seq == original.seq && d->id == original.id && d->conversation == conv &&
              d->sent_at_ms == original.sent_at_ms) {
            retries_ok++;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);
  CHECK(retries.load() > 2000);
  CHECK(retries_ok.load() == retries.load());
  CheckGapless(*store, conv, Seq(kThreads * kPerThread));
  // Every acknowledged (key, seq, id) is what history holds, and nothing from the retries.
  auto all = store->ListMessages(conv, {0, 0, 100'000, false}).value();
  REQUIRE(all.size() == size_t(kThreads * kPerThread));
  std::map<int64_t, int> sender_index;
  for (int t = 0; t < kThreads; ++t) sender_index[senders[t].value] = t;
  for (auto& m : all) {
    const auto& original = acked[sender_index.at(m.sender.value)].at(m.client_msg_id);
    CHECK(original.seq == m.seq);
    CHECK(original.id == m.id);
    CHECK(m.content == "hello");
  }
  // The appends were group-committed: fewer batches than writes.
  const auto after = im::rocks::GlobalWriteQueueStats();
  MESSAGE("batches: " << after.batches - before.batches << " for " << after.jobs - before.jobs << " writes");
  CHECK(after.batches - before.batches < after.jobs - before.jobs);
}

TEST_CASE("rocksdb store: duplicates inside one batch store one message") {
  auto store = Open(TempDir("batch-dup"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  for (int round = 0; round < 20; ++round) {
    std::string key = "same-" + std::to_string(round);
    std::vector<im::Result<im::AppendResult>> results(16, im::Status::Internal("not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] { results[t] = store->AppendMessage(Msg(conv, a, key)); });
    }
    for (auto& th : threads) th.join();
    int originals = 0;
    for (auto& r : results) {
      REQUIRE(r.ok());
      if (!r->duplicate) originals++;
      CHECK(r->seq == Seq(round + 1));
      CHECK(r->id == results[0]->id);
    }
    CHECK(originals == 1);
  }
  CHECK(store->GetConversationState(conv)->last_seq == 20);
}

TEST_CASE("rocksdb store: a failing write does not fail the others in its batch") {
  auto store = Open(TempDir("isolation"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  std::atomic<int> append_errors{0}, taken{0}, created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!store->AppendMessage(Msg(conv, a, "t" + std::to_string(t) + "-" + std::to_string(i))).ok()) {
          append_errors++;
        }
        // Everyone races for the same names: all but one per name fail with already_exists.
        auto u = store->CreateUser({"name" + std::to_string(i % 50), "", "h", kT0});
        if (u.ok()) {
          created++;
        } else if (u.status().code() == StatusCode::kAlreadyExists) {
          taken++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(append_errors.load() == 0);
  CHECK(created.load() == 50);
  CHECK(taken.load() == 8 * 200 - 50);
  CheckGapless(*store, conv, 1600);
  // The ids handed out are 1..52 without reuse: failed creations took none.
  std::set<int64_t> ids;
  for (int i = 0; i < 50; ++i) ids.insert(store->GetCredentials("name" + std::to_string(i)).value().id.value);
  CHECK(ids.size() == 50);
  CHECK(*ids.rbegin() == 52);
}

TEST_CASE("rocksdb store: everything survives a reopen") {
  const std::string path = TempDir("reopen");
  UserId a, b, c;
  GroupId g;
  {
    auto store = Open(path);
    a = MakeUser(*store, "alice");
    b = MakeUser(*store, "bob");
    c = MakeUser(*store, "carol");
    REQUIRE(store->UpdatePasswordHash(a, "alice-2").ok());
    g = store->CreateGroup({"g", a, 10, kT0}).value().id;
    REQUIRE(store->AddGroupMember(g, {b, GroupRole::kAdmin, kT0 + 1}).ok());
    for (int i = 1; i <= 30; ++i) {
      REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, b), i % 2 ? a : b, "d" + std::to_string(i), kT0 + i))
                  .ok());
      REQUIRE(store->AppendMessage(Msg(ConversationId::Group(g), b, "g" + std::to_string(i), kT0 + 100 + i)).ok());
    }
    REQUIRE(store->TrimHistory(ConversationId::Group(g), 11).ok());
    REQUIRE(store->AdvanceReadSeq(a, ConversationId::Group(g), 25).ok());
    REQUIRE(store->AdvanceReadSeq(b, ConversationId::Direct(a, b), 20).ok());
    REQUIRE(store->PutRefreshToken({"t1", a, "fam", "phone", kT0 + 10, false, false}).ok());
    REQUIRE(store->RotateRefreshToken("t1", {"t2", a, "fam", "phone", kT0 + 20, false, false}).ok());
    REQUIRE(store->RevokeRefreshFamily("gone").ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    CAPTURE(reopen);
    auto store = Open(path);
    CHECK(store->GetUser(c).value().username == "carol");
    CHECK(store->GetCredentials("alice").value().password_hash == "alice-2");
    CHECK(store->GetCredentials("bob").value().id == b);
    auto group = store->GetGroup(g).value();
    CHECK(group.member_count == 2);
    CHECK(group.name == "g");
    CHECK(group.owner == a);
    CHECK(store->GetGroupMember(g, b).value().role == GroupRole::kAdmin);
    CHECK(store->ListGroupMembers(g, UserId(), 10).value().size() == 2);
    auto direct = store->GetConversationState(ConversationId::Direct(a, b)).value();
    CHECK(direct.last_seq == Seq(30 + reopen));
    CHECK(direct.last_activity_ms == kT0 + 30 + reopen);
    auto gstate = store->GetConversationState(ConversationId::Group(g)).value();
    CHECK(gstate.first_seq == 11);
    CHECK(gstate.last_seq == 30);
    auto history = store->ListMessages(ConversationId::Group(g), {0, 0, 100, false}).value();
    REQUIRE(history.size() == 20);
    CHECK(history.front().seq == 11);
    CHECK(history.back().client_msg_id == "g30");
    CHECK(store->GetReadSeq(a, ConversationId::Group(g)).value() == 25);
    CHECK(store->GetReadSeq(b, ConversationId::Group(g)).value() == 30);      // own sends
    CHECK(store->GetReadSeq(b, ConversationId::Direct(a, b)).value() == 30);  // own send 30 after 20
    auto list = store->ListConversations(c, {}, 10).value();
    CHECK(list.empty());
    auto alist = store->ListConversations(a, {}, 10).value();
    REQUIRE(alist.size() == size_t(2 + reopen));  // + the group "h" of the previous round
    CHECK(alist[0].id == ConversationId::Group(g));
    CHECK(alist[0].unread == 5);
    CHECK(store->GetRefreshToken("t1").value().used);
    CHECK_FALSE(store->GetRefreshToken("t2").value().used);
    CHECK_FALSE(store->IsRefreshFamilyRevoked("fam").value());
    CHECK(store->IsRefreshFamilyRevoked("gone").value());
    // The idempotency keys and the seq counter come back from disk.
    auto dup = store->AppendMessage(Msg(ConversationId::Direct(a, b), b, "d2"));
    CHECK(dup.value().duplicate);
    CHECK(dup.value().seq == 2);
    auto next =
        store->AppendMessage(Msg(ConversationId::Direct(a, b), a, "new" + std::to_string(reopen), kT0 + 31 + reopen));
    CHECK(next.value().seq == Seq(31 + reopen));
    // So do the id counters: no id is handed out twice.
    UserId fresh = MakeUser(*store, "dave" + std::to_string(reopen));
    CHECK(fresh.value == c.value + 1 + reopen);
    CHECK(store->CreateGroup({"h", a, 10, kT0}).value().id.value == g.value + 1 + reopen);
  }
}

TEST_CASE("rocksdb store: a database from a newer libim is refused, even with column families it does not know") {
  const std::string path = TempDir("newer");
  { Open(path); }
  {
    RawDb raw(path);
    std::string version;
    im::rocks::EncodeReadSeq(im::rocks::kSchemaVersion + 1, &version);
    raw.Put("default", std::string(im::rocks::kSchemaVersionKey), version);
    raw.Put("from-the-future", "k", "v");
  }
  auto store = im::OpenRocksDbStore({.path = path});
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
  CHECK(store.status().message().find("newer") != std::string::npos);
}

TEST_CASE("rocksdb store: open creates the directory, refuses a second opener, and reports bad paths") {
  fs::path dir = fs::path(TempDir("dir")) / "nested" / "deeper";
  {
    auto store = im::OpenRocksDbStore({.path = dir.string()});
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    CHECK(fs::exists(dir / "CURRENT"));
    // One process (one store) at a time: RocksDB's lock file.
    auto second = im::OpenRocksDbStore({.path = dir.string()});
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == StatusCode::kUnavailable);
  }
  CHECK(im::OpenRocksDbStore({.path = dir.string()}).ok());  // the lock went with the store

  CHECK(im::OpenRocksDbStore({.path = ""}).status().code() == StatusCode::kInvalidArgument);
  // A parent that is a regular file cannot become a directory.
  std::string file = TempDir("plain-file");
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream(file) << "x";
  CHECK(im::OpenRocksDbStore({.path = file + "/db"}).status().code() == StatusCode::kUnavailable);
  // A directory whose CURRENT names no manifest is not a database.
  std::string junk = TempDir("junk");
  fs::create_directories(junk);
  std::ofstream(junk + "/CURRENT") << "MANIFEST-000999\n";
  auto bad = im::OpenRocksDbStore({.path = junk});
  REQUIRE_FALSE(bad.ok());
  CHECK((bad.status().code() == StatusCode::kInternal || bad.status().code() == StatusCode::kUnavailable));
}

TEST_CASE("rocksdb store: a corrupt value is an internal error naming its key, never a crash") {
  const std::string path = TempDir("corrupt");
  UserId a, b;
  GroupId g;
  {
    auto store = Open(path);
    a = MakeUser(*store, "alice");
    b = MakeUser(*store, "bob");
    g = store->CreateGroup({"g", a, 10, kT0}).value().id;
    REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, b), a, "k1")).ok());
    REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, b), a, "k2")).ok());
    REQUIRE(store->PutRefreshToken({"tok", a, "fam", "phone", kT0, false, false}).ok());
  }
  const ConversationId ab = ConversationId::Direct(a, b);
  {
    RawDb raw(path);
    raw.Put("users", im::rocks::UserKey(b),
            std::string("\x01\x05"
                        "ab",
                        4));                                                      // length past the end
    raw.Put("messages", im::rocks::MessageKey(ab.str(), 1), "");                  // empty
    raw.Put("messages", im::rocks::MessageKey(ab.str(), 2) + "x", "junk");        // a key of the wrong shape
    raw.Put("idempotency", im::rocks::IdemKey(a, "k1"), std::string("\x02", 1));  // unknown format
    raw.Put("groups", im::rocks::GroupKey(g), std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11));
    raw.Put("auth", im::rocks::TokenKey("tok"), "\x01");
    raw.Put("conversations", im::rocks::ListKey(b, ab.str()), "\x01\x80");  // truncated varint
  }
  auto store = Open(path);
  auto expect_internal = [](const im::Status& s, const char* what) {
    CHECK_MESSAGE(s.code() == StatusCode::kInternal, what << ": " << s.ToString());
    CHECK_MESSAGE(s.message().find("corrupt value") != std::string::npos, what << ": " << s.ToString());
  };
  expect_internal(store->GetUser(b).status(), "GetUser");
  std::vector<UserId> ids{a, b};
  expect_internal(store->GetUsers(ids).status(), "GetUsers");
  expect_internal(store->ListMessages(ab, {0, 0, 10, false}).status(), "ListMessages");
  expect_internal(store->ListMessages(ab, {1, 0, 10, false}).status(), "ListMessages after 1");
  expect_internal(store->AppendMessage(Msg(ab, a, "k1")).status(), "AppendMessage of a corrupt key");
  expect_internal(store->GetGroup(g).status(), "GetGroup");
  expect_internal(store->AddGroupMember(g, {b, GroupRole::kMember, kT0}), "AddGroupMember");
  expect_internal(store->GetRefreshToken("tok").status(), "GetRefreshToken");
  expect_internal(store->RotateRefreshToken("tok", {"tok2", a, "fam", "p", kT0, false, false}), "Rotate");
  expect_internal(store->ListConversations(b, {}, 10).status(), "ListConversations");
  expect_internal(store->GetReadSeq(b, ab).status(), "GetReadSeq");
  expect_internal(store->DeleteUser(b), "DeleteUser");
  // A send whose read pointer is corrupt fails alone, before writing anything.
  expect_internal(store->AppendMessage(Msg(ab, b, "from-b")).status(), "AppendMessage by b");
  // What is intact still works, and the failed jobs left the writer usable.
  CHECK(store->GetUser(a).value().username == "alice");
  auto r = store->AppendMessage(Msg(ab, a, "fresh"));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->seq == 3);
}

TEST_CASE(
    "rocksdb store: group and member values written before version 3 decode as open, full history, joined seq 0") {
  using namespace im::rocks;
  std::string group, member;
  EncodeGroup({"group", UserId(3), 2, 100, false, kT0, JoinPolicy::kInvite, HistoryVisibility::kJoined}, &group);
  EncodeMember({GroupRole::kAdmin, kT0, 0}, &member);
  // Format 1: the same fields without the ones version 3 appended.
  std::string old_group = group.substr(0, group.size() - 2), old_member = member.substr(0, member.size() - 1);
  old_group[0] = old_member[0] = static_cast<char>(kRecordFormat);
  GroupRecord g;
  REQUIRE(DecodeGroup(old_group, &g));
  CHECK(g.name == "group");
  CHECK(g.created_at_ms == kT0);
  CHECK(g.join_policy == JoinPolicy::kOpen);
  CHECK(g.history_visibility == HistoryVisibility::kFull);
  MemberRecord m{GroupRole::kMember, 0, 99};
  REQUIRE(DecodeMember(old_member, &m));
  CHECK(m.role == GroupRole::kAdmin);
  CHECK(m.joined_seq == 0);
  // A format-1 value with the version-3 fields is not a value of either format.
  std::string mixed = group;
  mixed[0] = static_cast<char>(kRecordFormat);
  CHECK_FALSE(DecodeGroup(mixed, &g));
}

TEST_CASE("rocksdb store: no truncation or extension of a record decodes") {
  using namespace im::rocks;
  std::string user, token, group, member, head, message, idem;
  EncodeUser({"alice", "Alice", kT0}, &user);
  EncodeToken({UserId(7), "family", "phone", kT0, true, false}, &token);
  EncodeGroup({"group", UserId(3), 2, 100, false, kT0}, &group);
  EncodeMember({GroupRole::kAdmin, kT0}, &member);
  EncodeHead({4, 9, kT0}, &head);
  EncodeMessage({MessageId(5), UserId(6), im::ContentType::kCustom, "key", std::string_view("{\"a\":1}\0", 8), kT0},
                &message);
  EncodeIdem({"g:12", 9, MessageId(5), kT0}, &idem);
  auto check = [](const std::string& encoded, auto decode) {
    CHECK(decode(encoded));
    for (size_t n = 0; n < encoded.size(); ++n) CHECK_FALSE(decode(encoded.substr(0, n)));
    CHECK_FALSE(decode(encoded + "x"));
  };
  check(user, [](std::string_view v) {
    UserRecord r;
    return DecodeUser(v, &r);
  });
  check(token, [](std::string_view v) {
    TokenRecord r;
    return DecodeToken(v, &r);
  });
  check(group, [](std::string_view v) {
    GroupRecord r;
    return DecodeGroup(v, &r);
  });
  check(member, [](std::string_view v) {
    MemberRecord r;
    return DecodeMember(v, &r);
  });
  check(head, [](std::string_view v) {
    HeadRecord r;
    return DecodeHead(v, &r);
  });
  check(message, [](std::string_view v) {
    MessageRecord r;
    return DecodeMessage(v, &r);
  });
  check(idem, [](std::string_view v) {
    IdemRecord r;
    return DecodeIdem(v, &r);
  });
  // Round trips keep every field, signed and binary ones included.
  MessageRecord m;
  REQUIRE(DecodeMessage(message, &m));
  CHECK(m.id == MessageId(5));
  CHECK(m.sender == UserId(6));
  CHECK(m.type == im::ContentType::kCustom);
  CHECK(m.content == std::string_view("{\"a\":1}\0", 8));
  HeadRecord h;
  std::string negative;
  EncodeHead({1, 0, -5}, &negative);
  REQUIRE(DecodeHead(negative, &h));
  CHECK(h.last_activity_ms == -5);
}

TEST_CASE("rocksdb store: keys order numerically and never interleave across conversations") {
  using namespace im::rocks;
  CHECK(MessageKey("g:1", 255) < MessageKey("g:1", 256));
  CHECK(MessageKey("g:1", Seq(1) << 40) < MessageKey("g:12", 1));
  CHECK(MessageKey("g:1", ~Seq(0)) < PrefixEnd(MessagePrefix("g:1")));
  CHECK(PrefixEnd(MessagePrefix("g:1")) <= MessageKey("g:12", 0));
  CHECK(MemberKey(GroupId(1), UserId(2)) < MemberKey(GroupId(1), UserId(256)));
  CHECK(PrefixEnd(std::string("a\xff\xff", 3)) == "b");
}

TEST_CASE("rocksdb store: trimming history removes messages and their idempotency keys") {
  auto store = Open(TempDir("trim"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  CHECK(store->TrimHistory(conv, 5).ok());  // nothing written yet: nothing to do
  CHECK(store->GetConversationState(conv).value().first_seq == 1);
  for (int i = 1; i <= 10; ++i) REQUIRE(store->AppendMessage(Msg(conv, a, "k" + std::to_string(i))).ok());
  REQUIRE(store->TrimHistory(conv, 4).ok());
  CHECK(store->GetConversationState(conv).value().first_seq == 4);
  CHECK(store->ListMessages(conv, {0, 0, 100, false}).value().size() == 7);
  CHECK(store->AppendMessage(Msg(conv, a, "k5")).value().duplicate);  // kept: above the trim
  // Past the end: everything goes, first_seq stops at last_seq + 1 and seqs continue.
  REQUIRE(store->TrimHistory(conv, 1000).ok());
  auto state = store->GetConversationState(conv).value();
  CHECK(state.first_seq == 11);
  CHECK(state.last_seq == 10);
  CHECK(store->ListMessages(conv, {0, 0, 100, false}).value().empty());
  auto again = store->AppendMessage(Msg(conv, a, "k1"));
  CHECK_FALSE(again.value().duplicate);
  CHECK(again.value().seq == 11);
  auto list = store->ListConversations(b, {}, 10).value();
  REQUIRE(list.size() == 1);
  REQUIRE(list[0].last_message.has_value());
  CHECK(list[0].last_message->seq == 11);
}

TEST_CASE("rocksdb store: read pointers are forward-only, clamped, and only for listed conversations") {
  auto store = Open(TempDir("read"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  UserId c = MakeUser(*store, "c");
  const ConversationId ab = ConversationId::Direct(a, b);
  CHECK(store->AdvanceReadSeq(a, ab, 1).status().code() == StatusCode::kNotFound);
  CHECK(store->GetReadSeq(a, ab).value() == 0);
  for (int i = 1; i <= 5; ++i) REQUIRE(store->AppendMessage(Msg(ab, b, "k" + std::to_string(i))).ok());
  CHECK(store->GetReadSeq(b, ab).value() == 5);
  CHECK(store->AdvanceReadSeq(a, ab, 3).value() == 3);
  CHECK(store->AdvanceReadSeq(a, ab, 2).value() == 3);
  CHECK(store->AdvanceReadSeq(a, ab, 50).value() == 5);
  CHECK(store->AdvanceReadSeq(c, ab, 1).status().code() == StatusCode::kNotFound);
  CHECK(store->AdvanceReadSeq(UserId(), ab, 1).status().code() == StatusCode::kInvalidArgument);

  auto g = store->CreateGroup({"g", a, 10, kT0}).value().id;
  const ConversationId gc = ConversationId::Group(g);
  for (int i = 1; i <= 4; ++i) REQUIRE(store->AppendMessage(Msg(gc, a, "g" + std::to_string(i))).ok());
  REQUIRE(store->AddGroupMember(g, {c, GroupRole::kMember, kT0}).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 4);
  REQUIRE(store->AppendMessage(Msg(gc, a, "g5")).ok());
  CHECK(store->ListConversations(c, {}, 10).value().at(0).unread == 1);
  REQUIRE(store->RemoveGroupMember(g, c).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 0);
  // A non-member's send (the engine would refuse it) moves no pointer and lists nothing.
  REQUIRE(store->AppendMessage(Msg(gc, c, "intruder")).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 0);
  CHECK(store->ListConversations(c, {}, 10).value().empty());
}

TEST_CASE("rocksdb store: flush and shutdown drain queued writes, in both sync modes") {
  for (bool sync : {true, false}) {
    CAPTURE(sync);
    const std::string path = TempDir("drain");
    UserId a, b;
    {
      auto store = Open(path, sync, /*max_batch=*/7);  // small batches: many writes
      a = MakeUser(*store, "a");
      b = MakeUser(*store, "b");
      std::vector<std::thread> threads;
      for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 100; ++i) {
            auto r =
                store->AppendMessage(Msg(ConversationId::Direct(a, b), a, std::to_string(t) + "-" + std::to_string(i)));
            CHECK(r.ok());
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(store->Flush().ok());
    }
    auto store = Open(path, sync);
    CheckGapless(*store, ConversationId::Direct(a, b), 600);
  }
}

TEST_CASE("rocksdb store: reads run while the writer is busy and never go backwards") {
  auto store = Open(TempDir("readers"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0}, regressions{0}, reads{0};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; ++i) (void)store->AppendMessage(Msg(conv, a, "w" + std::to_string(i)));
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      Seq seen = 0;
      while (!stop) {
        auto state = store->GetConversationState(conv);
        if (!state.ok()) {
          read_errors++;
          continue;
        }
        if (state->last_seq < seen) regressions++;
        seen = state->last_seq;
        // The head and the messages are written in one batch: a seq that is visible in the head
        // is visible in history.
        auto page = store->ListMessages(conv, {0, 0, 1, true});
        if (!page.ok() || (seen > 0 && (page->empty() || page->front().seq < seen))) read_errors++;
        auto list = store->ListConversations(a, {}, 10);
        if (!list.ok() || (seen > 0 && (list->empty() || list->front().last_seq < seen))) read_errors++;
        reads++;
      }
    });
  }
  writer.join();
  for (auto& th : readers) th.join();
  CHECK(read_errors.load() == 0);
  CHECK(regressions.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(store->GetConversationState(conv).value().last_seq == 2000);
}
