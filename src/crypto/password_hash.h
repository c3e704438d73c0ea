// Password storage: PBKDF2-HMAC-SHA256 with a per-hash random salt, in a self-describing string
// "pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>" so the cost can be raised over time.
#ifndef IM_SRC_CRYPTO_PASSWORD_HASH_H_
#define IM_SRC_CRYPTO_PASSWORD_HASH_H_

#include <string>
#include <string_view>

namespace im::crypto {

inline constexpr int kMinPasswordIterations = 1;
inline constexpr int kMaxPasswordIterations = 10'000'000;

// Hashes with a fresh 16-byte salt into a 32-byte key. `iterations` is clamped to
// [kMinPasswordIterations, kMaxPasswordIterations] so the result always verifies.
std::string HashPassword(std::string_view password, int iterations);

// True iff `encoded` is a well-formed hash of `password`. Uses the iteration count stored in the
// hash and a constant-time comparison; false (never a crash) on any malformed input.
bool VerifyPassword(std::string_view password, std::string_view encoded);

// True if `encoded` is malformed or was made with an iteration count other than `iterations`;
// the caller re-hashes after a successful login.
bool PasswordHashNeedsRehash(std::string_view encoded, int iterations);

// A valid hash of an unguessable password, computed once per iteration count and cached.
// Verifying against it when the user does not exist makes an unknown-user login cost the same
// as a wrong-password login, so timing does not reveal which usernames exist.
std::string DummyPasswordHash(int iterations);

}  // namespace im::crypto

#endif  // IM_SRC_CRYPTO_PASSWORD_HASH_H_
