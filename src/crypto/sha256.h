// SHA-256 and HMAC-SHA256 over byte strings (OpenSSL EVP).
#ifndef IM_SRC_CRYPTO_SHA256_H_
#define IM_SRC_CRYPTO_SHA256_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace im::crypto {

inline constexpr size_t kSha256Size = 32;

// Raw 32-byte digest.
std::string Sha256(std::string_view data);
// Lower-case hex of the digest (64 characters).
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 (RFC 2104); any key length, including empty.
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace im::crypto

#endif  // IM_SRC_CRYPTO_SHA256_H_
