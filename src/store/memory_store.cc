// MemoryStore: the Store contract over plain maps behind one mutex. The reference the conformance
// suite is first written against; fast enough for tests and ephemeral hosts.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "im/store.h"
#include "store/append_batch.h"

namespace im {
namespace {

struct UserRow {
  User user;
  std::string password_hash;
};

struct ConversationRow {
  ConversationState state;
  std::map<Seq, Message> messages;
};

class MemoryStore final : public Store {
 public:
  Result<User> CreateUser(const NewUser& nu) override {
    std::lock_guard lock(mu_);
    if (user_by_name_.contains(nu.username)) return Status::AlreadyExists("username is taken: " + nu.username);
    UserRow row{User{UserId(++last_user_id_), nu.username, nu.display_name, nu.created_at_ms}, nu.password_hash};
    user_by_name_[nu.username] = row.user.id;
    users_[row.user.id] = row;
    return row.user;
  }

  Result<User> GetUser(UserId id) override {
    std::lock_guard lock(mu_);
    auto it = users_.find(id);
    if (it == users_.end()) return UserNotFound(id);
    return it->second.user;
  }

  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override {
    std::lock_guard lock(mu_);
    std::vector<User> out;
    for (UserId id : ids) {
      if (auto it = users_.find(id); it != users_.end()) out.push_back(it->second.user);
    }
    return out;
  }

  Result<UserCredentials> GetCredentials(const std::string& username) override {
    std::lock_guard lock(mu_);
    auto it = user_by_name_.find(username);
    if (it == user_by_name_.end()) return Status::NotFound("no user named " + username);
    return UserCredentials{it->second, users_[it->second].password_hash};
  }

  Status UpdateUser(const User& user) override {
    std::lock_guard lock(mu_);
    auto it = users_.find(user.id);
    if (it == users_.end()) return UserNotFound(user.id);
    it->second.user.display_name = user.display_name;
    return Status::Ok();
  }

  Status UpdatePasswordHash(UserId id, const std::string& hash) override {
    std::lock_guard lock(mu_);
    auto it = users_.find(id);
    if (it == users_.end()) return UserNotFound(id);
    it->second.password_hash = hash;
    return Status::Ok();
  }

  Status DeleteUser(UserId id) override {
    std::lock_guard lock(mu_);
    auto it = users_.find(id);
    if (it == users_.end()) return UserNotFound(id);
    for (auto& [gid, g] : groups_) {
      if (g.owner == id && !g.dismissed) {
        return Status::FailedPrecondition("user owns group " + std::to_string(gid.value) +
                                          ": transfer or dismiss it first");
      }
    }
    user_by_name_.erase(it->second.user.username);
    users_.erase(it);
    for (auto& [gid, members] : members_) {
      if (members.erase(id) > 0) groups_[gid].member_count--;
    }
    user_conversations_.erase(id);
    for (auto& [hash, rec] : refresh_) {
      if (rec.user == id) families_[rec.family_id] = true;
    }
    for (auto& [hash, rec] : refresh_) {
      if (families_[rec.family_id]) rec.revoked = true;
    }
    std::erase_if(device_tokens_, [&](const auto& entry) { return entry.second.user == id; });
    push_settings_.erase(id);
    return Status::Ok();
  }

  Status PutRefreshToken(const RefreshTokenRecord& r) override {
    std::lock_guard lock(mu_);
    if (refresh_.contains(r.token_hash)) return Status::AlreadyExists("refresh token exists");
    refresh_[r.token_hash] = r;
    families_.try_emplace(r.family_id, false);
    return Status::Ok();
  }

  Result<RefreshTokenRecord> GetRefreshToken(const std::string& hash) override {
    std::lock_guard lock(mu_);
    auto it = refresh_.find(hash);
    if (it == refresh_.end()) return Status::NotFound("unknown refresh token");
    return it->second;
  }

