#include "beast/auth_gate.h"

#include <boost/json.hpp>
#include <cctype>

#include "beast/rest_api.h"
#include "common/metrics.h"

namespace im::gateway {

AuthRoute AuthRouteOf(std::string_view method, std::string_view path) {
  if (method != "POST") return AuthRoute::kNone;
  if (path == "/api/v1/auth/login") return AuthRoute::kLogin;
  if (path == "/api/v1/auth/register") return AuthRoute::kRegister;
  if (path == "/api/v1/auth/refresh") return AuthRoute::kRefresh;
  return AuthRoute::kNone;
}

std::string LoginAccount(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const boost::json::value* name = v.as_object().if_contains("username");
  if (name == nullptr || !name->is_string()) return "";
  // Longer names fail validation anyway; the cut keeps an attacker's keys small.
  std::string out(name->get_string().subview().substr(0, 64));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

Refusal Refuse(const Status& status, int retry_after_seconds) {
  RestResponse r = ErrorResponse(status);
  return Refusal{r.status, std::move(r.body), retry_after_seconds};
}

}  // namespace

AuthGate::AuthGate(const GatewayOptions& options)
    : per_ip_(options.auth_requests_per_minute_per_ip / 60, options.auth_burst_per_ip),
      account_failures_(options.login_failures_per_minute_per_account / 60, options.login_failure_burst_per_account),
      pool_(options.auth_threads, options.max_queued_auth_requests) {}

std::optional<Refusal> AuthGate::Admit(AuthRoute route, std::string_view client, std::string_view account) {
  if (int wait = per_ip_.TryTake(client); wait > 0) {
    metrics::Default().auth_refused_ip.Add();
    return Refuse(Status::ResourceExhausted("too many auth requests from this address; retry later"), wait);
  }
  if (route == AuthRoute::kLogin && !account.empty()) {
    if (int wait = account_failures_.Wait(account); wait > 0) {
      metrics::Default().auth_refused_account.Add();
      return Refuse(Status::ResourceExhausted("too many failed logins for this account; retry later"), wait);
    }
  }
  return std::nullopt;
}

Refusal AuthGate::Busy() {
  metrics::Default().auth_refused_busy.Add();
  return Refuse(Status::Unavailable("the server is busy with other logins; retry later"), 1);
}

void AuthGate::Finished(AuthRoute route, std::string_view account, int http_status) {
  if (route == AuthRoute::kLogin && http_status == 401 && !account.empty()) account_failures_.Charge(account);
}

}  // namespace im::gateway
