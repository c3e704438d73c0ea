#include "engine/auth_service.h"

#include <algorithm>

#include "crypto/jwt.h"
#include "crypto/password_hash.h"
#include "crypto/random.h"
#include "common/log.h"
#include "crypto/sha256.h"
#include "engine/validation.h"

namespace im {
namespace {

const Status kBadCredentials = Status::Unauthenticated("invalid username or password");
const Status kBadRefresh = Status::Unauthenticated("invalid or expired refresh token");

}  // namespace

AuthService::AuthService(std::shared_ptr<Store> store, const Options& options, OnRevoked on_revoked)
    : store_(std::move(store)),
      options_(options),
      on_revoked_(std::move(on_revoked)),
      keys_{{options.jwt_key_id, options.jwt_secret}},
      dummy_hash_(crypto::DummyPasswordHash(options.password_iterations)),
      live_logins_(options.login_cache_ms) {}

Result<User> AuthService::Register(const std::string& username, const std::string& password,
                                   const std::string& display_name) {
  IM_ASSIGN_OR_RETURN(std::string name, NormalizeUsername(username));
  IM_RETURN_IF_ERROR(ValidatePassword(password));
  std::string shown = display_name.empty() ? name : display_name;
  IM_RETURN_IF_ERROR(ValidateDisplayName(shown));
  std::string hash = crypto::HashPassword(password, options_.password_iterations);
  return store_->CreateUser(NewUser{name, shown, std::move(hash), options_.clock()});
}

Result<AuthTokens> AuthService::Login(const std::string& username, const std::string& password,
                                      const DeviceId& device) {
  IM_RETURN_IF_ERROR(ValidateDevice(device));
  auto name = NormalizeUsername(username);
  auto creds = name.ok() ? store_->GetCredentials(*name) : Result<UserCredentials>(name.status());
  if (!creds.ok()) {
    if (creds.status().code() == StatusCode::kUnavailable) return creds.status();
    (void)crypto::VerifyPassword(password, dummy_hash_);
    return kBadCredentials;
  }
  if (!crypto::VerifyPassword(password, creds->password_hash)) return kBadCredentials;
  if (crypto::PasswordHashNeedsRehash(creds->password_hash, options_.password_iterations)) {
    // The configured cost changed since this hash was made: upgrade it while we know the password.
    (void)store_->UpdatePasswordHash(creds->id, crypto::HashPassword(password, options_.password_iterations));
  }
  MaybePrune();
  std::string family = crypto::RandomToken(16);
  // A new login is live: its first WebSocket upgrade needs no store read (see LoginCache).
  const uint64_t epoch = live_logins_.Epoch();
  auto tokens =
      Issue(creds->id, device, family, [&](const RefreshTokenRecord& r) { return store_->PutRefreshToken(r); });
  if (tokens.ok()) live_logins_.Remember(family, creds->id, epoch, options_.clock());
  return tokens;
}

void AuthService::MaybePrune() {
  const TimestampMs now = options_.clock();
  TimestampMs due = next_prune_ms_.load();
  // One caller per interval wins the exchange and prunes; the others go on at once.
  if (now < due || !next_prune_ms_.compare_exchange_strong(due, now + kPruneIntervalMs)) return;
  auto pruned = store_->PruneRefreshTokens(now - std::max<int64_t>(0, options_.access_token_ttl_ms));
  if (pruned.ok()) {
    if (*pruned > 0) log::Info("auth.pruned_refresh_tokens", {{"tokens", *pruned}});
  } else if (pruned.status().code() != StatusCode::kNotSupported) {
    log::Warn("auth.prune_failed", {{"error", pruned.status().ToString()}});
  }
}

Status AuthService::ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                                   const std::string& keep_refresh_token) {
  IM_RETURN_IF_ERROR(ValidatePassword(new_password));
  IM_ASSIGN_OR_RETURN(User user, store_->GetUser(actor));
  IM_ASSIGN_OR_RETURN(UserCredentials creds, store_->GetCredentials(user.username));
  if (!crypto::VerifyPassword(current_password, creds.password_hash)) {
    return Status::Unauthenticated("the current password is wrong");
  }
  std::string keep_family;
  if (!keep_refresh_token.empty()) {
    auto rec = store_->GetRefreshToken(crypto::Sha256Hex(keep_refresh_token));
    if (rec.ok() && rec->user == actor) keep_family = rec->family_id;
  }
  IM_RETURN_IF_ERROR(
      store_->UpdatePasswordHash(actor, crypto::HashPassword(new_password, options_.password_iterations)));
  Status revoked = store_->RevokeUserRefreshFamilies(actor, keep_family);
  live_logins_.RevokedAllOf(actor, keep_family);  // after the store: see LoginCache
  IM_RETURN_IF_ERROR(revoked);
  if (on_revoked_) on_revoked_(actor, LoginRevokedEvent{keep_family, true});
  return Status::Ok();
}

