// Message ids: unique per node, increasing, roughly time-ordered. Layout (63 bits):
//   [ milliseconds since 2024-01-01 : 41 ][ counter within the ms : 12 ][ node : 10 ]
// The counter borrows from the time part when more than 4096 ids are taken in one ms, so ids
// stay unique and increasing without ever touching the node bits.
#ifndef IM_SRC_ENGINE_MESSAGE_ID_H_
#define IM_SRC_ENGINE_MESSAGE_ID_H_

#include <algorithm>
#include <atomic>

#include "im/ids.h"
#include "im/model.h"

namespace im {

class MessageIdGenerator {
 public:
  explicit MessageIdGenerator(int node) : node_(node & 0x3ff) {}

  MessageId Next(TimestampMs now_ms) {
    constexpr TimestampMs kEpochMs = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
    const int64_t floor = std::max<int64_t>(now_ms - kEpochMs, 0) << 12;
    int64_t prev = last_.load(std::memory_order_relaxed);
    int64_t next;
    do {
      next = std::max(prev + 1, floor);
    } while (!last_.compare_exchange_weak(prev, next, std::memory_order_relaxed));
    return MessageId((next << 10) | node_);
  }

 private:
  const int64_t node_;
  std::atomic<int64_t> last_{0};
};

}  // namespace im

#endif  // IM_SRC_ENGINE_MESSAGE_ID_H_
