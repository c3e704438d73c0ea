// A forward scan over the keys of one column family that start with a prefix. Owns the bounds
// its ReadOptions point to, so it can be neither copied nor moved.
#ifndef IM_ROCKSDB_SCAN_H_
#define IM_ROCKSDB_SCAN_H_

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <memory>
#include <string>
#include <string_view>

#include "rocksdb/schema.h"

namespace im::rocks {

class PrefixScan {
 public:
  explicit PrefixScan(std::string prefix, const rocksdb::Snapshot* snapshot = nullptr)
      : prefix_(std::move(prefix)), end_(PrefixEnd(prefix_)), upper_(end_) {
    if (!end_.empty()) options_.iterate_upper_bound = &upper_;
    options_.snapshot = snapshot;
  }
  PrefixScan(const PrefixScan&) = delete;
  PrefixScan& operator=(const PrefixScan&) = delete;

  // The options to create the iterator with (bounds and snapshot set).
  const rocksdb::ReadOptions& options() const { return options_; }
  // Takes the iterator (created with options()) and positions it at `from`, or at the prefix when
  // `from` sorts before it.
  void Start(rocksdb::Iterator* it, std::string_view from = {}) {
    it_.reset(it);
    if (from.empty() || std::string_view(from) < std::string_view(prefix_)) {
      it_->Seek(prefix_);
    } else {
      it_->Seek(from);
    }
  }

  bool Valid() const { return it_->Valid() && it_->key().starts_with(prefix_); }
  void Next() { it_->Next(); }
  std::string_view key() const { return {it_->key().data(), it_->key().size()}; }
  // The key without the prefix.
  std::string_view suffix() const { return key().substr(prefix_.size()); }
  std::string_view value() const { return {it_->value().data(), it_->value().size()}; }
  rocksdb::Status status() const { return it_->status(); }

 private:
  const std::string prefix_;
  const std::string end_;
  const rocksdb::Slice upper_;
  rocksdb::ReadOptions options_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace im::rocks

#endif  // IM_ROCKSDB_SCAN_H_
