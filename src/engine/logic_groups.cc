// Group operations of LogicCore: who may do what to a group (docs/architecture.md "Group policy").
#include "engine/logic_core.h"
#include "engine/validation.h"

namespace im {
namespace {

std::string GroupText(GroupId g) { return "group " + std::to_string(g.value); }

bool IsManager(const GroupMember& m) { return m.role == GroupRole::kOwner || m.role == GroupRole::kAdmin; }

// not_found from the store becomes `absent`; other errors pass through.
Status NotFoundAs(const Status& s, Status absent) { return s.code() == StatusCode::kNotFound ? std::move(absent) : s; }

}  // namespace

Result<GroupMember> LogicCore::RequireMember(UserId actor, GroupId group) {
  auto m = store_->GetGroupMember(group, actor);
  if (m.ok()) return m;
  if (m.status().code() == StatusCode::kNotFound) {
    return Status::PermissionDenied("not a member of group " + std::to_string(group.value));
  }
  return m.status();
}

Result<GroupMember> LogicCore::RequireManager(UserId actor, GroupId group, const char* what) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (!IsManager(me)) return Status::PermissionDenied(std::string("only the owner or an admin may ") + what);
  return me;
}

Result<Group> LogicCore::LiveGroup(GroupId group) {
  // One message for a missing, dismissed or hidden group, so that the answer tells nothing apart.
  Status absent = Status::NotFound("no such group: " + std::to_string(group.value));
  auto g = store_->GetGroup(group);
  if (!g.ok()) return NotFoundAs(g.status(), absent);
  if (g->dismissed) return absent;
  return g;
}

Result<Seq> LogicCore::HiddenThrough(UserId actor, const ConversationId& conversation) {
  if (!conversation.is_group()) return Seq{0};
  IM_ASSIGN_OR_RETURN(ConversationAccess access,
                      CheckConversationAccess(*store_, actor, conversation, AccessMode::kRead));
  return HiddenSeqs(access);
}

Result<Group> LogicCore::CreateGroup(UserId actor, const std::string& name, uint32_t max_members,
                                     const GroupSettings& settings) {
  IM_RETURN_IF_ERROR(ValidateGroupName(name));
  IM_RETURN_IF_ERROR(ValidateGroupSettings(settings));
  if (max_members == 0) max_members = options_.default_max_group_members;
  if (max_members > options_.default_max_group_members) {
    return Status::InvalidArgument("max_members exceeds " + std::to_string(options_.default_max_group_members));
  }
  IM_RETURN_IF_ERROR(store_->GetUser(actor).status());
  return store_->CreateGroup(
      NewGroup{name, actor, max_members, options_.clock(), settings.join_policy, settings.history_visibility});
}

Result<Group> LogicCore::GetGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(Group g, LiveGroup(group));
  if (g.join_policy != JoinPolicy::kInvite) return g;  // open and approval groups show their profile
  auto member = store_->GetGroupMember(group, actor);
  if (member.ok()) return g;
  if (member.status().code() != StatusCode::kNotFound) return member.status();
  auto invited = store_->GetGroupRelation(group, actor, GroupRelationKind::kInvitation);
  if (invited.ok()) return g;
  if (invited.status().code() != StatusCode::kNotFound) return invited.status();
  return Status::NotFound("no such group: " + std::to_string(group.value));  // as LiveGroup words it
}

