// PostgresStore: the Store contract on a PostgreSQL database (see include/im/postgres_store.h).
// Internal; the methods are split by topic over postgres_store.cc (users, tokens, messages, read
// state, factory), group_ops.cc (groups) and push_ops.cc (device tokens, push settings, dead
// letters).
//
// AppendMessage goes through the group committer (append_writer.h). Every other call leases a
// pooled connection and runs either one autocommitted statement (reads: Read) or one READ
// COMMITTED transaction (Write), where the invariants that need more than one statement are
// kept by row locks (SELECT … FOR UPDATE on the group, the token, the counter row). Attempts
// that the server rolled back (serialization failure, deadlock) or that lost their connection
// before COMMIT are run again on a live connection, a few times; libpqxx throws, and every
// entry point converts exceptions to Status (error.h).
#ifndef IM_POSTGRES_POSTGRES_STORE_IMPL_H_
#define IM_POSTGRES_POSTGRES_STORE_IMPL_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "im/postgres_store.h"
#include "im/store.h"
#include "postgres/append_writer.h"
#include "postgres/connection_pool.h"
#include "postgres/error.h"
#include "postgres/run_transaction.h"

namespace im::postgres {

inline int64_t I64(Seq seq) {
  constexpr auto kMax = static_cast<Seq>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(seq > kMax ? kMax : seq);
}
inline Seq ToSeq(int64_t v) { return v > 0 ? static_cast<Seq>(v) : 0; }

// PostgreSQL text cannot hold NUL bytes (and libpq would cut the value there): such input is
// refused up front instead of being stored truncated.
inline bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

class PostgresStore final : public Store {
 public:
  static Result<std::shared_ptr<Store>> Open(const PostgresStoreOptions& options);

  Result<User> CreateUser(const NewUser& user) override;
  Result<User> GetUser(UserId id) override;
  Result<std::vector<User>> GetUsers(std::span<const UserId> ids) override;
  Result<UserCredentials> GetCredentials(const std::string& username) override;
  Status UpdateUser(const User& user) override;
  Status UpdatePasswordHash(UserId id, const std::string& password_hash) override;
  Status DeleteUser(UserId id) override;

  Status PutRefreshToken(const RefreshTokenRecord& record) override;
  Result<RefreshTokenRecord> GetRefreshToken(const std::string& token_hash) override;
  Status RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) override;
  Status RevokeRefreshFamily(const std::string& family_id) override;
  Status RevokeUserRefreshFamilies(UserId user, const std::string& except_family) override;
  Result<bool> IsRefreshFamilyRevoked(const std::string& family_id) override;
  Result<uint64_t> PruneRefreshTokens(TimestampMs expired_before) override;

  Result<Group> CreateGroup(const NewGroup& group) override;
  Result<Group> GetGroup(GroupId id) override;
  Status AddGroupMember(GroupId group, const GroupMember& member) override;
  Status RemoveGroupMember(GroupId group, UserId user) override;
  Result<GroupMember> GetGroupMember(GroupId group, UserId user) override;
  Status SetGroupMemberRole(GroupId group, UserId user, GroupRole role) override;
  Status TransferGroupOwnership(GroupId group, UserId from, UserId to) override;
  Status DismissGroup(GroupId group) override;
  Result<std::vector<GroupMember>> ListGroupMembers(GroupId group, UserId after, uint32_t limit) override;
  Status UpdateGroupSettings(GroupId group, const GroupSettings& settings) override;
  Status PutGroupRelation(const GroupRelation& relation) override;
  Result<GroupRelation> GetGroupRelation(GroupId group, UserId user, GroupRelationKind kind) override;
  Status DeleteGroupRelation(GroupId group, UserId user, GroupRelationKind kind) override;
  Result<std::vector<GroupRelation>> ListGroupRelations(GroupId group, GroupRelationKind kind, UserId after,
                                                        uint32_t limit) override;
  Result<std::vector<GroupRelation>> ListUserGroupRelations(UserId user, GroupRelationKind kind, GroupId after,
                                                            uint32_t limit) override;

  Result<AppendResult> AppendMessage(const NewMessage& message) override;
  Result<std::vector<Message>> ListMessages(const ConversationId& conversation, const MessageRange& range) override;
  Result<ConversationState> GetConversationState(const ConversationId& conversation) override;
  Status TrimHistory(const ConversationId& conversation, Seq before_seq) override;

  Result<std::vector<ConversationSummary>> ListConversations(UserId user, const ConversationCursor& after,
                                                             uint32_t limit) override;
  Result<Seq> AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) override;
  Result<Seq> GetReadSeq(UserId user, const ConversationId& conversation) override;

  Status PutDeviceToken(const DeviceToken& token) override;
  Status DeleteDeviceToken(PushPlatform platform, const std::string& token) override;
  Result<std::vector<DeviceToken>> ListDeviceTokens(UserId user) override;
  Result<PushSettings> GetPushSettings(UserId user) override;
  Status PutPushSettings(UserId user, const PushSettings& settings) override;
  Result<int64_t> AddDeadLetter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after_id, uint32_t limit) override;
  Result<DeadLetter> GetDeadLetter(int64_t id) override;
  Status DeleteDeadLetter(int64_t id) override;

  Status Flush() override;

 private:
  PostgresStore() = default;

  // Runs `f(Tx&)` (returning Status or Result) in one transaction and commits when it returns ok
  // (a non-ok return rolls back).
  template <typename F>
  auto Write(const char* what, F f) -> decltype(f(std::declval<Tx&>())) {
    return Run<pqxx::work>(what, f);
  }
  // Runs `f(Tx&)` with every statement autocommitted: single-statement reads.
  template <typename F>
  auto Read(const char* what, F f) -> decltype(f(std::declval<Tx&>())) {
    return Run<pqxx::nontransaction>(what, f);
  }

  template <typename Txn, typename F>
  auto Run(const char* what, F& f) -> decltype(f(std::declval<Tx&>())) {
    return RunTransaction<Txn>(*pool_, what, f);
  }

  // Group helpers (group_ops.cc), inside a Write transaction.
  struct GroupRow {
    int64_t owner = 0;
    int64_t member_count = 0;
    int64_t max_members = 0;
    bool dismissed = false;
  };
  // Loads and locks the group row (membership changes of one group run one at a time).
  static Status LockGroup(Tx& tx, GroupId group, GroupRow* row);
  static Status LoadRole(Tx& tx, GroupId group, UserId user, bool lock, GroupRole* role);
  static bool HasRelation(Tx& tx, GroupId group, UserId user, GroupRelationKind kind);
  static void EraseJoinRelations(Tx& tx, GroupId group, UserId user);  // invitation and join request

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<AppendWriter> writer_;
};

}  // namespace im::postgres

#endif  // IM_POSTGRES_POSTGRES_STORE_IMPL_H_
