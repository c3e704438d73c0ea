// Cryptographically secure randomness for salts, ids and session/refresh tokens.
#ifndef IM_SRC_CRYPTO_RANDOM_H_
#define IM_SRC_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace im::crypto {

// n bytes from OpenSSL's CSPRNG. Aborts the process if the RNG fails: a broken RNG must never
// yield predictable tokens, and there is no safe way to continue.
std::string RandomBytes(size_t n);

// Base64url (unpadded) of `bytes` random bytes; 32 bytes = 256 bits, 43 characters.
std::string RandomToken(size_t bytes = 32);

}  // namespace im::crypto

#endif  // IM_SRC_CRYPTO_RANDOM_H_
