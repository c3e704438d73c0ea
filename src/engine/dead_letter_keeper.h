// DeadLetterKeeper: the task half keeps every record of the dead-letter topic in the Store
// (Store::AddDeadLetter), so that an operator can list dead letters and re-drive them once the
// cause is fixed (Engine::ListDeadLetters / RedriveDeadLetter; the admin endpoints of imd and
// im-task).
#ifndef IM_SRC_ENGINE_DEAD_LETTER_KEEPER_H_
#define IM_SRC_ENGINE_DEAD_LETTER_KEEPER_H_

#include <functional>
#include <memory>

#include "im/bus.h"
#include "im/store.h"

namespace im {

class DeadLetterKeeper {
 public:
  DeadLetterKeeper(std::shared_ptr<Store> store, std::shared_ptr<Bus> bus, std::function<TimestampMs()> clock);

  // Bus handler for im-dead-letter. The origin comes from the bus's dead-letter headers, or, for
  // tasks the dispatcher dead-lettered, from the key and the TaskMessage.
  Status Handle(const BusRecord& record);

  // Publishes the dead letter back to where it came from (a task: to im-task, as a first attempt)
  // and deletes it. not_found for an unknown id.
  Status Redrive(int64_t id);

 private:
  std::shared_ptr<Store> store_;
  std::shared_ptr<Bus> bus_;
  std::function<TimestampMs()> clock_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_DEAD_LETTER_KEEPER_H_
