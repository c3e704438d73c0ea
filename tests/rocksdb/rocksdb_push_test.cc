// The RocksDB store's device tokens, push settings and dead letters beyond the conformance suite:
// a version-1 database (before they existed) is migrated on open, the dead-letter id counter
// survives restarts, and their records never decode from a truncated or corrupt value.
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "im/rocksdb_store.h"
#include "rocksdb/codec.h"
#include "rocksdb/schema.h"
#include "support/raw_rocksdb.h"

namespace {

namespace fs = std::filesystem;
using im::DeadLetter;
using im::PushPlatform;
using im::PushSettings;
using im::StatusCode;
using im::UserId;

constexpr im::TimestampMs kT0 = 1'700'000'000'000;

fs::path TempRoot() { return fs::temp_directory_path() / ("im-rocksdb-push-" + std::to_string(::getpid())); }

struct TempRootCleanup {
  ~TempRootCleanup() {
    std::error_code ec;
    fs::remove_all(TempRoot(), ec);
  }
} temp_root_cleanup;

std::string TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = TempRoot() / (std::to_string(counter++) + "-" + name);
  fs::remove_all(dir);
  return dir.string();
}

std::shared_ptr<im::Store> Open(const std::string& path) {
  auto store = im::OpenRocksDbStore({.path = path});
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return *store;
}

using im::test::RawDb;

uint64_t StoredVersion(RawDb& raw) {
  auto value = raw.Get("default", std::string(im::rocks::kSchemaVersionKey));
  REQUIRE(value.has_value());
  im::Seq version = 0;
  REQUIRE(im::rocks::DecodeReadSeq(*value, &version));
  return version;
}

}  // namespace

TEST_CASE("rocksdb store: a version-1 database is migrated to version 2 and gains tokens and dead letters") {
  REQUIRE(im::rocks::kSchemaVersion == 3);
  const std::string path = TempDir("v1");
  UserId alice;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
  }
  {
    // Back to what libim 1.0 wrote: version 1, no push or dead_letters family, no counter.
    RawDb raw(path);
    raw.Drop("push");
    raw.Drop("dead_letters");
    raw.Delete("default", std::string(im::rocks::kLastDeadLetterIdKey));
    std::string v1;
    im::rocks::EncodeReadSeq(1, &v1);
    raw.Put("default", std::string(im::rocks::kSchemaVersionKey), v1);
  }
  {
    RawDb raw(path);
    REQUIRE(StoredVersion(raw) == 1);
    REQUIRE_FALSE(raw.Has("push"));
    REQUIRE_FALSE(raw.Has("dead_letters"));
  }
  int64_t first_id = 0;
  {
    auto store = Open(path);
    CHECK(store->GetUser(alice).value().username == "alice");
    REQUIRE(store->PutDeviceToken({alice, PushPlatform::kApns, "apns-token", "phone", kT0}).ok());
    CHECK(store->ListDeviceTokens(alice).value().size() == 1);
    REQUIRE(store->PutPushSettings(alice, PushSettings{true, true}).ok());
    auto id = store->AddDeadLetter(DeadLetter{0, "im-task", "k", "p", "e", 1, kT0});
    REQUIRE_MESSAGE(id.ok(), id.status().ToString());
    first_id = *id;
    CHECK(first_id > 0);
  }
  RawDb raw(path);
  CHECK(StoredVersion(raw) == im::rocks::kSchemaVersion);
  CHECK(raw.Has("push"));
  CHECK(raw.Has("dead_letters"));
  auto counter = raw.Get("default", std::string(im::rocks::kLastDeadLetterIdKey));
  REQUIRE(counter.has_value());
  uint64_t last = 0;
  REQUIRE(im::rocks::DecodeU64Value(*counter, &last));
  CHECK(last == uint64_t(first_id));
}

