#include "sqlite/connection.h"

#include <sqlite3.h>
#include <string>

#include "sqlite/wal_buffer_vfs.h"

namespace im::sqlite {

std::unique_ptr<SQLite::Database> OpenConnection(const std::string& path, ConnectionRole role, bool synchronous) {
  // NOMUTEX: each connection is used by one thread at a time (the writer thread, the
  // checkpointer thread, or a reader lease), so SQLite's per-connection mutex is pure overhead.
  int flags = SQLite::OPEN_NOMUTEX;
  flags |= role == ConnectionRole::kReader ? SQLite::OPEN_READONLY : SQLite::OPEN_READWRITE;
  if (role == ConnectionRole::kWriter) flags |= SQLite::OPEN_CREATE;
  constexpr int kBusyTimeoutMs = 5000;
  // The writer's WAL writes are coalesced into one pwrite per commit (wal_buffer_vfs.h); that is
  // only safe when every commit syncs.
  const char* vfs = role == ConnectionRole::kWriter && synchronous ? WalBufferVfsName() : nullptr;
  auto db = std::make_unique<SQLite::Database>(path, flags, kBusyTimeoutMs, vfs != nullptr ? vfs : "");
  if (role == ConnectionRole::kWriter) {
    // Persistent in the file; later connections inherit WAL.
    db->exec("PRAGMA journal_mode=WAL");
    // The writer keeps the hot B-tree pages (conversation heads, index leaves) cached: 64 MiB.
    db->exec("PRAGMA cache_size=-65536");
    // No journal_size_limit: after a checkpoint the WAL is rewound and overwritten in place,
    // and an fdatasync of overwritten blocks is ~100 us cheaper here than one that also has to
    // journal a growing file size.
  } else {
    db->exec("PRAGMA cache_size=-8192");
  }
  db->exec(synchronous ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  // Sub-journals of SAVEPOINTs and sort spills stay in memory.
  db->exec("PRAGMA temp_store=MEMORY");
  return db;
}

SQLite::Statement& StatementCache::Get(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return *it->second;
  auto statement = std::make_unique<SQLite::Statement>(db_, sql);
  SQLite::Statement& ref = *statement;
  statements_.emplace(sql, std::move(statement));
  return ref;
}

ReaderPool::ReaderPool(const std::string& path, int count, bool synchronous) {
  if (count < 1) count = 1;
  for (int i = 0; i < count; ++i) {
    auto reader = std::make_unique<Reader>();
    reader->db = OpenConnection(path, ConnectionRole::kReader, synchronous);
    reader->statements = std::make_unique<StatementCache>(*reader->db);
    free_.push_back(reader.get());
    readers_.push_back(std::move(reader));
  }
}

ReaderPool::Lease ReaderPool::Acquire() {
  std::unique_lock lock(mu_);
  available_.wait(lock, [this] { return !free_.empty(); });
  Reader* reader = free_.back();
  free_.pop_back();
  return Lease(*this, reader);
}

void ReaderPool::Release(Reader* reader) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(reader);
  }
  available_.notify_one();
}

}  // namespace im::sqlite
