// RocksDbStore: opening and closing, users and refresh tokens (groups: group_ops.cc; messages
// and read state: message_ops.cc). See rocksdb_store_impl.h for the threading model.
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <unordered_set>

#include "rocksdb/rocksdb_store_impl.h"

namespace im::rocks {
namespace {

// A no-op that completes after everything queued before it.
class BarrierJob final : public WriteJob {
 public:
  Status Apply() override { return Status::Ok(); }
  bool light() const override { return true; }
};

std::string UserName(UserId u) { return "user " + std::to_string(u.value); }

rocksdb::DBOptions MakeDbOptions(const RocksDbStoreOptions& o) {
  rocksdb::DBOptions d;
  d.create_if_missing = true;
  d.create_missing_column_families = true;
  d.db_write_buffer_size = o.write_buffer_bytes;  // all memtables together
  d.max_background_jobs = 2;
  d.keep_log_file_num = 4;  // RocksDB's own LOG files, not the WAL
  d.max_log_file_size = 8 << 20;
  // Not recycle_log_file_num: RocksDB 7 turns it off under kPointInTimeRecovery (the default
  // recovery mode, the one that keeps every synced write), so it would only mislead.
  return d;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const RocksDbStoreOptions& o, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions c;
  c.write_buffer_size = std::min<size_t>(o.write_buffer_bytes, 64 << 20);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Point lookups (usernames, idempotency keys, heads, list rows) mostly miss on all but one
  // level: a bloom filter skips the others without reading a block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return c;
}

}  // namespace

Result<std::shared_ptr<Store>> RocksDbStore::Open(const RocksDbStoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("rocksdb store: path must name a directory");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return Status::Unavailable("rocksdb store: cannot create " + options.path + ": " + ec.message());

  rocksdb::DBOptions db_options = MakeDbOptions(options);
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions cf_options = MakeCfOptions(options, cache);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) descriptors.emplace_back(CfName(static_cast<Cf>(i)), cf_options);
  // Families this version does not know (a newer libim's) must be opened too, or RocksDB refuses
  // the database before its version can be checked. A new database has none (the call fails).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const std::string& name : existing) {
      bool known = std::any_of(descriptors.begin(), descriptors.begin() + kCfCount,
                               [&](const rocksdb::ColumnFamilyDescriptor& d) { return d.name == name; });
      if (!known) descriptors.emplace_back(name, cf_options);
    }
  }

  std::shared_ptr<RocksDbStore> store(new RocksDbStore(options.sync));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "rocksdb store: open " + options.path);
  store->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    if (i < kCfCount) {
      store->cfs_[i] = handles[i];
    } else {
      store->other_cfs_.push_back(handles[i]);
    }
  }
  IM_RETURN_IF_ERROR(CheckAndMigrateSchema(raw, store->cfs_));
  store->writer_ = std::make_unique<Writer>(raw, store->cfs_, options.sync);
  store->queue_ = std::make_unique<WriteQueue>(*store->writer_, options.max_batch);
  return std::shared_ptr<Store>(std::move(store));
}

RocksDbStore::~RocksDbStore() {
  queue_.reset();  // every queued write is committed (or failed) first
  writer_.reset();
  if (db_ == nullptr) return;
  if (!sync_) (void)db_->SyncWAL();  // a clean close is durable even without fsync per batch
  for (auto* h : cfs_) {
    if (h != nullptr) (void)db_->DestroyColumnFamilyHandle(h);
  }
  for (auto* h : other_cfs_) (void)db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
}

Status RocksDbStore::ReadKey(const rocksdb::ReadOptions& options, Cf c, std::string_view key, std::string* value,
                             bool* found) {
  auto s = db_->Get(options, cf(c), key, value);
  *found = s.ok();
  if (s.ok() || s.IsNotFound()) return Status::Ok();
  return FromRocks(s, std::string("rocksdb store: read ") + CfName(c));
}

void RocksDbStore::Start(PrefixScan& scan, Cf c, std::string_view from) {
  scan.Start(db_->NewIterator(scan.options(), cf(c)), from);
}

Status RocksDbStore::Flush() {
  // Every acknowledged write is in the database already; the barrier waits for those queued.
  BarrierJob barrier;
  IM_RETURN_IF_ERROR(queue_->Submit(barrier));
  if (sync_) return Status::Ok();
  auto s = db_->FlushWAL(/*sync=*/true);
  return s.ok() ? Status::Ok() : FromRocks(s, "rocksdb store: sync the WAL");
}

