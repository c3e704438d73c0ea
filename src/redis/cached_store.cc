// CachedStore: cache-aside over Redis (include/im/cached_store.h).
//
// Keys (prefix im:cache: by default):
//   u:<user id>    string: an encoded User
//   g2:<group id>  string: an encoded Group
//   gm2:<group id> hash: <user id> -> an encoded GroupMember (members only)
//   gl2:<group id> hash: "<after>:<limit>" -> an encoded page of ListGroupMembers
// A group's membership facts live in two hashes so that one DEL forgets all of them (dismissal,
// a member leaving shifts every page). The "2" keys replaced g:, gm: and gl: when groups gained
// their join policy and members their joined seq: a page in the older encoding would not decode
// as the newer one, so it must not be found under the same name.
#include "im/cached_store.h"

#include <atomic>
#include <charconv>
#include <optional>

#include "redis/connection_pool.h"

namespace im {
namespace {

using redis::Clock;
using redis::Command;
using redis::Reply;

// Values: fields as "<length>:<bytes>" one after another.
void Put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}
void Put(std::string& out, int64_t v) { Put(out, std::to_string(v)); }

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Get(std::string* out) {
    size_t colon = in_.find(':');
    size_t n = 0;
    if (colon == std::string_view::npos) return ok_ = false;
    auto [end, ec] = std::from_chars(in_.data(), in_.data() + colon, n);
    if (ec != std::errc() || end != in_.data() + colon || colon + 1 + n > in_.size()) return ok_ = false;
    *out = std::string(in_.substr(colon + 1, n));
    in_.remove_prefix(colon + 1 + n);
    return true;
  }
  bool Get(int64_t* out) {
    std::string s;
    if (!Get(&s)) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ok_ = ec == std::errc() && end == s.data() + s.size();
  }
  bool done() const { return ok_ && in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

std::string Encode(const User& u) {
  std::string s;
  Put(s, u.id.value);
  Put(s, u.username);
  Put(s, u.display_name);
  Put(s, u.created_at_ms);
  return s;
}
bool Decode(std::string_view in, User* u) {
  Reader r(in);
  int64_t id = 0;
  bool ok = r.Get(&id) && r.Get(&u->username) && r.Get(&u->display_name) && r.Get(&u->created_at_ms);
  u->id = UserId(id);
  return ok && r.done();
}

std::string Encode(const Group& g) {
  std::string s;
  Put(s, g.id.value);
  Put(s, g.name);
  Put(s, g.owner.value);
  Put(s, g.member_count);
  Put(s, g.max_members);
  Put(s, g.dismissed ? 1 : 0);
  Put(s, g.created_at_ms);
  Put(s, static_cast<int64_t>(g.join_policy));
  Put(s, static_cast<int64_t>(g.history_visibility));
  return s;
}
bool Decode(std::string_view in, Group* g) {
  Reader r(in);
  int64_t id = 0, owner = 0, count = 0, max = 0, dismissed = 0, policy = 0, history = 0;
  bool ok = r.Get(&id) && r.Get(&g->name) && r.Get(&owner) && r.Get(&count) && r.Get(&max) && r.Get(&dismissed) &&
            r.Get(&g->created_at_ms) && r.Get(&policy) && r.Get(&history);
  g->join_policy = static_cast<JoinPolicy>(policy);
  g->history_visibility = static_cast<HistoryVisibility>(history);
  g->id = GroupId(id);
  g->owner = UserId(owner);
  g->member_count = static_cast<uint32_t>(count);
  g->max_members = static_cast<uint32_t>(max);
  g->dismissed = dismissed != 0;
  return ok && r.done();
}

void Append(std::string& s, const GroupMember& m) {
  Put(s, m.user.value);
  Put(s, static_cast<int64_t>(m.role));
  Put(s, m.joined_at_ms);
  Put(s, static_cast<int64_t>(m.joined_seq));
}
bool Next(Reader& r, GroupMember* m) {
  int64_t user = 0, role = 0, joined_seq = 0;
  if (!(r.Get(&user) && r.Get(&role) && r.Get(&m->joined_at_ms) && r.Get(&joined_seq))) return false;
  if (role < 0 || role > static_cast<int64_t>(GroupRole::kOwner) || joined_seq < 0) return false;
  m->user = UserId(user);
  m->role = static_cast<GroupRole>(role);
  m->joined_seq = static_cast<Seq>(joined_seq);
  return true;
}

class CachedStoreImpl final : public CachedStore {
 public:
  CachedStoreImpl(std::shared_ptr<Store> target, const CachedStoreOptions& o, const RedisPresenceOptions& redis)
      : CachedStore(target), target_(std::move(target)), options_(o), pool_(redis) {}

  // ---- cached reads ----
  Result<User> GetUser(UserId id) override {
    std::string key = Key("u:", id.value);
    if (auto hit = Fetch({"GET", key})) {
      User u;
      if (Decode(*hit, &u)) return u;
    }
    IM_ASSIGN_OR_RETURN(User u, target_->GetUser(id));
    Fill({"SET", key, Encode(u), "PX", Ttl()});
    return u;
  }

  Result<Group> GetGroup(GroupId id) override {
    std::string key = Key("g2:", id.value);
    if (auto hit = Fetch({"GET", key})) {
      Group g;
      if (Decode(*hit, &g)) return g;
    }
    IM_ASSIGN_OR_RETURN(Group g, target_->GetGroup(id));
    Fill({"SET", key, Encode(g), "PX", Ttl()});
    return g;
  }

  Result<GroupMember> GetGroupMember(GroupId group, UserId user) override {
    std::string key = Key("gm2:", group.value), field = std::to_string(user.value);
    if (auto hit = Fetch({"HGET", key, field})) {
      Reader r(*hit);
      GroupMember m;
      if (Next(r, &m) && r.done()) return m;
    }
    // Only members are cached: a cached "not a member" that raced a join would refuse the new
    // member's sends until it expired.
    IM_ASSIGN_OR_RETURN(GroupMember m, target_->GetGroupMember(group, user));
    std::string value;
    Append(value, m);
    FillHash(key, field, value);
    return m;
  }

  Result<std::vector<GroupMember>> ListGroupMembers(GroupId group, UserId after, uint32_t limit) override {
    if (limit > options_.max_cached_page) return target_->ListGroupMembers(group, after, limit);
    std::string key = Key("gl2:", group.value), field = std::to_string(after.value) + ":" + std::to_string(limit);
    if (auto hit = Fetch({"HGET", key, field})) {
      std::vector<GroupMember> page;
      Reader r(*hit);
      GroupMember m;
      while (!r.done() && Next(r, &m)) page.push_back(m);
      if (r.done()) return page;
    }
    IM_ASSIGN_OR_RETURN(auto page, target_->ListGroupMembers(group, after, limit));
    std::string value;
    for (const auto& m : page) Append(value, m);
    FillHash(key, field, value);
    return page;
  }

  // ---- writes: the store first, then forget what they changed ----
  Status UpdateUser(const User& user) override {
    IM_RETURN_IF_ERROR(target_->UpdateUser(user));
    Forget({Key("u:", user.id.value)});
    return Status::Ok();
  }

  Status DeleteUser(UserId id) override {
    // The store removes the user's memberships too: remember their groups first.
    std::vector<std::string> keys{Key("u:", id.value)};
    ConversationCursor cursor;
    for (;;) {
      auto page = target_->ListConversations(id, cursor, 500);
      if (!page.ok()) break;  // the deletion below decides; the TTL covers the rest
      for (const auto& c : *page) {
        if (c.id.is_group()) AddGroupKeys(c.id.group(), &keys);
      }
      if (page->size() < 500) break;
      cursor = ConversationCursor{page->back().last_activity_ms, page->back().id};
    }
    IM_RETURN_IF_ERROR(target_->DeleteUser(id));
    Forget(keys);
    return Status::Ok();
  }

  Status AddGroupMember(GroupId group, const GroupMember& member) override {
    IM_RETURN_IF_ERROR(target_->AddGroupMember(group, member));
    ForgetGroup(group);
    return Status::Ok();
  }
  Status RemoveGroupMember(GroupId group, UserId user) override {
    IM_RETURN_IF_ERROR(target_->RemoveGroupMember(group, user));
    ForgetGroup(group);
    return Status::Ok();
  }
  Status SetGroupMemberRole(GroupId group, UserId user, GroupRole role) override {
    IM_RETURN_IF_ERROR(target_->SetGroupMemberRole(group, user, role));
    ForgetGroup(group);
    return Status::Ok();
  }
  Status TransferGroupOwnership(GroupId group, UserId from, UserId to) override {
    IM_RETURN_IF_ERROR(target_->TransferGroupOwnership(group, from, to));
    ForgetGroup(group);
    return Status::Ok();
  }
  Status DismissGroup(GroupId group) override {
    IM_RETURN_IF_ERROR(target_->DismissGroup(group));
    ForgetGroup(group);
    return Status::Ok();
  }
  Status UpdateGroupSettings(GroupId group, const GroupSettings& settings) override {
    IM_RETURN_IF_ERROR(target_->UpdateGroupSettings(group, settings));
    ForgetGroup(group);
    return Status::Ok();
  }
  // A ban removes the membership (invitations, requests and bans themselves are not cached).
  Status PutGroupRelation(const GroupRelation& relation) override {
    IM_RETURN_IF_ERROR(target_->PutGroupRelation(relation));
    if (relation.kind == GroupRelationKind::kBan) ForgetGroup(relation.group);
    return Status::Ok();
  }

  CachedStoreStats Stats() const override {
    return CachedStoreStats{hits_.load(), misses_.load(), redis_errors_.load(), stale_deletes_.load()};
  }

 private:
  std::string Key(const char* kind, int64_t id) const { return options_.key_prefix + kind + std::to_string(id); }
  std::string Ttl() const { return std::to_string(options_.ttl_ms); }
  Clock::time_point Deadline() const { return Clock::now() + std::chrono::milliseconds(options_.command_timeout_ms); }
  void AddGroupKeys(GroupId g, std::vector<std::string>* keys) const {
    keys->push_back(Key("g2:", g.value));
    keys->push_back(Key("gm2:", g.value));
    keys->push_back(Key("gl2:", g.value));
  }

  // The cached value, or nothing on a miss or a Redis failure.
  std::optional<std::string> Fetch(Command command) {
    std::vector<Reply> replies;
    if (!pool_.RoundTrip({std::move(command)}, &replies, Deadline()).ok() || replies[0]->type == REDIS_REPLY_ERROR) {
      redis_errors_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    if (replies[0]->type != REDIS_REPLY_STRING) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return std::string(replies[0]->str, replies[0]->len);
  }
  void Fill(Command command) {
    std::vector<Reply> replies;
    if (!pool_.RoundTrip({std::move(command)}, &replies, Deadline()).ok()) {
      redis_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void FillHash(const std::string& key, const std::string& field, const std::string& value) {
    std::vector<Reply> replies;
    // The hash's TTL starts with its first field and is not extended: a group's facts are
    // refreshed together.
    Status s = pool_.RoundTrip({{"HSET", key, field, value}, {"PEXPIRE", key, Ttl(), "NX"}}, &replies, Deadline());
    if (!s.ok()) redis_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  void Forget(const std::vector<std::string>& keys) {
    Command del{"DEL"};
    del.insert(del.end(), keys.begin(), keys.end());
    std::vector<Reply> replies;
    if (!pool_.RoundTrip({std::move(del)}, &replies, Deadline()).ok() || replies[0]->type == REDIS_REPLY_ERROR) {
      stale_deletes_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void ForgetGroup(GroupId group) {
    std::vector<std::string> keys;
    AddGroupKeys(group, &keys);
    Forget(keys);
  }

  std::shared_ptr<Store> target_;
  const CachedStoreOptions options_;
  redis::ConnectionPool pool_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, redis_errors_{0}, stale_deletes_{0};
};

}  // namespace

Result<std::shared_ptr<CachedStore>> OpenCachedStore(std::shared_ptr<Store> target, const CachedStoreOptions& o) {
  if (!target) return Status::InvalidArgument("cached store: no target store");
  if (o.host.empty() || o.port <= 0 || o.port > 65535) return Status::InvalidArgument("cached store: bad address");
  if (o.pool_size < 1 || o.command_timeout_ms < 1 || o.ttl_ms < 1) {
    return Status::InvalidArgument("cached store: pool_size, command_timeout_ms and ttl_ms must be positive");
  }
  RedisPresenceOptions redis;
  redis.host = o.host;
  redis.port = o.port;
  redis.password = o.password;
  redis.db = o.db;
  redis.pool_size = o.pool_size;
  redis.command_timeout_ms = o.command_timeout_ms;
  redis.connect_timeout_ms = std::min(1'000, o.command_timeout_ms);
  return std::shared_ptr<CachedStore>(std::make_shared<CachedStoreImpl>(std::move(target), o, redis));
}

}  // namespace im
