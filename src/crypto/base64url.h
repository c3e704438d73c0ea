// Base64url (RFC 4648 §5) without padding, as used by JWTs and opaque tokens.
#ifndef IM_SRC_CRYPTO_BASE64URL_H_
#define IM_SRC_CRYPTO_BASE64URL_H_

#include <optional>
#include <string>
#include <string_view>

namespace im::crypto {

// Encodes arbitrary bytes; never emits '=' padding.
std::string Base64UrlEncode(std::string_view bytes);

// Strict decoder: nullopt on padding, characters outside [A-Za-z0-9_-], a length of 1 mod 4, or
// non-zero unused trailing bits. Strictness makes every byte string have exactly one encoding, so
// a token cannot be re-spelled (e.g. a tweaked signature tail) and still verify.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace im::crypto

#endif  // IM_SRC_CRYPTO_BASE64URL_H_
