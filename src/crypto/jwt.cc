#include "crypto/jwt.h"

#include <openssl/crypto.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <optional>

#include "common/utf8.h"
#include "crypto/base64url.h"
#include "crypto/sha256.h"

namespace im::crypto {
namespace json = boost::json;
namespace {

Status Unauthenticated(const char* why) { return Status::Unauthenticated(why); }

// Parses a JSON object without throwing; nullopt for invalid UTF-8, bad JSON or a non-object.
std::optional<json::object> ParseObject(std::string_view text) {
  if (!IsValidUtf8(text)) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// Absent -> `fallback`; present but not a string -> nullopt.
std::optional<std::string> OptionalString(const json::object& obj, std::string_view key, const char* fallback) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::string(fallback);
  const json::string* s = v->if_string();
  if (s == nullptr) return std::nullopt;
  return std::string(s->data(), s->size());
}

std::optional<std::string> RequiredString(const json::object& obj, std::string_view key) {
  if (!obj.contains(json::string_view(key.data(), key.size()))) return std::nullopt;
  return OptionalString(obj, key, "");
}

// NumericDate as a JSON integer; fractions, exponents and values beyond int64 are rejected.
std::optional<int64_t> RequiredInt(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  const int64_t* i = v->if_int64();
  if (i == nullptr) return std::nullopt;
  return *i;
}

// Canonical decimal int64 only, so one user id has one spelling.
std::optional<int64_t> ParseUserId(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (std::to_string(value) != text) return std::nullopt;  // leading zeros, "-0"
  return value;
}

}  // namespace

std::string SignJwt(const JwtClaims& claims, std::string_view kid, std::string_view secret) {
  json::object header;
  header["alg"] = "HS256";
  header["typ"] = "JWT";
  header["kid"] = json::string_view(kid.data(), kid.size());
  json::object payload;
  payload["iss"] = claims.iss;
  payload["sub"] = std::to_string(claims.sub);
  payload["dev"] = claims.dev;
  payload["fam"] = claims.fam;
  payload["iat"] = claims.iat;
  payload["exp"] = claims.exp;
  payload["jti"] = claims.jti;
  std::string token = Base64UrlEncode(json::serialize(header));
  token += '.';
  token += Base64UrlEncode(json::serialize(payload));
  const std::string signature = HmacSha256(secret, token);
  token += '.';
  token += Base64UrlEncode(signature);
  return token;
}

Result<JwtClaims> VerifyJwt(std::string_view token, const std::map<std::string, std::string, std::less<>>& keys,
                            std::string_view issuer, int64_t now_s) {
  if (token.size() > kMaxJwtSize) return Unauthenticated("token too large");

  // Shape: exactly three strictly-encoded base64url parts.
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthenticated("malformed token");
  }
  const std::string_view signing_input = token.substr(0, dot2);
  const auto header_json = Base64UrlDecode(token.substr(0, dot1));
  const auto payload_json = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_json || !payload_json || !signature) return Unauthenticated("malformed token");

  // Header. The algorithm is pinned: never let the token choose it (alg:none, HS/RS confusion).
  const auto header = ParseObject(*header_json);
  if (!header) return Unauthenticated("malformed token");
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") return Unauthenticated("unsupported alg");
  const auto typ = OptionalString(*header, "typ", "JWT");
  if (!typ || *typ != "JWT") return Unauthenticated("unsupported token type");
  // RFC 7515 §4.1.11: extensions we do not understand must be rejected.
  if (header->contains("crit")) return Unauthenticated("unsupported critical header");
  const auto kid = RequiredString(*header, "kid");
  const auto key = kid ? keys.find(*kid) : keys.end();
  if (key == keys.end() || key->second.empty()) return Unauthenticated("unknown key id");

  // Signature over the exact received bytes, compared in constant time.
  const std::string expected = HmacSha256(key->second, signing_input);
  if (signature->size() != expected.size() || CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return Unauthenticated("bad signature");
  }

  // Payload: only trusted from here on.
  const auto payload = ParseObject(*payload_json);
  if (!payload) return Unauthenticated("malformed token");
  auto iss = RequiredString(*payload, "iss");
  const auto sub_text = RequiredString(*payload, "sub");
  const auto sub = sub_text ? ParseUserId(*sub_text) : std::nullopt;
  auto dev = OptionalString(*payload, "dev", "");
  auto fam = OptionalString(*payload, "fam", "");
  auto jti = OptionalString(*payload, "jti", "");
  const auto iat = RequiredInt(*payload, "iat");
  const auto exp = RequiredInt(*payload, "exp");
  if (!iss || !sub || !dev || !fam || !jti || !iat || !exp) return Unauthenticated("malformed token");

  if (*iss != issuer) return Unauthenticated("wrong issuer");
  if (*exp <= now_s) return Unauthenticated("token expired");
  if (*iat > now_s + kJwtIatLeewaySeconds) return Unauthenticated("token issued in the future");

  return JwtClaims{std::move(*iss), *sub, std::move(*dev), std::move(*fam), *iat, *exp, std::move(*jti)};
}

}  // namespace im::crypto
