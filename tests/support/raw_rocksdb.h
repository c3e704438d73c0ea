// A RocksDB store's database opened directly with RocksDB, every column family included (another
// program, or a disk that flipped bits): the tests read, damage and migrate databases with it.
// Only while no store has the database open.
#ifndef IM_TESTS_SUPPORT_RAW_ROCKSDB_H_
#define IM_TESTS_SUPPORT_RAW_ROCKSDB_H_

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace im::test {

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles_, &db);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db_.reset(db);
  }
  ~RawDb() {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool Has(const std::string& name) const {
    return std::any_of(handles_.begin(), handles_.end(), [&](auto* h) { return h->GetName() == name; });
  }
  // The column family `name`, created when missing.
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    rocksdb::ColumnFamilyHandle* h = nullptr;
    REQUIRE(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &h).ok());
    handles_.push_back(h);
    return h;
  }
  void Drop(const std::string& name) {
    rocksdb::ColumnFamilyHandle* h = cf(name);
    REQUIRE(db_->DropColumnFamily(h).ok());
    REQUIRE(db_->DestroyColumnFamilyHandle(h).ok());
    std::erase(handles_, h);
  }
  void Put(const std::string& cf_name, const std::string& key, const std::string& value) {
    REQUIRE(db_->Put(Sync(), cf(cf_name), key, value).ok());
  }
  void Delete(const std::string& cf_name, const std::string& key) {
    REQUIRE(db_->Delete(Sync(), cf(cf_name), key).ok());
  }
  // The value at `key`, or nullopt.
  std::optional<std::string> Get(const std::string& cf_name, const std::string& key) {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_name), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return value;
  }

 private:
  static rocksdb::WriteOptions Sync() {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    return sync;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_RAW_ROCKSDB_H_
