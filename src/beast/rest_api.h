// The REST API of the gateway, free of Beast types: a request in, a response out. Runs on the
// gateway's worker pool (it calls the engine, which blocks).
#ifndef IM_SRC_BEAST_REST_API_H_
#define IM_SRC_BEAST_REST_API_H_

#include <string>
#include <string_view>
#include <vector>

#include "im/engine.h"

namespace im::gateway {

struct RestRequest {
  std::string_view method;         // "GET", "POST", …
  std::string_view target;         // path and query
  std::string_view authorization;  // the Authorization header, if any
  std::string_view body;
};

struct RestResponse {
  int status = 200;
  std::string body;  // JSON ("" for 204), or the Prometheus text of /metrics
  std::string content_type = "application/json";
};

// The HTTP status for an engine status code (invalid_argument 400, unauthenticated 401, …).
int HttpStatusFor(StatusCode code);
// {"code": "...", "message": "..."} with the matching HTTP status.
RestResponse ErrorResponse(const Status& status);

// The value of `name` in the query string of `target` ("" when absent), as sent (not decoded).
std::string QueryParam(std::string_view target, std::string_view name);
// %XX and '+' decoded; malformed escapes are kept as they are.
std::string PercentDecode(std::string_view in);

// One route of the API (src/beast/rest_api.cc dispatches from a table of them).
struct RestRoute {
  std::string_view method;   // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string_view pattern;  // "/api/v1/groups/{id}/join": {name} is one path segment, {name*} the rest
  bool needs_token = true;   // Authorization: Bearer <access token>
};

// Every route the router serves, in the order it tries them (not /admin/*, /readyz or static
// files, which the HTTP session answers before the router).
std::vector<RestRoute> RestRoutes();

// `admin_token`: enables the dead-letter admin endpoints (beast/dead_letter_admin.h) when set.
RestResponse HandleRest(Engine& engine, const RestRequest& request, std::string_view admin_token = {});

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_REST_API_H_
