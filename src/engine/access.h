// Authorization of conversation reads and writes: the one place that decides who may touch a
// conversation.
#ifndef IM_SRC_ENGINE_ACCESS_H_
#define IM_SRC_ENGINE_ACCESS_H_

#include <optional>

#include "engine/known_users.h"
#include "im/store.h"

namespace im {

struct ConversationAccess {
  std::optional<Group> group;         // set for group conversations
  std::optional<GroupMember> member;  // the actor's membership, for group conversations
};

enum class AccessMode { kRead, kWrite };

// ok when `actor` may read (or write) `conversation`: a participant of a direct conversation, or
// a member of a live group. Writing to a direct conversation also needs the peer to exist
// (not_found otherwise); its history stays readable after the peer deleted their account.
// permission_denied for everyone else. With `known_users`, a peer found there is not read
// again, and a peer read from the store is added.
Result<ConversationAccess> CheckConversationAccess(Store& store, UserId actor, const ConversationId& conversation,
                                                   AccessMode mode, KnownUsers* known_users = nullptr);

// The highest seq the member of `access` may not read: their joined seq in a group whose history
// is visible from the join (HistoryVisibility::kJoined), else 0 (nothing hidden).
inline Seq HiddenSeqs(const ConversationAccess& access) {
  if (!access.group || !access.member) return 0;
  return access.group->history_visibility == HistoryVisibility::kJoined ? access.member->joined_seq : 0;
}

}  // namespace im

#endif  // IM_SRC_ENGINE_ACCESS_H_