Status LogicCore::JoinGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(Group g, LiveGroup(group));
  Status absent = Status::NotFound("no such group: " + std::to_string(group.value));
  auto member = store_->GetGroupMember(group, actor);
  if (member.ok()) return Status::AlreadyExists("already a member of " + GroupText(group));
  if (member.status().code() != StatusCode::kNotFound) return member.status();
  auto invited = store_->GetGroupRelation(group, actor, GroupRelationKind::kInvitation);
  if (!invited.ok() && invited.status().code() != StatusCode::kNotFound) return invited.status();
  if (!invited.ok()) {
    auto banned = store_->GetGroupRelation(group, actor, GroupRelationKind::kBan);
    if (!banned.ok() && banned.status().code() != StatusCode::kNotFound) return banned.status();
    if (g.join_policy == JoinPolicy::kInvite) return absent;
    if (banned.ok()) return Status::PermissionDenied("banned from " + GroupText(group));
    if (g.join_policy == JoinPolicy::kApproval) {
      return Status::PermissionDenied(GroupText(group) + " admits members by approval: send a join request");
    }
  }
  IM_RETURN_IF_ERROR(store_->GetUser(actor).status());
  Status added = store_->AddGroupMember(g.id, GroupMember{actor, GroupRole::kMember, options_.clock()});
  if (added.code() == StatusCode::kFailedPrecondition) {
    // Banned or dismissed between the checks and the write.
    return g.join_policy == JoinPolicy::kInvite ? absent : Status::PermissionDenied("cannot join " + GroupText(group));
  }
  return added;
}

Status LogicCore::RequestToJoin(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(Group g, GetGroup(actor, group));  // hidden groups are not_found
  auto member = store_->GetGroupMember(group, actor);
  if (member.ok()) return Status::AlreadyExists("already a member of " + GroupText(group));
  if (member.status().code() != StatusCode::kNotFound) return member.status();
  auto invited = store_->GetGroupRelation(group, actor, GroupRelationKind::kInvitation);
  if (invited.ok()) return Status::FailedPrecondition("invited to " + GroupText(group) + ": join to accept");
  if (invited.status().code() != StatusCode::kNotFound) return invited.status();
  auto banned = store_->GetGroupRelation(group, actor, GroupRelationKind::kBan);
  if (banned.ok()) return Status::PermissionDenied("banned from " + GroupText(group));
  if (banned.status().code() != StatusCode::kNotFound) return banned.status();
  if (g.join_policy == JoinPolicy::kOpen) return Status::FailedPrecondition(GroupText(group) + " is open: join it");
  auto pending = store_->GetGroupRelation(group, actor, GroupRelationKind::kJoinRequest);
  if (pending.ok()) return Status::Ok();  // asking again changes nothing
  if (pending.status().code() != StatusCode::kNotFound) return pending.status();
  Status put =
      store_->PutGroupRelation(GroupRelation{group, actor, GroupRelationKind::kJoinRequest, actor, options_.clock()});
  if (put.code() == StatusCode::kFailedPrecondition) return Status::PermissionDenied("banned from " + GroupText(group));
  return put;
}

Status LogicCore::LeaveGroup(UserId actor, GroupId group) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role == GroupRole::kOwner) {
    return Status::FailedPrecondition("the owner cannot leave: transfer ownership or dismiss the group");
  }
  return store_->RemoveGroupMember(group, actor);
}

Status LogicCore::KickMember(UserId actor, GroupId group, UserId target, bool ban) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (actor == target) return Status::InvalidArgument("use leave to remove yourself");
  auto them = store_->GetGroupMember(group, target);
  if (!them.ok() && them.status().code() != StatusCode::kNotFound) return them.status();
  if (!them.ok() && !ban) return Status::NotFound("not a member");
  if (!them.ok()) {
    // Banning someone who is not a member (a requester, a former member, anyone).
    if (!IsManager(me)) return Status::PermissionDenied("only the owner or an admin may ban");
    IM_RETURN_IF_ERROR(NotFoundAs(store_->GetUser(target).status(), Status::NotFound("no such user")));
  } else {
    bool allowed = me.role == GroupRole::kOwner || (me.role == GroupRole::kAdmin && them->role == GroupRole::kMember);
    if (!allowed) return Status::PermissionDenied("only the owner, or an admin for plain members, may kick");
  }
  if (!ban) return store_->RemoveGroupMember(group, target);
  return store_->PutGroupRelation(GroupRelation{group, target, GroupRelationKind::kBan, actor, options_.clock()});
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

