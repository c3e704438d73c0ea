// The push provider used when none is configured: it writes what it would have sent.
#include "common/log.h"
#include "im/push.h"

namespace im {
namespace {

class LogPushProvider final : public PushProvider {
 public:
  PushResult Send(const PushNotification& n) override {
    // A token is a credential for the device: log only its start.
    log::Info("push.log", {{"platform", n.platform == PushPlatform::kFcm ? "fcm" : "apns"},
                           {"token", n.token.substr(0, 8) + "…"},
                           {"conversation", n.conversation_id},
                           {"message", n.message_id.value},
                           {"title", n.title},
                           {"body_bytes", static_cast<int64_t>(n.body.size())}});
    return PushResult{};
  }
};

}  // namespace

std::shared_ptr<PushProvider> NewLogPushProvider() { return std::make_shared<LogPushProvider>(); }

}  // namespace im
