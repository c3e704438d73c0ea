#include "engine/access.h"

namespace im {

Result<ConversationAccess> CheckConversationAccess(Store& store, UserId actor, const ConversationId& c, AccessMode mode,
                                                   KnownUsers* known_users) {
  if (!c.valid()) return Status::InvalidArgument("conversation id is missing or malformed");
  ConversationAccess access;
  if (c.is_direct()) {
    if (!c.HasParticipant(actor)) return Status::PermissionDenied("not a participant of " + c.str());
    if (c.low_user() == c.high_user()) return Status::InvalidArgument("cannot message yourself");
    if (mode == AccessMode::kRead) return access;
    const UserId peer_id = c.PeerOf(actor);
    if (known_users != nullptr && known_users->Contains(peer_id)) return access;
    auto peer = store.GetUser(peer_id);
    if (!peer.ok()) {
      if (peer.status().code() == StatusCode::kNotFound) return Status::NotFound("no such user in " + c.str());
      return peer.status();
    }
    if (known_users != nullptr) known_users->Add(peer_id);
    return access;
  }
  auto member = store.GetGroupMember(c.group(), actor);
  if (!member.ok()) {
    if (member.status().code() != StatusCode::kNotFound) return member.status();
    // Outsiders get the same answer whether or not the group exists.
    return Status::PermissionDenied("not a member of " + c.str());
  }
  IM_ASSIGN_OR_RETURN(Group group, store.GetGroup(c.group()));
  if (group.dismissed) return Status::PermissionDenied("group was dismissed: " + c.str());
  access.group = std::move(group);
  access.member = std::move(member).value();
  return access;
}

}  // namespace im
