// The SQLite store: the Store conformance suite, plus what only a durable, group-committed,
// file-backed store can get wrong (reopen, migrations, batching, conflicts, shutdown).
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "im/sqlite_store.h"
#include "im/testing/store_conformance.h"
#include "sqlite/schema.h"

namespace {

namespace fs = std::filesystem;
using im::ConversationId;
using im::GroupId;
using im::GroupMember;
using im::GroupRole;
using im::MessageId;
using im::NewMessage;
using im::Seq;
using im::StatusCode;
using im::UserId;

constexpr im::TimestampMs kT0 = 1'700'000'000'000;

fs::path TempDir() { return fs::temp_directory_path() / ("im-sqlite-store-" + std::to_string(::getpid())); }

// Removes this process's databases at exit (every store is closed by then).
struct TempDirCleanup {
  ~TempDirCleanup() {
    std::error_code ec;
    fs::remove_all(TempDir(), ec);
  }
} temp_dir_cleanup;

// A fresh path (no database, WAL or shm file) in this process's temp directory.
std::string TempDb(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = TempDir();
  fs::create_directories(dir);
  fs::path path = dir / (std::to_string(counter++) + "-" + name);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  return path.string();
}

std::shared_ptr<im::Store> Open(const std::string& path, bool synchronous = true, int max_batch = 1024) {
  auto store = im::OpenSqliteStore({.path = path, .synchronous = synchronous, .max_batch = max_batch});
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

int UserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

// Runs one SQL statement on a separate raw connection (another "process" writing the file).
void ExecRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  CHECK_MESSAGE(rc == SQLITE_OK, (error != nullptr ? error : "?"));
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("sqlite store: passes every Store conformance case") {
  for (auto& c : im::testing::StoreConformanceCases()) {
    auto store = Open(TempDb("conformance.db"));
    im::Status status = c.run(*store);
    CHECK_MESSAGE(status.ok(), (c.name + ": " + status.message()));
  }
}

TEST_CASE("sqlite store: 8 threads x 2,000 appends with retries are gapless, in one conversation and in many") {
  auto store = Open(TempDb("gapless.db"));
  constexpr int kThreads = 8, kPerThread = 2000;
  UserId owner = MakeUser(*store, "owner");
  auto group = store->CreateGroup({"g", owner, 100, kT0});
  REQUIRE(group.ok());
  const ConversationId shared = ConversationId::Group(group->id);
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(MakeUser(*store, "s" + std::to_string(t)));
    REQUIRE(store->AddGroupMember(group->id, {senders.back(), GroupRole::kMember, kT0}).ok());
  }
  std::atomic<int> errors{0};
  // key -> seq as first acknowledged, per thread; odd iterations go to the thread's own direct
  // conversation with the owner, even ones to the group.
  std::vector<std::map<std::string, std::pair<bool, Seq>>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const ConversationId direct = ConversationId::Direct(senders[t], owner);
      for (int i = 0; i < kPerThread; ++i) {
        bool to_group = i % 2 == 0;
        std::string key = "k" + std::to_string(i);
        auto r = store->AppendMessage(Msg(to_group ? shared : direct, senders[t], key));
        if (!r.ok() || r->duplicate) {
          errors++;
          continue;
        }
        acked[t][key] = {to_group, r->seq};
        if (i % 7 == 3) {  // retry an earlier send, sometimes the one just made
          std::string old = "k" + std::to_string(i % 14 == 3 ? i : i / 2);
          auto [old_group, old_seq] = acked[t][old];
          auto d = store->AppendMessage(Msg(old_group ? shared : direct, senders[t], old));
          if (!d.ok() || !d->duplicate || d->seq != old_seq) errors++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);

  auto check_conversation = [&](const ConversationId& c, Seq expected_count) {
    auto state = store->GetConversationState(c);
    REQUIRE(state.ok());
    CHECK(state->last_seq == expected_count);
    Seq next = 1;
    for (Seq after = 0;;) {
      auto page = store->ListMessages(c, {after, 0, 500, false});
      REQUIRE(page.ok());
      if (page->empty()) break;
      for (auto& m : *page) CHECK(m.seq == next++);
      after = page->back().seq;
    }
    CHECK(next == expected_count + 1);
  };
  check_conversation(shared, Seq(kThreads * kPerThread / 2));
  for (int t = 0; t < kThreads; ++t) check_conversation(ConversationId::Direct(senders[t], owner), kPerThread / 2);
  // Every acknowledged (key, seq) is what history holds.
  for (int t = 0; t < kThreads; ++t) {
    auto direct = store->ListMessages(ConversationId::Direct(senders[t], owner), {0, 0, 10'000, false});
    REQUIRE(direct.ok());
    for (auto& m : *direct) CHECK(acked[t].at(m.client_msg_id).second == m.seq);
  }
}

TEST_CASE("sqlite store: duplicates inside one batch store one message") {
  // 16 threads send the same key at once, repeatedly: the first insert of a batch wins and every
  // other copy, in the same transaction or a later one, returns its id and seq.
  auto store = Open(TempDb("batch-dup.db"));
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
  auto state = store->GetConversationState(conv);
  CHECK(state->last_seq == 20);
}

TEST_CASE("sqlite store: a failing job does not fail the others in its batch") {
  auto store = Open(TempDb("isolation.db"));
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
        if (u.ok())
          created++;
        else if (u.status().code() == StatusCode::kAlreadyExists)
          taken++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(append_errors.load() == 0);
  CHECK(created.load() == 50);
  CHECK(taken.load() == 8 * 200 - 50);
  CHECK(store->GetConversationState(conv)->last_seq == 1600);
}

TEST_CASE("sqlite store: everything survives a reopen, and reopening migrates nothing twice") {
  const std::string path = TempDb("reopen.db");
  UserId a, b, c;
  GroupId g;
  {
    auto store = Open(path);
    CHECK(UserVersion(path) == im::sqlite::LatestSchemaVersion());
    a = MakeUser(*store, "alice");
    b = MakeUser(*store, "bob");
    c = MakeUser(*store, "carol");
    g = store->CreateGroup({"g", a, 10, kT0}).value().id;
    REQUIRE(store->AddGroupMember(g, {b, GroupRole::kAdmin, kT0 + 1}).ok());
    for (int i = 1; i <= 30; ++i) {
      REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, b), i % 2 ? a : b, "d" + std::to_string(i), kT0 + i))
                  .ok());
      REQUIRE(store->AppendMessage(Msg(ConversationId::Group(g), b, "g" + std::to_string(i), kT0 + 100 + i)).ok());
    }
    REQUIRE(store->TrimHistory(ConversationId::Group(g), 11).ok());
    REQUIRE(store->AdvanceReadSeq(c, ConversationId::Direct(a, b), 5).status().code() == StatusCode::kNotFound);
    REQUIRE(store->AdvanceReadSeq(a, ConversationId::Group(g), 25).ok());
    REQUIRE(store->PutRefreshToken({"t1", a, "fam", "phone", kT0 + 10, false, false}).ok());
    REQUIRE(store->RotateRefreshToken("t1", {"t2", a, "fam", "phone", kT0 + 20, false, false}).ok());
    REQUIRE(store->RevokeRefreshFamily("gone").ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = Open(path);
    CHECK(UserVersion(path) == im::sqlite::LatestSchemaVersion());
    CHECK(store->GetUser(c).value().username == "carol");
    CHECK(store->GetCredentials("bob").value().id == b);
    CHECK(store->GetGroup(g).value().member_count == 2);
    CHECK(store->GetGroupMember(g, b).value().role == GroupRole::kAdmin);
    auto direct = store->GetConversationState(ConversationId::Direct(a, b)).value();
    CHECK(direct.last_seq == Seq(30 + reopen));
    CHECK(direct.last_activity_ms == kT0 + 30 + reopen);
    auto group = store->GetConversationState(ConversationId::Group(g)).value();
    CHECK(group.first_seq == 11);
    CHECK(group.last_seq == 30);
    CHECK(store->ListMessages(ConversationId::Group(g), {0, 0, 100, false}).value().front().seq == 11);
    CHECK(store->GetReadSeq(a, ConversationId::Group(g)).value() == 25);
    CHECK(store->GetReadSeq(b, ConversationId::Group(g)).value() == 30);  // own sends
    CHECK(store->GetRefreshToken("t1").value().used);
    CHECK_FALSE(store->GetRefreshToken("t2").value().used);
    CHECK(store->IsRefreshFamilyRevoked("gone").value());
    // The idempotency keys and the seq counter come back from disk.
    auto dup = store->AppendMessage(Msg(ConversationId::Direct(a, b), b, "d2"));
    CHECK(dup.value().duplicate);
    CHECK(dup.value().seq == 2);
    auto next =
        store->AppendMessage(Msg(ConversationId::Direct(a, b), a, "new" + std::to_string(reopen), kT0 + 31 + reopen));
    CHECK(next.value().seq == Seq(31 + reopen));
  }
}

TEST_CASE("sqlite store: a database from a newer libim is refused") {
  const std::string path = TempDb("newer.db");
  { Open(path); }
  ExecRaw(path, "PRAGMA user_version = " + std::to_string(im::sqlite::LatestSchemaVersion() + 1));
  auto store = im::OpenSqliteStore({.path = path});
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("sqlite store: open creates the directory and reports bad paths") {
  fs::path dir = fs::path(TempDb("dir")) / "nested" / "deeper";
  auto store = im::OpenSqliteStore({.path = (dir / "im.db").string()});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  CHECK(fs::exists(dir / "im.db"));

  CHECK(im::OpenSqliteStore({.path = ""}).status().code() == StatusCode::kInvalidArgument);
  CHECK(im::OpenSqliteStore({.path = ":memory:"}).status().code() == StatusCode::kInvalidArgument);
  // A parent that is a regular file cannot become a directory.
  std::string file = TempDb("plain-file");
  std::ofstream(file) << "x";
  CHECK(im::OpenSqliteStore({.path = file + "/im.db"}).status().code() == StatusCode::kUnavailable);
  // Not a database at all.
  std::string junk = TempDb("junk.db");
  std::ofstream(junk) << std::string(8192, 'j');
  auto bad = im::OpenSqliteStore({.path = junk});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInternal);
}

TEST_CASE("sqlite store: a seq taken behind the writer's back is skipped, not overwritten") {
  const std::string path = TempDb("conflict.db");
  auto store = Open(path);
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  REQUIRE(store->AppendMessage(Msg(conv, a, "1")).value().seq == 1);
  // Another writer (a stale owner in a split deployment) stores seq 2 and 3 directly.
  ExecRaw(path,
          "INSERT INTO messages(conversation_id, seq, id, sender_id, client_msg_id, type, content, sent_at_ms) "
          "VALUES('" +
              conv.str() + "', 2, 900, " + std::to_string(b.value) + ", NULL, 1, x'6869', 1), ('" + conv.str() +
              "', 3, 901, " + std::to_string(b.value) + ", NULL, 1, x'6869', 1)");
  auto r = store->AppendMessage(Msg(conv, a, "4"));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->seq == 4);
  auto all = store->ListMessages(conv, {0, 0, 10, false}).value();
  REQUIRE(all.size() == 4);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].seq == i + 1);
  CHECK(all[1].id == MessageId(900));
  CHECK(store->GetConversationState(conv).value().last_seq == 4);
}

