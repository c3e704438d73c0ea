// The abuse limits in front of the auth routes (register, login, refresh), which are cheap to
// send and expensive to answer (a password hash costs ~250 ms of CPU at the default cost): a
// token bucket per client address, one per account for failed logins, and a bounded pool of
// their own to run on. Every refusal is decided on the network thread before any work is queued.
#ifndef IM_SRC_BEAST_AUTH_GATE_H_
#define IM_SRC_BEAST_AUTH_GATE_H_

#include <optional>
#include <string>
#include <string_view>

#include "beast/bounded_pool.h"
#include "beast/keyed_limiter.h"
#include "im/gateway.h"

namespace im::gateway {

enum class AuthRoute { kNone, kRegister, kLogin, kRefresh };

// The auth route of a request, or kNone (logout is not one: it hashes nothing and a client
// should always be able to end its session).
AuthRoute AuthRouteOf(std::string_view method, std::string_view path);

// The account a login body names, case-folded as usernames are ("" when the body does not say:
// it fails validation without hashing).
std::string LoginAccount(std::string_view body);

// An answer that refuses a request for now: 429 or 503, the REST error body, Retry-After.
struct Refusal {
  int status;
  std::string body;
  int retry_after_seconds;
};

class AuthGate {
 public:
  explicit AuthGate(const GatewayOptions& options);

  // Before a request runs: nullopt to let it run, else the answer. Counts it against `client`
  // (ClientKey) and, for a login, checks `account` (without counting: only failures count).
  [[nodiscard]] std::optional<Refusal> Admit(AuthRoute route, std::string_view client, std::string_view account);
  // Runs `task` on the auth pool; false when the pool is full (answer Busy()).
  template <class Task>
  [[nodiscard]] bool TryRun(Task&& task) {
    return pool_.TryPost(std::forward<Task>(task));
  }
  // The answer when TryRun refused.
  Refusal Busy();
  // After a request ran, with its HTTP status: a rejected login counts against its account.
  void Finished(AuthRoute route, std::string_view account, int http_status);
  void Join() { pool_.Join(); }

 private:
  KeyedLimiter per_ip_;
  KeyedLimiter account_failures_;
  BoundedPool pool_;
};

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_AUTH_GATE_H_
