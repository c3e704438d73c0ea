// PushProvider: the offline-push seam (docs/search-and-push.md). When a new message reaches a recipient with
// no online session, the logic half produces a push task (type im.push); the task half loads the
// recipient's device tokens and push settings and hands one PushNotification per token to the
// provider for the token's platform. Providers: APNs and FCM (im/push_providers.h, im::http), and
// the log provider below when none is configured.
#ifndef IM_PUSH_H_
#define IM_PUSH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/ids.h"
#include "im/model.h"

namespace im {

struct PushNotification {
  PushPlatform platform = PushPlatform::kApns;
  std::string token;
  std::string title;  // the sender's display name (a group: "<sender> · <group name>")
  std::string body;   // the text, or "New message" when the recipient turned previews off
  std::string conversation_id;
  MessageId message_id;  // also the collapse id: a repeated push replaces the first
  Seq seq = 0;
  std::string trace_id;
};

struct PushResult {
  enum class Kind {
    kDelivered,     // accepted by the service
    kInvalidToken,  // the token is dead (APNs 410 / BadDeviceToken, FCM UNREGISTERED): forget it
    kRetry,         // 429 or 5xx or a network error: try again, not before retry_after_ms
    kRejected,      // the request itself is wrong (4xx): retrying will not help
  };
  Kind kind = Kind::kDelivered;
  int http_status = 0;     // 0 when no response was received
  std::string reason;      // the service's reason, or the transport error
  int64_t retry_after_ms = 0;
};

class PushProvider {
 public:
  virtual ~PushProvider() = default;
  // Sends one notification; blocks for at most the provider's timeout. Thread-safe.
  virtual PushResult Send(const PushNotification& notification) = 0;
};

// Logs each notification (token shortened) and reports it delivered.
std::shared_ptr<PushProvider> NewLogPushProvider();

}  // namespace im

#endif  // IM_PUSH_H_
