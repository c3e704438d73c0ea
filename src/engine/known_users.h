// KnownUsers: users this logic half saw to exist recently, so that a send to a direct
// conversation does not read the peer from the store every time (one store read transaction
// per message was one of the largest costs of a 1:1 send).
//
// Only "exists" is remembered, never "does not exist", and only for `ttl`: a user deleted
// through another logic instance (the split deployment) can still be written to for up to `ttl`
// by this one; DeleteUser through this instance forgets the user at once. Bounded: when full,
// the whole table is dropped (the next sends read the store again). Thread-safe.
#ifndef IM_SRC_ENGINE_KNOWN_USERS_H_
#define IM_SRC_ENGINE_KNOWN_USERS_H_

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "im/ids.h"

namespace im {

class KnownUsers {
 public:
  using Clock = std::chrono::steady_clock;

  explicit KnownUsers(Clock::duration ttl = std::chrono::seconds(60), size_t capacity = 100'000)
      : ttl_(ttl), capacity_(capacity) {}

  bool Contains(UserId user) {
    std::lock_guard lock(mu_);
    auto it = until_.find(user.value);
    if (it == until_.end()) return false;
    if (it->second < Clock::now()) {
      until_.erase(it);
      return false;
    }
    return true;
  }

  void Add(UserId user) {
    std::lock_guard lock(mu_);
    if (until_.size() >= capacity_) until_.clear();
    until_[user.value] = Clock::now() + ttl_;
  }

  void Forget(UserId user) {
    std::lock_guard lock(mu_);
    until_.erase(user.value);
  }

 private:
  const Clock::duration ttl_;
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<int64_t, Clock::time_point> until_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_KNOWN_USERS_H_
