// CachedStore (target im::redis): a Store decorator that keeps users, groups and group
// memberships in Redis, cache-aside, for im-repo (docs/architecture.md §3.3). Reads look in Redis first and
// fill it from the store on a miss; writes go to the store first and then delete the keys they
// made stale ("update the database, then delete the cache"). Everything else passes through.
//
// Cached: GetUser, GetGroup, GetGroupMember (members only: the access check of every group send)
// and pages of ListGroupMembers (group fanout reads them on every send).
// Each key expires after ttl_ms. A read that races a write can put back the value the write
// replaced; it lives until the next write to the same thing or the TTL, whichever comes first:
// keep ttl_ms short where that matters.
//
// Redis failures never fail a call: a read falls through to the store, and a write that cannot
// delete its keys counts in Stats().stale_deletes (the entries expire with their TTL).
//
// Thread-safe.
#ifndef IM_CACHED_STORE_H_
#define IM_CACHED_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/store.h"

namespace im {

struct CachedStoreOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
  int pool_size = 8;
  int command_timeout_ms = 500;  // a slower Redis is skipped: the call goes to the store
  int64_t ttl_ms = 60'000;
  std::string key_prefix = "im:cache:";
  uint32_t max_cached_page = 1000;  // ListGroupMembers pages larger than this are not cached
};

struct CachedStoreStats {
  uint64_t hits = 0, misses = 0;
  uint64_t redis_errors = 0;   // calls that fell through to the store
  uint64_t stale_deletes = 0;  // invalidations that could not reach Redis
};

class CachedStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  virtual CachedStoreStats Stats() const = 0;
};

// invalid_argument for bad options. Does not wait for Redis: without it, calls go to `target`.
Result<std::shared_ptr<CachedStore>> OpenCachedStore(std::shared_ptr<Store> target, const CachedStoreOptions& options);

}  // namespace im

#endif  // IM_CACHED_STORE_H_