  Status RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) override {
    std::lock_guard lock(mu_);
    auto it = refresh_.find(old_hash);
    if (it == refresh_.end()) return Status::NotFound("unknown refresh token");
    if (it->second.used || it->second.revoked) return Status::FailedPrecondition("refresh token already used");
    if (refresh_.contains(next.token_hash)) return Status::AlreadyExists("refresh token exists");
    it->second.used = true;
    refresh_[next.token_hash] = next;
    families_.try_emplace(next.family_id, false);
    return Status::Ok();
  }

  Status RevokeRefreshFamily(const std::string& family) override {
    std::lock_guard lock(mu_);
    families_[family] = true;
    for (auto& [hash, rec] : refresh_) {
      if (rec.family_id == family) rec.revoked = true;
    }
    return Status::Ok();
  }

  Status RevokeUserRefreshFamilies(UserId user, const std::string& except_family) override {
    std::lock_guard lock(mu_);
    for (auto& [hash, rec] : refresh_) {
      if (rec.user == user && rec.family_id != except_family) families_[rec.family_id] = true;
    }
    for (auto& [hash, rec] : refresh_) {
      if (families_[rec.family_id]) rec.revoked = true;
    }
    return Status::Ok();
  }

  Result<bool> IsRefreshFamilyRevoked(const std::string& family) override {
    std::lock_guard lock(mu_);
    auto it = families_.find(family);
    if (it == families_.end()) return Status::NotFound("unknown token family");
    return it->second;
  }

  Result<uint64_t> PruneRefreshTokens(TimestampMs expired_before) override {
    std::lock_guard lock(mu_);
    uint64_t pruned = 0;
    std::unordered_set<std::string> live;
    for (auto it = refresh_.begin(); it != refresh_.end();) {
      if (it->second.expires_at_ms < expired_before) {
        it = refresh_.erase(it);
        ++pruned;
      } else {
        live.insert(it->second.family_id);
        ++it;
      }
    }
    std::erase_if(families_, [&](const auto& f) { return !live.contains(f.first); });
    return pruned;
  }

  Result<Group> CreateGroup(const NewGroup& ng) override {
    std::lock_guard lock(mu_);
    Group g{GroupId(++last_group_id_), ng.name, ng.owner, 1, ng.max_members, false, ng.created_at_ms, ng.join_policy,
            ng.history_visibility};
    groups_[g.id] = g;
    members_[g.id][ng.owner] = GroupMember{ng.owner, GroupRole::kOwner, ng.created_at_ms};
    auto conv = ConversationId::Group(g.id);
    conversations_[conv].state.last_activity_ms = ng.created_at_ms;
    user_conversations_[ng.owner][conv] = 0;
    return g;
  }

  Result<Group> GetGroup(GroupId id) override {
    std::lock_guard lock(mu_);
    auto it = groups_.find(id);
    if (it == groups_.end()) return GroupNotFound(id);
    return it->second;
  }

