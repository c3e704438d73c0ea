// Offline-push operations of LogicCore: a user's device tokens and push settings.
#include <algorithm>

#include "engine/logic_core.h"

namespace im {
namespace {

constexpr size_t kMaxTokensPerUser = 20;

Status ValidateToken(PushPlatform platform, const std::string& token) {
  if (platform != PushPlatform::kApns && platform != PushPlatform::kFcm) {
    return Status::InvalidArgument("platform must be apns or fcm");
  }
  if (token.empty() || token.size() > 4096) return Status::InvalidArgument("device token must be 1..4096 bytes");
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e) return Status::InvalidArgument("device token must be printable ASCII without spaces");
  }
  return Status::Ok();
}

}  // namespace

Status LogicCore::RegisterDeviceToken(UserId actor, const DeviceToken& token) {
  IM_RETURN_IF_ERROR(ValidateToken(token.platform, token.token));
  if (token.device.size() > 64) return Status::InvalidArgument("device id must be at most 64 bytes");
  DeviceToken stored = token;
  stored.user = actor;
  stored.updated_at_ms = options_.clock();
  IM_RETURN_IF_ERROR(store_->PutDeviceToken(stored));
  // Bound what one account can make the push workers do: the oldest registrations go first.
  IM_ASSIGN_OR_RETURN(std::vector<DeviceToken> tokens, store_->ListDeviceTokens(actor));
  for (size_t i = 0; i + kMaxTokensPerUser < tokens.size(); ++i) {
    IM_RETURN_IF_ERROR(store_->DeleteDeviceToken(tokens[i].platform, tokens[i].token));
  }
  return Status::Ok();
}

Status LogicCore::UnregisterDeviceToken(UserId actor, PushPlatform platform, const std::string& token) {
  IM_RETURN_IF_ERROR(ValidateToken(platform, token));
  IM_ASSIGN_OR_RETURN(std::vector<DeviceToken> tokens, store_->ListDeviceTokens(actor));
  bool held = std::any_of(tokens.begin(), tokens.end(),
                          [&](const DeviceToken& t) { return t.platform == platform && t.token == token; });
  // Only the holder may remove a token: anyone else learns nothing about who holds it.
  if (!held) return Status::NotFound("no such device token registered for this user");
  return store_->DeleteDeviceToken(platform, token);
}

Result<std::vector<DeviceToken>> LogicCore::ListDeviceTokens(UserId actor) { return store_->ListDeviceTokens(actor); }

Result<PushSettings> LogicCore::GetPushSettings(UserId actor) { return store_->GetPushSettings(actor); }

Status LogicCore::SetPushSettings(UserId actor, const PushSettings& settings) {
  return store_->PutPushSettings(actor, settings);
}

}  // namespace im
