// Known-answer and adversarial tests for the crypto helpers (base64url, SHA-256/HMAC, random,
// PBKDF2 password hashes, HS256 JWTs).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "crypto/base64url.h"
#include "crypto/jwt.h"
#include "crypto/password_hash.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace im::crypto {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// ---- base64url ----

TEST_CASE("base64url: RFC 4648 vectors, unpadded") {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CHECK(Base64UrlEncode(plain) == encoded);
    const auto decoded = Base64UrlDecode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == plain);
  }
  // The URL-safe alphabet: 62 -> '-', 63 -> '_'.
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(Base64UrlDecode("-_8") == std::optional<std::string>("\xfb\xff"));
}

TEST_CASE("base64url: strict decoder rejects non-canonical input") {
  for (const char* bad : {"Zg==", "Zm8=", "Zm9v=", "Z", "Zm9vY", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n", "Zh", "Zm9",
                          "Zm9vYh", "+/8", "\xc3\xa9\xc3\xa9"}) {
    CAPTURE(bad);
    CHECK_FALSE(Base64UrlDecode(bad).has_value());
  }
  CHECK_FALSE(Base64UrlDecode(std::string_view("Zm\0v", 4)).has_value());
}

TEST_CASE("base64url: round trip of every byte value and length") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string in = all.substr(256 - len);
    const std::string enc = Base64UrlEncode(in);
    CHECK(enc.find_first_of("+/=") == std::string::npos);
    CHECK(Base64UrlDecode(enc) == std::optional<std::string>(in));
  }
}

// ---- SHA-256 / HMAC ----

TEST_CASE("crypto: sha256 known answers") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256("abc").size() == 32);
  CHECK(Hex(Sha256("abc")) == Sha256Hex("abc"));
}