  Status AddGroupMember(GroupId gid, const GroupMember& m) override {
    std::lock_guard lock(mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return GroupNotFound(gid);
    Group& g = it->second;
    if (g.dismissed) return Status::FailedPrecondition("group was dismissed");
    if (m.role == GroupRole::kOwner) return Status::InvalidArgument("a group has one owner: use transfer");
    auto& members = members_[gid];
    if (members.contains(m.user)) return Status::AlreadyExists("already a member");
    if (g.member_count >= g.max_members) return Status::ResourceExhausted("group is full");
    if (relations_.contains(RelationKey(gid, GroupRelationKind::kBan, m.user))) {
      return Status::FailedPrecondition("the user is banned from the group");
    }
    auto conv = ConversationId::Group(gid);
    const Seq last_seq = conversations_[conv].state.last_seq;
    GroupMember added = m;
    added.joined_seq = last_seq;
    members[m.user] = added;
    g.member_count++;
    user_conversations_[m.user][conv] = last_seq;
    EraseRelation(gid, m.user, GroupRelationKind::kInvitation);
    EraseRelation(gid, m.user, GroupRelationKind::kJoinRequest);
    return Status::Ok();
  }

  Status RemoveGroupMember(GroupId gid, UserId user) override {
    std::lock_guard lock(mu_);
    if (!groups_.contains(gid)) return GroupNotFound(gid);
    if (groups_[gid].owner == user && members_[gid].contains(user)) {
      return Status::FailedPrecondition("the owner cannot be removed: transfer ownership first");
    }
    if (members_[gid].erase(user) == 0) return Status::NotFound("not a member");
    groups_[gid].member_count--;
    user_conversations_[user].erase(ConversationId::Group(gid));
    return Status::Ok();
  }

  Result<GroupMember> GetGroupMember(GroupId gid, UserId user) override {
    std::lock_guard lock(mu_);
    auto g = members_.find(gid);
    if (g == members_.end()) return GroupNotFound(gid);
    auto it = g->second.find(user);
    if (it == g->second.end()) return Status::NotFound("not a member");
    return it->second;
  }

  Status SetGroupMemberRole(GroupId gid, UserId user, GroupRole role) override {
    if (role == GroupRole::kOwner) return Status::InvalidArgument("a group has one owner: use transfer");
    std::lock_guard lock(mu_);
    auto g = members_.find(gid);
    if (g == members_.end()) return GroupNotFound(gid);
    auto it = g->second.find(user);
    if (it == g->second.end()) return Status::NotFound("not a member");
    if (it->second.role == GroupRole::kOwner)
      return Status::FailedPrecondition("the owner's role changes only by transfer");
    it->second.role = role;
    return Status::Ok();
  }

  Status TransferGroupOwnership(GroupId gid, UserId from, UserId to) override {
    std::lock_guard lock(mu_);
    auto git = groups_.find(gid);
    if (git == groups_.end()) return GroupNotFound(gid);
    if (git->second.owner != from) return Status::FailedPrecondition("not the owner");
    auto& members = members_[gid];
    auto target = members.find(to);
    if (target == members.end()) return Status::NotFound("new owner is not a member");
    target->second.role = GroupRole::kOwner;
    if (auto old = members.find(from); old != members.end()) old->second.role = GroupRole::kAdmin;
    git->second.owner = to;
    return Status::Ok();
  }

  Status DismissGroup(GroupId gid) override {
    std::lock_guard lock(mu_);
    auto git = groups_.find(gid);
    if (git == groups_.end()) return GroupNotFound(gid);
    auto conv = ConversationId::Group(gid);
    for (auto& [uid, m] : members_[gid]) user_conversations_[uid].erase(conv);
    members_[gid].clear();
    git->second.member_count = 0;
    git->second.dismissed = true;
    return Status::Ok();
  }

  Status UpdateGroupSettings(GroupId gid, const GroupSettings& settings) override {
    std::lock_guard lock(mu_);
    auto git = groups_.find(gid);
    if (git == groups_.end()) return GroupNotFound(gid);
    if (git->second.dismissed) return Status::FailedPrecondition("group was dismissed");
    git->second.join_policy = settings.join_policy;
    git->second.history_visibility = settings.history_visibility;
    return Status::Ok();
  }

  Status PutGroupRelation(const GroupRelation& r) override {
    std::lock_guard lock(mu_);
    if (r.kind == GroupRelationKind::kBan) {
      auto git = groups_.find(r.group);
      if (git != groups_.end() && git->second.owner == r.user && !git->second.dismissed) {
        return Status::FailedPrecondition("the owner cannot be banned");
      }
      if (auto m = members_.find(r.group); m != members_.end() && m->second.erase(r.user) > 0) {
        groups_[r.group].member_count--;
        user_conversations_[r.user].erase(ConversationId::Group(r.group));
      }
      EraseRelation(r.group, r.user, GroupRelationKind::kInvitation);
      EraseRelation(r.group, r.user, GroupRelationKind::kJoinRequest);
    } else if (relations_.contains(RelationKey(r.group, GroupRelationKind::kBan, r.user))) {
      return Status::FailedPrecondition("the user is banned from the group");
    }
    relations_[RelationKey(r.group, r.kind, r.user)] = r;
    user_relations_.insert(RelationKey(r.user.value, r.kind, r.group.value));
    return Status::Ok();
  }

  Result<GroupRelation> GetGroupRelation(GroupId gid, UserId user, GroupRelationKind kind) override {
    std::lock_guard lock(mu_);
    auto it = relations_.find(RelationKey(gid, kind, user));
    if (it == relations_.end()) return Status::NotFound("no such group relation");
    return it->second;
  }

  Status DeleteGroupRelation(GroupId gid, UserId user, GroupRelationKind kind) override {
    std::lock_guard lock(mu_);
    if (!EraseRelation(gid, user, kind)) return Status::NotFound("no such group relation");
    return Status::Ok();
  }

  Result<std::vector<GroupRelation>> ListGroupRelations(GroupId gid, GroupRelationKind kind, UserId after,
                                                        uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<GroupRelation> out;
    for (auto it = relations_.upper_bound(RelationKey(gid, kind, after));
         it != relations_.end() && std::get<0>(it->first) == gid.value && std::get<1>(it->first) == kind &&
         out.size() < limit;
         ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<std::vector<GroupRelation>> ListUserGroupRelations(UserId user, GroupRelationKind kind, GroupId after,
                                                            uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<GroupRelation> out;
    for (auto it = user_relations_.upper_bound(RelationKey(user.value, kind, after.value));
         it != user_relations_.end() && std::get<0>(*it) == user.value && std::get<1>(*it) == kind &&
         out.size() < limit;
         ++it) {
      out.push_back(relations_.at(RelationKey(GroupId(std::get<2>(*it)), kind, user)));
    }
    return out;
  }

  Result<std::vector<GroupMember>> ListGroupMembers(GroupId gid, UserId after, uint32_t limit) override {
    std::lock_guard lock(mu_);
    if (!groups_.contains(gid)) return GroupNotFound(gid);
    std::vector<GroupMember> out;
    auto& members = members_[gid];
    for (auto it = members.upper_bound(after); it != members.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<AppendResult> AppendMessage(const NewMessage& m) override {
    IM_RETURN_IF_ERROR(CheckNewMessage(m, "memory store"));
    std::lock_guard lock(mu_);
    if (!m.client_msg_id.empty()) {
      auto it = idempotency_.find({m.sender, m.client_msg_id});
      if (it != idempotency_.end()) {
        AppendResult dup = it->second;
        dup.duplicate = true;
        return dup;
      }
    }
    ConversationRow& conv = conversations_[m.conversation];
    Seq seq = ++conv.state.last_seq;
    conv.state.last_activity_ms = std::max(conv.state.last_activity_ms, m.sent_at_ms);
    conv.messages[seq] = Message{m.id, m.conversation, seq, m.sender, m.client_msg_id, m.type, m.content, m.sent_at_ms};
    AppendResult result{m.conversation, m.id, seq, m.sent_at_ms, false};
    if (!m.client_msg_id.empty()) idempotency_[{m.sender, m.client_msg_id}] = result;
    if (m.conversation.is_direct()) {
      user_conversations_[m.conversation.low_user()].try_emplace(m.conversation, 0);
      user_conversations_[m.conversation.high_user()].try_emplace(m.conversation, 0);
    }
    auto& list = user_conversations_[m.sender];
    if (auto it = list.find(m.conversation); it != list.end()) it->second = std::max(it->second, seq);
    return result;
  }

  Result<std::vector<Message>> ListMessages(const ConversationId& c, const MessageRange& r) override {
    std::lock_guard lock(mu_);
    std::vector<Message> out;
    auto it = conversations_.find(c);
    if (it == conversations_.end() || r.limit == 0) return out;
    auto& msgs = it->second.messages;
    auto lo = msgs.upper_bound(r.after_seq);
    auto hi = r.before_seq == 0 ? msgs.end() : msgs.lower_bound(r.before_seq);
    if (r.newest_first) {
      for (auto i = hi; i != lo && out.size() < r.limit;) out.push_back((--i)->second);
    } else {
      for (auto i = lo; i != hi && out.size() < r.limit; ++i) out.push_back(i->second);
    }
    return out;
  }

  Result<ConversationState> GetConversationState(const ConversationId& c) override {
    std::lock_guard lock(mu_);
    auto it = conversations_.find(c);
    if (it == conversations_.end()) return ConversationState{};
    return it->second.state;
  }

  Status TrimHistory(const ConversationId& c, Seq before_seq) override {
    std::lock_guard lock(mu_);
    auto it = conversations_.find(c);
    if (it == conversations_.end()) return Status::Ok();
    ConversationRow& row = it->second;
    Seq first = std::min(before_seq, row.state.last_seq + 1);
    if (first <= row.state.first_seq) return Status::Ok();
    row.messages.erase(row.messages.begin(), row.messages.lower_bound(first));
    row.state.first_seq = first;
    return Status::Ok();
  }

  Result<std::vector<ConversationSummary>> ListConversations(UserId user, const ConversationCursor& after,
                                                             uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<ConversationSummary> all;
    auto uc = user_conversations_.find(user);
    if (uc == user_conversations_.end()) return all;
    for (auto& [conv, read] : uc->second) {
      const ConversationRow& row = conversations_[conv];
      if (after.id.valid() &&
          (row.state.last_activity_ms > after.last_activity_ms ||
           (row.state.last_activity_ms == after.last_activity_ms && conv.str() >= after.id.str()))) {
        continue;
      }
      ConversationSummary s{conv,
                            row.state.last_seq,
                            read,
                            row.state.last_seq - std::min(read, row.state.last_seq),
                            row.state.last_activity_ms,
                            std::nullopt};
      if (auto last = row.messages.find(row.state.last_seq); last != row.messages.end()) s.last_message = last->second;
      all.push_back(std::move(s));
    }
    std::sort(all.begin(), all.end(), [](const ConversationSummary& a, const ConversationSummary& b) {
      if (a.last_activity_ms != b.last_activity_ms) return a.last_activity_ms > b.last_activity_ms;
      return a.id.str() > b.id.str();
    });
    if (all.size() > limit) all.resize(limit);
    return all;
  }

  Result<Seq> AdvanceReadSeq(UserId user, const ConversationId& c, Seq seq) override {
    std::lock_guard lock(mu_);
    auto uc = user_conversations_.find(user);
    if (uc == user_conversations_.end() || !uc->second.contains(c)) {
      return Status::NotFound("conversation is not on the user's list");
    }
    Seq& read = uc->second[c];
    read = std::max(read, std::min(seq, conversations_[c].state.last_seq));
    return read;
  }

  Result<Seq> GetReadSeq(UserId user, const ConversationId& c) override {
    std::lock_guard lock(mu_);
    auto uc = user_conversations_.find(user);
    if (uc == user_conversations_.end()) return Seq{0};
    auto it = uc->second.find(c);
    return it == uc->second.end() ? Seq{0} : it->second;
  }

  Status PutDeviceToken(const DeviceToken& t) override {
    if (t.platform != PushPlatform::kApns && t.platform != PushPlatform::kFcm) {
      return Status::InvalidArgument("unknown push platform " + std::to_string(int(t.platform)));
    }
    std::lock_guard lock(mu_);
    if (!users_.contains(t.user)) return UserNotFound(t.user);
    device_tokens_[{t.platform, t.token}] = t;
    return Status::Ok();
  }

  Status DeleteDeviceToken(PushPlatform platform, const std::string& token) override {
    std::lock_guard lock(mu_);
    device_tokens_.erase({platform, token});
    return Status::Ok();
  }

  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId user) override {
    std::lock_guard lock(mu_);
    std::vector<DeviceToken> out;
    for (auto& [key, t] : device_tokens_) {  // ordered by (platform, token): the tie-break
      if (t.user == user) out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const DeviceToken& a, const DeviceToken& b) { return a.updated_at_ms < b.updated_at_ms; });
    return out;
  }

  Result<PushSettings> GetPushSettings(UserId user) override {
    std::lock_guard lock(mu_);
    auto it = push_settings_.find(user);
    return it == push_settings_.end() ? PushSettings{} : it->second;
  }

  Status PutPushSettings(UserId user, const PushSettings& settings) override {
    std::lock_guard lock(mu_);
    if (!users_.contains(user)) return UserNotFound(user);
    push_settings_[user] = settings;
    return Status::Ok();
  }

  Result<int64_t> AddDeadLetter(const DeadLetter& letter) override {
    std::lock_guard lock(mu_);
    DeadLetter& stored = dead_letters_[++last_dead_letter_id_];
    stored = letter;
    stored.id = last_dead_letter_id_;
    return stored.id;
  }

  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<DeadLetter> out;
    for (auto it = dead_letters_.upper_bound(after_id); it != dead_letters_.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<DeadLetter> GetDeadLetter(int64_t id) override {
    std::lock_guard lock(mu_);
    auto it = dead_letters_.find(id);
    if (it == dead_letters_.end()) return DeadLetterNotFound(id);
    return it->second;
  }

  Status DeleteDeadLetter(int64_t id) override {
    std::lock_guard lock(mu_);
    if (dead_letters_.erase(id) == 0) return DeadLetterNotFound(id);
    return Status::Ok();
  }

 private:
  using RelationKeyT = std::tuple<int64_t, GroupRelationKind, int64_t>;
  static RelationKeyT RelationKey(GroupId g, GroupRelationKind k, UserId u) { return {g.value, k, u.value}; }
  static RelationKeyT RelationKey(int64_t a, GroupRelationKind k, int64_t b) { return {a, k, b}; }
  // Caller holds mu_. True when there was one.
  bool EraseRelation(GroupId g, UserId u, GroupRelationKind k) {
    user_relations_.erase(RelationKey(u.value, k, g.value));
    return relations_.erase(RelationKey(g, k, u)) > 0;
  }

  static Status UserNotFound(UserId id) { return Status::NotFound("no user " + std::to_string(id.value)); }
  static Status GroupNotFound(GroupId id) { return Status::NotFound("no group " + std::to_string(id.value)); }
  static Status DeadLetterNotFound(int64_t id) { return Status::NotFound("no dead letter " + std::to_string(id)); }

  std::mutex mu_;
  int64_t last_user_id_ = 0;
  int64_t last_group_id_ = 0;
  std::unordered_map<UserId, UserRow> users_;
  std::unordered_map<std::string, UserId> user_by_name_;
  std::unordered_map<std::string, RefreshTokenRecord> refresh_;
  std::unordered_map<std::string, bool> families_;  // family id -> revoked
  std::unordered_map<GroupId, Group> groups_;
  std::unordered_map<GroupId, std::map<UserId, GroupMember>> members_;
  std::unordered_map<ConversationId, ConversationRow> conversations_;
  std::map<std::pair<UserId, std::string>, AppendResult> idempotency_;
  std::unordered_map<UserId, std::map<ConversationId, Seq>> user_conversations_;
  std::map<std::pair<PushPlatform, std::string>, DeviceToken> device_tokens_;
  std::unordered_map<UserId, PushSettings> push_settings_;
  int64_t last_dead_letter_id_ = 0;
  std::map<int64_t, DeadLetter> dead_letters_;
  std::map<RelationKeyT, GroupRelation> relations_;  // (group, kind, user)
  std::set<RelationKeyT> user_relations_;            // (user, kind, group)
};

}  // namespace

std::shared_ptr<Store> NewMemoryStore() { return std::make_shared<MemoryStore>(); }

}  // namespace im
