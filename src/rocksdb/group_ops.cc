// RocksDbStore: groups and their members. Every mutation is a heavy job (between a savepoint
// and its release), so a check that fails after an earlier write leaves nothing behind.
#include <algorithm>
#include <limits>
#include <string>

#include "rocksdb/rocksdb_store_impl.h"
#include "rocksdb/scan.h"

namespace im::rocks {
namespace {

std::string GroupName(GroupId g) { return "group " + std::to_string(g.value); }
std::string UserName(UserId u) { return "user " + std::to_string(u.value); }

GroupMember ToMember(UserId user, const MemberRecord& r) {
  return GroupMember{user, r.role, r.joined_at_ms, r.joined_seq};
}

}  // namespace

Status RocksDbStore::LoadGroup(GroupId group, GroupRecord* row) {
  const std::string key = GroupKey(group);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(w().Get(Cf::kGroups, key, &value, &found));
  if (!found) return Status::NotFound(GroupName(group) + " does not exist");
  if (!DecodeGroup(value, row)) return CorruptValue(Cf::kGroups, key);
  return Status::Ok();
}

Status RocksDbStore::PutGroup(GroupId group, const GroupRecord& row) {
  std::string value;
  EncodeGroup(row, &value);
  return w().Put(Cf::kGroups, GroupKey(group), value);
}

Status RocksDbStore::LoadMember(GroupId group, UserId user, MemberRecord* member) {
  const std::string key = MemberKey(group, user);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(w().Get(Cf::kMembers, key, &value, &found));
  if (!found) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
  if (!DecodeMember(value, member)) return CorruptValue(Cf::kMembers, key);
  return Status::Ok();
}

Status RocksDbStore::PutMember(GroupId group, UserId user, const MemberRecord& member) {
  std::string value;
  EncodeMember(member, &value);
  IM_RETURN_IF_ERROR(w().Put(Cf::kMembers, MemberKey(group, user), value));
  return w().Put(Cf::kMembers, UserGroupKey(user, group), "");
}

Status RocksDbStore::DeleteMember(GroupId group, UserId user) {
  IM_RETURN_IF_ERROR(w().Delete(Cf::kMembers, MemberKey(group, user)));
  IM_RETURN_IF_ERROR(w().Delete(Cf::kMembers, UserGroupKey(user, group)));
  return RemoveListRow(user, ConversationId::Group(group).str());
}

Status RocksDbStore::AddListRow(UserId user, const std::string& conversation, Seq read_seq) {
  const std::string key = ListKey(user, conversation);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(w().Get(Cf::kConversations, key, &value, &found));
  if (found) {
    Seq current = 0;
    if (!DecodeReadSeq(value, &current)) return CorruptValue(Cf::kConversations, key);
    if (current >= read_seq) return Status::Ok();
  }
  EncodeReadSeq(read_seq, &value);
  return w().Put(Cf::kConversations, key, value);
}

Status RocksDbStore::RemoveListRow(UserId user, const std::string& conversation) {
  return w().Delete(Cf::kConversations, ListKey(user, conversation));
}

Result<Group> RocksDbStore::CreateGroup(const NewGroup& group) {
  if (!group.owner.valid()) return Status::InvalidArgument("rocksdb store: invalid group owner");
  Group created{GroupId(),
                group.name,
                group.owner,
                1,
                group.max_members,
                false,
                group.created_at_ms,
                group.join_policy,
                group.history_visibility};
  Status s = Write([&]() -> Status {
    IM_ASSIGN_OR_RETURN(created.id, w().NextGroupId());
    IM_RETURN_IF_ERROR(
        PutGroup(created.id, GroupRecord{group.name, group.owner, 1, group.max_members, false, group.created_at_ms,
                                         group.join_policy, group.history_visibility}));
    IM_RETURN_IF_ERROR(PutMember(created.id, group.owner, MemberRecord{GroupRole::kOwner, group.created_at_ms}));
    // The group's conversation is listed from creation, its activity starting then. The cached
    // head changes last, after every other step succeeded.
    const std::string conversation = ConversationId::Group(created.id).str();
    IM_RETURN_IF_ERROR(AddListRow(group.owner, conversation, 0));
    Writer::Head* head = nullptr;
    IM_RETURN_IF_ERROR(w().LoadHead(conversation, &head));
    head->record.last_activity_ms = std::max(head->record.last_activity_ms, group.created_at_ms);
    w().MarkDirty(*head);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return created;
}

Result<Group> RocksDbStore::GetGroup(GroupId id) {
  const std::string key = GroupKey(id);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kGroups, key, &value, &found));
  if (!found) return Status::NotFound(GroupName(id) + " does not exist");
  GroupRecord r;
  if (!DecodeGroup(value, &r)) return CorruptValue(Cf::kGroups, key);
  return Group{id,          std::move(r.name), r.owner,       r.member_count,      r.max_members,
               r.dismissed, r.created_at_ms,   r.join_policy, r.history_visibility};
}

Status RocksDbStore::AddGroupMember(GroupId group, const GroupMember& member) {
  if (!member.user.valid()) return Status::InvalidArgument("rocksdb store: invalid member");
  if (member.role == GroupRole::kOwner) {
    return Status::InvalidArgument("rocksdb store: a group has one owner (use TransferGroupOwnership)");
  }
  return Write([&]() -> Status {
    GroupRecord row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    MemberRecord existing;
    Status is_member = LoadMember(group, member.user, &existing);
    if (is_member.ok()) {
      return Status::AlreadyExists(UserName(member.user) + " is already a member of " + GroupName(group));
    }
    if (is_member.code() != StatusCode::kNotFound) return is_member;
    if (row.member_count >= row.max_members) return Status::ResourceExhausted(GroupName(group) + " is full");
    bool banned = false;
    IM_RETURN_IF_ERROR(HasRelation(group, member.user, GroupRelationKind::kBan, &banned));
    if (banned) return Status::FailedPrecondition(UserName(member.user) + " is banned from " + GroupName(group));
    // A new member starts with nothing unread: history before the join is not "new" to them, and
    // with history visible from the join it is not theirs to read.
    const std::string conversation = ConversationId::Group(group).str();
    Writer::Head* head = nullptr;
    IM_RETURN_IF_ERROR(w().LoadHead(conversation, &head));
    const Seq last_seq = head->record.last_seq;
    IM_RETURN_IF_ERROR(PutMember(group, member.user, MemberRecord{member.role, member.joined_at_ms, last_seq}));
    row.member_count++;
    IM_RETURN_IF_ERROR(PutGroup(group, row));
    IM_RETURN_IF_ERROR(EraseRelation(group, member.user, GroupRelationKind::kInvitation));
    IM_RETURN_IF_ERROR(EraseRelation(group, member.user, GroupRelationKind::kJoinRequest));
    return AddListRow(member.user, conversation, last_seq);
  });
}

Status RocksDbStore::RemoveGroupMember(GroupId group, UserId user) {
  return Write([&]() -> Status {
    GroupRecord row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    MemberRecord member;
    IM_RETURN_IF_ERROR(LoadMember(group, user, &member));
    if (member.role == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner of " + GroupName(group) + " cannot leave it (transfer first)");
    }
    IM_RETURN_IF_ERROR(DeleteMember(group, user));
    if (row.member_count > 0) row.member_count--;
    return PutGroup(group, row);
  });
}

Result<GroupMember> RocksDbStore::GetGroupMember(GroupId group, UserId user) {
  const std::string key = MemberKey(group, user);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kMembers, key, &value, &found));
  if (!found) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
  MemberRecord r;
  if (!DecodeMember(value, &r)) return CorruptValue(Cf::kMembers, key);
  return ToMember(user, r);
}

