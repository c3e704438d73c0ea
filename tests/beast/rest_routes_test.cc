// REST routes whose rules differ from a plain pass-through to the engine: the read pointer's seq 0
// and the case of `?username=`.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "beast/rest_api.h"
#include "im/engine.h"
#include "support/engine_fixture.h"

namespace im::test {
namespace {

namespace json = boost::json;

struct Rest {
  std::unique_ptr<Engine> engine = Engine::Open(FastOptions()).value();
  UserId alice = MustRegister(*engine, "alice");
  UserId bob = MustRegister(*engine, "bob");
  std::string bearer = "Bearer " + engine->Login("bob", "password-bob", "cli").value().access_token;

  gateway::RestResponse Call(std::string_view method, const std::string& target, std::string_view body = "") {
    return gateway::HandleRest(*engine, {method, target, bearer, body});
  }
};

TEST_CASE("REST read: seq 0 is \"nothing read\" and answers the current pointer; negative seqs are refused") {
  Rest t;
  auto ab = ConversationId::Direct(t.alice, t.bob);
  for (int i = 0; i < 3; ++i) REQUIRE(t.engine->Send(t.alice, "p", {ab, "m" + std::to_string(i), ContentType::kText, "x"}).ok());
  std::string path = "/api/v1/conversations/" + ab.str() + "/read";

  auto zero = t.Call("POST", path, R"({"seq":0})");
  REQUIRE_MESSAGE(zero.status == 200, zero.body);
  CHECK(json::parse(zero.body).at("read_seq").as_string() == "0");
  auto two = t.Call("POST", path, R"({"seq":"2"})");
  REQUIRE_MESSAGE(two.status == 200, two.body);
  auto again = t.Call("POST", path, R"({"seq":"0"})");
  REQUIRE_MESSAGE(again.status == 200, again.body);
  CHECK(json::parse(again.body).at("read_seq").as_string() == "2");  // never moves back

  CHECK(t.Call("POST", path, R"({"seq":-1})").status == 400);
  CHECK(t.Call("POST", path, R"({"seq":"-1"})").status == 400);
  CHECK(t.Call("POST", path, R"({"seq":""})").status == 400);
  CHECK(t.Call("POST", path, R"({})").status == 400);
}

TEST_CASE("REST users?username= folds ASCII capitals as register and login do") {
  Rest t;
  for (std::string name : {"alice", "Alice", "ALICE", "%41lice"}) {
    auto r = t.Call("GET", "/api/v1/users?username=" + name);
    REQUIRE_MESSAGE(r.status == 200, name, r.body);
    CHECK(json::parse(r.body).at("users").as_array().at(0).at("username").as_string() == "alice");
  }
  CHECK(t.Call("GET", "/api/v1/users?username=nobody").status == 404);
  CHECK(t.Call("GET", "/api/v1/users?username=a%20b").status == 404);  // could not exist: not found
}

}  // namespace
}  // namespace im::test
