// Group operations of LogicCore: who may do what to a group.
#include "engine/logic_core.h"
#include "engine/validation.h"

namespace im {

Result<GroupMember> LogicCore::RequireMember(UserId actor, GroupId group) {
  auto m = store_->GetGroupMember(group, actor);
  if (m.ok()) return m;
  if (m.status().code() == StatusCode::kNotFound) {
    return Status::PermissionDenied("not a member of group " + std::to_string(group.value));
  }
  return m.status();
}

Result<Group> LogicCore::CreateGroup(UserId actor, const std::string& name, uint32_t max_members) {
  IM_RETURN_IF_ERROR(ValidateGroupName(name));
  if (max_members == 0) max_members = options_.default_max_group_members;
  if (max_members > options_.default_max_group_members) {
    return Status::InvalidArgument("max_members exceeds " + std::to_string(options_.default_max_group_members));
  }
  IM_RETURN_IF_ERROR(store_->GetUser(actor).status());
  return store_->CreateGroup(NewGroup{name, actor, max_members, options_.clock()});
}

Result<Group> LogicCore::GetGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(Group g, store_->GetGroup(group));
  if (g.dismissed) return Status::NotFound("group " + std::to_string(group.value) + " was dismissed");
  return g;
}

Status LogicCore::JoinGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(Group g, GetGroup(actor, group));
  IM_RETURN_IF_ERROR(store_->GetUser(actor).status());
  return store_->AddGroupMember(g.id, GroupMember{actor, GroupRole::kMember, options_.clock()});
}

Status LogicCore::LeaveGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role == GroupRole::kOwner) {
    return Status::FailedPrecondition("the owner cannot leave: transfer ownership or dismiss the group");
  }
  return store_->RemoveGroupMember(group, actor);
}

Status LogicCore::KickMember(UserId actor, GroupId group, UserId target) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (actor == target) return Status::InvalidArgument("use leave to remove yourself");
  auto them = store_->GetGroupMember(group, target);
  if (!them.ok())
    return them.status().code() == StatusCode::kNotFound ? Status::NotFound("not a member") : them.status();
  bool allowed = me.role == GroupRole::kOwner || (me.role == GroupRole::kAdmin && them->role == GroupRole::kMember);
  if (!allowed) return Status::PermissionDenied("only the owner, or an admin for plain members, may kick");
  return store_->RemoveGroupMember(group, target);
}

Status LogicCore::SetMemberRole(UserId actor, GroupId group, UserId target, GroupRole role) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role != GroupRole::kOwner) return Status::PermissionDenied("only the owner may change roles");
  if (role == GroupRole::kOwner) return Status::InvalidArgument("use transfer ownership to make an owner");
  if (actor == target) return Status::InvalidArgument("the owner's role changes only by transfer");
  return store_->SetGroupMemberRole(group, target, role);
}

Status LogicCore::TransferOwnership(UserId actor, GroupId group, UserId new_owner) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role != GroupRole::kOwner) return Status::PermissionDenied("only the owner may transfer ownership");
  if (actor == new_owner) return Status::InvalidArgument("already the owner");
  return store_->TransferGroupOwnership(group, actor, new_owner);
}

Status LogicCore::DismissGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role != GroupRole::kOwner) return Status::PermissionDenied("only the owner may dismiss the group");
  return store_->DismissGroup(group);
}

Result<std::vector<GroupMember>> LogicCore::ListMembers(UserId actor, GroupId group, UserId after, uint32_t limit) {
  IM_RETURN_IF_ERROR(RequireMember(actor, group).status());
  return store_->ListGroupMembers(group, after, ClampPage(limit));
}

}  // namespace im
