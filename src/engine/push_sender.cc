#include "engine/push_sender.h"

#include <algorithm>

#include "common/log.h"
#include "common/metrics.h"

namespace im {
namespace {

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "\u2026";
}

}  // namespace

PushSender::PushSender(std::shared_ptr<Store> store, std::shared_ptr<PushProvider> apns,
                       std::shared_ptr<PushProvider> fcm)
    : store_(std::move(store)),
      apns_(apns ? std::move(apns) : NewLogPushProvider()),
      fcm_(fcm ? std::move(fcm) : NewLogPushProvider()) {}

Task PushSender::MakeTask(const v1::Message& message, UserId recipient) {
  v1::PushTask task;
  *task.mutable_message() = message;
  task.set_recipient_id(recipient.value);
  return Task{std::string(kTaskType), message.conversation_id(), task.SerializeAsString()};
}

Result<PushNotification> PushSender::Compose(const v1::Message& message, const PushSettings& settings) {
  PushNotification n;
  n.conversation_id = message.conversation_id();
  n.message_id = MessageId(message.id());
  n.seq = message.seq();
  n.trace_id = log::CurrentTrace();
  auto sender = store_->GetUser(UserId(message.sender_id()));
  if (sender.ok()) {
    n.title = sender->display_name.empty() ? sender->username : sender->display_name;
  } else if (sender.status().code() == StatusCode::kNotFound) {
    n.title = "Someone";  // the sender deleted their account since
  } else {
    return sender.status();
  }
  auto conversation = ConversationId::Parse(message.conversation_id());
  if (conversation && conversation->is_group()) {
    auto group = store_->GetGroup(conversation->group());
    if (!group.ok() && group.status().code() != StatusCode::kNotFound) return group.status();
    if (group.ok()) n.title += " \u00b7 " + group->name;
  }
  bool text = message.type() == v1::CONTENT_TYPE_TEXT;
  n.body = settings.show_preview && text ? Truncate(message.content(), kMaxBodyBytes) : "New message";
  return n;
}

TaskOutcome PushSender::Process(const Task& task) {
  v1::PushTask in;
  if (!in.ParseFromString(task.payload) || !in.has_message()) {
    return Status::InvalidArgument("malformed im.push payload");
  }
  UserId recipient(in.recipient_id());
  IM_ASSIGN_OR_RETURN(PushSettings settings, store_->GetPushSettings(recipient));
  if (settings.muted) return Status::Ok();
  IM_ASSIGN_OR_RETURN(std::vector<DeviceToken> tokens, store_->ListDeviceTokens(recipient));
  if (in.only_size() > 0) {
    // A retry reaches only the devices that failed before (and are still registered).
    std::erase_if(tokens, [&](const DeviceToken& t) {
      return std::none_of(in.only().begin(), in.only().end(), [&](const v1::PushDevice& d) {
        return d.platform() == static_cast<int>(t.platform) && d.token() == t.token;
      });
    });
  }
  if (tokens.empty()) return Status::Ok();
  IM_ASSIGN_OR_RETURN(PushNotification notification, Compose(in.message(), settings));

  auto& m = metrics::Default();
  v1::PushTask again = in;  // the next attempt: the devices to retry
  again.clear_only();
  int retry = 0;
  int64_t retry_after_ms = 0;
  std::string last_reason;
  for (const DeviceToken& t : tokens) {
    notification.platform = t.platform;
    notification.token = t.token;
    PushProvider& provider = t.platform == PushPlatform::kFcm ? *fcm_ : *apns_;
    PushResult r = provider.Send(notification);
    switch (r.kind) {
      case PushResult::Kind::kDelivered:
        m.push_delivered.Add();
        break;
      case PushResult::Kind::kInvalidToken:
        m.push_invalid_tokens.Add();
        log::Info("push.token_removed", {{"user", recipient.value}, {"status", r.http_status}, {"reason", r.reason}});
        IM_RETURN_IF_ERROR(store_->DeleteDeviceToken(t.platform, t.token));
        break;
      case PushResult::Kind::kRejected:
        m.push_rejected.Add();
        log::Warn("push.rejected", {{"user", recipient.value}, {"status", r.http_status}, {"reason", r.reason}});
        break;
      case PushResult::Kind::kRetry:
        m.push_retries.Add();
        ++retry;
        v1::PushDevice* device = again.add_only();
        device->set_platform(static_cast<int>(t.platform));
        device->set_token(t.token);
        retry_after_ms = std::max(retry_after_ms, r.retry_after_ms);
        last_reason = r.http_status == 0 ? r.reason : "HTTP " + std::to_string(r.http_status) + " " + r.reason;
        break;
    }
  }
  if (retry == 0) return Status::Ok();
  TaskOutcome outcome(Status::Unavailable(std::to_string(retry) + " of " + std::to_string(tokens.size()) +
                                          " pushes must be retried: " + last_reason),
                      retry_after_ms);
  outcome.retry_payload = again.SerializeAsString();
  return outcome;
}

}  // namespace im
