// The SQLite store (target im::sqlite): the embedded default of imd.
//
// One file, WAL journal, synchronous=FULL: a write that returned ok survives a process crash or
// power loss. A single writer thread group-commits concurrent writes (every write waiting at the
// time a transaction starts goes into it), so durability costs one fsync per batch instead of one
// per message. Reads run on a small pool of reader connections in parallel with the writer.
// The schema is versioned (PRAGMA user_version) and migrated forward on open.
//
// One process at a time writes a database file (the writer caches each conversation's last seq);
// the UNIQUE(conversation, seq) key turns a violation of that rule into an error, not a hole.
#ifndef IM_SQLITE_STORE_H_
#define IM_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "im/status.h"
#include "im/store.h"

namespace im {

struct SqliteStoreOptions {
  std::string path;         // database file; created with its directory if missing
  bool synchronous = true;  // false: no fsync per commit (tests only: NOT durable)
  int reader_connections = 4;
  int max_batch = 1024;  // writes per group-committed transaction
};

Result<std::shared_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace im

#endif  // IM_SQLITE_STORE_H_
