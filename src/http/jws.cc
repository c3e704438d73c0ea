#include "http/jws.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>
#include <optional>
#include <vector>

#include "crypto/base64url.h"

namespace im::http {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// Never prompts for a passphrase: an encrypted key simply fails to load.
int NoPassphrase(char*, int, int, void*) { return -1; }

// DER ECDSA-Sig-Value -> the fixed-size big-endian r||s of JOSE (32 bytes each for P-256).
std::optional<std::string> DerToJose(const unsigned char* der, size_t size) {
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size)));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(64, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, bytes, 32) != 32 || BN_bn2binpad(s, bytes + 32, 32) != 32) return std::nullopt;
  return out;
}

}  // namespace

Result<JwsKey> JwsKey::FromPem(std::string_view pem, JwsAlgorithm algorithm) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  if (raw == nullptr) return Status::InvalidArgument("private key: not an unencrypted PEM private key");
  std::shared_ptr<evp_pkey_st> key(raw, EVP_PKEY_free);

  if (algorithm == JwsAlgorithm::kEs256) {
    if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_EC) return Status::InvalidArgument("private key: not an EC key");
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(raw, group, sizeof(group), &len) != 1 ||
        (std::strcmp(group, "prime256v1") != 0 && std::strcmp(group, "P-256") != 0)) {
      return Status::InvalidArgument("private key: not on curve P-256");
    }
  } else {
    if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_RSA) return Status::InvalidArgument("private key: not an RSA key");
    if (EVP_PKEY_get_bits(raw) < 2048) return Status::InvalidArgument("private key: RSA key shorter than 2048 bits");
  }
  return JwsKey(std::move(key), algorithm);
}

Result<std::string> JwsKey::Sign(std::string_view header_json, std::string_view claims_json) const {
  std::string token = crypto::Base64UrlEncode(header_json);
  token += '.';
  token += crypto::Base64UrlEncode(claims_json);

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return Status::Internal("EVP_DigestSignInit failed");
  }
  const auto* input = reinterpret_cast<const unsigned char*>(token.data());
  size_t size = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &size, input, token.size()) != 1)
    return Status::Internal("EVP_DigestSign failed");
  std::vector<unsigned char> signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, input, token.size()) != 1) {
    return Status::Internal("EVP_DigestSign failed");
  }
  signature.resize(size);

  std::string encoded;
  if (algorithm_ == JwsAlgorithm::kEs256) {
    std::optional<std::string> jose = DerToJose(signature.data(), signature.size());
    if (!jose) return Status::Internal("ECDSA signature conversion failed");
    encoded = crypto::Base64UrlEncode(*jose);
  } else {
    encoded =
        crypto::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size()));
  }
  token += '.';
  token += encoded;
  return token;
}

}  // namespace im::http
