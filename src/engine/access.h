// Authorization of conversation reads and writes: the one place that decides who may touch a
// conversation.
#ifndef IM_SRC_ENGINE_ACCESS_H_
#define IM_SRC_ENGINE_ACCESS_H_

#include <optional>

#include "im/store.h"

namespace im {

struct ConversationAccess {
  std::optional<Group> group;  // set for group conversations
  std::optional<GroupMember> member;  // the actor's membership, for group conversations
};

// ok when `actor` may read and write `conversation`: a participant of a direct conversation whose
// peer exists, or a member of a live group. permission_denied otherwise (not_found for a group or
// peer that does not exist).
Result<ConversationAccess> CheckConversationAccess(Store& store, UserId actor, const ConversationId& conversation);

}  // namespace im

#endif  // IM_SRC_ENGINE_ACCESS_H_
