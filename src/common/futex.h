// Sleep/wake on a 32-bit word without spinning (the group committers of the SQLite and RocksDB
// stores).
//
// std::atomic<T>::wait in libstdc++ spins and then calls sched_yield() a few times before it
// sleeps. With 64 submitters parked on a 2-core machine that turns into a sched_yield storm (a
// third of all CPU in a profile of the append benchmark), so the group committers sleep on the
// futex directly. Elsewhere it falls back to std::atomic wait/notify.
#ifndef IM_COMMON_FUTEX_H_
#define IM_COMMON_FUTEX_H_

#include <atomic>
#include <climits>
#include <cstdint>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace im {

// Blocks while `word` holds `expected` (may return spuriously: callers re-check).
inline void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
#if defined(__linux__)
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  word.wait(expected, std::memory_order_acquire);
#endif
}

// Wakes up to `count` threads blocked on the word at `address`. Takes the address rather than
// the atomic so that a waker may call it after the word's owner could have moved on (a stale
// address only causes a spurious wake-up, which every waiter tolerates).
inline void FutexWake(void* address, int count) {
#if defined(__linux__)
  syscall(SYS_futex, static_cast<uint32_t*>(address), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
#else
  auto* word = static_cast<std::atomic<uint32_t>*>(address);
  if (count == 1) {
    word->notify_one();
  } else {
    word->notify_all();
  }
#endif
}

inline void FutexWakeAll(void* address) { FutexWake(address, INT_MAX); }

}  // namespace im

#endif  // IM_COMMON_FUTEX_H_
