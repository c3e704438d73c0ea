// SqliteStore: groups and their members. Every mutation is a heavy job (own SAVEPOINT), so a
// check that fails after an earlier statement leaves nothing behind.
#include <algorithm>
#include <string>

#include "sqlite/sqlite_store_impl.h"

namespace im::sqlite {
namespace {

std::string GroupName(GroupId g) { return "group " + std::to_string(g.value); }
std::string UserName(UserId u) { return "user " + std::to_string(u.value); }

}  // namespace

Status SqliteStore::LoadGroup(GroupId group, GroupRow* row) {
  StatementScope q(w(), "SELECT owner_id, member_count, max_members, dismissed FROM groups WHERE id = ?");
  q->bind(1, group.value);
  if (!q->executeStep()) return Status::NotFound(GroupName(group) + " does not exist");
  row->owner = q->getColumn(0).getInt64();
  row->member_count = q->getColumn(1).getInt64();
  row->max_members = q->getColumn(2).getInt64();
  row->dismissed = q->getColumn(3).getInt() != 0;
  return Status::Ok();
}

Status SqliteStore::LoadRole(GroupId group, UserId user, GroupRole* role) {
  StatementScope q(w(), "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?");
  q->bind(1, group.value);
  q->bind(2, user.value);
  if (!q->executeStep()) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
  *role = static_cast<GroupRole>(q->getColumn(0).getInt());
  return Status::Ok();
}

void SqliteStore::AddListRow(UserId user, const std::string& conversation, Seq read_seq) {
  StatementScope q(w(),
                   "INSERT INTO user_conversations(user_id, conversation_id, read_seq) VALUES(?, ?, ?) "
                   "ON CONFLICT(user_id, conversation_id) DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)");
  q->bind(1, user.value);
  q->bindNoCopy(2, conversation);
  q->bind(3, I64(read_seq));
  q->exec();
}

void SqliteStore::RemoveListRow(UserId user, const std::string& conversation) {
  StatementScope q(w(), "DELETE FROM user_conversations WHERE user_id = ? AND conversation_id = ?");
  q->bind(1, user.value);
  q->bindNoCopy(2, conversation);
  q->exec();
}

Result<Group> SqliteStore::CreateGroup(const NewGroup& group) {
  if (!group.owner.valid()) return Status::InvalidArgument("sqlite store: invalid group owner");
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
    {
      StatementScope q(w(),
                       "INSERT INTO groups(name, owner_id, member_count, max_members, dismissed, created_at_ms, "
                       "join_policy, history_visibility) VALUES(?, ?, 1, ?, 0, ?, ?, ?)");
      q->bindNoCopy(1, group.name);
      q->bind(2, group.owner.value);
      q->bind(3, static_cast<int64_t>(group.max_members));
      q->bind(4, group.created_at_ms);
      q->bind(5, static_cast<int>(group.join_policy));
      q->bind(6, static_cast<int>(group.history_visibility));
      q->exec();
    }
    created.id = GroupId(writer_->db().getLastInsertRowid());
    {
      StatementScope q(w(), "INSERT INTO group_members(group_id, user_id, role, joined_at_ms) VALUES(?, ?, ?, ?)");
      q->bind(1, created.id.value);
      q->bind(2, group.owner.value);
      q->bind(3, static_cast<int>(GroupRole::kOwner));
      q->bind(4, group.created_at_ms);
      q->exec();
    }
    // The group's conversation is listed from creation, its activity starting then. The cached
    // head (if any) changes last, after every statement succeeded.
    const std::string conversation = ConversationId::Group(created.id).str();
    AddListRow(group.owner, conversation, 0);
    {
      StatementScope q(
          w(),
          "INSERT INTO conversations(id, first_seq, last_seq, last_activity_ms) VALUES(?, 1, 0, ?) "
          "ON CONFLICT(id) DO UPDATE SET last_activity_ms = max(last_activity_ms, excluded.last_activity_ms)");
      q->bindNoCopy(1, conversation);
      q->bind(2, group.created_at_ms);
      q->exec();
    }
    Writer::ConversationHead& head = writer_->Head(conversation);
    head.last_activity_ms = std::max(head.last_activity_ms, group.created_at_ms);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return created;
}

Result<Group> SqliteStore::GetGroup(GroupId id) {
  return Read("sqlite store: get group", [&](StatementCache& c) -> Result<Group> {
    StatementScope q(c,
                     "SELECT name, owner_id, member_count, max_members, dismissed, created_at_ms, join_policy, "
                     "history_visibility FROM groups WHERE id = ?");
    q->bind(1, id.value);
    if (!q->executeStep()) return Status::NotFound(GroupName(id) + " does not exist");
    return Group{id,
                 q->getColumn(0).getString(),
                 UserId(q->getColumn(1).getInt64()),
                 static_cast<uint32_t>(q->getColumn(2).getInt64()),
                 static_cast<uint32_t>(q->getColumn(3).getInt64()),
                 q->getColumn(4).getInt() != 0,
                 q->getColumn(5).getInt64(),
                 static_cast<JoinPolicy>(q->getColumn(6).getInt()),
                 static_cast<HistoryVisibility>(q->getColumn(7).getInt())};
  });
}

Status SqliteStore::AddGroupMember(GroupId group, const GroupMember& member) {
  if (!member.user.valid()) return Status::InvalidArgument("sqlite store: invalid member");
  if (member.role == GroupRole::kOwner) {
    return Status::InvalidArgument("sqlite store: a group has one owner (use TransferGroupOwnership)");
  }
  return Write([&]() -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    GroupRole role;
    if (LoadRole(group, member.user, &role).ok()) {
      return Status::AlreadyExists(UserName(member.user) + " is already a member of " + GroupName(group));
    }
    if (row.member_count >= row.max_members) {
      return Status::ResourceExhausted(GroupName(group) + " is full");
    }
    if (HasRelation(group, member.user, GroupRelationKind::kBan)) {
      return Status::FailedPrecondition(UserName(member.user) + " is banned from " + GroupName(group));
    }
    // A new member starts with nothing unread: history before the join is not "new" to them, and
    // with history visible from the join it is not theirs to read.
    const std::string conversation = ConversationId::Group(group).str();
    const Seq last_seq = writer_->Head(conversation).last_seq;
    {
      StatementScope q(w(),
                       "INSERT INTO group_members(group_id, user_id, role, joined_at_ms, joined_seq) "
                       "VALUES(?, ?, ?, ?, ?)");
      q->bind(1, group.value);
      q->bind(2, member.user.value);
      q->bind(3, static_cast<int>(member.role));
      q->bind(4, member.joined_at_ms);
      q->bind(5, I64(last_seq));
      q->exec();
    }
    {
      StatementScope q(w(), "UPDATE groups SET member_count = member_count + 1 WHERE id = ?");
      q->bind(1, group.value);
      q->exec();
    }
    AddListRow(member.user, conversation, last_seq);
    EraseRelation(group, member.user, GroupRelationKind::kInvitation);
    EraseRelation(group, member.user, GroupRelationKind::kJoinRequest);
    return Status::Ok();
  });
}

