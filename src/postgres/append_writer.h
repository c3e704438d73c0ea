// The group committer of the PostgreSQL store's AppendMessage.
//
// One writer thread owns one connection. Callers Append() and block until the transaction that
// holds their message committed. Every append queued when a transaction starts goes into it (up
// to max_batch), sorted stably by conversation, and the whole batch is one call of the
// im_append_batch SQL function (schema.cc): BEGIN, one round trip, COMMIT — so N concurrent
// appends cost one commit (one WAL flush) and three round trips, not N of each.
//
// Failures: a batch rolled back by the server (serialization failure, deadlock) or cut off by a
// broken connection before COMMIT is run again (the connection reopened first), a few times; a
// connection lost during COMMIT fails the batch with unavailable (outcome unknown: a retry with
// the same client_msg_id returns the original if it did commit). Any other error fails the
// batch as a whole, so its appends are then run one per transaction and only the culprit fails.
#ifndef IM_POSTGRES_APPEND_WRITER_H_
#define IM_POSTGRES_APPEND_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "im/status.h"
#include "im/store.h"
#include "postgres/connection_pool.h"

namespace im::postgres {

// Counters over every writer in the process (benchmarks and tests read them; relaxed).
struct AppendStats {
  std::atomic<uint64_t> batches{0};           // transactions committed
  std::atomic<uint64_t> appends{0};           // appends in them
  std::atomic<uint64_t> failed_batches{0};    // batches that failed as a whole
  std::atomic<uint64_t> retried_batches{0};   // attempts run again (rollback, broken connection)
  std::atomic<uint64_t> largest_batch{0};
};
AppendStats& GlobalAppendStats();

class AppendWriter {
 public:
  // `session` is the writer's own connection (already open).
  AppendWriter(std::string conninfo, std::unique_ptr<Session> session, int max_batch);
  ~AppendWriter();  // runs every queued append, then stops the thread
  AppendWriter(const AppendWriter&) = delete;
  AppendWriter& operator=(const AppendWriter&) = delete;

  // Queues a validated message and waits for its transaction. unavailable after shutdown began.
  Result<AppendResult> Append(const NewMessage& message);
  // Waits until every append queued before the call has finished.
  Status Flush();

 private:
  // Lives in the submitter's frame until `done`.
  struct Job {
    const NewMessage* message = nullptr;  // null: a barrier (Flush)
    AppendResult result;
    Status status;
    bool done = false;
  };

  Status Submit(Job& job);
  void Run();
  void RunBatch(std::span<Job*> jobs);
  // One transaction for `jobs` (appends only), with retries; fills their results on success.
  Status Execute(std::span<Job*> jobs);

  const std::string conninfo_;
  const size_t max_batch_;
  std::unique_ptr<Session> session_;  // writer thread only; null after a broken connection

  std::mutex mu_;
  std::condition_variable work_;  // the writer waits for jobs
  std::condition_variable done_;  // submitters wait for their job
  std::deque<Job*> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace im::postgres

#endif  // IM_POSTGRES_APPEND_WRITER_H_
