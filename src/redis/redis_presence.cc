// RedisPresence: the Presence on Redis (include/im/redis_presence.h).
//
// Keys (docs/architecture.md, "Redis presence"):
//   im:presence:u:<user id>   sorted set; member "<len(gateway)>:<gateway><device>", score = expiry ms
//   im:presence:g:<gateway>   sorted set; member "<user id>:<device>",             score = expiry ms
// Expiry times are Redis server time; each key also expires (PEXPIREAT) with its latest route.
#include "im/redis_presence.h"

#include <unordered_map>

#include "redis/connection_pool.h"
#include "redis/scripts.h"

namespace im {
namespace {

using redis::Clock;
using redis::Reply;
using redis::ScriptCall;

constexpr char kUserPrefix[] = "im:presence:u:";
constexpr char kGatewayPrefix[] = "im:presence:g:";

std::string UserKey(UserId u) { return kUserPrefix + std::to_string(u.value); }
std::string GatewayKey(std::string_view g) { return kGatewayPrefix + std::string(g); }
std::string UserMember(const Route& r) { return std::to_string(r.gateway_id.size()) + ":" + r.gateway_id + r.device; }
std::string GatewayMember(const Route& r) { return std::to_string(r.user.value) + ":" + r.device; }

// The inverse of UserMember; false for a member this code did not write.
bool ParseUserMember(std::string_view m, UserId user, Route* out) {
  auto sep = m.find(':');
  if (sep == std::string_view::npos || sep == 0 || sep > 9) return false;
  size_t len = 0;
  for (char ch : m.substr(0, sep)) {
    if (ch < '0' || ch > '9') return false;
    len = len * 10 + size_t(ch - '0');
  }
  if (len == 0 || sep + 1 + len > m.size()) return false;
  out->user = user;
  out->gateway_id = std::string(m.substr(sep + 1, len));
  out->device = std::string(m.substr(sep + 1 + len));
  return true;
}

Status ValidateRoute(const Route& route) {
  if (!route.user.valid()) return Status::InvalidArgument("invalid user id in route");
  if (route.gateway_id.empty()) return Status::InvalidArgument("route without a gateway id");
  return Status::Ok();
}

class RedisPresence final : public Presence {
 public:
  explicit RedisPresence(const RedisPresenceOptions& options) : options_(options), pool_(options) {}

  Status Ping() {
    std::vector<Reply> replies;
    IM_RETURN_IF_ERROR(pool_.RoundTrip({redis::Command{"PING"}}, &replies, Deadline()));
    if (replies[0]->type == REDIS_REPLY_ERROR) return redis::ErrorReplyStatus(*replies[0]);
    return Status::Ok();
  }

  Status Register(const Route& route, int64_t ttl_ms) override {
    IM_RETURN_IF_ERROR(ValidateRoute(route));
    if (ttl_ms < 0) return Status::InvalidArgument("negative presence TTL");
    ScriptCall call{{UserKey(route.user), GatewayKey(route.gateway_id)},
                    {UserMember(route), GatewayMember(route), std::to_string(ttl_ms == 0 ? options_.ttl_ms : ttl_ms)}};
    return redis::RunScript(pool_, redis::kRegister, {std::move(call)}, Deadline()).status();
  }

  Status Unregister(const Route& route) override {
    IM_RETURN_IF_ERROR(ValidateRoute(route));
    ScriptCall call{{UserKey(route.user), GatewayKey(route.gateway_id)}, {UserMember(route), GatewayMember(route)}};
    return redis::RunScript(pool_, redis::kUnregister, {std::move(call)}, Deadline()).status();
  }

  Result<std::vector<Route>> Lookup(std::span<const UserId> users) override {
    std::vector<Route> out;
    if (users.empty()) return out;
    IM_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                        redis::RunScript(pool_, redis::kLookup, PerUser(users), Deadline()));
    for (size_t i = 0; i < users.size(); ++i) {
      const redisReply& r = *replies[i];
      if (r.type != REDIS_REPLY_ARRAY) return Status::Internal("redis: unexpected reply to the lookup script");
      for (size_t j = 0; j < r.elements; ++j) {
        const redisReply* m = r.element[j];
        Route route;
        if (m->type == REDIS_REPLY_STRING && ParseUserMember(std::string_view(m->str, m->len), users[i], &route)) {
          out.push_back(std::move(route));
        }
      }
    }
    return out;
  }

  Result<std::vector<bool>> Online(std::span<const UserId> users) override {
    std::vector<bool> out(users.size(), false);
    if (users.empty()) return out;
    IM_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                        redis::RunScript(pool_, redis::kCountLive, PerUser(users), Deadline()));
    for (size_t i = 0; i < users.size(); ++i) {
      if (replies[i]->type != REDIS_REPLY_INTEGER)
        return Status::Internal("redis: unexpected reply to the count script");
      out[i] = replies[i]->integer > 0;
    }
    return out;
  }

  Status UnregisterGateway(std::string_view gateway_id) override {
    if (gateway_id.empty()) return Status::InvalidArgument("empty gateway id");
    ScriptCall call{{GatewayKey(gateway_id)}, {kUserPrefix, std::string(gateway_id)}};
    return redis::RunScript(pool_, redis::kUnregisterGateway, {std::move(call)}, Deadline()).status();
  }

 private:
  Clock::time_point Deadline() const { return Clock::now() + std::chrono::milliseconds(options_.command_timeout_ms); }

  // One script call per user, in order (a user listed twice is asked twice).
  static std::vector<ScriptCall> PerUser(std::span<const UserId> users) {
    std::vector<ScriptCall> calls;
    calls.reserve(users.size());
    for (UserId u : users) calls.push_back(ScriptCall{{UserKey(u)}, {}});
    return calls;
  }

  const RedisPresenceOptions options_;
  redis::ConnectionPool pool_;
};

}  // namespace

Result<std::shared_ptr<Presence>> OpenRedisPresence(const RedisPresenceOptions& options) {
  if (options.host.empty()) return Status::InvalidArgument("redis presence: empty host");
  if (options.port <= 0 || options.port > 65535) return Status::InvalidArgument("redis presence: bad port");
  if (options.db < 0) return Status::InvalidArgument("redis presence: negative db");
  if (options.pool_size < 1) return Status::InvalidArgument("redis presence: pool_size must be >= 1");
  if (options.ttl_ms <= 0) return Status::InvalidArgument("redis presence: ttl_ms must be > 0");
  if (options.connect_timeout_ms <= 0 || options.command_timeout_ms <= 0) {
    return Status::InvalidArgument("redis presence: timeouts must be > 0");
  }
  auto presence = std::make_shared<RedisPresence>(options);
  IM_RETURN_IF_ERROR(presence->Ping());
  return std::shared_ptr<Presence>(std::move(presence));
}

}  // namespace im
