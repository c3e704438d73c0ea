// PostgresStore: groups and their members. Every mutation is one transaction that first locks the
// group row, so membership changes of one group (capacity checks, counts) run one at a time.
#include <string>

#include "postgres/postgres_store_impl.h"

namespace im::postgres {
namespace {

std::string GroupName(GroupId g) { return "group " + std::to_string(g.value); }
std::string UserName(UserId u) { return "user " + std::to_string(u.value); }

}  // namespace

Status PostgresStore::LockGroup(Tx& tx, GroupId group, GroupRow* row) {
  pqxx::result r =
      tx.Exec("SELECT owner_id, member_count, max_members, dismissed FROM groups WHERE id = $1 FOR UPDATE", group.value);
  if (r.empty()) return Status::NotFound(GroupName(group) + " does not exist");
  row->owner = r[0][0].as<int64_t>();
  row->member_count = r[0][1].as<int64_t>();
  row->max_members = r[0][2].as<int64_t>();
  row->dismissed = r[0][3].as<bool>();
  return Status::Ok();
}

Status PostgresStore::LoadRole(Tx& tx, GroupId group, UserId user, bool lock, GroupRole* role) {
  pqxx::result r =
      lock ? tx.Exec("SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2 FOR UPDATE", group.value,
                     user.value)
           : tx.Exec("SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2", group.value, user.value);
  if (r.empty()) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
  *role = static_cast<GroupRole>(r[0][0].as<int>());
  return Status::Ok();
}

Result<Group> PostgresStore::CreateGroup(const NewGroup& group) {
  if (!group.owner.valid()) return Status::InvalidArgument("postgres store: invalid group owner");
  if (HasNul(group.name)) return Status::InvalidArgument("postgres store: group name contains a NUL byte");
  return Write("postgres store: create group", [&](Tx& tx) -> Result<Group> {
    pqxx::result r = tx.Exec(
        "INSERT INTO groups(name, owner_id, member_count, max_members, dismissed, created_at_ms, join_policy, "
        "history_visibility) VALUES($1, $2, 1, $3, false, $4, $5, $6) RETURNING id",
        group.name, group.owner.value, static_cast<int64_t>(group.max_members), group.created_at_ms,
        static_cast<int>(group.join_policy), static_cast<int>(group.history_visibility));
    Group created{GroupId(r[0][0].as<int64_t>()),
                  group.name,
                  group.owner,
                  1,
                  group.max_members,
                  false,
                  group.created_at_ms,
                  group.join_policy,
                  group.history_visibility};
    tx.Exec("INSERT INTO group_members(group_id, user_id, role, joined_at_ms) VALUES($1, $2, $3, $4)", created.id.value,
            group.owner.value, static_cast<int>(GroupRole::kOwner), group.created_at_ms);
    // The group's conversation is listed from creation, its activity starting then.
    const std::string conversation = ConversationId::Group(created.id).str();
    tx.Exec(
        "INSERT INTO conversations(id, last_activity_ms) VALUES($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET last_activity_ms = greatest(conversations.last_activity_ms, "
        "excluded.last_activity_ms)",
        conversation, group.created_at_ms);
    tx.Exec(
        "INSERT INTO user_conversations(user_id, conversation_id, read_seq) VALUES($1, $2, 0) "
        "ON CONFLICT (user_id, conversation_id) DO NOTHING",
        group.owner.value, conversation);
    return created;
  });
}

Result<Group> PostgresStore::GetGroup(GroupId id) {
  return Read("postgres store: get group", [&](Tx& tx) -> Result<Group> {
    pqxx::result r = tx.Exec(
        "SELECT name, owner_id, member_count, max_members, dismissed, created_at_ms, join_policy, "
        "history_visibility FROM groups WHERE id = $1",
        id.value);
    if (r.empty()) return Status::NotFound(GroupName(id) + " does not exist");
    const pqxx::row row = r[0];
    return Group{id,
                 row[0].c_str(),
                 UserId(row[1].as<int64_t>()),
                 static_cast<uint32_t>(row[2].as<int64_t>()),
                 static_cast<uint32_t>(row[3].as<int64_t>()),
                 row[4].as<bool>(),
                 row[5].as<int64_t>(),
                 static_cast<JoinPolicy>(row[6].as<int>()),
                 static_cast<HistoryVisibility>(row[7].as<int>())};
  });
}

Status PostgresStore::AddGroupMember(GroupId group, const GroupMember& member) {
  if (!member.user.valid()) return Status::InvalidArgument("postgres store: invalid member");
  if (member.role == GroupRole::kOwner) {
    return Status::InvalidArgument("postgres store: a group has one owner (use TransferGroupOwnership)");
  }
  return Write("postgres store: add group member", [&](Tx& tx) -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LockGroup(tx, group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    GroupRole role;
    if (LoadRole(tx, group, member.user, false, &role).ok()) {
      return Status::AlreadyExists(UserName(member.user) + " is already a member of " + GroupName(group));
    }
    if (row.member_count >= row.max_members) return Status::ResourceExhausted(GroupName(group) + " is full");
    if (HasRelation(tx, group, member.user, GroupRelationKind::kBan)) {
      return Status::FailedPrecondition(UserName(member.user) + " is banned from " + GroupName(group));
    }
    // A new member starts with nothing unread: history before the join is not "new" to them, and
    // with history visible from the join it is not theirs to read. One read of the head for both.
    const std::string conversation = ConversationId::Group(group).str();
    pqxx::result head = tx.Exec("SELECT coalesce((SELECT last_seq FROM conversations WHERE id = $1), 0)", conversation);
    const int64_t last_seq = head[0][0].as<int64_t>();
    tx.Exec("INSERT INTO group_members(group_id, user_id, role, joined_at_ms, joined_seq) VALUES($1, $2, $3, $4, $5)",
            group.value, member.user.value, static_cast<int>(member.role), member.joined_at_ms, last_seq);
    tx.Exec("UPDATE groups SET member_count = member_count + 1 WHERE id = $1", group.value);
    tx.Exec(
        "INSERT INTO user_conversations(user_id, conversation_id, read_seq) VALUES($1, $2, $3) "
        "ON CONFLICT (user_id, conversation_id) DO UPDATE SET "
        "read_seq = greatest(user_conversations.read_seq, excluded.read_seq)",
        member.user.value, conversation, last_seq);
    EraseJoinRelations(tx, group, member.user);
    return Status::Ok();
  });
}

Status PostgresStore::RemoveGroupMember(GroupId group, UserId user) {
  return Write("postgres store: remove group member", [&](Tx& tx) -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LockGroup(tx, group, &row));
    GroupRole role;
    IM_RETURN_IF_ERROR(LoadRole(tx, group, user, false, &role));
    if (role == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner of " + GroupName(group) + " cannot leave it (transfer first)");
    }
    tx.Exec("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2", group.value, user.value);
    tx.Exec("UPDATE groups SET member_count = member_count - 1 WHERE id = $1", group.value);
    tx.Exec("DELETE FROM user_conversations WHERE user_id = $1 AND conversation_id = $2", user.value,
            ConversationId::Group(group).str());
    return Status::Ok();
  });
}

