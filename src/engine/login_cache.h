// LoginCache: the logins (refresh-token families) this process has recently seen to be live, so
// that an access token can be accepted without a store read, on the caller's thread (a gateway's
// network thread at a WebSocket upgrade) instead of a hop to a worker.
//
// Revocation wins every race: a revocation through this process evicts at once, and an entry
// learned from a store read that started before any revocation of this process finished is not
// kept (Remember takes the Epoch read before the store was asked). A revocation made by another
// process (another im-logic on the same store) is seen here after at most `ttl_ms`: entries
// expire and the next check reads the store again.
//
// Thread-safe. Bounded: past kMaxEntries it drops expired entries, then everything (it is only a
// shortcut; a miss costs one store read).
#ifndef IM_SRC_ENGINE_LOGIN_CACHE_H_
#define IM_SRC_ENGINE_LOGIN_CACHE_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "im/ids.h"

namespace im {

class LoginCache {
 public:
  static constexpr size_t kMaxEntries = 200'000;

  // ttl_ms <= 0: nothing is remembered.
  explicit LoginCache(int64_t ttl_ms) : ttl_ms_(ttl_ms) {}

  // A value to pass to Remember: read it before asking the store.
  uint64_t Epoch() const;
  // `family` of `user` was found live at a check that began at `epoch`.
  void Remember(const std::string& family, UserId user, uint64_t epoch, int64_t now_ms);
  // Whether `family` was seen live within the TTL and not revoked since.
  bool Live(const std::string& family, int64_t now_ms) const;

  // A revocation through this process (before or after the store's: entries that might predate
  // it are dropped either way).
  void Revoked(const std::string& family);
  // Every login of `user` but `keep_family` was revoked.
  void RevokedAllOf(UserId user, const std::string& keep_family);

 private:
  struct Entry {
    UserId user;
    int64_t until_ms = 0;
  };
  const int64_t ttl_ms_;
  mutable std::mutex mu_;
  uint64_t epoch_ = 0;  // revocations so far
  std::unordered_map<std::string, Entry> live_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_LOGIN_CACHE_H_
