#include "beast/rest_api.h"

#include <boost/json.hpp>

#include "common/utf8.h"

namespace im::gateway {
namespace {

namespace json = boost::json;

Result<json::object> ParseBody(std::string_view body) {
  if (!IsValidUtf8(body)) return Status::InvalidArgument("body is not valid UTF-8");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::InvalidArgument("body is not JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument("body must be a JSON object");
  return std::move(v.as_object());
}

// A string member; "" when absent. invalid_argument when present with another type.
Result<std::string> StringField(const json::object& o, std::string_view name, bool required) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) {
    if (required) return Status::InvalidArgument("missing \"" + std::string(name) + "\"");
    return std::string();
  }
  if (!it->value().is_string()) return Status::InvalidArgument("\"" + std::string(name) + "\" must be a string");
  return std::string(it->value().get_string());
}

RestResponse Json(int status, const json::value& v) { return RestResponse{status, json::serialize(v)}; }

json::object UserJson(const User& u) {
  return {{"id", std::to_string(u.id.value)},
          {"username", u.username},
          {"display_name", u.display_name},
          {"created_at_ms", u.created_at_ms}};
}

json::object TokensJson(const AuthTokens& t) {
  return {{"user_id", std::to_string(t.user.value)},
          {"access_token", t.access_token},
          {"access_expires_at_ms", t.access_expires_at_ms},
          {"refresh_token", t.refresh_token},
          {"refresh_expires_at_ms", t.refresh_expires_at_ms}};
}

Result<AuthContext> Bearer(Engine& engine, std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.substr(0, kPrefix.size()) != kPrefix) {
    return Status::Unauthenticated("missing bearer token");
  }
  return engine.Authenticate(std::string(authorization.substr(kPrefix.size())));
}

Result<RestResponse> Route(Engine& engine, const RestRequest& r) {
  std::string_view path = r.target.substr(0, r.target.find('?'));
  const bool post = r.method == "POST";
  if (path == "/healthz" && r.method == "GET") return Json(200, json::object{{"status", "ok"}});
  if (path == "/api/v1/auth/register" && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
    IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
    IM_ASSIGN_OR_RETURN(std::string display_name, StringField(body, "display_name", false));
    IM_ASSIGN_OR_RETURN(User user, engine.Register(username, password, display_name));
    return Json(201, UserJson(user));
  }
  if (path == "/api/v1/auth/login" && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
    IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
    IM_ASSIGN_OR_RETURN(std::string device, StringField(body, "device", true));
    IM_ASSIGN_OR_RETURN(AuthTokens tokens, engine.Login(username, password, device));
    return Json(200, TokensJson(tokens));
  }
  if ((path == "/api/v1/auth/refresh" || path == "/api/v1/auth/logout") && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token", true));
    if (path == "/api/v1/auth/logout") {
      IM_RETURN_IF_ERROR(engine.Logout(token));
      return RestResponse{204, ""};
    }
    IM_ASSIGN_OR_RETURN(AuthTokens tokens, engine.Refresh(token));
    return Json(200, TokensJson(tokens));
  }
  if (path == "/api/v1/users/me" && r.method == "GET") {
    IM_ASSIGN_OR_RETURN(AuthContext who, Bearer(engine, r.authorization));
    IM_ASSIGN_OR_RETURN(User user, engine.GetUser(who.user));
    return Json(200, UserJson(user));
  }
  return Status::NotFound("no route for " + std::string(r.method) + " " + std::string(path));
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kNotSupported:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

RestResponse ErrorResponse(const Status& status) {
  return Json(HttpStatusFor(status.code()),
              json::object{{"code", StatusCodeName(status.code())}, {"message", status.message()}});
}

RestResponse HandleRest(Engine& engine, const RestRequest& request) {
  auto r = Route(engine, request);
  return r.ok() ? std::move(r).value() : ErrorResponse(r.status());
}

}  // namespace im::gateway