Result<GroupMember> PostgresStore::GetGroupMember(GroupId group, UserId user) {
  return Read("postgres store: get group member", [&](Tx& tx) -> Result<GroupMember> {
    pqxx::result r =
        tx.Exec("SELECT role, joined_at_ms, joined_seq FROM group_members WHERE group_id = $1 AND user_id = $2",
                group.value, user.value);
    if (r.empty()) return Status::NotFound(UserName(user) + " is not a member of " + GroupName(group));
    return GroupMember{user, static_cast<GroupRole>(r[0][0].as<int>()), r[0][1].as<int64_t>(),
                       static_cast<Seq>(r[0][2].as<int64_t>())};
  });
}

Status PostgresStore::SetGroupMemberRole(GroupId group, UserId user, GroupRole role) {
  if (role == GroupRole::kOwner) {
    return Status::InvalidArgument("postgres store: ownership changes through TransferGroupOwnership");
  }
  return Write("postgres store: set group member role", [&](Tx& tx) -> Status {
    GroupRole current;
    IM_RETURN_IF_ERROR(LoadRole(tx, group, user, true, &current));
    if (current == GroupRole::kOwner) {
      return Status::FailedPrecondition("the owner's role changes only by transferring ownership");
    }
    tx.Exec("UPDATE group_members SET role = $1 WHERE group_id = $2 AND user_id = $3", static_cast<int>(role),
            group.value, user.value);
    return Status::Ok();
  });
}

