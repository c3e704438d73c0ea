// The default bodies of Bus methods added after 1.0: a bus written against an older header keeps
// compiling and gets the behaviour built from the methods it has.
#include "im/bus.h"

namespace im {

Result<std::unique_ptr<Subscription>> Bus::SubscribeBatch(std::string_view topic, std::string_view group,
                                                          size_t max_batch, BatchHandler handler) {
  if (!handler) return Status::InvalidArgument("subscription without a handler");
  if (max_batch == 0) return Status::InvalidArgument("max_batch must be at least 1");
  return Subscribe(topic, group, [handler = std::move(handler)](const BusRecord& r) {
    return handler(std::span<const BusRecord>(&r, 1));
  });
}

}  // namespace im
