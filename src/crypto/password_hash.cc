#include "crypto/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "crypto/base64url.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace im::crypto {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr size_t kSaltSize = 16;
constexpr size_t kKeySize = 32;

struct ParsedHash {
  int iterations = 0;
  std::string salt;
  std::string key;
};

std::string Pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  // PKCS5_PBKDF2_HMAC takes an int length; HMAC hashes over-long keys first, so pre-hashing a
  // giant password yields the same result.
  std::string hashed;
  if (password.size() > INT_MAX) {
    hashed = Sha256(password);
    password = hashed;
  }
  static const char kEmpty = 0;
  std::string out(kKeySize, '\0');
  if (PKCS5_PBKDF2_HMAC(password.empty() ? &kEmpty : password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                        EVP_sha256(), static_cast<int>(kKeySize), reinterpret_cast<unsigned char*>(out.data())) != 1) {
    std::fputs("libim: PKCS5_PBKDF2_HMAC failed\n", stderr);
    std::abort();
  }
  return out;
}

// Splits off the text before the next '$'; nullopt when there is none.
std::optional<std::string_view> NextField(std::string_view& rest) {
  const size_t pos = rest.find('$');
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view field = rest.substr(0, pos);
  rest.remove_prefix(pos + 1);
  return field;
}

// Canonical decimal only (no sign, no leading zero), so a hash has one spelling.
std::optional<int> ParseIterations(std::string_view text) {
  if (text.empty() || text.size() > 8 || text[0] == '0') return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < kMinPasswordIterations || value > kMaxPasswordIterations) return std::nullopt;
  return value;
}

std::optional<ParsedHash> Parse(std::string_view encoded) {
  std::string_view rest = encoded;
  const auto scheme = NextField(rest);
  if (!scheme || *scheme != kScheme) return std::nullopt;
  const auto iterations_text = NextField(rest);
  const auto salt_text = NextField(rest);
  if (!iterations_text || !salt_text) return std::nullopt;
  const auto iterations = ParseIterations(*iterations_text);
  auto salt = Base64UrlDecode(*salt_text);
  auto key = Base64UrlDecode(rest);  // the last field; a stray '$' makes it fail to decode
  if (!iterations || !salt || !key || salt->size() != kSaltSize || key->size() != kKeySize) return std::nullopt;
  return ParsedHash{*iterations, std::move(*salt), std::move(*key)};
}

}  // namespace

std::string HashPassword(std::string_view password, int iterations) {
  iterations = std::clamp(iterations, kMinPasswordIterations, kMaxPasswordIterations);
  const std::string salt = RandomBytes(kSaltSize);
  const std::string key = Pbkdf2(password, salt, iterations);
  std::string out(kScheme);
  out += '$';
  out += std::to_string(iterations);
  out += '$';
  out += Base64UrlEncode(salt);
  out += '$';
  out += Base64UrlEncode(key);
  return out;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  const auto parsed = Parse(encoded);
  if (!parsed) return false;
  const std::string key = Pbkdf2(password, parsed->salt, parsed->iterations);
  return CRYPTO_memcmp(key.data(), parsed->key.data(), kKeySize) == 0;
}

bool PasswordHashNeedsRehash(std::string_view encoded, int iterations) {
  const auto parsed = Parse(encoded);
  return !parsed || parsed->iterations != std::clamp(iterations, kMinPasswordIterations, kMaxPasswordIterations);
}

std::string DummyPasswordHash(int iterations) {
  // Leaked on purpose: no destructor can race a login still running during process exit.
  static auto* mu = new std::mutex;
  static auto* cache = new std::map<int, std::string>;
  iterations = std::clamp(iterations, kMinPasswordIterations, kMaxPasswordIterations);
  std::lock_guard<std::mutex> lock(*mu);
  auto it = cache->find(iterations);
  if (it == cache->end()) it = cache->emplace(iterations, HashPassword(RandomToken(), iterations)).first;
  return it->second;
}

}  // namespace im::crypto