Status RocksDbStore::SetGroupMemberRole(GroupId group, UserId user, GroupRole role) {
  if (role == GroupRole::kOwner) {
    return Status::InvalidArgument("rocksdb store: ownership changes through TransferGroupOwnership");
  }
  return Write([&]() -> Status {
    MemberRecord member;
    IM_RETURN_IF_ERROR(LoadMember(group, user, &member));
    if (member.role == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner's role changes only by transferring ownership");
    }
    member.role = role;
    return PutMember(group, user, member);
  });
}

Status RocksDbStore::TransferGroupOwnership(GroupId group, UserId from, UserId to) {
  if (from == to) return Status::InvalidArgument("rocksdb store: ownership transfer to the current owner");
  return Write([&]() -> Status {
    GroupRecord row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    if (row.owner != from) return Status::FailedPrecondition(UserName(from) + " does not own " + GroupName(group));
    MemberRecord new_owner;
    IM_RETURN_IF_ERROR(LoadMember(group, to, &new_owner));
    MemberRecord old_owner;
    IM_RETURN_IF_ERROR(LoadMember(group, from, &old_owner));
    new_owner.role = GroupRole::kOwner;
    old_owner.role = GroupRole::kAdmin;
    IM_RETURN_IF_ERROR(PutMember(group, to, new_owner));
    IM_RETURN_IF_ERROR(PutMember(group, from, old_owner));
    row.owner = to;
    return PutGroup(group, row);
  });
}

