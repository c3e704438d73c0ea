#ifndef IM_SRC_COMMON_CLOCK_H_
#define IM_SRC_COMMON_CLOCK_H_

#include "im/model.h"

namespace im {

// Wall-clock milliseconds since the Unix epoch.
TimestampMs SystemNowMs();

}  // namespace im

#endif  // IM_SRC_COMMON_CLOCK_H_