Status SqliteStore::RemoveGroupMember(GroupId group, UserId user) {
  return Write([&]() -> Status {
    GroupRole role;
    IM_RETURN_IF_ERROR(LoadRole(group, user, &role));
    if (role == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner of " + GroupName(group) + " cannot leave it (transfer first)");
    }
    {
      StatementScope q(w(), "DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
      q->bind(1, group.value);
      q->bind(2, user.value);
      q->exec();
    }
    {
      StatementScope q(w(), "UPDATE groups SET member_count = member_count - 1 WHERE id = ?");
      q->bind(1, group.value);
      q->exec();
    }
    RemoveListRow(user, ConversationId::Group(group).str());
    return Status::Ok();
  });
}

Result<GroupMember> SqliteStore::GetGroupMember(GroupId group, UserId user) {
  return Read("sqlite store: get group member", [&](StatementCache& c) -> Result<GroupMember> {
    StatementScope q(c, "SELECT role, joined_at_ms, joined_seq FROM group_members WHERE group_id = ? AND user_id = ?");
    q->bind(1, group.value);
    q->bind(2, user.value);
    if (!q->executeStep()) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
    return GroupMember{user, static_cast<GroupRole>(q->getColumn(0).getInt()), q->getColumn(1).getInt64(),
                       ToSeq(q->getColumn(2).getInt64())};
  });
}

Status SqliteStore::SetGroupMemberRole(GroupId group, UserId user, GroupRole role) {
  if (role == GroupRole::kOwner) {
    return Status::InvalidArgument("sqlite store: ownership changes through TransferGroupOwnership");
  }
  return Write([&]() -> Status {
    GroupRole current;
    IM_RETURN_IF_ERROR(LoadRole(group, user, &current));
    if (current == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner's role changes only by transferring ownership");
    }
    StatementScope q(w(), "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?");
    q->bind(1, static_cast<int>(role));
    q->bind(2, group.value);
    q->bind(3, user.value);
    q->exec();
    return Status::Ok();
  });
}

Status SqliteStore::TransferGroupOwnership(GroupId group, UserId from, UserId to) {
  if (from == to) return Status::InvalidArgument("sqlite store: ownership transfer to the current owner");
  return Write([&]() -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    if (row.owner != from.value) {
      return Status::FailedPrecondition(UserName(from) + " does not own " + GroupName(group));
    }
    GroupRole role;
    IM_RETURN_IF_ERROR(LoadRole(group, to, &role));
    static constexpr const char* kSetRole = "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?";
    for (auto [user, new_role] : {std::pair{to, GroupRole::kOwner}, std::pair{from, GroupRole::kAdmin}}) {
      StatementScope q(w(), kSetRole);
      q->bind(1, static_cast<int>(new_role));
      q->bind(2, group.value);
      q->bind(3, user.value);
      q->exec();
    }
    StatementScope q(w(), "UPDATE groups SET owner_id = ? WHERE id = ?");
    q->bind(1, to.value);
    q->bind(2, group.value);
    q->exec();
    return Status::Ok();
  });
}