TEST_CASE("crypto: hmac-sha256 RFC 4231 known answers") {
  // Test case 1.
  CHECK(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2.
  CHECK(Hex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: key longer than the block size.
  CHECK(Hex(HmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Empty key and data are legal.
  CHECK(Hex(HmacSha256("", "")) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// ---- random ----

TEST_CASE("crypto: random bytes and tokens") {
  CHECK(RandomBytes(0).empty());
  CHECK(RandomBytes(1).size() == 1);
  CHECK(RandomBytes(1000).size() == 1000);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string token = RandomToken();
    CHECK(token.size() == 43);
    const auto raw = Base64UrlDecode(token);
    REQUIRE(raw.has_value());
    CHECK(raw->size() == 32);
    seen.insert(token);
  }
  CHECK(seen.size() == 100);
  CHECK(RandomToken(16).size() == 22);
}

// ---- password hashing ----

constexpr int kTestIterations = 1000;  // low on purpose: tests, not production

TEST_CASE("password: round trip, format and wrong password") {
  const std::string encoded = HashPassword("correct horse battery staple", kTestIterations);
  CHECK(encoded.rfind("pbkdf2-sha256$1000$", 0) == 0);
  CHECK(VerifyPassword("correct horse battery staple", encoded));
  CHECK_FALSE(VerifyPassword("correct horse battery stapler", encoded));
  CHECK_FALSE(VerifyPassword("", encoded));
  // Fresh salt every time.
  CHECK(HashPassword("same", kTestIterations) != HashPassword("same", kTestIterations));
  // Empty and binary passwords work too.
  CHECK(VerifyPassword("", HashPassword("", kTestIterations)));
  const std::string binary("a\0b\xff", 4);
  CHECK(VerifyPassword(binary, HashPassword(binary, kTestIterations)));
  CHECK_FALSE(VerifyPassword("a", HashPassword(binary, kTestIterations)));
}

TEST_CASE("password: interoperates with a reference PBKDF2-HMAC-SHA256") {
  // hashlib.pbkdf2_hmac('sha256', b'password', b'saltsaltsaltsalt', 4096)
  const std::string key = Unhex("16e35b12b41f465ca64d069578d750059775ccad5df3ad53d6b204acb122d1ee");
  const std::string encoded = "pbkdf2-sha256$4096$" + Base64UrlEncode("saltsaltsaltsalt") + "$" + Base64UrlEncode(key);
  CHECK(VerifyPassword("password", encoded));
  CHECK_FALSE(VerifyPassword("Password", encoded));
}

TEST_CASE("password: tampered salt, hash or iterations fail") {
  const std::string encoded = HashPassword("pw", kTestIterations);
  const size_t d1 = encoded.find('$'), d2 = encoded.find('$', d1 + 1), d3 = encoded.find('$', d2 + 1);
  const std::string salt = encoded.substr(d2 + 1, d3 - d2 - 1);
  const std::string hash = encoded.substr(d3 + 1);
  const std::string other_salt = Base64UrlEncode(RandomBytes(16));
  const std::string other_hash = Base64UrlEncode(RandomBytes(32));
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$1000$" + other_salt + "$" + hash));
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$1000$" + salt + "$" + other_hash));
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$1001$" + salt + "$" + hash));
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$999$" + salt + "$" + hash));
  // Non-canonical spellings of the same iteration count are malformed.
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$01000$" + salt + "$" + hash));
  CHECK_FALSE(VerifyPassword("pw", "pbkdf2-sha256$+1000$" + salt + "$" + hash));
  CHECK(VerifyPassword("pw", "pbkdf2-sha256$1000$" + salt + "$" + hash));
}

TEST_CASE("password: malformed encodings are rejected without crashing") {
  const std::string good = HashPassword("pw", kTestIterations);
  const std::string salt = Base64UrlEncode(std::string(16, 's'));
  const std::string hash = Base64UrlEncode(std::string(32, 'h'));
  for (const std::string& bad : {
           std::string(),
           std::string("pbkdf2-sha256"),
           std::string("pbkdf2-sha256$"),
           std::string("$$$"),
           "pbkdf2-sha512$1000$" + salt + "$" + hash,                                   // wrong scheme
           "PBKDF2-SHA256$1000$" + salt + "$" + hash,                                   // scheme is case-sensitive
           "pbkdf2-sha256$0$" + salt + "$" + hash,                                      // below range
           "pbkdf2-sha256$-1$" + salt + "$" + hash,                                     // negative
           "pbkdf2-sha256$10000001$" + salt + "$" + hash,                               // above range
           "pbkdf2-sha256$99999999999$" + salt + "$" + hash,                            // overflow
           "pbkdf2-sha256$abc$" + salt + "$" + hash,                                    // not a number
           "pbkdf2-sha256$$" + salt + "$" + hash,                                       // empty iterations
           "pbkdf2-sha256$1000$$" + hash,                                               // empty salt
           "pbkdf2-sha256$1000$" + salt + "$",                                          // empty hash
           "pbkdf2-sha256$1000$" + salt + "$" + hash + "$",                             // extra field
           "pbkdf2-sha256$1000$" + salt + "=$" + hash,                                  // padded salt
           "pbkdf2-sha256$1000$" + Base64UrlEncode("short") + "$" + hash,               // wrong salt size
           "pbkdf2-sha256$1000$" + salt + "$" + Base64UrlEncode(std::string(31, 'h')),  // wrong hash size
           good.substr(0, good.size() - 1),                                             // truncated
           good + "A",                                                                  // extended
       }) {
    CAPTURE(bad);
    CHECK_FALSE(VerifyPassword("pw", bad));
    CHECK(PasswordHashNeedsRehash(bad, kTestIterations));
  }
}

TEST_CASE("password: needs rehash when the iteration count changes") {
  const std::string encoded = HashPassword("pw", kTestIterations);
  CHECK_FALSE(PasswordHashNeedsRehash(encoded, kTestIterations));
  CHECK(PasswordHashNeedsRehash(encoded, kTestIterations * 2));
  CHECK(PasswordHashNeedsRehash(encoded, kTestIterations / 2));
  // Out-of-range requests are clamped, so the hash always verifies.
  const std::string clamped = HashPassword("pw", 0);
  CHECK(clamped.rfind("pbkdf2-sha256$1$", 0) == 0);
  CHECK(VerifyPassword("pw", clamped));
}

TEST_CASE("password: dummy hash is valid, stable per cost, and matches no login") {
  const std::string dummy = DummyPasswordHash(kTestIterations);
  CHECK(dummy == DummyPasswordHash(kTestIterations));
  CHECK_FALSE(PasswordHashNeedsRehash(dummy, kTestIterations));  // same cost as a real hash
  CHECK_FALSE(VerifyPassword("", dummy));
  CHECK_FALSE(VerifyPassword("password", dummy));
  CHECK(DummyPasswordHash(kTestIterations + 1) != dummy);
  CHECK_FALSE(PasswordHashNeedsRehash(DummyPasswordHash(kTestIterations + 1), kTestIterations + 1));
}

// ---- JWT ----

constexpr int64_t kNow = 1'700'000'000;
const std::map<std::string, std::string, std::less<>> kKeys = {{"k1", "secret-one-0123456789abcdef012345"},
                                                               {"k2", "secret-two-0123456789abcdef012345"}};

JwtClaims SampleClaims() { return JwtClaims{"libim", 42, "device-1", "family-1", kNow, kNow + 900, "jti-1"}; }

// Builds a token from raw JSON, signed like an independent implementation would.
std::string MakeToken(std::string_view header, std::string_view payload, std::string_view secret) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

constexpr std::string_view kHeaderK1 = R"({"alg":"HS256","typ":"JWT","kid":"k1"})";
constexpr std::string_view kPayload =
    R"({"iss":"libim","sub":"42","dev":"device-1","fam":"family-1","iat":1700000000,"exp":1700000900,"jti":"jti-1"})";

void CheckRejected(const Result<JwtClaims>& r, std::string_view message) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().message() == message);
}

TEST_CASE("jwt: sign and verify round trip") {
  const std::string token = SignJwt(SampleClaims(), "k1", kKeys.at("k1"));
  const auto r = VerifyJwt(token, kKeys, "libim", kNow);
  REQUIRE(r.ok());
  CHECK(r->iss == "libim");
  CHECK(r->sub == 42);
  CHECK(r->dev == "device-1");
  CHECK(r->fam == "family-1");
  CHECK(r->iat == kNow);
  CHECK(r->exp == kNow + 900);
  CHECK(r->jti == "jti-1");
  // Signed with k2 verifies with k2 (key rotation).
  CHECK(VerifyJwt(SignJwt(SampleClaims(), "k2", kKeys.at("k2")), kKeys, "libim", kNow).ok());
}

TEST_CASE("jwt: output matches a hand-built RFC 7519 token byte for byte") {
  CHECK(SignJwt(SampleClaims(), "k1", kKeys.at("k1")) == MakeToken(kHeaderK1, kPayload, kKeys.at("k1")));
}

TEST_CASE("jwt: accepts a token made by an independent implementation") {
  // Python hmac/base64; different key order, whitespace, sub beyond 2^53 (must not go via double).
  const std::string token =
      "eyJraWQiOiJrMiIsICJ0eXAiOiJKV1QiLCAiYWxnIjoiSFMyNTYifQ."
      "eyAianRpIjoiai0xMjMiLCAiZXhwIjoyMDAwMDAwMDAwLCAiaWF0IjoxNzAwMDAwMDAwLCAiZmFtIjoiZmFtLTEiLCAiZGV2IjoicGhvbmUi"
      "LCAic3ViIjoiOTAwNzE5OTI1NDc0MDk5MyIsICJpc3MiOiJsaWJpbS10ZXN0IiB9."
      "651Gq293pIqyk9TXnanqdj0irWCt9v6y_gw3m5KGnE8";
  const std::map<std::string, std::string, std::less<>> keys = {{"k2", "independent-secret-0123456789abcdef"}};
  const auto r = VerifyJwt(token, keys, "libim-test", kNow);
  REQUIRE(r.ok());
  CHECK(r->sub == 9007199254740993);
  CHECK(r->dev == "phone");
  CHECK(r->fam == "fam-1");
  CHECK(r->jti == "j-123");
  CHECK(r->exp == 2000000000);
}

TEST_CASE("jwt: HS256 signatures match published examples") {
  // RFC 7515 Appendix A.1.
  const auto rfc_key =
      Base64UrlDecode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  REQUIRE(rfc_key.has_value());
  CHECK(Base64UrlEncode(HmacSha256(
            *rfc_key,
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ")) ==
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  // jwt.io's default example.
  CHECK(Base64UrlEncode(HmacSha256("your-256-bit-secret",
                                   "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                   "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ")) ==
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
}

TEST_CASE("jwt: expiry and issued-at leeway") {
  JwtClaims c = SampleClaims();
  c.exp = kNow;
  CheckRejected(VerifyJwt(SignJwt(c, "k1", kKeys.at("k1")), kKeys, "libim", kNow), "token expired");
  c.exp = kNow + 1;
  CHECK(VerifyJwt(SignJwt(c, "k1", kKeys.at("k1")), kKeys, "libim", kNow).ok());
  c = SampleClaims();
  c.iat = kNow + 60;
  CHECK(VerifyJwt(SignJwt(c, "k1", kKeys.at("k1")), kKeys, "libim", kNow).ok());
  c.iat = kNow + 61;
  CheckRejected(VerifyJwt(SignJwt(c, "k1", kKeys.at("k1")), kKeys, "libim", kNow), "token issued in the future");
}

TEST_CASE("jwt: wrong key, unknown kid, wrong issuer") {
  // Claims to be k1 but signed with k2's secret.
  CheckRejected(VerifyJwt(SignJwt(SampleClaims(), "k1", kKeys.at("k2")), kKeys, "libim", kNow), "bad signature");
  CheckRejected(VerifyJwt(SignJwt(SampleClaims(), "k9", kKeys.at("k1")), kKeys, "libim", kNow), "unknown key id");
  CheckRejected(VerifyJwt(MakeToken(R"({"alg":"HS256"})", kPayload, kKeys.at("k1")), kKeys, "libim", kNow),
                "unknown key id");
  CheckRejected(VerifyJwt(MakeToken(R"({"alg":"HS256","kid":7})", kPayload, kKeys.at("k1")), kKeys, "libim", kNow),
                "unknown key id");
  // An empty configured secret would let anyone forge tokens: never usable.
  const std::map<std::string, std::string, std::less<>> empty_secret = {{"k1", ""}};
  CheckRejected(VerifyJwt(MakeToken(kHeaderK1, kPayload, ""), empty_secret, "libim", kNow), "unknown key id");
  CheckRejected(VerifyJwt(SignJwt(SampleClaims(), "k1", kKeys.at("k1")), kKeys, "other", kNow), "wrong issuer");
}

TEST_CASE("jwt: tampered payload or signature") {
  const std::string token = SignJwt(SampleClaims(), "k1", kKeys.at("k1"));
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string payload = kPayload.data();
  payload.replace(payload.find("\"42\""), 4, "\"1\"");
  const std::string forged = token.substr(0, dot1 + 1) + Base64UrlEncode(payload) + token.substr(dot2);
  CheckRejected(VerifyJwt(forged, kKeys, "libim", kNow), "bad signature");

  std::string flipped = token;
  flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
  CheckRejected(VerifyJwt(flipped, kKeys, "libim", kNow), "bad signature");
  // An empty signature is valid base64url (of nothing), so it fails as a signature, not as shape.
  CheckRejected(VerifyJwt(token.substr(0, dot2 + 1), kKeys, "libim", kNow), "bad signature");
  // 43 -> 40 characters always decodes (to 30 bytes): a short MAC must not compare as a prefix.
  CheckRejected(VerifyJwt(token.substr(0, token.size() - 3), kKeys, "libim", kNow), "bad signature");
}

TEST_CASE("jwt: algorithm is pinned to HS256") {
  const std::string payload_b64 = Base64UrlEncode(kPayload);
  // alg:none with an empty signature (the classic bypass).
  const std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." + payload_b64 + ".";
  CheckRejected(VerifyJwt(none, kKeys, "libim", kNow), "unsupported alg");
  for (std::string_view header :
       {R"({"alg":"HS512","typ":"JWT","kid":"k1"})", R"({"alg":"RS256","typ":"JWT","kid":"k1"})",
        R"({"alg":"hs256","typ":"JWT","kid":"k1"})", R"({"alg":"None","kid":"k1"})", R"({"typ":"JWT","kid":"k1"})",
        R"({"alg":null,"kid":"k1"})", R"({"alg":["HS256"],"kid":"k1"})"}) {
    CAPTURE(header);
    // Even a correct HS256 MAC must not rescue a token whose header names another algorithm.
    CheckRejected(VerifyJwt(MakeToken(header, kPayload, kKeys.at("k1")), kKeys, "libim", kNow), "unsupported alg");
  }
  CheckRejected(
      VerifyJwt(MakeToken(R"({"alg":"HS256","typ":"JWS","kid":"k1"})", kPayload, kKeys.at("k1")), kKeys, "libim", kNow),
      "unsupported token type");
  CheckRejected(
      VerifyJwt(MakeToken(R"({"alg":"HS256","typ":1,"kid":"k1"})", kPayload, kKeys.at("k1")), kKeys, "libim", kNow),
      "unsupported token type");
  CheckRejected(VerifyJwt(MakeToken(R"({"alg":"HS256","kid":"k1","crit":["exp"]})", kPayload, kKeys.at("k1")), kKeys,
                          "libim", kNow),
                "unsupported critical header");
  // typ is optional.
  CHECK(VerifyJwt(MakeToken(R"({"alg":"HS256","kid":"k1"})", kPayload, kKeys.at("k1")), kKeys, "libim", kNow).ok());
}

TEST_CASE("jwt: malformed tokens") {
  const std::string good = SignJwt(SampleClaims(), "k1", kKeys.at("k1"));
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("abc"), std::string("a.b"), good + ".x",
        good + "=", "=" + good, " " + good, good.substr(0, good.find('.')) + ".!!!." + good.substr(good.rfind('.') + 1),
        std::string("e30.e30.")}) {
    CAPTURE(bad);
    const auto r = VerifyJwt(bad, kKeys, "libim", kNow);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kUnauthenticated);
  }
  CheckRejected(VerifyJwt(std::string(4097, 'a'), kKeys, "libim", kNow), "token too large");
  // Header that is not a JSON object, or not JSON, or not UTF-8.
  for (std::string_view header :
       {"[]", "\"HS256\"", "{", R"({"alg":"HS256","kid":"k1"} x)", R"({"alg":"HS256",/*c*/"kid":"k1"})",
        "{\"alg\":\"HS256\",\"kid\":\"k\xff\"}", "{\"alg\":\"HS256\",\"kid\":\"\xc0\xaf\"}", ""}) {
    CAPTURE(header);
    CheckRejected(VerifyJwt(MakeToken(header, kPayload, kKeys.at("k1")), kKeys, "libim", kNow), "malformed token");
  }
}

TEST_CASE("jwt: correctly signed payloads with wrong shapes are malformed") {
  for (std::string_view payload : {
           "[]",
           "",
           "{",
           R"({"sub":"42","iat":1700000000,"exp":1700000900})",                 // no iss
           R"({"iss":"libim","iat":1700000000,"exp":1700000900})",              // no sub
           R"({"iss":"libim","sub":"42","exp":1700000900})",                    // no iat
           R"({"iss":"libim","sub":"42","iat":1700000000})",                    // no exp
           R"({"iss":"libim","sub":42,"iat":1700000000,"exp":1700000900})",     // numeric sub
           R"({"iss":"libim","sub":"042","iat":1700000000,"exp":1700000900})",  // non-canonical
           R"({"iss":"libim","sub":"4x","iat":1700000000,"exp":1700000900})",
           R"({"iss":"libim","sub":"","iat":1700000000,"exp":1700000900})",
           R"({"iss":"libim","sub":"99999999999999999999","iat":1700000000,"exp":1700000900})",
           R"({"iss":"libim","sub":"42","iat":1700000000,"exp":"1700000900"})",          // string exp
           R"({"iss":"libim","sub":"42","iat":1700000000,"exp":1.7000009e9})",           // double exp
           R"({"iss":"libim","sub":"42","iat":1700000000,"exp":18446744073709551615})",  // beyond int64
           R"({"iss":7,"sub":"42","iat":1700000000,"exp":1700000900})",
           R"({"iss":"libim","sub":"42","iat":1700000000,"exp":1700000900,"dev":5})",
           R"({"iss":"libim","sub":"42","iat":1700000000,"exp":1700000900,"jti":null})",
           "{\"iss\":\"libim\",\"sub\":\"42\",\"iat\":1700000000,\"exp\":1700000900,\"dev\":\"\xed\xa0\x80\"}",
       }) {
    CAPTURE(payload);
    CheckRejected(VerifyJwt(MakeToken(kHeaderK1, payload, kKeys.at("k1")), kKeys, "libim", kNow), "malformed token");
  }
  // Minimal valid payload: dev/fam/jti are optional; unknown claims are ignored.
  const auto r =
      VerifyJwt(MakeToken(kHeaderK1, R"({"iss":"libim","sub":"-5","iat":1700000000,"exp":1700000900,"x":[1,{}]})",
                          kKeys.at("k1")),
                kKeys, "libim", kNow);
  REQUIRE(r.ok());
  CHECK(r->sub == -5);
  CHECK(r->dev.empty());
}

}  // namespace
}  // namespace im::crypto
