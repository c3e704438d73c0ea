#include <doctest/doctest.h>

#include "crypto/sha256.h"
#include "engine/auth_service.h"
#include "im/engine.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;

namespace {

struct Clocked {
  TimestampMs now = 1'800'000'000'000;
  std::unique_ptr<Engine> engine;
  explicit Clocked(Options o = FastOptions()) {
    o.clock = [this] { return now; };
    engine = Engine::Open(std::move(o)).value();
  }
};

}  // namespace

TEST_CASE("auth: registration rules give clear errors") {
  Clocked c;
  Engine& e = *c.engine;
  CHECK(e.Register("ab", "long enough", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register("a b c", "long enough", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register("_alice", "long enough", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register(std::string(33, 'a'), "long enough", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register("alice", "short", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register("alice", std::string(129, 'p'), "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.Register("alice", "long enough", "bad\x01name").status().code() == StatusCode::kInvalidArgument);
  auto alice = e.Register("Alice", "long enough", "");
  REQUIRE(alice.ok());
  CHECK(alice->username == "alice");  // folded to lower case
  CHECK(alice->display_name == "alice");
  CHECK(e.Register("ALICE", "other password", "").status().code() == StatusCode::kAlreadyExists);
}

TEST_CASE("auth: display and group names refuse C1 controls, bidi overrides and names that show nothing") {
  Clocked c;
  Engine& e = *c.engine;
  auto bad = [&](const std::string& name) {
    auto r = e.Register("someone", "long enough", name);
    return !r.ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  CHECK(bad("evil\xC2\x85name"));            // U+0085, a C1 control
  CHECK(bad("admin\xE2\x80\xAEnimda"));      // U+202E right-to-left override
  CHECK(bad("x\xE2\x81\xA6y"));              // U+2066 left-to-right isolate
  CHECK(bad("   "));                         // spaces only
  CHECK(bad("\xE2\x80\x8B\xE2\x80\x8B"));    // zero-width spaces only
  CHECK(bad("\xE3\x85\xA4"));                // U+3164 Hangul filler
  CHECK(bad(" \xC2\xA0\xEF\xBB\xBF"));        // space, no-break space, BOM
  auto ok = e.Register("someone", "long enough", "J\xC3\xBCrgen \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xF0\x9F\x99\x82");
  REQUIRE(ok.ok());  // letters of any script, spaces between them, emoji
  CHECK(e.UpdateProfile(ok->id, "\xE2\x80\xAE").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.CreateGroup(ok->id, "\xE2\x80\x8B").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("auth: login issues a verifiable access token and wrong passwords fail alike") {
  Clocked c;
  Engine& e = *c.engine;
  UserId alice = e.Register("alice", "correct horse", "Alice").value().id;
  CHECK(e.Login("alice", "wrong horse", "phone").status().code() == StatusCode::kUnauthenticated);
  auto unknown = e.Login("nobody", "correct horse", "phone");
  CHECK(unknown.status().code() == StatusCode::kUnauthenticated);
  CHECK(unknown.status().message() == e.Login("alice", "wrong horse", "phone").status().message());
  CHECK(e.Login("alice", "correct horse", "").status().code() == StatusCode::kInvalidArgument);

  auto t = e.Login("alice", "correct horse", "phone");
  REQUIRE(t.ok());
  CHECK(t->user == alice);
  auto ctx = e.Authenticate(t->access_token);
  REQUIRE(ctx.ok());
  CHECK(ctx->user == alice);
  CHECK(ctx->device == "phone");

  // Tampering with any part of the token breaks it.
  std::string forged = t->access_token;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  CHECK(e.Authenticate(forged).status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Authenticate("").status().code() == StatusCode::kUnauthenticated);

  // A token signed with another key is refused.
  Options other = FastOptions();
  other.jwt_secret = std::string(32, 'z');
  auto engine2 = Engine::Open(other).value();
  (void)engine2->Register("alice", "correct horse", "");
  auto t2 = engine2->Login("alice", "correct horse", "phone").value();
  CHECK(e.Authenticate(t2.access_token).status().code() == StatusCode::kUnauthenticated);

  // Access tokens are short-lived.
  c.now += 16 * 60 * 1000;
  CHECK(e.Authenticate(t->access_token).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("auth: refresh rotates, and reusing an old refresh token revokes the whole family") {
  Clocked c;
  Engine& e = *c.engine;
  (void)e.Register("alice", "correct horse", "");
  auto login = e.Login("alice", "correct horse", "phone").value();
  auto second = e.Refresh(login.refresh_token);
  REQUIRE(second.ok());
  CHECK(second->refresh_token != login.refresh_token);
  CHECK(e.Authenticate(second->access_token).ok());
  auto third = e.Refresh(second->refresh_token);
  REQUIRE(third.ok());

  // An attacker replays the first refresh token: the family dies.
  auto replay = e.Refresh(login.refresh_token);
  CHECK(replay.status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Refresh(third->refresh_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Authenticate(third->access_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Authenticate(login.access_token).status().code() == StatusCode::kUnauthenticated);

  // Another login (another family) is unaffected.
  auto laptop = e.Login("alice", "correct horse", "laptop").value();
  CHECK(e.Authenticate(laptop.access_token).ok());
  CHECK(e.Refresh(laptop.refresh_token).ok());
  CHECK(e.Refresh("not-a-token").status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("auth: refresh tokens expire and logout revokes") {
  Clocked c;
  Engine& e = *c.engine;
  (void)e.Register("alice", "correct horse", "");
  auto a = e.Login("alice", "correct horse", "phone").value();
  auto b = e.Login("alice", "correct horse", "laptop").value();
  REQUIRE(e.Logout(a.refresh_token).ok());
  CHECK(e.Authenticate(a.access_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Refresh(a.refresh_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(e.Authenticate(b.access_token).ok());
  CHECK(e.Logout("unknown").code() == StatusCode::kUnauthenticated);

  c.now += 31LL * 24 * 3600 * 1000;
  CHECK(e.Refresh(b.refresh_token).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("auth: logout, refresh reuse and a password change tell the user's live sessions which logins ended") {
  auto e = Engine::Open(FastOptions()).value();
  UserId alice = e->Register("alice", "first password", "").value().id;
  auto sink = std::make_shared<im::test::RecordingSink>();
  REQUIRE(e->Attach(alice, "phone", sink).ok());
  auto phone = e->Login("alice", "first password", "phone").value();
  auto laptop = e->Login("alice", "first password", "laptop").value();
  auto tablet = e->Login("alice", "first password", "tablet").value();
  const std::string phone_family = e->Authenticate(phone.access_token).value().family_id;
  const std::string laptop_family = e->Authenticate(laptop.access_token).value().family_id;
  const std::string tablet_family = e->Authenticate(tablet.access_token).value().family_id;
  REQUIRE(e->Drain().ok());
  CHECK(sink->Of<LoginRevokedEvent>().empty());

  REQUIRE(e->Logout(laptop.refresh_token).ok());
  REQUIRE(e->Drain().ok());
  auto revoked = sink->Of<LoginRevokedEvent>();
  REQUIRE(revoked.size() == 1);
  CHECK(revoked[0].Covers(laptop_family));
  CHECK_FALSE(revoked[0].Covers(phone_family));

  // Reusing a spent refresh token kills that login.
  auto rotated = e->Refresh(tablet.refresh_token).value();
  CHECK(e->Refresh(tablet.refresh_token).status().code() == StatusCode::kUnauthenticated);
  REQUIRE(e->Drain().ok());
  revoked = sink->Of<LoginRevokedEvent>();
  REQUIRE(revoked.size() == 2);
  CHECK(revoked[1].Covers(tablet_family));
  CHECK_FALSE(revoked[1].Covers(phone_family));
  CHECK(e->Authenticate(rotated.access_token).status().code() == StatusCode::kUnauthenticated);

  // A password change ends every login but the one that made it.
  REQUIRE(e->ChangePassword(alice, "first password", "second password", phone.refresh_token).ok());
  REQUIRE(e->Drain().ok());
  revoked = sink->Of<LoginRevokedEvent>();
  REQUIRE(revoked.size() == 3);
  CHECK_FALSE(revoked[2].Covers(phone_family));
  CHECK(revoked[2].Covers(laptop_family));
  CHECK(revoked[2].Covers("any other login"));
}

TEST_CASE("auth: Open rejects weak configuration") {
  Options o = FastOptions();
  o.jwt_secret = "too short";
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
  o = FastOptions();
  o.node_id = 5000;
  CHECK(Engine::Open(o).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("auth: changing the password revokes the other logins and upgrades old hashes") {
  Options o = FastOptions();
  auto store = NewMemoryStore();
  o.store = store;
  auto e = Engine::Open(o).value();
  UserId alice = e->Register("alice", "first password", "").value().id;
  auto phone = e->Login("alice", "first password", "phone").value();
  auto laptop = e->Login("alice", "first password", "laptop").value();
  CHECK(e->ChangePassword(alice, "wrong password", "second password", phone.refresh_token).code() ==
        StatusCode::kUnauthenticated);
  CHECK(e->ChangePassword(alice, "first password", "short", phone.refresh_token).code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(e->ChangePassword(alice, "first password", "second password", phone.refresh_token).ok());
  CHECK(e->Login("alice", "first password", "x").status().code() == StatusCode::kUnauthenticated);
  CHECK(e->Login("alice", "second password", "x").ok());
  CHECK(e->Authenticate(phone.access_token).ok());  // the login that changed it stays
  CHECK(e->Authenticate(laptop.access_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(e->Refresh(laptop.refresh_token).status().code() == StatusCode::kUnauthenticated);

  // A higher configured cost re-hashes the stored password at the next login.
  std::string before = store->GetCredentials("alice").value().password_hash;
  CHECK(before.find("$1000$") != std::string::npos);
  o.password_iterations = 2000;
  auto stronger = Engine::Open(o).value();
  REQUIRE(stronger->Login("alice", "second password", "x").ok());
  std::string after = store->GetCredentials("alice").value().password_hash;
  CHECK(after.find("$2000$") != std::string::npos);
  CHECK(stronger->Login("alice", "second password", "x").ok());
}

TEST_CASE("auth: TryAuthenticate answers a fresh login's token and a bad token without the store") {
  Clocked c;
  Engine& e = *c.engine;
  (void)e.Register("alice", "correct horse", "");
  auto a = e.Login("alice", "correct horse", "phone").value();
  auto quick = e.TryAuthenticate(a.access_token);
  REQUIRE(quick.has_value());
  REQUIRE(quick->ok());
  auto full = e.Authenticate(a.access_token).value();
  CHECK(quick->value().user == full.user);
  CHECK(quick->value().device == "phone");
  CHECK(quick->value().family_id == full.family_id);
  CHECK(quick->value().expires_at_ms == full.expires_at_ms);

  auto forged = e.TryAuthenticate(a.access_token.substr(0, a.access_token.size() - 2) + "xx");
  REQUIRE(forged.has_value());  // a failed signature needs no store read either
  CHECK(forged->status().code() == StatusCode::kUnauthenticated);
  c.now += 16 * 60 * 1000;  // past the access token's 15 minutes
  auto expired = e.TryAuthenticate(a.access_token);
  REQUIRE(expired.has_value());
  CHECK(expired->status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("auth: a login revoked through this engine is never answered from the cache") {
  Clocked c;
  Engine& e = *c.engine;
  UserId alice = e.Register("alice", "first password", "").value().id;
  auto phone = e.Login("alice", "first password", "phone").value();
  auto laptop = e.Login("alice", "first password", "laptop").value();
  auto tablet = e.Login("alice", "first password", "tablet").value();
  REQUIRE(e.Logout(phone.refresh_token).ok());
  CHECK_FALSE(e.TryAuthenticate(phone.access_token).has_value());  // only the store can tell now
  CHECK(e.Authenticate(phone.access_token).status().code() == StatusCode::kUnauthenticated);
  CHECK_FALSE(e.TryAuthenticate(phone.access_token).has_value());  // a failed check is not cached

  REQUIRE(e.ChangePassword(alice, "first password", "second password", laptop.refresh_token).ok());
  CHECK_FALSE(e.TryAuthenticate(tablet.access_token).has_value());
  CHECK(e.Authenticate(tablet.access_token).status().code() == StatusCode::kUnauthenticated);
  auto kept = e.TryAuthenticate(laptop.access_token);  // the login that changed the password stays
  REQUIRE(kept.has_value());
  CHECK(kept->ok());
}

TEST_CASE("auth: a login revoked by another engine on the same store is refused within login_cache_ms") {
  Options o = FastOptions();
  o.store = NewMemoryStore();
  o.login_cache_ms = 10'000;
  TimestampMs now = 1'800'000'000'000;
  o.clock = [&now] { return now; };
  auto a = Engine::Open(o).value();
  auto b = Engine::Open(o).value();  // a second logic instance (im-logic x2 on one database)
  (void)a->Register("alice", "correct horse", "");
  auto login = a->Login("alice", "correct horse", "phone").value();
  REQUIRE(b->Logout(login.refresh_token).ok());
  auto stale = a->TryAuthenticate(login.access_token);  // `a` has not heard of it: bounded staleness
  REQUIRE(stale.has_value());
  CHECK(stale->ok());
  now += 10'001;
  CHECK_FALSE(a->TryAuthenticate(login.access_token).has_value());
  CHECK(a->Authenticate(login.access_token).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("auth: with login_cache_ms 0 every valid token needs the store") {
  Options o = FastOptions();
  o.login_cache_ms = 0;
  auto e = Engine::Open(o).value();
  (void)e->Register("alice", "correct horse", "");
  auto login = e->Login("alice", "correct horse", "phone").value();
  CHECK_FALSE(e->TryAuthenticate(login.access_token).has_value());
  CHECK(e->Authenticate(login.access_token).ok());
  CHECK_FALSE(e->TryAuthenticate(login.access_token).has_value());
}

TEST_CASE("auth: a store check remembers a live login until login_cache_ms passes") {
  Clocked c;
  Engine& e = *c.engine;
  (void)e.Register("alice", "correct horse", "");
  auto login = e.Login("alice", "correct horse", "phone").value();
  c.now += 10'001;  // the default login_cache_ms is 10 s
  CHECK_FALSE(e.TryAuthenticate(login.access_token).has_value());
  REQUIRE(e.Authenticate(login.access_token).ok());
  auto again = e.TryAuthenticate(login.access_token);
  REQUIRE(again.has_value());
  CHECK(again->ok());
}

TEST_CASE("auth: refresh tokens and logins are pruned once expired, but a spent token stays until then for reuse detection") {
  std::shared_ptr<Store> store = NewMemoryStore();
  Options o = FastOptions();
  o.store = store;
  Clocked c(o);
  Engine& e = *c.engine;
  REQUIRE(e.Register("alice", "correct horse", "").ok());
  auto a = e.Login("alice", "correct horse", "phone").value();
  auto a2 = e.Refresh(a.refresh_token).value();  // a is spent
  auto b = e.Login("alice", "correct horse", "laptop").value();
  const std::string b_family = e.Authenticate(b.access_token).value().family_id;
  REQUIRE(e.Logout(b.refresh_token).ok());
  auto Stored = [&](const std::string& token) { return store->GetRefreshToken(crypto::Sha256Hex(token)).ok(); };
  REQUIRE(Stored(a.refresh_token));
  REQUIRE(Stored(b.refresh_token));

  // Past the 30-day lifetime and one access token lifetime more: the next login prunes.
  c.now += 30LL * 24 * 3600 * 1000 + 16 * 60 * 1000;
  auto fresh = e.Login("alice", "correct horse", "tablet").value();
  CHECK_FALSE(Stored(a.refresh_token));
  CHECK_FALSE(Stored(a2.refresh_token));
  CHECK_FALSE(Stored(b.refresh_token));
  CHECK(store->IsRefreshFamilyRevoked(b_family).status().code() == StatusCode::kNotFound);
  CHECK(Stored(fresh.refresh_token));
  CHECK(e.Authenticate(fresh.access_token).ok());
  CHECK(e.Authenticate(b.access_token).status().code() == StatusCode::kUnauthenticated);

  // A spent token within its lifetime survives the next prune: replaying it still revokes.
  auto d = e.Login("alice", "correct horse", "watch").value();
  auto d2 = e.Refresh(d.refresh_token).value();
  c.now += 2 * AuthService::kPruneIntervalMs;
  REQUIRE(e.Login("alice", "correct horse", "desk").ok());  // prunes again: nothing of d's
  CHECK(Stored(d.refresh_token));
  CHECK(e.Refresh(d.refresh_token).status().message().find("reuse") != std::string::npos);
  CHECK(e.Authenticate(d2.access_token).status().code() == StatusCode::kUnauthenticated);
}