Status PostgresStore::TransferGroupOwnership(GroupId group, UserId from, UserId to) {
  if (from == to) return Status::InvalidArgument("postgres store: ownership transfer to the current owner");
  return Write("postgres store: transfer group ownership", [&](Tx& tx) -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LockGroup(tx, group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    if (row.owner != from.value) {
      return Status::FailedPrecondition(UserName(from) + " does not own " + GroupName(group));
    }
    GroupRole role;
    IM_RETURN_IF_ERROR(LoadRole(tx, group, to, false, &role));
    static constexpr const char* kSetRole = "UPDATE group_members SET role = $1 WHERE group_id = $2 AND user_id = $3";
    tx.Exec(kSetRole, static_cast<int>(GroupRole::kOwner), group.value, to.value);
    tx.Exec(kSetRole, static_cast<int>(GroupRole::kAdmin), group.value, from.value);
    tx.Exec("UPDATE groups SET owner_id = $1 WHERE id = $2", to.value, group.value);
    return Status::Ok();
  });
}

Status PostgresStore::DismissGroup(GroupId group) {
  return Write("postgres store: dismiss group", [&](Tx& tx) -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LockGroup(tx, group, &row));
    if (row.dismissed) return Status::Ok();  // idempotent
    tx.Exec(
        "DELETE FROM user_conversations WHERE conversation_id = $1 AND user_id IN "
        "(SELECT user_id FROM group_members WHERE group_id = $2)",
        ConversationId::Group(group).str(), group.value);
    tx.Exec("DELETE FROM group_members WHERE group_id = $1", group.value);
    tx.Exec("UPDATE groups SET dismissed = true, member_count = 0 WHERE id = $1", group.value);
    return Status::Ok();
  });
}

Result<std::vector<GroupMember>> PostgresStore::ListGroupMembers(GroupId group, UserId after, uint32_t limit) {
  return Read("postgres store: list group members", [&](Tx& tx) -> Result<std::vector<GroupMember>> {
    // One statement: the group row (for not_found) left-joined with the page of members.
    pqxx::result r = tx.Exec(
        "SELECT m.user_id, m.role, m.joined_at_ms, m.joined_seq FROM groups g "
        "LEFT JOIN LATERAL (SELECT user_id, role, joined_at_ms, joined_seq FROM group_members "
        "  WHERE group_id = g.id AND user_id > $2 ORDER BY user_id LIMIT $3) m ON true "
        "WHERE g.id = $1 ORDER BY m.user_id",
        group.value, after.value, static_cast<int64_t>(limit));
    if (r.empty()) return Status::NotFound(GroupName(group) + " does not exist");
    std::vector<GroupMember> members;
    members.reserve(r.size());
    for (const auto& row : r) {
      if (row[0].is_null()) break;  // the group exists but the page is empty
      members.push_back({UserId(row[0].as<int64_t>()), static_cast<GroupRole>(row[1].as<int>()), row[2].as<int64_t>(),
                         static_cast<Seq>(row[3].as<int64_t>())});
    }
    return members;
  });
}

// ---- group policy ----

bool PostgresStore::HasRelation(Tx& tx, GroupId group, UserId user, GroupRelationKind kind) {
  return !tx.Exec("SELECT 1 FROM group_relations WHERE group_id = $1 AND kind = $2 AND user_id = $3", group.value,
                  static_cast<int>(kind), user.value)
              .empty();
}

void PostgresStore::EraseJoinRelations(Tx& tx, GroupId group, UserId user) {
  tx.Exec("DELETE FROM group_relations WHERE group_id = $1 AND user_id = $2 AND kind IN ($3, $4)", group.value,
          user.value, static_cast<int>(GroupRelationKind::kInvitation),
          static_cast<int>(GroupRelationKind::kJoinRequest));
}

Status PostgresStore::UpdateGroupSettings(GroupId group, const GroupSettings& settings) {
  return Write("postgres store: update group settings", [&](Tx& tx) -> Status {
    GroupRow row;
    IM_RETURN_IF_ERROR(LockGroup(tx, group, &row));
    if (row.dismissed) return Status::FailedPrecondition(GroupName(group) + " was dismissed");
    tx.Exec("UPDATE groups SET join_policy = $1, history_visibility = $2 WHERE id = $3",
            static_cast<int>(settings.join_policy), static_cast<int>(settings.history_visibility), group.value);
    return Status::Ok();
  });
}

