// REST error bodies are JSON whatever bytes the request carried: the fuzz target rest found a
// 404 whose message quoted a path with bytes that are not UTF-8, which made the body invalid JSON.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "beast/rest_api.h"
#include "im/engine.h"

namespace im::test {
namespace {

TEST_CASE("an error that quotes a request path with bytes that are not UTF-8 is still a JSON body") {
  Options o;
  o.password_iterations = 1000;
  auto engine = Engine::Open(std::move(o));
  REQUIRE(engine.ok());
  // No credentials needed: /admin/ paths without a configured admin token are 404 "no route for …".
  gateway::RestResponse r = gateway::HandleRest(**engine, {"GET", "/admin/x\xff\xfey", "", ""}, "");
  CHECK(r.status == 404);
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(r.body, ec);
  REQUIRE_MESSAGE(!ec, r.body);
  CHECK(body.at("code").as_string() == "not_found");
  CHECK(body.at("message").as_string() == "no route for /admin/x\xEF\xBF\xBD\xEF\xBF\xBDy");
}

}  // namespace
}  // namespace im::test