Status RocksDbStore::DismissGroup(GroupId group) {
  return Write([&]() -> Status {
    GroupRecord row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::Ok();  // idempotent
    std::vector<UserId> members;
    {
      PrefixScan scan(MemberPrefix(group));
      w().Start(scan, Cf::kMembers);
      for (; scan.Valid(); scan.Next()) {
        if (scan.suffix().size() != 8) return CorruptValue(Cf::kMembers, scan.key());
        members.emplace_back(static_cast<int64_t>(ReadU64(scan.suffix().data())));
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan members");
    }
    for (UserId user : members) IM_RETURN_IF_ERROR(DeleteMember(group, user));
    row.dismissed = true;
    row.member_count = 0;
    return PutGroup(group, row);
  });
}

Result<std::vector<GroupMember>> RocksDbStore::ListGroupMembers(GroupId group, UserId after, uint32_t limit) {
  ReadView view(db_.get());
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kGroups, GroupKey(group), &value, &found));
  if (!found) return Status::NotFound(GroupName(group) + " does not exist");
  std::vector<GroupMember> members;
  if (limit == 0 || after.value == std::numeric_limits<int64_t>::max()) return members;
  PrefixScan scan(MemberPrefix(group), view.snapshot());
  // Users are positive ids: the first key after `after` is after + 1.
  Start(scan, Cf::kMembers, MemberKey(group, UserId(std::max<int64_t>(after.value, 0) + 1)));
  for (; scan.Valid() && members.size() < limit; scan.Next()) {
    MemberRecord r;
    if (scan.suffix().size() != 8 || !DecodeMember(scan.value(), &r)) return CorruptValue(Cf::kMembers, scan.key());
    members.push_back(ToMember(UserId(static_cast<int64_t>(ReadU64(scan.suffix().data()))), r));
  }
  if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list group members");
  return members;
}

// ---- group policy ----

Status RocksDbStore::HasRelation(GroupId group, UserId user, GroupRelationKind kind, bool* found) {
  std::string value;
  return w().Get(Cf::kMembers, RelationKey(group, kind, user), &value, found);
}

Status RocksDbStore::EraseRelation(GroupId group, UserId user, GroupRelationKind kind, bool* erased) {
  bool found = false;
  IM_RETURN_IF_ERROR(HasRelation(group, user, kind, &found));
  if (erased != nullptr) *erased = found;
  if (!found) return Status::Ok();
  IM_RETURN_IF_ERROR(w().Delete(Cf::kMembers, RelationKey(group, kind, user)));
  return w().Delete(Cf::kMembers, UserRelationKey(user, kind, group));
}

Status RocksDbStore::UpdateGroupSettings(GroupId group, const GroupSettings& settings) {
  return Write([&]() -> Status {
    GroupRecord row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    row.join_policy = settings.join_policy;
    row.history_visibility = settings.history_visibility;
    return PutGroup(group, row);
  });
}