// ---- users ----

Result<User> RocksDbStore::CreateUser(const NewUser& user) {
  if (user.username.empty()) return Status::InvalidArgument("rocksdb store: empty username");
  User created{UserId(), user.username, user.display_name, user.created_at_ms};
  Status s = Write([&]() -> Status {
    std::string value;
    bool taken = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kUsernames, user.username, &value, &taken));
    if (taken) return Status::AlreadyExists("username " + user.username + " is taken");
    IM_ASSIGN_OR_RETURN(created.id, w().NextUserId());
    const std::string id_key = UserKey(created.id);
    EncodeUser(UserRecord{user.username, user.display_name, user.created_at_ms}, &value);
    IM_RETURN_IF_ERROR(w().Put(Cf::kUsers, id_key, value));
    IM_RETURN_IF_ERROR(w().Put(Cf::kUsernames, user.username, id_key));
    return w().Put(Cf::kAuth, PasswordKey(created.id), user.password_hash);
  });
  if (!s.ok()) return s;
  return created;
}

Result<User> RocksDbStore::GetUser(UserId id) {
  const std::string key = UserKey(id);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kUsers, key, &value, &found));
  if (!found) return Status::NotFound(UserName(id) + " does not exist");
  UserRecord r;
  if (!DecodeUser(value, &r)) return CorruptValue(Cf::kUsers, key);
  return User{id, std::move(r.username), std::move(r.display_name), r.created_at_ms};
}

Result<std::vector<User>> RocksDbStore::GetUsers(std::span<const UserId> ids) {
  ReadView view(db_.get());
  std::vector<User> users;
  users.reserve(ids.size());
  std::string value;
  for (UserId id : ids) {
    const std::string key = UserKey(id);
    bool found = false;
    IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kUsers, key, &value, &found));
    if (!found) continue;
    UserRecord r;
    if (!DecodeUser(value, &r)) return CorruptValue(Cf::kUsers, key);
    users.push_back({id, std::move(r.username), std::move(r.display_name), r.created_at_ms});
  }
  return users;
}

Result<UserCredentials> RocksDbStore::GetCredentials(const std::string& username) {
  ReadView view(db_.get());
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kUsernames, username, &value, &found));
  if (!found) return Status::NotFound("user " + username + " does not exist");
  uint64_t id = 0;
  if (!DecodeU64Value(value, &id) || id == 0) return CorruptValue(Cf::kUsernames, username);
  UserCredentials credentials{UserId(static_cast<int64_t>(id)), {}};
  const std::string key = PasswordKey(credentials.id);
  IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kAuth, key, &credentials.password_hash, &found));
  if (!found) return Status::Internal("rocksdb store: " + UserName(credentials.id) + " has no stored credentials");
  return credentials;
}

Status RocksDbStore::UpdateUser(const User& user) {
  return Write([&]() -> Status {
    const std::string key = UserKey(user.id);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kUsers, key, &value, &found));
    if (!found) return Status::NotFound(UserName(user.id) + " does not exist");
    UserRecord r;
    if (!DecodeUser(value, &r)) return CorruptValue(Cf::kUsers, key);
    r.display_name = user.display_name;
    EncodeUser(r, &value);
    return w().Put(Cf::kUsers, key, value);
  });
}

Status RocksDbStore::UpdatePasswordHash(UserId id, const std::string& password_hash) {
  return Write([&]() -> Status {
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kUsers, UserKey(id), &value, &found));
    if (!found) return Status::NotFound(UserName(id) + " does not exist");
    return w().Put(Cf::kAuth, PasswordKey(id), password_hash);
  });
}