Result<Group> LogicCore::UpdateGroupSettings(UserId actor, GroupId group, const GroupSettings& settings) {
  IM_ASSIGN_OR_RETURN(GroupMember me, RequireMember(actor, group));
  if (me.role != GroupRole::kOwner) return Status::PermissionDenied("only the owner may change the group's settings");
  IM_RETURN_IF_ERROR(ValidateGroupSettings(settings));
  IM_RETURN_IF_ERROR(store_->UpdateGroupSettings(group, settings));
  return store_->GetGroup(group);
}

Status LogicCore::InviteMember(UserId actor, GroupId group, UserId invitee) {
  IM_RETURN_IF_ERROR(RequireManager(actor, group, "invite").status());
  IM_RETURN_IF_ERROR(NotFoundAs(store_->GetUser(invitee).status(), Status::NotFound("no such user")));
  auto member = store_->GetGroupMember(group, invitee);
  if (member.ok()) return Status::AlreadyExists("already a member of " + GroupText(group));
  if (member.status().code() != StatusCode::kNotFound) return member.status();
  Status put =
      store_->PutGroupRelation(GroupRelation{group, invitee, GroupRelationKind::kInvitation, actor, options_.clock()});
  if (put.code() == StatusCode::kFailedPrecondition) {
    return Status::FailedPrecondition("the user is banned from " + GroupText(group) + ": unban them first");
  }
  return put;
}

Status LogicCore::ApproveJoinRequest(UserId actor, GroupId group, UserId requester) {
  IM_RETURN_IF_ERROR(RequireManager(actor, group, "approve join requests").status());
  IM_RETURN_IF_ERROR(NotFoundAs(store_->GetGroupRelation(group, requester, GroupRelationKind::kJoinRequest).status(),
                                Status::NotFound("no pending join request from that user")));
  Status added = store_->AddGroupMember(group, GroupMember{requester, GroupRole::kMember, options_.clock()});
  if (added.code() == StatusCode::kAlreadyExists) {
    (void)store_->DeleteGroupRelation(group, requester, GroupRelationKind::kJoinRequest);
  }
  return added;
}

Status LogicCore::RemoveGroupRelation(UserId actor, GroupId group, UserId user, GroupRelationKind kind) {
  const char* what = kind == GroupRelationKind::kInvitation    ? "invitation"
                     : kind == GroupRelationKind::kJoinRequest ? "join request"
                     : kind == GroupRelationKind::kBan         ? "ban"
                                                               : nullptr;
  if (what == nullptr) return Status::InvalidArgument("unknown group relation kind");
  Status absent = Status::NotFound(std::string("no such ") + what);
  // The invitee declines and the requester withdraws their own; nobody lifts their own ban.
  if (!(actor == user && kind != GroupRelationKind::kBan)) {
    IM_RETURN_IF_ERROR(RequireManager(actor, group,
                                      kind == GroupRelationKind::kBan          ? "unban"
                                      : kind == GroupRelationKind::kInvitation ? "revoke invitations"
                                                                               : "reject join requests")
                           .status());
  }
  return NotFoundAs(store_->DeleteGroupRelation(group, user, kind), absent);
}

Result<std::vector<GroupRelation>> LogicCore::ListGroupRelations(UserId actor, GroupId group, GroupRelationKind kind,
                                                                 UserId after, uint32_t limit) {
  IM_RETURN_IF_ERROR(RequireManager(actor, group, "list invitations, join requests and bans").status());
  return store_->ListGroupRelations(group, kind, after, ClampPage(limit));
}

Result<std::vector<GroupRelation>> LogicCore::ListInvitations(UserId actor, GroupId after, uint32_t limit) {
  // Invitations to groups dismissed since stay on the list (joining them is not_found): dropping
  // them here would make a short page look like the last one.
  return store_->ListUserGroupRelations(actor, GroupRelationKind::kInvitation, after, ClampPage(limit));
}

}  // namespace im
