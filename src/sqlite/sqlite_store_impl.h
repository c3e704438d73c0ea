// SqliteStore: the Store contract on one SQLite file (see include/im/sqlite_store.h). Internal;
// the methods are split by topic over sqlite_store.cc (users, tokens, messages, read state),
// group_ops.cc (groups) and push_ops.cc (device tokens, push settings, dead letters).
//
// Writes run as jobs on the single writer thread (write_queue.h), group-committed; reads run on a
// pool of read-only connections and never wait for the writer (WAL). SQLiteCpp throws: every
// entry point converts exceptions to Status (error.h) so none crosses the Store API.
#ifndef IM_SQLITE_SQLITE_STORE_IMPL_H_
#define IM_SQLITE_SQLITE_STORE_IMPL_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "im/sqlite_store.h"
#include "im/store.h"
#include "sqlite/connection.h"
#include "sqlite/error.h"
#include "sqlite/write_queue.h"
#include "sqlite/writer.h"

namespace im::sqlite {

// A heavy write job running a callable that lives in the submitter's frame.
template <typename F>
class FunctionJob final : public WriteJob {
 public:
  explicit FunctionJob(F& f) : f_(f) {}
  Status Apply() override { return f_(); }

 private:
  F& f_;
};

inline int64_t I64(Seq seq) {
  constexpr auto kMax = static_cast<Seq>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(seq > kMax ? kMax : seq);
}
inline Seq ToSeq(int64_t v) { return v > 0 ? static_cast<Seq>(v) : 0; }

class SqliteStore final : public Store {
 public:
  static Result<std::shared_ptr<Store>> Open(const SqliteStoreOptions& options);
  ~SqliteStore() override { queue_.reset(); }  // drain before readers_ and writer_ close

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
  std::vector<Result<AppendResult>> AppendMessages(std::span<const NewMessage> messages) override;
  Result<std::vector<Message>> ListMessages(const ConversationId& conversation, const MessageRange& range) override;
  Result<ConversationState> GetConversationState(const ConversationId& conversation) override;
  Status TrimHistory(const ConversationId& conversation, Seq before_seq) override;

  Result<std::vector<ConversationSummary>> ListConversations(UserId user, const ConversationCursor& after,
                                                             uint32_t limit) override;
  Result<Seq> AdvanceReadSeq(UserId user, const ConversationId& conversation, Seq seq) override;
  Result<Seq> GetReadSeq(UserId user, const ConversationId& conversation) override;

  // push_ops.cc
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
  explicit SqliteStore(bool synchronous) : synchronous_(synchronous) {}

  // Runs `f` (returning Status) as a heavy job on the writer thread, in its own savepoint.
  template <typename F>
  Status Write(F f) {
    FunctionJob<F> job(f);
    return queue_->Submit(job);
  }

  // Runs `f(StatementCache&)` on a leased reader connection; exceptions become Status.
  template <typename F>
  auto Read(const char* what, F f) -> decltype(f(std::declval<StatementCache&>())) {
    try {
      auto lease = readers_->Acquire();
      return f(lease.statements());
    } catch (...) {
      return FromCurrentException(what);
    }
  }

  // The writer connection's statements (writer thread only).
  StatementCache& w() { return writer_->statements(); }

  // Writer-thread helpers of the group operations (group_ops.cc).
  struct GroupRow {
    int64_t owner = 0;
    int64_t member_count = 0;
    int64_t max_members = 0;
    bool dismissed = false;
  };
  Status LoadGroup(GroupId group, GroupRow* row);
  Status LoadRole(GroupId group, UserId user, GroupRole* role);
  // Puts the conversation on the user's list with its read pointer at `read_seq` (or keeps a
  // higher one), and takes it off again.
  void AddListRow(UserId user, const std::string& conversation, Seq read_seq);
  void RemoveListRow(UserId user, const std::string& conversation);
  // Whether the (group, user, kind) relation exists, and deleting it (true when it did).
  bool HasRelation(GroupId group, UserId user, GroupRelationKind kind);
  bool EraseRelation(GroupId group, UserId user, GroupRelationKind kind);

  const bool synchronous_;
  // Destruction order matters: queue_ (drains, stops the writer thread), then readers_, then
  // writer_ — the last connection to close checkpoints and removes the WAL.
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReaderPool> readers_;
  std::unique_ptr<WriteQueue> queue_;
};

}  // namespace im::sqlite

#endif  // IM_SQLITE_SQLITE_STORE_IMPL_H_
