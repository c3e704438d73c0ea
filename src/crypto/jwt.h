// HS256 JSON Web Tokens (RFC 7519 / RFC 7515) used as short-lived access tokens.
#ifndef IM_SRC_CRYPTO_JWT_H_
#define IM_SRC_CRYPTO_JWT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "im/status.h"

namespace im::crypto {

// Tokens longer than this are rejected before any parsing (bounds the work an attacker can cause).
inline constexpr size_t kMaxJwtSize = 4096;
// Clock skew tolerated for `iat` in the future.
inline constexpr int64_t kJwtIatLeewaySeconds = 60;

struct JwtClaims {
  std::string iss;  // issuer
  int64_t sub = 0;  // user id; a decimal JSON string on the wire (RFC 7519: sub is a string)
  std::string dev;  // device id
  std::string fam;  // token family id (ties the access token to its refresh-token chain)
  int64_t iat = 0;  // issued at, Unix seconds
  int64_t exp = 0;  // expiry, Unix seconds
  std::string jti;  // token id
};

// Header {"alg":"HS256","typ":"JWT","kid":kid}; claims must be valid UTF-8 to verify later.
std::string SignJwt(const JwtClaims& claims, std::string_view kid, std::string_view secret);

// Verifies `token` against `keys` (kid -> secret). Every failure is kUnauthenticated, checked in
// order: size/shape ("token too large", "malformed token"), header alg exactly HS256
// ("unsupported alg"), typ "JWT" if present ("unsupported token type"), no "crit"
// ("unsupported critical header"), kid known and its secret non-empty ("unknown key id"),
// signature ("bad signature"), payload shape ("malformed token"), iss ("wrong issuer"),
// exp > now_s ("token expired"), iat <= now_s + leeway ("token issued in the future").
// iss, sub, iat and exp are required; dev, fam and jti default to empty.
Result<JwtClaims> VerifyJwt(std::string_view token, const std::map<std::string, std::string, std::less<>>& keys,
                            std::string_view issuer, int64_t now_s);

}  // namespace im::crypto

#endif  // IM_SRC_CRYPTO_JWT_H_
