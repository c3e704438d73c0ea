// The default bodies of Store methods added after 1.0: an adapter written against an older
// header keeps compiling and reports the feature as unsupported, or (AppendMessages) gets the
// behaviour built from the methods it has.
#include "im/store.h"

namespace im {
namespace {
Status Unsupported(const char* what) { return Status::NotSupported(std::string("this store does not keep ") + what); }
}  // namespace

Status Store::PutDeviceToken(const DeviceToken&) { return Unsupported("device tokens"); }
Status Store::DeleteDeviceToken(PushPlatform, const std::string&) { return Unsupported("device tokens"); }
Result<std::vector<DeviceToken>> Store::ListDeviceTokens(UserId) { return Unsupported("device tokens"); }
Result<PushSettings> Store::GetPushSettings(UserId) { return Unsupported("push settings"); }
Status Store::PutPushSettings(UserId, const PushSettings&) { return Unsupported("push settings"); }
Status Store::UpdateGroupSettings(GroupId, const GroupSettings&) { return Unsupported("group settings"); }
Status Store::PutGroupRelation(const GroupRelation&) { return Unsupported("group invitations, requests or bans"); }
Result<GroupRelation> Store::GetGroupRelation(GroupId, UserId, GroupRelationKind) {
  return Unsupported("group invitations, requests or bans");
}
Status Store::DeleteGroupRelation(GroupId, UserId, GroupRelationKind) {
  return Unsupported("group invitations, requests or bans");
}
Result<std::vector<GroupRelation>> Store::ListGroupRelations(GroupId, GroupRelationKind, UserId, uint32_t) {
  return Unsupported("group invitations, requests or bans");
}
Result<std::vector<GroupRelation>> Store::ListUserGroupRelations(UserId, GroupRelationKind, GroupId, uint32_t) {
  return Unsupported("group invitations, requests or bans");
}
Result<int64_t> Store::AddDeadLetter(const DeadLetter&) { return Unsupported("dead letters"); }
Result<std::vector<DeadLetter>> Store::ListDeadLetters(int64_t, uint32_t) { return Unsupported("dead letters"); }
Result<DeadLetter> Store::GetDeadLetter(int64_t) { return Unsupported("dead letters"); }
Status Store::DeleteDeadLetter(int64_t) { return Unsupported("dead letters"); }
Result<uint64_t> Store::PruneRefreshTokens(TimestampMs) { return Unsupported("expired refresh tokens to prune"); }

std::vector<Result<AppendResult>> Store::AppendMessages(std::span<const NewMessage> messages) {
  std::vector<Result<AppendResult>> results;
  results.reserve(messages.size());
  for (const NewMessage& m : messages) results.push_back(AppendMessage(m));
  return results;
}

}  // namespace im
