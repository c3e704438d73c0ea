#include "redis/scripts.h"

#include <openssl/evp.h>

#include <string_view>

namespace im::redis {
namespace {

std::string Sha1Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool IsNoScript(const redisReply& r) {
  return r.type == REDIS_REPLY_ERROR && std::string_view(r.str, r.len).substr(0, 8) == "NOSCRIPT";
}

// Server time in ms, as a Lua number (exact below 2^53).
#define IM_REDIS_NOW               \
  "local t = redis.call('TIME')\n" \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

}  // namespace

Script::Script(const char* src) : source(src), sha1(Sha1Hex(source)) {}

const Script kRegister(IM_REDIS_NOW
                       "local expires = now + tonumber(ARGV[3])\n"
                       "for i = 1, 2 do\n"
                       "  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
                       "  redis.call('ZADD', KEYS[i], expires, ARGV[i])\n"
                       "  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')\n"
                       "  redis.call('PEXPIREAT', KEYS[i], last[2])\n"
                       "end\n"
                       "return 1\n");

const Script kUnregister(
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"
    "return 1\n");

const Script kLookup(IM_REDIS_NOW "return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')\n");

const Script kCountLive(IM_REDIS_NOW "return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')\n");

const Script kUnregisterGateway(
    "local members = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "local route = string.len(ARGV[2]) .. ':' .. ARGV[2]\n"
    "for _, m in ipairs(members) do\n"
    "  local sep = string.find(m, ':', 1, true)\n"
    "  if sep then\n"
    "    redis.call('ZREM', ARGV[1] .. string.sub(m, 1, sep - 1), route .. string.sub(m, sep + 1))\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return #members\n");

Result<std::vector<Reply>> RunScript(ConnectionPool& pool, const Script& script, const std::vector<ScriptCall>& calls,
                                     Clock::time_point deadline) {
  std::vector<Command> commands;
  commands.reserve(calls.size());
  for (const ScriptCall& call : calls) {
    Command cmd{"EVALSHA", script.sha1, std::to_string(call.keys.size())};
    cmd.insert(cmd.end(), call.keys.begin(), call.keys.end());
    cmd.insert(cmd.end(), call.args.begin(), call.args.end());
    commands.push_back(std::move(cmd));
  }
  std::vector<Reply> replies;
  for (int attempt = 0;; ++attempt) {
    IM_RETURN_IF_ERROR(pool.RoundTrip(commands, &replies, deadline));
    bool missing = false;
    for (const Reply& r : replies) missing = missing || IsNoScript(*r);
    if (!missing || attempt > 0) break;
    // Redis lost its script cache (restart, SCRIPT FLUSH): load and run the batch again — every
    // script here is idempotent, so the calls that did run may run twice.
    std::vector<Reply> loaded;
    IM_RETURN_IF_ERROR(pool.RoundTrip({Command{"SCRIPT", "LOAD", script.source}}, &loaded, deadline));
    if (loaded[0]->type == REDIS_REPLY_ERROR) return ErrorReplyStatus(*loaded[0]);
  }
  for (const Reply& r : replies) {
    if (r->type == REDIS_REPLY_ERROR) return ErrorReplyStatus(*r);
  }
  return replies;
}

}  // namespace im::redis