Status RocksDbStore::DeleteUser(UserId id) {
  return Write([&]() -> Status {
    const std::string user_key = UserKey(id);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kUsers, user_key, &value, &found));
    if (!found) return Status::NotFound(UserName(id) + " does not exist");
    UserRecord user;
    if (!DecodeUser(value, &user)) return CorruptValue(Cf::kUsers, user_key);

    // The user's groups (keys collected first: the batch must not change under its iterator).
    std::vector<GroupId> groups;
    {
      PrefixScan scan(UserGroupPrefix(id));
      w().Start(scan, Cf::kMembers);
      for (; scan.Valid(); scan.Next()) {
        if (scan.suffix().size() != 8) return CorruptValue(Cf::kMembers, scan.key());
        groups.emplace_back(static_cast<int64_t>(ReadU64(scan.suffix().data())));
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan memberships");
    }
    std::vector<GroupRecord> rows(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      IM_RETURN_IF_ERROR(LoadGroup(groups[i], &rows[i]));
      if (rows[i].owner == id && !rows[i].dismissed) {
        return Status::FailedPrecondition(UserName(id) + " still owns group " + std::to_string(groups[i].value));
      }
    }
    for (size_t i = 0; i < groups.size(); ++i) {
      IM_RETURN_IF_ERROR(DeleteMember(groups[i], id));
      if (rows[i].member_count > 0) rows[i].member_count--;
      IM_RETURN_IF_ERROR(PutGroup(groups[i], rows[i]));
    }
    // Every list row (direct conversations and the groups above).
    std::vector<std::string> list_keys;
    {
      PrefixScan scan(ListPrefix(id));
      w().Start(scan, Cf::kConversations);
      for (; scan.Valid(); scan.Next()) list_keys.emplace_back(scan.key());
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan conversation list");
    }
    for (const std::string& key : list_keys) IM_RETURN_IF_ERROR(w().Delete(Cf::kConversations, key));
    w().ForgetHeads();  // their direct conversations' "peer is listed" flags are stale now
    IM_RETURN_IF_ERROR(RevokeFamiliesOf(id, ""));
    IM_RETURN_IF_ERROR(DeleteDevicesOf(id));
    IM_RETURN_IF_ERROR(w().Delete(Cf::kUsernames, user.username));
    IM_RETURN_IF_ERROR(w().Delete(Cf::kAuth, PasswordKey(id)));
    return w().Delete(Cf::kUsers, user_key);
  });
}

// ---- refresh tokens ----

Status RocksDbStore::InsertToken(const RefreshTokenRecord& r) {
  const std::string token_key = TokenKey(r.token_hash);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(w().Get(Cf::kAuth, token_key, &value, &found));
  if (found) return Status::AlreadyExists("refresh token already stored");
  const std::string family_key = FamilyKey(r.family_id);
  IM_RETURN_IF_ERROR(w().Get(Cf::kAuth, family_key, &value, &found));
  if (!found) {
    EncodeFamily(false, &value);
    IM_RETURN_IF_ERROR(w().Put(Cf::kAuth, family_key, value));
  }
  IM_RETURN_IF_ERROR(w().Put(Cf::kAuth, UserFamilyKey(r.user, r.family_id), ""));
  EncodeToken(TokenRecord{r.user, r.family_id, r.device, r.expires_at_ms, r.used, r.revoked}, &value);
  return w().Put(Cf::kAuth, token_key, value);
}

Status RocksDbStore::SetFamilyRevoked(const std::string& family_id) {
  std::string value;
  EncodeFamily(true, &value);
  return w().Put(Cf::kAuth, FamilyKey(family_id), value);
}

Status RocksDbStore::RevokeFamiliesOf(UserId user, const std::string& except_family) {
  std::vector<std::string> families;
  {
    PrefixScan scan(UserFamilyPrefix(user));
    w().Start(scan, Cf::kAuth);
    for (; scan.Valid(); scan.Next()) {
      if (scan.suffix() != except_family) families.emplace_back(scan.suffix());
    }
    if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan login families");
  }
  for (const std::string& family : families) IM_RETURN_IF_ERROR(SetFamilyRevoked(family));
  return Status::Ok();
}

Status RocksDbStore::PutRefreshToken(const RefreshTokenRecord& record) {
  if (record.token_hash.empty()) return Status::InvalidArgument("rocksdb store: empty token hash");
  return Write([&] { return InsertToken(record); });
}

Result<RefreshTokenRecord> RocksDbStore::GetRefreshToken(const std::string& token_hash) {
  ReadView view(db_.get());
  const std::string key = TokenKey(token_hash);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kAuth, key, &value, &found));
  if (!found) return Status::NotFound("unknown refresh token");
  TokenRecord t;
  if (!DecodeToken(value, &t)) return CorruptValue(Cf::kAuth, key);
  // A token is revoked when its family is.
  const std::string family_key = FamilyKey(t.family_id);
  IM_RETURN_IF_ERROR(ReadKey(view.options(), Cf::kAuth, family_key, &value, &found));
  bool family_revoked = false;
  if (found && !DecodeFamily(value, &family_revoked)) return CorruptValue(Cf::kAuth, family_key);
  return RefreshTokenRecord{token_hash,      t.user, std::move(t.family_id),     std::move(t.device),
                            t.expires_at_ms, t.used, t.revoked || family_revoked};
}

