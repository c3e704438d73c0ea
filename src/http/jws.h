// Compact JWS (RFC 7515) signing with asymmetric keys, for the push providers' bearer tokens:
// ES256 (APNs provider tokens) and RS256 (Google's OAuth2 JWT bearer grant). Verification is not
// needed in libim: the services verify.
#ifndef IM_SRC_HTTP_JWS_H_
#define IM_SRC_HTTP_JWS_H_

#include <memory>
#include <string>
#include <string_view>

#include "im/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace im::http {

enum class JwsAlgorithm {
  kEs256,  // ECDSA P-256 with SHA-256; the signature is the 64-byte r||s (RFC 7518 §3.4)
  kRs256,  // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3)
};

// A private key checked to suit one algorithm. Copies share the key; thread-safe to sign with.
class JwsKey {
 public:
  // Parses an unencrypted PEM private key (PKCS#8 "PRIVATE KEY", or the traditional "EC PRIVATE
  // KEY" / "RSA PRIVATE KEY"). invalid_argument when it does not parse, or is not an EC P-256 key
  // (kEs256) / an RSA key of at least 2048 bits (kRs256).
  static Result<JwsKey> FromPem(std::string_view pem, JwsAlgorithm algorithm);

  JwsAlgorithm algorithm() const { return algorithm_; }

  // base64url(header) "." base64url(claims) "." base64url(signature). The JSON texts are signed as
  // given; the header's "alg" is the caller's to set. internal when OpenSSL fails.
  Result<std::string> Sign(std::string_view header_json, std::string_view claims_json) const;

 private:
  JwsKey(std::shared_ptr<evp_pkey_st> key, JwsAlgorithm algorithm) : key_(std::move(key)), algorithm_(algorithm) {}

  std::shared_ptr<evp_pkey_st> key_;
  JwsAlgorithm algorithm_;
};

}  // namespace im::http

#endif  // IM_SRC_HTTP_JWS_H_
