// The REST API as a client reaches it: raw HTTP/1.1 request bytes through Beast's request parser
// with the gateway's limits (as src/beast/http_session.cc reads them), then the router and
// handlers (src/beast/rest_api.h, dead_letter_admin.h) over an in-memory engine. Every request
// must get a status from the documented set and a JSON body; nothing may throw or crash.
//
// The engine holds two users, alice (1) and bob (2), a direct conversation d:1:2 with a message, a
// group 1 owned by alice with bob in it, and a device token. In the input "@A@" and "@B@" stand
// for alice's and bob's access tokens, so the fuzzer reaches the routes behind authentication;
// "Bearer fuzz-admin-token-0123456789" is the admin token. The engine is rebuilt every
// kRunsPerEngine inputs, which bounds what registrations and groups made by inputs accumulate.
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <memory>
#include <string>

#include "beast/rest_api.h"
#include "fuzz/fuzz_check.h"
#include "im/engine.h"
#include "im/gateway.h"
#include "im/log.h"

namespace http = boost::beast::http;

namespace {

constexpr int kRunsPerEngine = 5000;
constexpr im::TimestampMs kNow = 1'800'000'000'000;
constexpr std::string_view kAdminToken = "fuzz-admin-token-0123456789";

struct World {
  std::unique_ptr<im::Engine> engine;
  std::string alice_token, bob_token;
};

#define SETUP_OK(expr) FUZZ_CHECK((expr).ok())

std::unique_ptr<World> NewWorld() {
  // Only errors: a log line per request would cost more than the request.
  im::SetLogSink([](im::LogLevel, std::string_view) {}, im::LogLevel::kError);
  auto w = std::make_unique<World>();
  im::Options o;
  o.password_iterations = 1000;  // the minimum: logins in inputs stay cheap
  o.jwt_secret = std::string(32, 'k');
  o.upstream_consumers = 1;
  o.task_consumers = 1;
  o.clock = [] { return kNow; };  // a fixed clock: tokens never expire mid-run
  auto engine = im::Engine::Open(std::move(o));
  SETUP_OK(engine);
  w->engine = std::move(engine).value();
  im::Engine& e = *w->engine;
  auto alice = e.Register("alice", "alice-password", "Alice");
  auto bob = e.Register("bob", "bob-password", "Bob");
  SETUP_OK(alice);
  SETUP_OK(bob);
  auto a = e.Login("alice", "alice-password", "phone");
  auto b = e.Login("bob", "bob-password", "laptop");
  SETUP_OK(a);
  SETUP_OK(b);
  w->alice_token = a->access_token;
  w->bob_token = b->access_token;
  SETUP_OK(e.Send(alice->id, "phone", {im::ConversationId::Direct(alice->id, bob->id), "m1", im::ContentType::kText,
                                       "hello bob"}));
  auto group = e.CreateGroup(alice->id, "fuzzers");
  SETUP_OK(group);
  // Best effort from here: the fuzzing does not depend on these (join rules may change).
  (void)e.InviteMember(alice->id, group->id, bob->id);
  (void)e.JoinGroup(bob->id, group->id);
  (void)e.RegisterDeviceToken(alice->id, {alice->id, im::PushPlatform::kApns, "apns-token-1", "phone", 0});
  return w;
}

std::string WithTokens(std::string_view input, const World& w) {
  std::string out(input);
  for (auto [mark, token] : {std::pair<std::string_view, const std::string&>{"@A@", w.alice_token},
                             std::pair<std::string_view, const std::string&>{"@B@", w.bob_token}}) {
    for (size_t at = out.find(mark); at != std::string::npos; at = out.find(mark, at + token.size())) {
      out.replace(at, mark.size(), token);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<World> world;
  static int runs = 0;
  if (!world || ++runs % kRunsPerEngine == 0) {
    world.reset();  // close the old engine before the new one opens
    world = NewWorld();
  }
  const std::string bytes = WithTokens(im::fuzz::AsText(data, size), *world);

  http::request_parser<http::string_body> parser;
  parser.body_limit(im::GatewayOptions{}.max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  for (size_t used = 0; !parser.is_done() && used < bytes.size();) {
    size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) ec = {};
    if (ec || n == 0) break;
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);  // the connection closes after these bytes
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();

  im::gateway::RestRequest r{std::string_view(req.method_string()), std::string_view(req.target()),
                             std::string_view(req[http::field::authorization]), req.body()};
  im::gateway::RestResponse out = im::gateway::HandleRest(*world->engine, r, kAdminToken);
  FUZZ_CHECK(out.status >= 200 && out.status <= 599);
  if (out.status == 204) FUZZ_CHECK(out.body.empty());
  if (out.content_type == "application/json" && !out.body.empty()) {
    boost::system::error_code json_ec;
    boost::json::value v = boost::json::parse(out.body, json_ec);
    FUZZ_CHECK(!json_ec && v.is_object());
    // Errors are {"code", "message"} (http-api.md).
    if (out.status >= 400) FUZZ_CHECK(v.as_object().contains("code") && v.as_object().contains("message"));
  }
  return 0;
}