Status SqliteStore::DismissGroup(GroupId group) {
  return Write([&]() -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::Ok();  // idempotent
    const std::string conversation = ConversationId::Group(group).str();
    {
      StatementScope q(w(),
                       "DELETE FROM user_conversations WHERE conversation_id = ?1 AND user_id IN "
                       "(SELECT user_id FROM group_members WHERE group_id = ?2)");
      q->bindNoCopy(1, conversation);
      q->bind(2, group.value);
      q->exec();
    }
    {
      StatementScope q(w(), "DELETE FROM group_members WHERE group_id = ?");
      q->bind(1, group.value);
      q->exec();
    }
    StatementScope q(w(), "UPDATE groups SET dismissed = 1, member_count = 0 WHERE id = ?");
    q->bind(1, group.value);
    q->exec();
    return Status::Ok();
  });
}

Result<std::vector<GroupMember>> SqliteStore::ListGroupMembers(GroupId group, UserId after, uint32_t limit) {
  return Read("sqlite store: list group members", [&](StatementCache& c) -> Result<std::vector<GroupMember>> {
    {
      StatementScope q(c, "SELECT 1 FROM groups WHERE id = ?");
      q->bind(1, group.value);
      if (!q->executeStep()) return Status::NotFound(GroupName(group) + " does not exist");
    }
    StatementScope q(c,
                     "SELECT user_id, role, joined_at_ms, joined_seq FROM group_members WHERE group_id = ? AND "
                     "user_id > ? ORDER BY user_id LIMIT ?");
    q->bind(1, group.value);
    q->bind(2, after.value);
    q->bind(3, static_cast<int64_t>(limit));
    std::vector<GroupMember> members;
    while (q->executeStep()) {
      members.push_back({UserId(q->getColumn(0).getInt64()), static_cast<GroupRole>(q->getColumn(1).getInt()),
                         q->getColumn(2).getInt64(), ToSeq(q->getColumn(3).getInt64())});
    }
    return members;
  });
}

// ---- group policy ----

bool SqliteStore::HasRelation(GroupId group, UserId user, GroupRelationKind kind) {
  StatementScope q(w(), "SELECT 1 FROM group_relations WHERE group_id = ? AND kind = ? AND user_id = ?");
  q->bind(1, group.value);
  q->bind(2, static_cast<int>(kind));
  q->bind(3, user.value);
  return q->executeStep();
}

bool SqliteStore::EraseRelation(GroupId group, UserId user, GroupRelationKind kind) {
  StatementScope q(w(), "DELETE FROM group_relations WHERE group_id = ? AND kind = ? AND user_id = ?");
  q->bind(1, group.value);
  q->bind(2, static_cast<int>(kind));
  q->bind(3, user.value);
  return q->exec() > 0;
}

Status SqliteStore::UpdateGroupSettings(GroupId group, const GroupSettings& settings) {
  return Write([&]() -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LoadGroup(group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    StatementScope q(w(), "UPDATE groups SET join_policy = ?, history_visibility = ? WHERE id = ?");
    q->bind(1, static_cast<int>(settings.join_policy));
    q->bind(2, static_cast<int>(settings.history_visibility));
    q->bind(3, group.value);
    q->exec();
    return Status::Ok();
  });
}