TEST_CASE("rocksdb store: dead-letter ids keep increasing across restarts, deleted ones included") {
  const std::string path = TempDir("ids");
  int64_t highest = 0;
  UserId alice;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
    for (int i = 0; i < 5; ++i)
      highest = store->AddDeadLetter({0, "t", "k", "p" + std::to_string(i), "e", i, kT0}).value();
    REQUIRE(store->DeleteDeadLetter(highest).ok());
    REQUIRE(store->PutDeviceToken({alice, PushPlatform::kFcm, "fcm-token", "web", kT0}).ok());
    REQUIRE(store->PutPushSettings(alice, PushSettings{true, false}).ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    CAPTURE(reopen);
    auto store = Open(path);
    auto next = store->AddDeadLetter({0, "t", "k", "again", "e", 0, kT0});
    REQUIRE(next.ok());
    CHECK(*next == highest + 1);  // the counter, not the highest stored key, decides
    highest = *next;
    auto letters = store->ListDeadLetters(0, 100).value();
    CHECK(letters.size() == size_t(4 + 1 + reopen));
    CHECK(letters.front().payload == "p0");
    auto tokens = store->ListDeviceTokens(alice).value();
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0].token == "fcm-token");
    CHECK(tokens[0].platform == PushPlatform::kFcm);
    CHECK(store->GetPushSettings(alice).value().muted);
  }
}

TEST_CASE("rocksdb store: corrupt push and dead-letter values are internal errors, never a crash") {
  const std::string path = TempDir("corrupt");
  UserId alice;
  int64_t id = 0;
  {
    auto store = Open(path);
    alice = store->CreateUser({"alice", "Alice", "hash", kT0}).value().id;
    REQUIRE(store->PutDeviceToken({alice, PushPlatform::kApns, "tok", "phone", kT0}).ok());
    id = store->AddDeadLetter({0, "t", "k", "p", "e", 1, kT0}).value();
  }
  {
    RawDb raw(path);
    raw.Put("push", im::rocks::DeviceTokenKey(PushPlatform::kApns, "tok"), "\x01\x80");  // truncated varint
    raw.Put("push", im::rocks::PushSettingsKey(alice), std::string("\x01\x02\x00", 3));  // not a bool
    raw.Put("dead_letters", im::rocks::DeadLetterKey(id), "\x01\x09xy");                 // length past the end
  }
  auto store = Open(path);
  auto expect_internal = [](const im::Status& s, const char* what) {
    CHECK_MESSAGE(s.code() == StatusCode::kInternal, what << ": " << s.ToString());
    CHECK_MESSAGE(s.message().find("corrupt value") != std::string::npos, what << ": " << s.ToString());
  };
  expect_internal(store->ListDeviceTokens(alice).status(), "ListDeviceTokens");
  expect_internal(store->PutDeviceToken({alice, PushPlatform::kApns, "tok", "p", kT0}), "PutDeviceToken");
  expect_internal(store->DeleteDeviceToken(PushPlatform::kApns, "tok"), "DeleteDeviceToken");
  expect_internal(store->DeleteUser(alice), "DeleteUser");
  expect_internal(store->GetPushSettings(alice).status(), "GetPushSettings");
  expect_internal(store->GetDeadLetter(id).status(), "GetDeadLetter");
  expect_internal(store->ListDeadLetters(0, 10).status(), "ListDeadLetters");
  // The rest still works.
  CHECK(store->GetUser(alice).ok());
  CHECK(store->AddDeadLetter({0, "t", "k", "p", "e", 1, kT0}).value() > id);
}

TEST_CASE("rocksdb store: no truncation or extension of a push or dead-letter record decodes") {
  using namespace im::rocks;
  std::string device, settings, letter;
  EncodeDevice({UserId(7), "phone", kT0}, &device);
  EncodePushSettings(PushSettings{true, false}, &settings);
  EncodeDeadLetter(DeadLetter{0, "im-task", std::string("k\0", 2), "payload", "error", -3, -kT0}, &letter);
  auto check = [](const std::string& encoded, auto decode) {
    CHECK(decode(encoded));
    for (size_t n = 0; n < encoded.size(); ++n) CHECK_FALSE(decode(encoded.substr(0, n)));
    CHECK_FALSE(decode(encoded + "x"));
  };
  check(device, [](std::string_view v) {
    DeviceRecord r;
    return DecodeDevice(v, &r);
  });
  check(settings, [](std::string_view v) {
    PushSettings r;
    return DecodePushSettings(v, &r);
  });
  check(letter, [](std::string_view v) {
    DeadLetter r;
    return DecodeDeadLetter(v, &r);
  });
  DeadLetter d;
  REQUIRE(DecodeDeadLetter(letter, &d));
  CHECK(d.key == std::string("k\0", 2));
  CHECK(d.attempts == -3);
  CHECK(d.created_at_ms == -kT0);
  DeviceRecord r;
  std::string no_user;
  EncodeDevice({UserId(0), "phone", kT0}, &no_user);  // a token always has a holder
  CHECK_FALSE(DecodeDevice(no_user, &r));
}
