// Access tokens (src/crypto/jwt.h). The input is tried twice: as a token as it arrives, and as
// "<header JSON>\n<payload JSON>" signed here with the fuzz key, so that the payload checks behind
// the signature are reached too. A token that verifies must sign and verify again to the same
// claims.
#include <map>
#include <string>

#include "crypto/base64url.h"
#include "crypto/jwt.h"
#include "crypto/sha256.h"
#include "fuzz/fuzz_check.h"

namespace {

constexpr int64_t kNow = 1'800'000'000;  // the seed corpus's tokens expire after this
const std::map<std::string, std::string, std::less<>> kKeys = {{"k1", "fuzz-secret-0123456789abcdef"},
                                                               {"empty", ""}};

void CheckVerified(const im::Result<im::crypto::JwtClaims>& claims, std::string_view token) {
  if (!claims.ok()) {
    FUZZ_CHECK(claims.status().code() == im::StatusCode::kUnauthenticated);
    return;
  }
  FUZZ_CHECK(token.size() <= im::crypto::kMaxJwtSize);
  FUZZ_CHECK(claims->iss == "libim");
  FUZZ_CHECK(claims->exp > kNow);
  FUZZ_CHECK(claims->iat <= kNow + im::crypto::kJwtIatLeewaySeconds);
  const std::string again = im::crypto::SignJwt(*claims, "k1", kKeys.at("k1"));
  auto reverified = im::crypto::VerifyJwt(again, kKeys, "libim", kNow);
  FUZZ_CHECK(reverified.ok() || again.size() > im::crypto::kMaxJwtSize);
  if (!reverified.ok()) return;
  FUZZ_CHECK(reverified->sub == claims->sub && reverified->dev == claims->dev && reverified->fam == claims->fam &&
             reverified->iat == claims->iat && reverified->exp == claims->exp && reverified->jti == claims->jti);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = im::fuzz::AsText(data, size);
  CheckVerified(im::crypto::VerifyJwt(input, kKeys, "libim", kNow), input);

  // Strict base64url (RFC 4648 §5, no padding): decoding undoes encoding for any bytes.
  auto decoded = im::crypto::Base64UrlDecode(im::crypto::Base64UrlEncode(input));
  FUZZ_CHECK(decoded.has_value() && *decoded == input);

  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  std::string token = im::crypto::Base64UrlEncode(input.substr(0, newline)) + "." +
                      im::crypto::Base64UrlEncode(input.substr(newline + 1));
  token += "." + im::crypto::Base64UrlEncode(im::crypto::HmacSha256(kKeys.at("k1"), token));
  CheckVerified(im::crypto::VerifyJwt(token, kKeys, "libim", kNow), token);
  return 0;
}