Status PostgresStore::PutGroupRelation(const GroupRelation& r) {
  return Write("postgres store: put group relation", [&](Tx& tx) -> Status {
    // The group row is the lock every membership change of the group takes (it may not exist:
    // the store does not check, the engine does).
    GroupRow row;
    Status locked = LockGroup(tx, r.group, &row);
    if (!locked.ok() && locked.code() != StatusCode::kNotFound) return locked;
    if (r.kind == GroupRelationKind::kBan) {
      GroupRole role;
      if (LoadRole(tx, r.group, r.user, false, &role).ok()) {
        if (role == GroupRole::kOwner) {
          return Status::FailedPrecondition("the owner of " + GroupName(r.group) + " cannot be banned");
        }
        tx.Exec("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2", r.group.value, r.user.value);
        tx.Exec("UPDATE groups SET member_count = member_count - 1 WHERE id = $1", r.group.value);
        tx.Exec("DELETE FROM user_conversations WHERE user_id = $1 AND conversation_id = $2", r.user.value,
                ConversationId::Group(r.group).str());
      }
      EraseJoinRelations(tx, r.group, r.user);
    } else if (HasRelation(tx, r.group, r.user, GroupRelationKind::kBan)) {
      return Status::FailedPrecondition(UserName(r.user) + " is banned from " + GroupName(r.group));
    }
    tx.Exec(
        "INSERT INTO group_relations(group_id, kind, user_id, actor_id, created_at_ms) VALUES($1, $2, $3, $4, $5) "
        "ON CONFLICT (group_id, kind, user_id) DO UPDATE SET actor_id = excluded.actor_id, "
        "created_at_ms = excluded.created_at_ms",
        r.group.value, static_cast<int>(r.kind), r.user.value, r.actor.value, r.created_at_ms);
    return Status::Ok();
  });
}

Result<GroupRelation> PostgresStore::GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  return Read("postgres store: get group relation", [&](Tx& tx) -> Result<GroupRelation> {
    pqxx::result r = tx.Exec(
        "SELECT actor_id, created_at_ms FROM group_relations WHERE group_id = $1 AND kind = $2 AND user_id = $3",
        group.value, static_cast<int>(kind), user.value);
    if (r.empty()) return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
    return GroupRelation{group, user, kind, UserId(r[0][0].as<int64_t>()), r[0][1].as<int64_t>()};
  });
}

Status PostgresStore::DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind) {
  return Write("postgres store: delete group relation", [&](Tx& tx) -> Status {
    pqxx::result r = tx.Exec("DELETE FROM group_relations WHERE group_id = $1 AND kind = $2 AND user_id = $3",
                             group.value, static_cast<int>(kind), user.value);
    if (r.affected_rows() == 0) {
      return Status::NotFound("no such relation of " + UserName(user) + " to " + GroupName(group));
    }
    return Status::Ok();
  });
}

Result<std::vector<GroupRelation>> PostgresStore::ListGroupRelations(GroupId group, GroupRelationKind kind,
                                                                     UserId after, uint32_t limit) {
  return Read("postgres store: list group relations", [&](Tx& tx) -> Result<std::vector<GroupRelation>> {
    pqxx::result r = tx.Exec(
        "SELECT user_id, actor_id, created_at_ms FROM group_relations WHERE group_id = $1 AND kind = $2 AND "
        "user_id > $3 ORDER BY user_id LIMIT $4",
        group.value, static_cast<int>(kind), after.value, static_cast<int64_t>(limit));
    std::vector<GroupRelation> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      out.push_back(
          GroupRelation{group, UserId(row[0].as<int64_t>()), kind, UserId(row[1].as<int64_t>()), row[2].as<int64_t>()});
    }
    return out;
  });
}

Result<std::vector<GroupRelation>> PostgresStore::ListUserGroupRelations(UserId user, GroupRelationKind kind,
                                                                         GroupId after, uint32_t limit) {
  return Read("postgres store: list user group relations", [&](Tx& tx) -> Result<std::vector<GroupRelation>> {
    pqxx::result r = tx.Exec(
        "SELECT group_id, actor_id, created_at_ms FROM group_relations WHERE user_id = $1 AND kind = $2 AND "
        "group_id > $3 ORDER BY group_id LIMIT $4",
        user.value, static_cast<int>(kind), after.value, static_cast<int64_t>(limit));
    std::vector<GroupRelation> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      out.push_back(
          GroupRelation{GroupId(row[0].as<int64_t>()), user, kind, UserId(row[1].as<int64_t>()), row[2].as<int64_t>()});
    }
    return out;
  });
}

}  // namespace im::postgres