Status RocksDbStore::RotateRefreshToken(const std::string& old_hash, const RefreshTokenRecord& next) {
  if (next.token_hash.empty()) return Status::InvalidArgument("rocksdb store: empty token hash");
  return Write([&]() -> Status {
    const std::string key = TokenKey(old_hash);
    std::string value;
    bool found = false;
    IM_RETURN_IF_ERROR(w().Get(Cf::kAuth, key, &value, &found));
    if (!found) return Status::NotFound("unknown refresh token");
    TokenRecord old;
    if (!DecodeToken(value, &old)) return CorruptValue(Cf::kAuth, key);
    if (old.used) return Status::FailedPrecondition("refresh token already used");
    const std::string family_key = FamilyKey(old.family_id);
    IM_RETURN_IF_ERROR(w().Get(Cf::kAuth, family_key, &value, &found));
    bool family_revoked = false;
    if (found && !DecodeFamily(value, &family_revoked)) return CorruptValue(Cf::kAuth, family_key);
    if (old.revoked || family_revoked) return Status::FailedPrecondition("refresh token revoked");
    old.used = true;
    EncodeToken(old, &value);
    IM_RETURN_IF_ERROR(w().Put(Cf::kAuth, key, value));
    return InsertToken(next);  // on failure the savepoint undoes the update above
  });
}

Status RocksDbStore::RevokeRefreshFamily(const std::string& family_id) {
  return Write([&] { return SetFamilyRevoked(family_id); });
}

Status RocksDbStore::RevokeUserRefreshFamilies(UserId user, const std::string& except_family) {
  return Write([&] { return RevokeFamiliesOf(user, except_family); });
}

Result<bool> RocksDbStore::IsRefreshFamilyRevoked(const std::string& family_id) {
  const std::string key = FamilyKey(family_id);
  std::string value;
  bool found = false;
  IM_RETURN_IF_ERROR(ReadKey(rocksdb::ReadOptions(), Cf::kAuth, key, &value, &found));
  if (!found) return Status::NotFound("unknown refresh token family");
  bool revoked = false;
  if (!DecodeFamily(value, &revoked)) return CorruptValue(Cf::kAuth, key);
  return revoked;
}

Result<uint64_t> RocksDbStore::PruneRefreshTokens(TimestampMs expired_before) {
  uint64_t pruned = 0;
  IM_RETURN_IF_ERROR(Write([&]() -> Status {
    // One pass over the tokens (once an hour, from AuthService), then over the families and the
    // users' family index, deleting what no remaining token belongs to.
    std::vector<std::string> expired;
    std::unordered_set<std::string> live;
    {
      PrefixScan scan(std::string(1, 't'));
      w().Start(scan, Cf::kAuth);
      for (; scan.Valid(); scan.Next()) {
        TokenRecord t;
        if (!DecodeToken(scan.value(), &t)) return CorruptValue(Cf::kAuth, std::string(scan.key()));
        if (t.expires_at_ms < expired_before) {
          expired.emplace_back(scan.key());
        } else {
          live.insert(std::move(t.family_id));
        }
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan refresh tokens");
    }
    std::vector<std::string> orphans;
    {
      PrefixScan scan(std::string(1, 'f'));
      w().Start(scan, Cf::kAuth);
      for (; scan.Valid(); scan.Next()) {
        if (!live.contains(std::string(scan.suffix()))) orphans.emplace_back(scan.key());
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan login families");
    }
    {
      PrefixScan scan(std::string(1, 'u'));  // 'u' U64(user) family_id
      w().Start(scan, Cf::kAuth);
      for (; scan.Valid(); scan.Next()) {
        if (scan.suffix().size() >= 8 && !live.contains(std::string(scan.suffix().substr(8)))) {
          orphans.emplace_back(scan.key());
        }
      }
      if (!scan.status().ok()) return FromRocks(scan.status(), "rocksdb store: scan user families");
    }
    for (const std::string& key : expired) IM_RETURN_IF_ERROR(w().Delete(Cf::kAuth, key));
    for (const std::string& key : orphans) IM_RETURN_IF_ERROR(w().Delete(Cf::kAuth, key));
    pruned = expired.size();
    return Status::Ok();
  }));
  return pruned;
}

}  // namespace im::rocks

namespace im {

Result<std::shared_ptr<Store>> OpenRocksDbStore(const RocksDbStoreOptions& options) {
  return rocks::RocksDbStore::Open(options);
}

}  // namespace im
