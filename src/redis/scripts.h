// The Lua scripts of the Redis presence and how to run them: EVALSHA, and on NOSCRIPT (a
// restarted or flushed Redis) SCRIPT LOAD and once more.
#ifndef IM_SRC_REDIS_SCRIPTS_H_
#define IM_SRC_REDIS_SCRIPTS_H_

#include <string>
#include <vector>

#include "redis/connection_pool.h"

namespace im::redis {

struct Script {
  explicit Script(const char* source);
  std::string source;
  std::string sha1;  // hex, as Redis names it
};

// KEYS[1] the user's set, KEYS[2] the gateway's set; ARGV[1] the user-set member, ARGV[2] the
// gateway-set member, ARGV[3] the TTL in ms. Prunes expired members, sets the expiry score to
// server time + TTL and the keys' own expiry to their latest score.
extern const Script kRegister;
// Same KEYS and ARGV[1..2]: removes the route from both sets.
extern const Script kUnregister;
// KEYS[1] a user's set: the members whose expiry is after server time.
extern const Script kLookup;
// KEYS[1] a user's set: how many members expire after server time.
extern const Script kCountLive;
// KEYS[1] the gateway's set; ARGV[1] the user-key prefix, ARGV[2] the gateway id: removes every
// route of the gateway from its users' sets, then the gateway's set.
extern const Script kUnregisterGateway;

struct ScriptCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// Runs `script` once per call, all in one pipelined round trip. Replies are checked: an error
// reply fails the whole batch (ErrorReplyStatus).
Result<std::vector<Reply>> RunScript(ConnectionPool& pool, const Script& script, const std::vector<ScriptCall>& calls,
                                     Clock::time_point deadline);

}  // namespace im::redis

#endif  // IM_SRC_REDIS_SCRIPTS_H_
