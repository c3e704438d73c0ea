// The RocksDB store (target im::rocksdb): an embedded alternative to SQLite for write-heavy
// hosts, and a storage option of im-repo.
//
// One RocksDB database (a directory) with one column family per record kind. Durability: every
// write that returned ok was part of a WriteBatch written with WriteOptions.sync = true, i.e. its
// WAL record was fsync'd first; after a process crash or a power loss, RocksDB replays the WAL on
// the next open and every acknowledged write is there, every unacknowledged one is either whole
// or absent (a WriteBatch is atomic across column families). Nothing is half-applied.
//
// A single writer thread owns every mutation: it allocates seqs, checks uniqueness and
// group-commits concurrent writes (every write waiting when a batch starts joins it, up to
// max_batch), so N concurrent sends cost one WAL fsync, not N. Reads go straight to the database
// on the caller's thread, under a snapshot when they span several keys.
//
// The on-disk format is versioned (a key in the default column family); a database written by a
// newer libim is refused with failed_precondition. One process at a time opens a database
// (RocksDB's LOCK file): a second open fails with unavailable.
//
// Errors: I/O errors, a locked or busy database, disk full → unavailable (the caller may retry;
// a send retried with its client_msg_id is idempotent); a corrupt record → internal, naming the
// column family and key (never a crash).
#ifndef IM_ROCKSDB_STORE_H_
#define IM_ROCKSDB_STORE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "im/status.h"
#include "im/store.h"

namespace im {

struct RocksDbStoreOptions {
  std::string path;  // database directory; created with its parents if missing
  // false: batches are not fsync'd (tests only). NOT durable against power loss; a process crash
  // still loses nothing acknowledged (the WAL is in the OS page cache).
  bool sync = true;
  int max_batch = 1024;                  // writes per group-committed WriteBatch
  size_t block_cache_bytes = 32 << 20;   // shared by every column family
  size_t write_buffer_bytes = 64 << 20;  // all memtables together, before flushes
};

// Opens (creating if missing) the database at options.path. invalid_argument for an empty path,
// failed_precondition for a database from a newer libim, unavailable when the directory cannot
// be created or another process has the database open, internal for a corrupt database.
Result<std::shared_ptr<Store>> OpenRocksDbStore(const RocksDbStoreOptions& options);

}  // namespace im

#endif  // IM_ROCKSDB_STORE_H_
