// PushSender: the im.push task processor. For one recipient of a new message who had no online
// session, it loads their push settings and device tokens and sends one notification per token
// through the provider of its platform. Dead tokens are forgotten; deliveries that must be
// retried (429, 5xx, network) are retried as a task for just those devices. A task that ran
// twice (a redelivery) pushes twice; the collapse id, the message id, makes the repeat replace the
// first notification on the device.
#ifndef IM_SRC_ENGINE_PUSH_SENDER_H_
#define IM_SRC_ENGINE_PUSH_SENDER_H_

#include <memory>

#include "im/push.h"
#include "im/store.h"
#include "im/task.h"
#include "im/v1/records.pb.h"

namespace im {

class PushSender final : public TaskProcessor {
 public:
  static constexpr std::string_view kTaskType = "im.push";
  // Bodies longer than this are cut (at a UTF-8 boundary) and end with "…".
  static constexpr size_t kMaxBodyBytes = 200;

  // Empty providers log instead (NewLogPushProvider).
  PushSender(std::shared_ptr<Store> store, std::shared_ptr<PushProvider> apns, std::shared_ptr<PushProvider> fcm);

  // The task that notifies `recipient` of `message` (keyed by conversation).
  static Task MakeTask(const v1::Message& message, UserId recipient);

  std::string_view type() const override { return kTaskType; }
  TaskOutcome Process(const Task& task) override;

 private:
  // Title and body as the recipient's settings allow.
  Result<PushNotification> Compose(const v1::Message& message, const PushSettings& settings);

  std::shared_ptr<Store> store_;
  std::shared_ptr<PushProvider> apns_;
  std::shared_ptr<PushProvider> fcm_;
};

}  // namespace im

#endif  // IM_SRC_ENGINE_PUSH_SENDER_H_