Status AuthService::RevokeFamily(UserId user, const std::string& family) {
  Status revoked = store_->RevokeRefreshFamily(family);
  live_logins_.Revoked(family);  // after the store: see LoginCache
  IM_RETURN_IF_ERROR(revoked);
  if (on_revoked_) on_revoked_(user, LoginRevokedEvent{family, false});
  return Status::Ok();
}

Result<AuthTokens> AuthService::Refresh(const std::string& refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) return kBadRefresh;
  MaybePrune();
  const uint64_t epoch = live_logins_.Epoch();  // before the store says the login is live
  std::string hash = crypto::Sha256Hex(refresh_token);
  auto rec = store_->GetRefreshToken(hash);
  if (!rec.ok()) return rec.status().code() == StatusCode::kNotFound ? kBadRefresh : rec.status();
  if (rec->revoked || rec->expires_at_ms <= options_.clock()) return kBadRefresh;
  const auto reuse = [&] {
    (void)RevokeFamily(rec->user, rec->family_id);
    return Status::Unauthenticated("refresh token reuse detected: every session of this login was revoked");
  };
  if (rec->used) return reuse();
  auto tokens = Issue(rec->user, rec->device, rec->family_id,
                      [&](const RefreshTokenRecord& next) { return store_->RotateRefreshToken(hash, next); });
  if (!tokens.ok() && tokens.status().code() == StatusCode::kFailedPrecondition) return reuse();  // lost a race
  // A client that refreshes reconnects next: its upgrade needs no store read.
  if (tokens.ok()) live_logins_.Remember(rec->family_id, rec->user, epoch, options_.clock());
  return tokens;
}

Status AuthService::Logout(const std::string& refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) return kBadRefresh;
  auto rec = store_->GetRefreshToken(crypto::Sha256Hex(refresh_token));
  if (!rec.ok()) return rec.status().code() == StatusCode::kNotFound ? kBadRefresh : rec.status();
  return RevokeFamily(rec->user, rec->family_id);
}

Result<AuthContext> AuthService::Authenticate(const std::string& access_token) {
  IM_ASSIGN_OR_RETURN(crypto::JwtClaims claims,
                      crypto::VerifyJwt(access_token, keys_, options_.jwt_issuer, options_.clock() / 1000));
  const uint64_t epoch = live_logins_.Epoch();
  auto revoked = store_->IsRefreshFamilyRevoked(claims.fam);
  if (!revoked.ok()) {
    if (revoked.status().code() == StatusCode::kNotFound) return Status::Unauthenticated("unknown session");
    return revoked.status();
  }
  if (*revoked) return Status::Unauthenticated("session was revoked");
  live_logins_.Remember(claims.fam, UserId(claims.sub), epoch, options_.clock());
  return AuthContext{UserId(claims.sub), claims.dev, claims.fam, claims.exp * 1000};
}

std::optional<Result<AuthContext>> AuthService::TryAuthenticate(const std::string& access_token) {
  const TimestampMs now = options_.clock();
  auto claims = crypto::VerifyJwt(access_token, keys_, options_.jwt_issuer, now / 1000);
  if (!claims.ok()) return Result<AuthContext>(claims.status());
  if (!live_logins_.Live(claims->fam, now)) return std::nullopt;
  return Result<AuthContext>(AuthContext{UserId(claims->sub), claims->dev, claims->fam, claims->exp * 1000});
}

Result<AuthTokens> AuthService::Issue(UserId user, const DeviceId& device, const std::string& family,
                                      const std::function<Status(const RefreshTokenRecord&)>& put) {
  TimestampMs now = options_.clock();
  AuthTokens t;
  t.user = user;
  t.refresh_token = crypto::RandomToken(32);
  t.refresh_expires_at_ms = now + options_.refresh_token_ttl_ms;
  IM_RETURN_IF_ERROR(put(RefreshTokenRecord{crypto::Sha256Hex(t.refresh_token), user, family, device,
                                            t.refresh_expires_at_ms, false, false}));
  crypto::JwtClaims claims;
  claims.iss = options_.jwt_issuer;
  claims.sub = user.value;
  claims.dev = device;
  claims.fam = family;
  claims.iat = now / 1000;
  claims.exp = (now + options_.access_token_ttl_ms) / 1000;
  claims.jti = crypto::RandomToken(12);
  t.access_token = crypto::SignJwt(claims, options_.jwt_key_id, options_.jwt_secret);
  t.access_expires_at_ms = claims.exp * 1000;
  return t;
}

}  // namespace im
