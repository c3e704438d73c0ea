// The Redis presence (target im::redis): the Presence of the split deployment, where every
// im-gateway writes its sessions' routes and every im-logic reads them to route fanout.
//
// Data model (docs/architecture.md, "Redis presence"): one sorted set per user of that user's
// routes scored by their expiry time, and one per gateway of its routes (for UnregisterGateway).
// Expiry uses the Redis server's clock, so gateways with skewed clocks agree. A route expires
// `ttl_ms` after its last Register; the engine's gateway half registers every local route again
// every presence_ttl_ms/3, which is also how the routes come back after Redis lost its data.
// Lookup and Online send one pipelined request per batch (one round trip for any number of users).
//
// Threads and connections: every method is thread-safe and blocks on the network, on a pool of
// `pool_size` connections. A call waits for a free connection, connects, and runs its commands
// within `command_timeout_ms` in all; past that it fails with unavailable (it never hangs).
//
// Errors: Redis unreachable, timed out, loading or read-only: unavailable (transient: once Redis
// is back the next call succeeds; a broken connection is replaced on its next use). Other errors
// from Redis: internal with Redis's message. Bad routes: invalid_argument (presence.h).
//
// Scripts run with EVALSHA (loaded on NOSCRIPT). UnregisterGateway touches keys it does not
// declare, so it needs a standalone Redis (or Sentinel), not Redis Cluster.
#ifndef IM_REDIS_PRESENCE_H_
#define IM_REDIS_PRESENCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/presence.h"
#include "im/status.h"

namespace im {

struct RedisPresenceOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;            // AUTH when not empty
  int db = 0;                      // SELECT when not 0
  int pool_size = 4;               // connections (>= 1), opened on first use
  int64_t ttl_ms = 120'000;        // the TTL of Register(route, 0) (> 0)
  int connect_timeout_ms = 1'000;  // one connection attempt (> 0), within command_timeout_ms
  int command_timeout_ms = 2'000;  // the most any call takes, waiting and connecting included (> 0)
};

// Checks the options and that Redis answers PING. invalid_argument for bad options; unavailable
// when Redis cannot be reached (or refuses AUTH/SELECT).
Result<std::shared_ptr<Presence>> OpenRedisPresence(const RedisPresenceOptions& options);

}  // namespace im

#endif  // IM_REDIS_PRESENCE_H_