TEST_CASE("sqlite store: trimming history") {
  auto store = Open(TempDb("trim.db"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  CHECK(store->TrimHistory(conv, 5).ok());  // nothing written yet: nothing to do
  CHECK(store->GetConversationState(conv).value().first_seq == 1);
  for (int i = 1; i <= 10; ++i) REQUIRE(store->AppendMessage(Msg(conv, a, "k" + std::to_string(i))).ok());
  REQUIRE(store->TrimHistory(conv, 4).ok());
  CHECK(store->GetConversationState(conv).value().first_seq == 4);
  CHECK(store->ListMessages(conv, {0, 0, 100, false}).value().size() == 7);
  // Past the end: everything goes, first_seq stops at last_seq + 1 and seqs continue.
  REQUIRE(store->TrimHistory(conv, 1000).ok());
  auto state = store->GetConversationState(conv).value();
  CHECK(state.first_seq == 11);
  CHECK(state.last_seq == 10);
  CHECK(store->ListMessages(conv, {0, 0, 100, false}).value().empty());
  // The trimmed messages' idempotency keys went with them.
  auto again = store->AppendMessage(Msg(conv, a, "k1"));
  CHECK_FALSE(again.value().duplicate);
  CHECK(again.value().seq == 11);
  // The list keeps the conversation, without a last message until the next send.
  auto list = store->ListConversations(b, {}, 10).value();
  REQUIRE(list.size() == 1);
  REQUIRE(list[0].last_message.has_value());
  CHECK(list[0].last_message->seq == 11);
}

TEST_CASE("sqlite store: read pointers are forward-only, clamped, and only for listed conversations") {
  auto store = Open(TempDb("read.db"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  UserId c = MakeUser(*store, "c");
  const ConversationId ab = ConversationId::Direct(a, b);
  CHECK(store->AdvanceReadSeq(a, ab, 1).status().code() == StatusCode::kNotFound);  // not listed yet
  CHECK(store->GetReadSeq(a, ab).value() == 0);
  for (int i = 1; i <= 5; ++i) REQUIRE(store->AppendMessage(Msg(ab, b, "k" + std::to_string(i))).ok());
  CHECK(store->GetReadSeq(b, ab).value() == 5);  // the sender read their own messages
  CHECK(store->AdvanceReadSeq(a, ab, 3).value() == 3);
  CHECK(store->AdvanceReadSeq(a, ab, 2).value() == 3);
  CHECK(store->AdvanceReadSeq(a, ab, 50).value() == 5);
  CHECK(store->GetReadSeq(a, ab).value() == 5);
  CHECK(store->AdvanceReadSeq(c, ab, 1).status().code() == StatusCode::kNotFound);
  CHECK(store->AdvanceReadSeq(UserId(), ab, 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(store->AdvanceReadSeq(a, ConversationId(), 1).status().code() == StatusCode::kInvalidArgument);

  // A member who joins late starts with nothing unread; leaving takes the pointer off the list.
  auto g = store->CreateGroup({"g", a, 10, kT0}).value().id;
  const ConversationId gc = ConversationId::Group(g);
  for (int i = 1; i <= 4; ++i) REQUIRE(store->AppendMessage(Msg(gc, a, "g" + std::to_string(i))).ok());
  REQUIRE(store->AddGroupMember(g, {c, GroupRole::kMember, kT0}).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 4);
  REQUIRE(store->AppendMessage(Msg(gc, a, "g5")).ok());
  CHECK(store->ListConversations(c, {}, 10).value().at(0).unread == 1);
  REQUIRE(store->RemoveGroupMember(g, c).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 0);
  CHECK(store->AdvanceReadSeq(c, gc, 5).status().code() == StatusCode::kNotFound);
  // A non-member's send (the engine would refuse it) moves no pointer and lists nothing.
  REQUIRE(store->AppendMessage(Msg(gc, c, "intruder")).ok());
  CHECK(store->GetReadSeq(c, gc).value() == 0);
  CHECK(store->ListConversations(c, {}, 10).value().empty());
}

TEST_CASE("sqlite store: conversation list order, cursor, ties and group activity") {
  auto store = Open(TempDb("list.db"));
  UserId a = MakeUser(*store, "a");
  std::vector<UserId> peers;
  for (int i = 0; i < 6; ++i) peers.push_back(MakeUser(*store, "p" + std::to_string(i)));
  // Two conversations share each activity time: ties order by conversation id, higher first.
  for (int i = 0; i < 6; ++i) {
    REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, peers[i]), peers[i], "m", kT0 + 10 * (i / 2))).ok());
  }
  // A group without messages is listed at its creation time.
  auto g = store->CreateGroup({"g", a, 10, kT0 + 15}).value().id;
  CHECK(store->GetConversationState(ConversationId::Group(g)).value().last_activity_ms == kT0 + 15);

  auto all = store->ListConversations(a, {}, 100).value();
  REQUIRE(all.size() == 7);
  for (size_t i = 1; i < all.size(); ++i) {
    bool ordered = all[i - 1].last_activity_ms > all[i].last_activity_ms ||
                   (all[i - 1].last_activity_ms == all[i].last_activity_ms && all[i - 1].id.str() > all[i].id.str());
    CHECK_MESSAGE(ordered, (all[i - 1].id.str() + " before " + all[i].id.str()));
  }
  CHECK(all[0].last_activity_ms == kT0 + 20);
  CHECK(all[2].id == ConversationId::Group(g));
  CHECK_FALSE(all[2].last_message.has_value());
  CHECK(all[2].last_seq == 0);
  CHECK(all[3].unread == 1);
  CHECK(all[3].last_message.value().sender != a);

  auto below = store->ListConversations(a, im::ConversationCursor{all[2].last_activity_ms, all[2].id}, 100).value();
  REQUIRE(below.size() == 4);
  CHECK(below[0].last_activity_ms == kT0 + 10);
  CHECK(store->ListConversations(a, {}, 2).value().size() == 2);
  CHECK(store->ListConversations(UserId(424242), {}, 10).value().empty());
}

TEST_CASE("sqlite store: group rules and error codes") {
  auto store = Open(TempDb("groups.db"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  UserId c = MakeUser(*store, "c");
  auto g = store->CreateGroup({"g", a, 3, kT0}).value().id;
  CHECK(store->AddGroupMember(g, {b, GroupRole::kOwner, kT0}).code() == StatusCode::kInvalidArgument);
  REQUIRE(store->AddGroupMember(g, {b, GroupRole::kMember, kT0}).ok());
  CHECK(store->RemoveGroupMember(g, a).code() == StatusCode::kFailedPrecondition);  // owner: transfer first
  CHECK(store->SetGroupMemberRole(g, b, GroupRole::kOwner).code() == StatusCode::kInvalidArgument);
  CHECK(store->SetGroupMemberRole(g, a, GroupRole::kMember).code() == StatusCode::kFailedPrecondition);
  CHECK(store->TransferGroupOwnership(g, a, a).code() == StatusCode::kInvalidArgument);
  CHECK(store->TransferGroupOwnership(GroupId(999), a, b).code() == StatusCode::kNotFound);
  CHECK(store->DeleteUser(a).code() == StatusCode::kFailedPrecondition);  // owns a live group
  CHECK(store->GetUser(a).ok());
  CHECK(store->ListGroupMembers(GroupId(999), UserId(), 10).status().code() == StatusCode::kNotFound);
  REQUIRE(store->TransferGroupOwnership(g, a, b).ok());
  REQUIRE(store->RemoveGroupMember(g, a).ok());  // now only an admin
  REQUIRE(store->AddGroupMember(g, {c, GroupRole::kMember, kT0}).ok());
  CHECK(store->GetGroup(g).value().member_count == 2);
  REQUIRE(store->DismissGroup(g).ok());
  CHECK(store->DismissGroup(g).ok());  // idempotent
  CHECK(store->ListGroupMembers(g, UserId(), 10).value().empty());
  CHECK(store->ListConversations(c, {}, 10).value().empty());
  CHECK(store->TransferGroupOwnership(g, b, c).code() == StatusCode::kFailedPrecondition);
  REQUIRE(store->DeleteUser(b).ok());  // owned only a dismissed group
  CHECK(store->GetGroup(g).value().dismissed);
}

TEST_CASE("sqlite store: refresh token rotation, reuse and revocation") {
  auto store = Open(TempDb("tokens.db"));
  UserId a = MakeUser(*store, "a");
  REQUIRE(store->PutRefreshToken({"r1", a, "f1", "phone", kT0 + 1, false, false}).ok());
  // A successor whose hash is taken fails and leaves the old token unused.
  REQUIRE(store->PutRefreshToken({"taken", a, "f0", "web", kT0 + 1, false, false}).ok());
  CHECK(store->RotateRefreshToken("r1", {"taken", a, "f1", "phone", kT0 + 2, false, false}).code() ==
        StatusCode::kAlreadyExists);
  CHECK_FALSE(store->GetRefreshToken("r1").value().used);
  REQUIRE(store->RotateRefreshToken("r1", {"r2", a, "f1", "phone", kT0 + 2, false, false}).ok());
  CHECK(store->RotateRefreshToken("r1", {"r3", a, "f1", "phone", kT0 + 3, false, false}).code() ==
        StatusCode::kFailedPrecondition);
  CHECK_FALSE(store->IsRefreshFamilyRevoked("f1").value());
  // Revoking a family nobody stored is remembered (a token of it may still arrive).
  REQUIRE(store->RevokeRefreshFamily("never-seen").ok());
  CHECK(store->IsRefreshFamilyRevoked("never-seen").value());
  // Deleting the user revokes every family of theirs.
  REQUIRE(store->DeleteUser(a).ok());
  CHECK(store->IsRefreshFamilyRevoked("f1").value());
  CHECK(store->IsRefreshFamilyRevoked("f0").value());
  CHECK(store->GetRefreshToken("r2").value().revoked);
  CHECK(store->RotateRefreshToken("r2", {"r4", a, "f1", "phone", kT0 + 4, false, false}).code() ==
        StatusCode::kFailedPrecondition);
}

TEST_CASE("sqlite store: large and binary messages round-trip through the buffered WAL") {
  const std::string path = TempDb("large.db");
  UserId a, b;
  std::string big(6 << 20, '\0');  // larger than the WAL buffer: written through in pieces
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 9));
  {
    auto store = Open(path);
    a = MakeUser(*store, "a");
    b = MakeUser(*store, "b");
    REQUIRE(store->AppendMessage(Msg(ConversationId::Direct(a, b), a, "big", kT0, big)).ok());
    for (int i = 0; i < 300; ++i) {
      REQUIRE(store
                  ->AppendMessage(Msg(ConversationId::Direct(a, b), b, "s" + std::to_string(i), kT0,
                                      std::string(100 + i * 37, static_cast<char>('a' + i % 26))))
                  .ok());
    }
    auto got = store->ListMessages(ConversationId::Direct(a, b), {0, 2, 1, false}).value();
    REQUIRE(got.size() == 1);
    CHECK(got[0].content == big);
  }
  auto store = Open(path);  // after the closing checkpoint
  auto all = store->ListMessages(ConversationId::Direct(a, b), {0, 0, 1000, false}).value();
  REQUIRE(all.size() == 301);
  CHECK(all[0].content == big);
  for (int i = 0; i < 300; ++i) CHECK(all[i + 1].content == std::string(100 + i * 37, static_cast<char>('a' + i % 26)));
}

TEST_CASE("sqlite store: flush and shutdown drain queued writes, in both sync modes") {
  for (bool synchronous : {true, false}) {
    CAPTURE(synchronous);
    const std::string path = TempDb("drain.db");
    UserId a, b;
    {
      auto store = Open(path, synchronous, /*max_batch=*/7);  // small batches: many transactions
      a = MakeUser(*store, "a");
      b = MakeUser(*store, "b");
      std::vector<std::thread> threads;
      for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 100; ++i) {
            CHECK(
                store->AppendMessage(Msg(ConversationId::Direct(a, b), a, std::to_string(t) + "-" + std::to_string(i)))
                    .ok());
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(store->Flush().ok());
    }
    auto store = Open(path, synchronous);
    CHECK(store->GetConversationState(ConversationId::Direct(a, b)).value().last_seq == 600);
  }
}

TEST_CASE("sqlite store: reads run while the writer is busy") {
  auto store = Open(TempDb("readers.db"));
  UserId a = MakeUser(*store, "a");
  UserId b = MakeUser(*store, "b");
  const ConversationId conv = ConversationId::Direct(a, b);
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0}, regressions{0};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; ++i) (void)store->AppendMessage(Msg(conv, a, "w" + std::to_string(i)));
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {  // more readers than connections: leases queue
    readers.emplace_back([&] {
      Seq seen = 0;
      while (!stop) {
        auto state = store->GetConversationState(conv);
        if (!state.ok()) {
          read_errors++;
          continue;
        }
        if (state->last_seq < seen) regressions++;  // a later read never sees less
        seen = state->last_seq;
        auto page = store->ListMessages(conv, {0, 0, 20, true});
        if (!page.ok() || (seen > 0 && page->empty())) read_errors++;
      }
    });
  }
  writer.join();
  for (auto& th : readers) th.join();
  CHECK(read_errors.load() == 0);
  CHECK(regressions.load() == 0);
  CHECK(store->GetConversationState(conv).value().last_seq == 2000);
}
