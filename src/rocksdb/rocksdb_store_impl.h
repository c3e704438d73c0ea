// RocksDbStore: the Store contract on one RocksDB database (see include/im/rocksdb_store.h).
// Internal; the methods are split by topic over rocksdb_store.cc (opening, users, tokens),
// group_ops.cc (groups), message_ops.cc (messages, conversation list, read state) and
// push_ops.cc (device tokens, push settings, dead letters).
//
// Writes run as jobs on the single writer thread (write_queue.h, writer.h), group-committed;
// reads run on the caller's thread straight on the database, under a snapshot when they read
// more than one key.
#ifndef IM_ROCKSDB_ROCKSDB_STORE_IMPL_H_
#define IM_ROCKSDB_ROCKSDB_STORE_IMPL_H_

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "im/rocksdb_store.h"
#include "im/store.h"
#include "rocksdb/codec.h"
#include "rocksdb/error.h"
#include "rocksdb/schema.h"
#include "rocksdb/write_queue.h"
#include "rocksdb/writer.h"

namespace im::rocks {

// A heavy write job running a callable that lives in the submitter's frame.
template <typename F>
class FunctionJob final : public WriteJob {
 public:
  explicit FunctionJob(F& f) : f_(f) {}
  Status Apply() override { return f_(); }

 private:
  F& f_;
};

// A consistent view of the database for a read that spans keys.
class ReadView {
 public:
  explicit ReadView(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) { options_.snapshot = snapshot_; }
  ~ReadView() { db_->ReleaseSnapshot(snapshot_); }
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;
  const rocksdb::ReadOptions& options() const { return options_; }
  const rocksdb::Snapshot* snapshot() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

class RocksDbStore final : public Store {
 public:
  static Result<std::shared_ptr<Store>> Open(const RocksDbStoreOptions& options);
  ~RocksDbStore() override;

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
  explicit RocksDbStore(bool sync) : sync_(sync) {}

  // Runs `f` (returning Status) as a heavy job on the writer thread.
  template <typename F>
  Status Write(F f) {
    FunctionJob<F> job(f);
    return queue_->Submit(job);
  }

  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs_[static_cast<size_t>(c)]; }
  // One key, read on the caller's thread. `found` false (and ok) when absent.
  Status ReadKey(const rocksdb::ReadOptions& options, Cf c, std::string_view key, std::string* value, bool* found);
  // Starts `scan` on the database (under the scan's snapshot).
  void Start(PrefixScan& scan, Cf c, std::string_view from = {});
  Writer& w() { return *writer_; }

  // Writer-thread helpers of the group operations (group_ops.cc).
  Status LoadGroup(GroupId group, GroupRecord* row);
  Status PutGroup(GroupId group, const GroupRecord& row);
  // not_found when `user` is not a member.
  Status LoadMember(GroupId group, UserId user, MemberRecord* member);
  Status PutMember(GroupId group, UserId user, const MemberRecord& member);
  Status DeleteMember(GroupId group, UserId user);
  // Writer-thread helpers of group relations: whether one exists, and deleting it (*erased tells
  // whether it existed).
  Status HasRelation(GroupId group, UserId user, GroupRelationKind kind, bool* found);
  Status EraseRelation(GroupId group, UserId user, GroupRelationKind kind, bool* erased = nullptr);
  // Puts the conversation on the user's list with its read pointer at `read_seq` (or keeps a
  // higher one), and takes it off again.
  Status AddListRow(UserId user, const std::string& conversation, Seq read_seq);
  Status RemoveListRow(UserId user, const std::string& conversation);
  // Writer-thread helpers of the token operations (rocksdb_store.cc).
  Status InsertToken(const RefreshTokenRecord& r);
  Status SetFamilyRevoked(const std::string& family_id);
  Status RevokeFamiliesOf(UserId user, const std::string& except_family);
  // Writer-thread helpers of the push operations (push_ops.cc). not_found for an unknown user.
  Status RequireUser(UserId user);
  // Removes the user's device tokens and push settings (DeleteUser).
  Status DeleteDevicesOf(UserId user);

  const bool sync_;
  std::unique_ptr<rocksdb::DB> db_;
  CfHandles cfs_{};
  std::vector<rocksdb::ColumnFamilyHandle*> other_cfs_;  // families of a newer libim, kept open
  // Destruction order: queue_ (drains, stops the writer thread), writer_, then the handles and
  // the database (~RocksDbStore).
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<WriteQueue> queue_;
};

}  // namespace im::rocks

#endif  // IM_ROCKSDB_ROCKSDB_STORE_IMPL_H_