Status RocksDbStore::PutGroupRelation(const GroupRelation& r) {
  return Write([&]() -> Status {
    if (r.kind == GroupRelationKind::kBan) {
      MemberRecord member;
      Status is_member = LoadMember(r.group, r.user, &member);
      if (is_member.ok()) {
        if (member.role == GroupRole::kOwner) {
          return Status::FailedPrecondition("the owner of " + GroupName(r.group) + " cannot be banned");
        }
        GroupRecord row;
        IM_RETURN_IF_ERROR(LoadGroup(r.group, &row));
        IM_RETURN_IF_ERROR(DeleteMember(r.group, r.user));
        if (row.member_count > 0) row.member_count--;
        IM_RETURN_IF_ERROR(PutGroup(r.group, row));
      } else if (is_member.code() != StatusCode::kNotFound) {
        return is_member;
      }
      IM_RETURN_IF_ERROR(EraseRelation(r.group, r.user, GroupRelationKind::kInvitation));
      IM_RETURN_IF_ERROR(EraseRelation(r.group, r.user, GroupRelationKind::kJoinRequest));
    } else {
      bool banned = false;
      IM_RETURN_IF_ERROR(HasRelation(r.group, r.user, GroupRelationKind::kBan, &banned));
      if (banned) return Status::FailedPrecondition(UserName(r.user) + " is banned from " + GroupName(r.group));
    }
    std::string value;
    EncodeRelation(RelationRecord{r.actor, r.created_at_ms}, &value);
    IM_RETURN_IF_ERROR(w().Put(Cf::kMembers, RelationKey(r.group, r.kind, r.user), value));
    return w().Put(Cf::kMembers, UserRelationKey(r.user, r.kind, r.group), "");
  });
}

Result<GroupRelation> RocksDbStore::GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  const std::string key = RelationKey(group, kind, user);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kMembers, key, &value, &found));
  if (!found) return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
  RelationRecord r;
  if (!DecodeRelation(value, &r)) return CorruptValue(Cf::kMembers, key);
  return GroupRelation{group, user, kind, r.actor, r.created_at_ms};
}

Status RocksDbStore::DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  return Write([&]() -> Status {
    bool erased = false;
    IM_RETURN_IF_ERROR(EraseRelation(group, user, kind, &erased));
    if (!erased) return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
    return Status::Ok();
  });
}

Result<std::vector<GroupRelation>> RocksDbStore::ListGroupRelations(GroupId group, GroupRelationKind kind, UserId after,
                                                                    uint32_t limit) {
  std::vector<GroupRelation> out;
  if (limit == 0 || after.value == std::numeric_limits<int64_t>::max()) return out;
  PrefixScan scan(RelationPrefix(group, kind));
  Start(scan, Cf::kMembers, RelationKey(group, kind, UserId(std::max<int64_t>(after.value, 0) + 1)));
  for (; scan.Valid() && out.size() < limit; scan.Next()) {
    RelationRecord r;
    if (scan.suffix().size() != 8 || !DecodeRelation(scan.value(), &r)) {
      return CorruptValue(Cf::kMembers, scan.key());
    }
    UserId user(static_cast<int64_t>(ReadU64(scan.suffix().data())));
    out.push_back(GroupRelation{group, user, kind, r.actor, r.created_at_ms});
  }
  if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list group relations");
  return out;
}

Result<std::vector<GroupRelation>> RocksDbStore::ListUserGroupRelations(UserId user, GroupRelationKind kind,
                                                                        GroupId after, uint32_t limit) {
  std::vector<GroupRelation> out;
  if (limit == 0 || after.value == std::numeric_limits<int64_t>::max()) return out;
  std::vector<GroupId> groups;
  ReadView view(db_.get());
  {
    PrefixScan scan(UserRelationPrefix(user, kind), view.snapshot());
    Start(scan, Cf::kMembers, UserRelationKey(user, kind, GroupId(std::max<int64_t>(after.value, 0) + 1)));
    for (; scan.Valid() && groups.size() < limit; scan.Next()) {
      if (scan.suffix().size() != 8) return CorruptValue(Cf::kMembers, scan.key());
      groups.emplace_back(static_cast<int64_t>(ReadU64(scan.suffix().data())));
    }
    if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: list user group relations");
  }
  for (GroupId g : groups) {
    const std::string key = RelationKey(g, kind, user);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kMembers, key, &value, &found));
    RelationRecord r;
    if (!found || !DecodeRelation(value, &r)) return CorruptValue(Cf::kMembers, key);
    out.push_back(GroupRelation{g, user, kind, r.actor, r.created_at_ms});
  }
  return out;
}

}  // namespace im::rocks
