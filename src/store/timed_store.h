// A StoreWrapper that records the latency of the message path's store calls in
// metrics::Default() (im_store_latency_seconds): the decoration seam put to use.
#ifndef IM_SRC_STORE_TIMED_STORE_H_
#define IM_SRC_STORE_TIMED_STORE_H_

#include <memory>

#include "im/store.h"

namespace im {

std::shared_ptr<Store> NewTimedStore(std::shared_ptr<Store> target);

}  // namespace im

#endif  // IM_SRC_STORE_TIMED_STORE_H_
