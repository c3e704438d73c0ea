// Background WAL checkpoints for the SQLite store.
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, on the writer
// thread: every few batches one commit would also copy thousands of pages into the database file
// and fsync it, stalling every waiting sender. The store turns it off on the write connection and
// asks this thread instead; a PASSIVE checkpoint on its own connection runs alongside the writer
// and the readers without blocking either.
#ifndef IM_SQLITE_CHECKPOINTER_H_
#define IM_SQLITE_CHECKPOINTER_H_

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace im::sqlite {

class Checkpointer {
 public:
  // Opens its own connection to `path`. Throws SQLite::Exception.
  Checkpointer(const std::string& path, bool synchronous);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Asks for a checkpoint soon; never blocks. Requests made while one runs coalesce.
  void Request();
  // Checkpoint passes finished so far (whatever their outcome).
  uint64_t completed_passes() const { return passes_.load(std::memory_order_acquire); }

 private:
  void Run();

  std::unique_ptr<SQLite::Database> db_;
  std::atomic<uint32_t> requested_{0};
  std::atomic<uint64_t> passes_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace im::sqlite

#endif  // IM_SQLITE_CHECKPOINTER_H_
