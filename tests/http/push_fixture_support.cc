#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/base64url.h"
#include "http/push_fixture.h"

#ifndef IM_H2_STUB_SERVER
#error "IM_H2_STUB_SERVER must name tests/http/h2_stub_server.py"
#endif
#ifndef IM_PYTHON
#error "IM_PYTHON must name a python3 with the h2 module"
#endif

namespace im::test {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

std::string MakeTempDir(const char* prefix) {
  std::string pattern = std::string("/tmp/") + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

constexpr std::string_view kOpensslConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = libim test
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

Result<TestPki> MakePki() {
  TestPki pki;
  pki.dir = MakeTempDir("im-push-pki");
  if (pki.dir.empty()) return Status::Internal("mkdtemp failed");
  if (!WriteFile(pki.dir + "/openssl.cnf", kOpensslConfig)) return Status::Internal("cannot write openssl.cnf");
  const char* commands[] = {
      "openssl req -x509 -new -config openssl.cnf -extensions v3_ca -subj /CN=im-test-ca -newkey ec "
      "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2",
      "openssl req -x509 -new -config openssl.cnf -extensions v3_ca -subj /CN=im-other-ca -newkey ec "
      "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other_ca.key -out other_ca.pem -days 2",
      "openssl req -new -config openssl.cnf -subj /CN=127.0.0.1 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -keyout server.key -out server.csr",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile openssl.cnf "
      "-extensions v3_server -out server.pem",
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out apns.p8",
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out service_account.pem",
  };
  for (const char* command : commands) {
    std::string line = "cd '" + pki.dir + "' && " + command + " >>openssl.log 2>&1";
    if (std::system(line.c_str()) != 0) {
      return Status::Internal(std::string("openssl failed: ") + command + "\n" +
                              ReadFile(pki.dir + "/openssl.log").value_or(""));
    }
  }
  pki.ca_file = pki.dir + "/ca.pem";
  pki.other_ca_file = pki.dir + "/other_ca.pem";
  pki.server_cert_file = pki.dir + "/server.pem";
  pki.server_key_file = pki.dir + "/server.key";
  auto p8 = ReadFile(pki.dir + "/apns.p8");
  auto rsa = ReadFile(pki.dir + "/service_account.pem");
  if (!p8 || !rsa) return Status::Internal("openssl wrote no keys");
  pki.apns_p8 = *p8;
  pki.rsa_key_pem = *rsa;
  return pki;
}

struct PkiHolder {
  Result<TestPki> pki = MakePki();
  ~PkiHolder() {
    std::error_code ec;
    if (pki.ok()) fs::remove_all(pki->dir, ec);
  }
};

json::object ToJson(const StubResponse& r) {
  json::object headers;
  for (const auto& [k, v] : r.headers) headers[k] = v;
  json::object o;
  o["path"] = r.path;
  o["status"] = r.status;
  o["headers"] = std::move(headers);
  o["body"] = r.body;
  o["repeat"] = r.repeat;
  return o;
}

struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// The public half of a PEM private key, round-tripped through SubjectPublicKeyInfo DER so the
// verification below cannot use the private part.
PkeyPtr PublicKeyOf(const std::string& private_key_pem) {
  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  PkeyPtr priv(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!priv) return nullptr;
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(priv.get(), &der);
  if (len <= 0) return nullptr;
  const unsigned char* p = der;
  PkeyPtr pub(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  return pub;
}

bool VerifyDer(EVP_PKEY* key, const std::string& input, const unsigned char* sig, size_t sig_len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, sig, sig_len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

const Result<TestPki>& Pki() {
  static PkiHolder holder;
  return holder.pki;
}

const TestPki& RequirePki() {
  const Result<TestPki>& pki = Pki();
  REQUIRE_MESSAGE(pki.ok(), pki.status().ToString());
  return *pki;
}

std::unique_ptr<H2StubServer> RequireServer(const std::vector<StubResponse>& script) {
  auto server = H2StubServer::Start(script);
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  return std::move(server).value();
}

PushNotification SampleNotification(PushPlatform platform, std::string token) {
  PushNotification n;
  n.platform = platform;
  n.token = std::move(token);
  n.title = "Alice \xC2\xB7 Team";
  n.body = "Lunch at \"noon\"?";
  n.conversation_id = "g:77";
  n.message_id = MessageId(1234567890123);
  n.seq = 42;
  return n;
}

std::string LoggedRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

Result<std::unique_ptr<H2StubServer>> H2StubServer::Start(const std::vector<StubResponse>& script) {
  const Result<TestPki>& pki = Pki();
  if (!pki.ok()) return pki.status();
  std::unique_ptr<H2StubServer> server(new H2StubServer());
  server->dir_ = MakeTempDir("im-h2stub");
  if (server->dir_.empty()) return Status::Internal("mkdtemp failed");
  json::array entries;
  for (const auto& r : script) entries.push_back(ToJson(r));
  json::object root;
  root["responses"] = std::move(entries);
  const std::string script_file = server->dir_ + "/script.json";
  const std::string log_file = server->dir_ + "/requests.jsonl";
  if (!WriteFile(script_file, json::serialize(root)) || !WriteFile(log_file, "")) {
    return Status::Internal("cannot write the stub server's files");
  }

  std::vector<std::string> args = {
      IM_PYTHON,   IM_H2_STUB_SERVER, "--cert", pki->server_cert_file, "--key", pki->server_key_file, "--script",
      script_file, "--log",           log_file, "--timeout",           "120"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal("pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDOUT_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  server->pid_ = pid;
  server->stdout_fd_ = fds[0];

  // The first stdout line is the port; give python and its imports 15 s.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::DeadlineExceeded("h2_stub_server.py printed no port within 15 s");
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[64];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) return Status::Unavailable("h2_stub_server.py exited before printing its port (see stderr)");
    line.append(buf, static_cast<size_t>(n));
  }
  server->port_ = std::atoi(line.c_str());
  if (server->port_ <= 0) return Status::Internal("h2_stub_server.py printed no port: " + line);
  return server;
}

H2StubServer::~H2StubServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::vector<LoggedRequest> H2StubServer::Requests() const {
  std::vector<LoggedRequest> out;
  std::ifstream in(dir_ + "/requests.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.as_object();
    LoggedRequest r;
    r.method = JsonString(o, "method");
    r.path = JsonString(o, "path");
    r.body = JsonString(o, "body");
    if (const json::value* h2 = o.if_contains("h2"); h2 && h2->is_bool()) r.h2 = h2->as_bool();
    r.connection = static_cast<int>(JsonInt(o, "connection").value_or(0));
    if (const json::value* headers = o.if_contains("headers"); headers && headers->is_array()) {
      for (const json::value& h : headers->as_array()) {
        if (!h.is_array() || h.as_array().size() != 2) continue;
        const auto& pair = h.as_array();
        if (pair[0].is_string() && pair[1].is_string()) {
          r.headers.emplace_back(std::string(pair[0].as_string()), std::string(pair[1].as_string()));
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<DecodedJwt> DecodeJwt(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  auto header = crypto::Base64UrlDecode(token.substr(0, first));
  auto claims = crypto::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = crypto::Base64UrlDecode(token.substr(second + 1));
  if (!header || !claims || !signature) return std::nullopt;
  json::error_code ec1, ec2;
  json::value h = json::parse(*header, ec1);
  json::value c = json::parse(*claims, ec2);
  if (ec1 || ec2 || !h.is_object() || !c.is_object()) return std::nullopt;
  DecodedJwt jwt;
  jwt.header = std::move(h.as_object());
  jwt.claims = std::move(c.as_object());
  jwt.signing_input = std::string(token.substr(0, second));
  jwt.signature = std::move(*signature);
  return jwt;
}

bool VerifyEs256(const DecodedJwt& jwt, const std::string& private_key_pem) {
  if (jwt.signature.size() != 64) return false;
  PkeyPtr key = PublicKeyOf(private_key_pem);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(jwt.signature.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return false;
  const bool ok = VerifyDer(key.get(), jwt.signing_input, der, static_cast<size_t>(der_len));
  OPENSSL_free(der);
  return ok;
}

bool VerifyRs256(const DecodedJwt& jwt, const std::string& private_key_pem) {
  PkeyPtr key = PublicKeyOf(private_key_pem);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return false;
  return VerifyDer(key.get(), jwt.signing_input, reinterpret_cast<const unsigned char*>(jwt.signature.data()),
                   jwt.signature.size());
}

std::string JsonString(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> JsonInt(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

json::object ParseObject(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

}  // namespace im::test
