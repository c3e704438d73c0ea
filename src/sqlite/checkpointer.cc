#include "sqlite/checkpointer.h"

#include <sqlite3.h>

#include "sqlite/connection.h"

namespace im::sqlite {

Checkpointer::Checkpointer(const std::string& path, bool synchronous)
    : db_(OpenConnection(path, ConnectionRole::kCheckpointer, synchronous)) {
  thread_ = std::thread([this] { Run(); });
}

Checkpointer::~Checkpointer() {
  stopping_.store(true, std::memory_order_release);
  requested_.store(1, std::memory_order_release);
  requested_.notify_one();
  thread_.join();
}

void Checkpointer::Request() {
  if (requested_.exchange(1, std::memory_order_acq_rel) == 0) requested_.notify_one();
}

void Checkpointer::Run() {
  for (;;) {
    requested_.wait(0, std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    requested_.store(0, std::memory_order_release);
    // PASSIVE never waits for readers or the writer. A failure (SQLITE_BUSY while another
    // checkpoint runs, an I/O error) only delays the copy: the WAL keeps every frame until a
    // later checkpoint succeeds, and the writer falls back to checkpointing itself when the WAL
    // grows too large.
    int log_frames = 0;
    int checkpointed = 0;
    sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
    passes_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace im::sqlite
