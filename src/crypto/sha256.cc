#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace im::crypto {
namespace {

// These only fail on allocation failure or a broken provider; neither is recoverable and a
// wrong digest would be a silent security hole, so stop.
[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "libim: %s failed\n", what);
  std::abort();
}

}  // namespace

std::string Sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(), nullptr) !=
          1 ||
      len != kSha256Size) {
    Die("EVP_Digest(sha256)");
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string digest = Sha256(data);
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // HMAC() takes an int key length. Keys longer than the block size are replaced by their hash
  // inside HMAC anyway, so pre-hashing a huge key gives the identical MAC.
  std::string hashed_key;
  if (key.size() > INT_MAX) {
    hashed_key = Sha256(key);
    key = hashed_key;
  }
  static const unsigned char kEmpty = 0;  // HMAC wants a non-null pointer even for an empty key
  const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != kSha256Size) {
    Die("HMAC(sha256)");
  }
  return out;
}

}  // namespace im::crypto