Status SqliteStore::PutGroupRelation(const GroupRelation& r) {
  return Write([&]() -> Status {
    if (r.kind == GroupRelationKind::kBan) {
      GroupRole role;
      if (LoadRole(r.group, r.user, &role).ok()) {
        if (role == GroupRole::kOwner) {
          return Status::FailedPrecondition("the owner of " + GroupName(r.group) + " cannot be banned");
        }
        {
          StatementScope q(w(), "DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
          q->bind(1, r.group.value);
          q->bind(2, r.user.value);
          q->exec();
        }
        {
          StatementScope q(w(), "UPDATE groups SET member_count = member_count - 1 WHERE id = ?");
          q->bind(1, r.group.value);
          q->exec();
        }
        RemoveListRow(r.user, ConversationId::Group(r.group).str());
      }
      EraseRelation(r.group, r.user, GroupRelationKind::kInvitation);
      EraseRelation(r.group, r.user, GroupRelationKind::kJoinRequest);
    } else if (HasRelation(r.group, r.user, GroupRelationKind::kBan)) {
      return Status::FailedPrecondition(UserName(r.user) + " is banned from " + GroupName(r.group));
    }
    StatementScope q(w(),
                     "INSERT INTO group_relations(group_id, kind, user_id, actor_id, created_at_ms) "
                     "VALUES(?, ?, ?, ?, ?) ON CONFLICT(group_id, kind, user_id) DO UPDATE SET "
                     "actor_id = excluded.actor_id, created_at_ms = excluded.created_at_ms");
    q->bind(1, r.group.value);
    q->bind(2, static_cast<int>(r.kind));
    q->bind(3, r.user.value);
    q->bind(4, r.actor.value);
    q->bind(5, r.created_at_ms);
    q->exec();
    return Status::Ok();
  });
}

Result<GroupRelation> SqliteStore::GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  return Read("sqlite store: get group relation", [&](StatementCache& c) -> Result<GroupRelation> {
    StatementScope q(c,
                     "SELECT actor_id, created_at_ms FROM group_relations WHERE group_id = ? AND kind = ? AND "
                     "user_id = ?");
    q->bind(1, group.value);
    q->bind(2, static_cast<int>(kind));
    q->bind(3, user.value);
    if (!q->executeStep()) return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
    return GroupRelation{group, user, kind, UserId(q->getColumn(0).getInt64()), q->getColumn(1).getInt64()};
  });
}

Status SqliteStore::DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  return Write([&]() -> Status {
    if (!EraseRelation(group, user, kind)) {
      return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
    }
    return Status::Ok();
  });
}

Result<std::vector<GroupRelation>> SqliteStore::ListGroupRelations(GroupId group, GroupRelationKind kind, UserId after,
                                                                   uint32_t limit) {
  return Read("sqlite store: list group relations", [&](StatementCache& c) -> Result<std::vector<GroupRelation>> {
    StatementScope q(c,
                     "SELECT user_id, actor_id, created_at_ms FROM group_relations WHERE group_id = ? AND kind = ? "
                     "AND user_id > ? ORDER BY user_id LIMIT ?");
    q->bind(1, group.value);
    q->bind(2, static_cast<int>(kind));
    q->bind(3, after.value);
    q->bind(4, static_cast<int64_t>(limit));
    std::vector<GroupRelation> out;
    while (q->executeStep()) {
      out.push_back(GroupRelation{group, UserId(q->getColumn(0).getInt64()), kind, UserId(q->getColumn(1).getInt64()),
                                  q->getColumn(2).getInt64()});
    }
    return out;
  });
}

Result<std::vector<GroupRelation>> SqliteStore::ListUserGroupRelations(UserId user, GroupRelationKind kind,
                                                                       GroupId after, uint32_t limit) {
  return Read("sqlite store: list user group relations", [&](StatementCache& c) -> Result<std::vector<GroupRelation>> {
    StatementScope q(c,
                     "SELECT group_id, actor_id, created_at_ms FROM group_relations WHERE user_id = ? AND kind = ? "
                     "AND group_id > ? ORDER BY group_id LIMIT ?");
    q->bind(1, user.value);
    q->bind(2, static_cast<int>(kind));
    q->bind(3, after.value);
    q->bind(4, static_cast<int64_t>(limit));
    std::vector<GroupRelation> out;
    while (q->executeStep()) {
      out.push_back(GroupRelation{GroupId(q->getColumn(0).getInt64()), user, kind, UserId(q->getColumn(1).getInt64()),
                                  q->getColumn(2).getInt64()});
    }
    return out;
  });
}

}  // namespace im::sqlite
