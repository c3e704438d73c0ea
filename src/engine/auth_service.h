// AuthService: registration, password login, JWT access tokens and rotating refresh tokens.
#ifndef IM_SRC_ENGINE_AUTH_SERVICE_H_
#define IM_SRC_ENGINE_AUTH_SERVICE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/login_cache.h"
#include "im/engine.h"
#include "im/store.h"

namespace im {

class AuthService {
 public:
  // Called after a login of `user` was revoked, to end its live sessions (see LoginRevokedEvent).
  using OnRevoked = std::function<void(UserId user, const LoginRevokedEvent& revoked)>;
  // `options` must outlive the service; jwt_secret must already be set (>= 32 bytes).
  AuthService(std::shared_ptr<Store> store, const Options& options, OnRevoked on_revoked = {});

  Result<User> Register(const std::string& username, const std::string& password, const std::string& display_name);
  Result<AuthTokens> Login(const std::string& username, const std::string& password, const DeviceId& device);
  Status ChangePassword(UserId actor, const std::string& current_password, const std::string& new_password,
                        const std::string& keep_refresh_token);
  Result<AuthTokens> Refresh(const std::string& refresh_token);
  Status Logout(const std::string& refresh_token);
  Result<AuthContext> Authenticate(const std::string& access_token);
  // Authenticate without blocking: the answer when the token fails verification or its login is
  // in the LoginCache, nullopt when only Authenticate (a store read) can tell.
  std::optional<Result<AuthContext>> TryAuthenticate(const std::string& access_token);

 private:
  // Issues an access token and a new refresh token of `family`; stores the refresh token through
  // `put` (a plain insert at login, a rotation at refresh).
  Result<AuthTokens> Issue(UserId user, const DeviceId& device, const std::string& family,
                           const std::function<Status(const RefreshTokenRecord&)>& put);

  // Revokes one login and reports it.
  Status RevokeFamily(UserId user, const std::string& family);
  // At most once per kPruneIntervalMs (by the options' clock), on a login or refresh: deletes the
  // refresh tokens that expired more than an access token's lifetime ago and the families left
  // without one (Store::PruneRefreshTokens). Failures are logged and retried next time.
  void MaybePrune();

 public:
  static constexpr TimestampMs kPruneIntervalMs = 60 * 60 * 1000;

 private:
  std::shared_ptr<Store> store_;
  const Options& options_;
  const OnRevoked on_revoked_;
  std::map<std::string, std::string, std::less<>> keys_;  // kid -> HS256 secret
  std::string dummy_hash_;  // verified against for unknown users, so timing reveals nothing
  LoginCache live_logins_;
  std::atomic<TimestampMs> next_prune_ms_{0};
};

}  // namespace im

#endif  // IM_SRC_ENGINE_AUTH_SERVICE_H_
