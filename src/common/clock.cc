#include "common/clock.h"

#include <chrono>

namespace im {

TimestampMs SystemNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace im
