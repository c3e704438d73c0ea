// The Store conformance suite, part two: device tokens, push settings and dead letters (the
// methods added after 1.0; see include/im/store.h).
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store_conformance_check.h"

namespace im::testing::conformance {
namespace {

DeviceToken Token(UserId user, PushPlatform platform, std::string token, DeviceId device, TimestampMs at) {
  return DeviceToken{user, platform, std::move(token), std::move(device), at};
}

bool Same(const DeviceToken& x, const DeviceToken& y) {
  return x.user == y.user && x.platform == y.platform && x.token == y.token && x.device == y.device &&
         x.updated_at_ms == y.updated_at_ms;
}

// The tokens of `got` are exactly `want`, in order, every field equal.
bool SameTokens(const std::vector<DeviceToken>& got, const std::vector<DeviceToken>& want) {
  return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin(), Same);
}

bool Same(const PushSettings& x, const PushSettings& y) {
  return x.muted == y.muted && x.show_preview == y.show_preview;
}

bool Same(const DeadLetter& x, const DeadLetter& y) {
  return x.id == y.id && x.topic == y.topic && x.key == y.key && x.payload == y.payload && x.error == y.error &&
         x.attempts == y.attempts && x.created_at_ms == y.created_at_ms;
}

std::vector<int64_t> Ids(const std::vector<DeadLetter>& letters) {
  std::vector<int64_t> ids;
  for (const DeadLetter& d : letters) ids.push_back(d.id);
  return ids;
}

Status DeviceTokensPutAndList(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(auto none, s.ListDeviceTokens(a.id));
  EXPECT(none.empty());

  DeviceToken t1 = Token(a.id, PushPlatform::kApns, "a1b2c3", "phone", kT0 + 30);
  DeviceToken t2 = Token(a.id, PushPlatform::kFcm, "fcm:registration-token", "web-3f9c", kT0 + 10);
  DeviceToken t3 = Token(a.id, PushPlatform::kApns, "d4e5f6", "", kT0 + 20);
  for (const DeviceToken& t : {t1, t2, t3}) EXPECT_OK(s.PutDeviceToken(t));
  ASSIGN_OK(auto listed, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(listed, {t2, t3, t1}));  // oldest update first, every field kept
  ASSIGN_OK(auto bobs, s.ListDeviceTokens(b.id));
  EXPECT(bobs.empty());

  // Registering again replaces the row (device and time), it does not add one.
  DeviceToken t1_again = Token(a.id, PushPlatform::kApns, "a1b2c3", "phone-2", kT0 + 5);
  EXPECT_OK(s.PutDeviceToken(t1_again));
  ASSIGN_OK(auto replaced, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(replaced, {t1_again, t2, t3}));

  // Equal update times: by platform, then token.
  DeviceToken tie_b = Token(a.id, PushPlatform::kFcm, "tie-b", "x", kT0 + 40);
  DeviceToken tie_z = Token(a.id, PushPlatform::kApns, "tie-z", "x", kT0 + 40);
  DeviceToken tie_a = Token(a.id, PushPlatform::kFcm, "tie-a", "x", kT0 + 40);
  for (const DeviceToken& t : {tie_b, tie_z, tie_a}) EXPECT_OK(s.PutDeviceToken(t));
  ASSIGN_OK(auto ties, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(ties, {t1_again, t2, t3, tie_z, tie_a, tie_b}));

  // A 4096-byte token (the longest the engine accepts) is kept whole.
  DeviceToken longest = Token(b.id, PushPlatform::kFcm, std::string(4096, 'k'), "tablet", kT0);
  longest.token.back() = '~';
  EXPECT_OK(s.PutDeviceToken(longest));
  ASSIGN_OK(auto bob_long, s.ListDeviceTokens(b.id));
  EXPECT(SameTokens(bob_long, {longest}));

  // Unknown users and platforms store nothing (and never crash the store).
  EXPECT_CODE(s.PutDeviceToken(Token(UserId(999'999), PushPlatform::kApns, "orphan", "d", kT0)), StatusCode::kNotFound);
  ASSIGN_OK(auto orphan, s.ListDeviceTokens(UserId(999'999)));
  EXPECT(orphan.empty());
  EXPECT_CODE(s.PutDeviceToken(Token(a.id, static_cast<PushPlatform>(0), "zero", "d", kT0)),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(s.PutDeviceToken(Token(a.id, static_cast<PushPlatform>(9), "nine", "d", kT0)),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(s.PutDeviceToken(Token(a.id, static_cast<PushPlatform>(255), "max", "d", kT0)),
              StatusCode::kInvalidArgument);
  ASSIGN_OK(auto after_bad, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(after_bad, ties));
  return Status::Ok();
}

Status DeviceTokensMoveAndDelete(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  DeviceToken on_a = Token(a.id, PushPlatform::kApns, "shared", "phone", kT0);
  EXPECT_OK(s.PutDeviceToken(on_a));
  // Another user logs in on the device: the token moves.
  DeviceToken on_b = Token(b.id, PushPlatform::kApns, "shared", "phone", kT0 + 1);
  EXPECT_OK(s.PutDeviceToken(on_b));
  ASSIGN_OK(auto alist, s.ListDeviceTokens(a.id));
  EXPECT(alist.empty());
  ASSIGN_OK(auto blist, s.ListDeviceTokens(b.id));
  EXPECT(SameTokens(blist, {on_b}));

  // The key is (platform, token): the same text on FCM is another token.
  DeviceToken fcm = Token(a.id, PushPlatform::kFcm, "shared", "web", kT0 + 2);
  EXPECT_OK(s.PutDeviceToken(fcm));
  ASSIGN_OK(auto alist2, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(alist2, {fcm}));
  ASSIGN_OK(auto blist2, s.ListDeviceTokens(b.id));
  EXPECT(SameTokens(blist2, {on_b}));

  // Delete removes one (platform, token) whoever holds it, and is idempotent.
  EXPECT_OK(s.DeleteDeviceToken(PushPlatform::kApns, "shared"));
  ASSIGN_OK(auto blist3, s.ListDeviceTokens(b.id));
  EXPECT(blist3.empty());
  ASSIGN_OK(auto alist3, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(alist3, {fcm}));
  EXPECT_OK(s.DeleteDeviceToken(PushPlatform::kApns, "shared"));
  EXPECT_OK(s.DeleteDeviceToken(PushPlatform::kFcm, "never-registered"));
  EXPECT_OK(s.DeleteDeviceToken(static_cast<PushPlatform>(9), "shared"));
  ASSIGN_OK(auto alist4, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(alist4, {fcm}));
  EXPECT_OK(s.DeleteDeviceToken(PushPlatform::kFcm, "shared"));
  ASSIGN_OK(auto alist5, s.ListDeviceTokens(a.id));
  EXPECT(alist5.empty());

  // A deleted token can be registered again.
  DeviceToken back = Token(a.id, PushPlatform::kApns, "shared", "phone", kT0 + 3);
  EXPECT_OK(s.PutDeviceToken(back));
  ASSIGN_OK(auto alist6, s.ListDeviceTokens(a.id));
  EXPECT(SameTokens(alist6, {back}));
  return Status::Ok();
}

Status DeviceTokensConcurrentMoves(Store& s) {
  constexpr int kThreads = 8, kRounds = 25;
  std::vector<UserId> users;
  for (int t = 0; t < kThreads; ++t) {
    ASSIGN_OK(User u, MakeUser(s, "user" + std::to_string(t)));
    users.push_back(u.id);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        auto at = kT0 + i;
        if (!s.PutDeviceToken(Token(users[t], PushPlatform::kFcm, "contested", "d", at)).ok()) failures++;
        if (!s.PutDeviceToken(Token(users[t], PushPlatform::kFcm, "own-" + std::to_string(t), "d", at)).ok()) {
          failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT(failures.load() == 0);
  int holders = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSIGN_OK(auto list, s.ListDeviceTokens(users[t]));
    bool own = false;
    for (const DeviceToken& d : list) {
      EXPECT(d.user == users[t]);
      if (d.token == "contested") holders++;
      if (d.token == "own-" + std::to_string(t)) own = true;
    }
    EXPECT(own);
    EXPECT(list.size() <= 2);
  }
  EXPECT(holders == 1);  // one user holds the token, whatever the interleaving
  return Status::Ok();
}

Status PushSettingsPerUser(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  const PushSettings defaults;
  EXPECT(!defaults.muted && defaults.show_preview);
  ASSIGN_OK(PushSettings fresh, s.GetPushSettings(a.id));
  EXPECT(Same(fresh, defaults));

  EXPECT_OK(s.PutPushSettings(a.id, PushSettings{true, false}));
  ASSIGN_OK(PushSettings a1, s.GetPushSettings(a.id));
  EXPECT(a1.muted && !a1.show_preview);
  ASSIGN_OK(PushSettings b1, s.GetPushSettings(b.id));
  EXPECT(Same(b1, defaults));

  EXPECT_OK(s.PutPushSettings(a.id, PushSettings{false, false}));  // replaces
  ASSIGN_OK(PushSettings a2, s.GetPushSettings(a.id));
  EXPECT(!a2.muted && !a2.show_preview);
  EXPECT_OK(s.PutPushSettings(b.id, PushSettings{true, true}));
  ASSIGN_OK(PushSettings b2, s.GetPushSettings(b.id));
  EXPECT(b2.muted && b2.show_preview);
  ASSIGN_OK(PushSettings a3, s.GetPushSettings(a.id));
  EXPECT(!a3.muted && !a3.show_preview);

  EXPECT_CODE(s.PutPushSettings(UserId(999'999), PushSettings{true, false}), StatusCode::kNotFound);
  ASSIGN_OK(PushSettings unknown, s.GetPushSettings(UserId(999'999)));
  EXPECT(Same(unknown, defaults));
  return Status::Ok();
}

Status DeleteUserRemovesPushState(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  EXPECT_OK(s.PutDeviceToken(Token(a.id, PushPlatform::kApns, "alice-phone", "phone", kT0)));
  EXPECT_OK(s.PutDeviceToken(Token(a.id, PushPlatform::kFcm, "alice-web", "web", kT0 + 1)));
  // A token alice registered first and bob took over is bob's: it stays.
  EXPECT_OK(s.PutDeviceToken(Token(a.id, PushPlatform::kFcm, "moved", "tablet", kT0 + 2)));
  DeviceToken moved = Token(b.id, PushPlatform::kFcm, "moved", "tablet", kT0 + 3);
  EXPECT_OK(s.PutDeviceToken(moved));
  DeviceToken bobs = Token(b.id, PushPlatform::kApns, "bob-phone", "phone", kT0 + 4);
  EXPECT_OK(s.PutDeviceToken(bobs));
  EXPECT_OK(s.PutPushSettings(a.id, PushSettings{true, false}));
  EXPECT_OK(s.PutPushSettings(b.id, PushSettings{true, false}));

  EXPECT_OK(s.DeleteUser(a.id));
  ASSIGN_OK(auto alist, s.ListDeviceTokens(a.id));
  EXPECT(alist.empty());
  ASSIGN_OK(PushSettings asettings, s.GetPushSettings(a.id));
  EXPECT(Same(asettings, PushSettings{}));
  ASSIGN_OK(auto blist, s.ListDeviceTokens(b.id));
  EXPECT(SameTokens(blist, {moved, bobs}));
  ASSIGN_OK(PushSettings bsettings, s.GetPushSettings(b.id));
  EXPECT(bsettings.muted && !bsettings.show_preview);
  EXPECT_CODE(s.PutPushSettings(a.id, PushSettings{true, true}), StatusCode::kNotFound);
  EXPECT_CODE(s.PutDeviceToken(Token(a.id, PushPlatform::kApns, "late", "phone", kT0 + 5)), StatusCode::kNotFound);

  // Alice's tokens are free: someone else can register them.
  DeviceToken taken = Token(b.id, PushPlatform::kApns, "alice-phone", "phone", kT0 + 6);
  EXPECT_OK(s.PutDeviceToken(taken));
  ASSIGN_OK(auto blist2, s.ListDeviceTokens(b.id));
  EXPECT(SameTokens(blist2, {moved, bobs, taken}));
  // A new alice starts with nothing.
  ASSIGN_OK(User again, MakeUser(s, "alice"));
  ASSIGN_OK(auto new_list, s.ListDeviceTokens(again.id));
  EXPECT(new_list.empty());
  ASSIGN_OK(PushSettings new_settings, s.GetPushSettings(again.id));
  EXPECT(Same(new_settings, PushSettings{}));
  return Status::Ok();
}

DeadLetter Letter(std::string topic, std::string key, std::string payload, std::string error, int attempts,
                  TimestampMs at) {
  return DeadLetter{777, std::move(topic), std::move(key), std::move(payload), std::move(error), attempts, at};
}

Status DeadLettersAddListGetDelete(Store& s) {
  ASSIGN_OK(auto empty, s.ListDeadLetters(0, 10));
  EXPECT(empty.empty());
  EXPECT_CODE(s.GetDeadLetter(1), StatusCode::kNotFound);
  EXPECT_CODE(s.DeleteDeadLetter(1), StatusCode::kNotFound);

  DeadLetter d1 = Letter("im-task", "g:1", "fanout", "unavailable: redis down", 5, kT0);
  DeadLetter d2 = Letter("im-upstream", "d:1:2", "send", "internal: boom", 1, kT0 + 1);
  DeadLetter d3 = Letter("im-task", "", "", "", 0, kT0 + 2);  // empty fields are fine
  ASSIGN_OK(int64_t i1, s.AddDeadLetter(d1));
  ASSIGN_OK(int64_t i2, s.AddDeadLetter(d2));
  ASSIGN_OK(int64_t i3, s.AddDeadLetter(d3));
  EXPECT(i1 > 0 && i1 < i2 && i2 < i3);  // the given id (777) is ignored
  d1.id = i1;
  d2.id = i2;
  d3.id = i3;

  ASSIGN_OK(DeadLetter got2, s.GetDeadLetter(i2));
  EXPECT(Same(got2, d2));
  ASSIGN_OK(DeadLetter got3, s.GetDeadLetter(i3));
  EXPECT(Same(got3, d3));
  ASSIGN_OK(auto all, s.ListDeadLetters(0, 10));
  EXPECT(all.size() == 3 && Same(all[0], d1) && Same(all[1], d2) && Same(all[2], d3));
  ASSIGN_OK(auto after1, s.ListDeadLetters(i1, 10));
  EXPECT(Ids(after1) == (std::vector<int64_t>{i2, i3}));
  ASSIGN_OK(auto first2, s.ListDeadLetters(0, 2));
  EXPECT(Ids(first2) == (std::vector<int64_t>{i1, i2}));
  ASSIGN_OK(auto page, s.ListDeadLetters(i1, 1));
  EXPECT(Ids(page) == (std::vector<int64_t>{i2}));
  ASSIGN_OK(auto past_end, s.ListDeadLetters(i3, 10));
  EXPECT(past_end.empty());
  ASSIGN_OK(auto zero_limit, s.ListDeadLetters(0, 0));
  EXPECT(zero_limit.empty());
  ASSIGN_OK(auto negative_after, s.ListDeadLetters(-5, 10));
  EXPECT(Ids(negative_after) == (std::vector<int64_t>{i1, i2, i3}));

  EXPECT_OK(s.DeleteDeadLetter(i2));
  EXPECT_CODE(s.GetDeadLetter(i2), StatusCode::kNotFound);
  EXPECT_CODE(s.DeleteDeadLetter(i2), StatusCode::kNotFound);
  ASSIGN_OK(auto left, s.ListDeadLetters(0, 10));
  EXPECT(Ids(left) == (std::vector<int64_t>{i1, i3}));
  ASSIGN_OK(auto after_gap, s.ListDeadLetters(i1, 1));
  EXPECT(Ids(after_gap) == (std::vector<int64_t>{i3}));

  // Ids are never reused, not even the highest after its deletion.
  EXPECT_OK(s.DeleteDeadLetter(i3));
  ASSIGN_OK(int64_t i4, s.AddDeadLetter(d1));
  EXPECT(i4 > i3);
  ASSIGN_OK(DeadLetter got4, s.GetDeadLetter(i4));
  d1.id = i4;
  EXPECT(Same(got4, d1));
  EXPECT_CODE(s.GetDeadLetter(0), StatusCode::kNotFound);
  EXPECT_CODE(s.GetDeadLetter(-1), StatusCode::kNotFound);
  EXPECT_CODE(s.DeleteDeadLetter(0), StatusCode::kNotFound);
  return Status::Ok();
}

// A string literal with its NUL bytes (all but the terminating one).
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

Status DeadLettersKeepBytes(Store& s) {
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  std::string payload = Bytes("\0head") + every_byte;
  for (int i = 0; i < 64 * 1024; ++i) payload.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  payload += Bytes("tail\0");
  DeadLetter d{0,
               Bytes("im-task\0x"),
               Bytes("\xff\0key\x80"),
               payload,
               Bytes("internal: \xc3\x28 not UTF-8, \0 a NUL"),
               2'147'483'647,
               -1};
  ASSIGN_OK(int64_t id, s.AddDeadLetter(d));
  d.id = id;
  ASSIGN_OK(DeadLetter got, s.GetDeadLetter(id));
  EXPECT(got.payload.size() == d.payload.size());
  EXPECT(got.payload == d.payload);
  EXPECT(got.key == d.key && got.topic == d.topic && got.error == d.error);
  EXPECT(Same(got, d));
  ASSIGN_OK(auto listed, s.ListDeadLetters(id - 1, 1));
  EXPECT(listed.size() == 1 && Same(listed[0], d));
  return Status::Ok();
}

Status DeadLettersConcurrentAdds(Store& s) {
  constexpr int kThreads = 8, kPerThread = 40;
  std::atomic<int64_t> highest_acked{0};
  std::atomic<int> failures{0}, went_backwards{0};
  std::mutex mu;
  std::map<int64_t, std::string> payload_of;  // id -> payload
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i);
        int64_t before = highest_acked.load();
        auto id = s.AddDeadLetter(Letter("im-task", "k", payload, "e", i, kT0 + i));
        if (!id.ok()) {
          failures++;
          continue;
        }
        // Greater than every id acknowledged before this call started, whichever thread got it.
        if (*id <= before) went_backwards++;
        for (int64_t seen = highest_acked.load(); seen < *id && !highest_acked.compare_exchange_weak(seen, *id);) {
        }
        std::lock_guard lock(mu);
        if (!payload_of.emplace(*id, payload).second) failures++;  // an id handed out twice
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT(failures.load() == 0);
  EXPECT(went_backwards.load() == 0);
  EXPECT(payload_of.size() == size_t(kThreads * kPerThread));
  EXPECT(payload_of.begin()->first > 0);
  // Paging through everything finds each letter once, ascending, with its own payload.
  std::map<int64_t, std::string> listed;
  int64_t after = 0;
  for (int pages = 0; pages < 100; ++pages) {
    ASSIGN_OK(auto page, s.ListDeadLetters(after, 64));
    EXPECT(page.size() <= 64);
    if (page.empty()) break;
    for (const DeadLetter& d : page) {
      EXPECT(d.id > after);
      after = d.id;
      listed.emplace(d.id, d.payload);
    }
  }
  EXPECT(listed == payload_of);
  return Status::Ok();
}

}  // namespace

std::vector<StoreConformanceCase> PushAndDeadLetterCases() {
  return {
      {"device tokens: put, replace, list order, unknown users and platforms", DeviceTokensPutAndList},
      {"device tokens: a token moves between users, per-platform keys, idempotent delete", DeviceTokensMoveAndDelete},
      {"device tokens: concurrent re-registration leaves one holder", DeviceTokensConcurrentMoves},
      {"push settings: defaults, put and get, per user", PushSettingsPerUser},
      {"users: delete removes device tokens and push settings", DeleteUserRemovesPushState},
      {"dead letters: add, list after an id, get, delete, ids never reused", DeadLettersAddListGetDelete},
      {"dead letters: every byte of every field round-trips", DeadLettersKeepBytes},
      {"dead letters: concurrent adds get distinct increasing ids", DeadLettersConcurrentAdds},
  };
}

}  // namespace im::testing::conformance
