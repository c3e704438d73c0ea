// Connections of the SQLite store: opening with the store's pragmas, a per-connection cache of
// prepared statements, and the pool of reader connections.
#ifndef IM_SQLITE_CONNECTION_H_
#define IM_SQLITE_CONNECTION_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace im::sqlite {

enum class ConnectionRole { kWriter, kReader, kCheckpointer };

// Opens `path` with the store's settings (WAL, busy timeout, synchronous level, cache size).
// Throws SQLite::Exception. The writer creates the file; the others open it read-only where they
// can (the checkpointer needs write access to the database file).
std::unique_ptr<SQLite::Database> OpenConnection(const std::string& path, ConnectionRole role, bool synchronous);

// Prepared statements of one connection, keyed by the address of their SQL text: callers pass
// string literals (or other text with static storage), so lookup never hashes the text.
class StatementCache {
 public:
  explicit StatementCache(SQLite::Database& db) : db_(db) {}
  // Prepares on first use. Throws SQLite::Exception for invalid SQL.
  SQLite::Statement& Get(const char* sql);
  SQLite::Database& db() { return db_; }

 private:
  SQLite::Database& db_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

// Leaves a statement reset when the scope ends, so a cached SELECT never keeps its read snapshot
// (a reader holding one would see stale data and pin the WAL).
class StatementScope {
 public:
  StatementScope(StatementCache& cache, const char* sql) : statement_(cache.Get(sql)) {}
  ~StatementScope() { statement_.tryReset(); }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;
  SQLite::Statement* operator->() { return &statement_; }
  SQLite::Statement& operator*() { return statement_; }

 private:
  SQLite::Statement& statement_;
};

// A fixed set of read-only connections. Acquire blocks while every connection is in use.
class ReaderPool {
 public:
  struct Reader {
    std::unique_ptr<SQLite::Database> db;
    std::unique_ptr<StatementCache> statements;
  };

  class Lease {
   public:
    Lease(ReaderPool& pool, Reader* reader) : pool_(pool), reader_(reader) {}
    ~Lease() { pool_.Release(reader_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    StatementCache& statements() { return *reader_->statements; }
    SQLite::Database& db() { return *reader_->db; }

   private:
    ReaderPool& pool_;
    Reader* reader_;
  };

  // Opens `count` (at least 1) connections. Throws SQLite::Exception.
  ReaderPool(const std::string& path, int count, bool synchronous);
  Lease Acquire();

 private:
  void Release(Reader* reader);

  std::vector<std::unique_ptr<Reader>> readers_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<Reader*> free_;
};

}  // namespace im::sqlite

#endif  // IM_SQLITE_CONNECTION_H_
