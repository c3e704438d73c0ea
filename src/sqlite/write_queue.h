// The group committer of the SQLite store.
//
// One writer thread owns the write connection. Callers Submit() a job and block until the
// transaction containing it committed (durably, with synchronous=FULL). Every job waiting when a
// transaction starts goes into it (up to max_batch), so N concurrent writers cost one fsync, not N.
//
// Failure isolation: a job runs inside its own SAVEPOINT unless it declares itself `light` (a
// single statement that either applies fully or not at all, which SQLite guarantees per
// statement). A job that fails is rolled back alone; only a failure that may have aborted the
// whole transaction (I/O error, disk full, a failed COMMIT) fails every job of the batch.
//
// Wake-ups: submitters sleep on one futex word per queue (the count of completed batches) and
// the writer wakes them with one syscall per batch; nobody spins (futex.h).
#ifndef IM_SQLITE_WRITE_QUEUE_H_
#define IM_SQLITE_WRITE_QUEUE_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "im/status.h"

namespace im::sqlite {

// A unit of work for the writer thread. It lives in the submitter's stack frame (Submit blocks
// until it is done), so queueing allocates nothing.
class WriteJob {
 public:
  // Runs on the writer thread inside the open batch transaction. A non-ok Status (or an exception)
  // fails this job alone.
  virtual Status Apply() = 0;

  // A light job is atomic by itself (no SAVEPOINT needed) and tolerates the batch's deferred
  // updates (BatchHooks::FlushDeferred) not being written yet. Heavy jobs get both.
  virtual bool light() const { return false; }

 protected:
  WriteJob() = default;
  ~WriteJob() = default;

 private:
  friend class WriteQueue;
  WriteJob* next_ = nullptr;
  Status status_;
  std::atomic<uint32_t> done_{0};
};

// What the owner of the write connection does around jobs. Called on the writer thread only.
class BatchHooks {
 public:
  virtual ~BatchHooks() = default;
  // Writes the updates light jobs deferred to the end of the batch (coalesced per row). Called
  // before every heavy job and before COMMIT. Throws on failure, which fails the batch.
  virtual void FlushDeferred() = 0;
  // The batch's transaction was rolled back: drop every cached value it may have changed.
  virtual void OnRollback() = 0;
  // The batch committed (after the fsync), before its submitters are woken: whatever they must
  // not return before (Flush's checkpoint without fsync per commit).
  virtual void OnCommit() {}
  // After a committed batch's submitters were woken: maintenance nobody waits for (checkpoints).
  virtual void AfterBatch() {}
};

// Process-wide counters of every WriteQueue (benchmarks read them; relaxed, approximate).
struct WriteQueueStats {
  uint64_t batches = 0;
  uint64_t jobs = 0;
  uint64_t failed_batches = 0;
  // batch_size_log2[i]: batches with 2^i <= size < 2^(i+1) (the last bucket is open).
  uint64_t batch_size_log2[12] = {};
};
WriteQueueStats GlobalWriteQueueStats();

class WriteQueue {
 public:
  using Job = WriteJob;

  // `db` (a read-write connection with no open transaction) and `hooks` must outlive the queue.
  WriteQueue(SQLite::Database& db, BatchHooks& hooks, int max_batch);
  ~WriteQueue();  // Stop()
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Queues `job`, blocks until its transaction committed or failed, and returns its outcome.
  // unavailable after Stop().
  Status Submit(WriteJob& job);
  // Queues `jobs` in one step, in order (they join one batch unless it would exceed max_batch),
  // blocks until every one of them committed or failed, and returns their outcomes, aligned.
  // One wake-up of the writer and one wait for the caller, however many jobs.
  std::vector<Status> SubmitAll(std::span<WriteJob* const> jobs);

  // Runs every job queued so far, then stops the writer thread. Must not race with Submit().
  void Stop();

 private:
  // Pushes the chain first..last (linked through next_ in LIFO order: last->next_ ... first).
  void Push(WriteJob& first, WriteJob& last);
  void Run();
  // Takes the queued jobs, oldest first, into `carry_` (a FIFO list).
  void TakeQueued();
  // Runs up to max_batch_ jobs from `carry_` in one transaction and completes them.
  void RunBatch();
  void ApplyOne(WriteJob* job);
  void CompleteJobs(WriteJob* first, const Status* batch_failure);

  SQLite::Database& db_;
  BatchHooks& hooks_;
  const int max_batch_;

  SQLite::Statement begin_;
  SQLite::Statement commit_;
  SQLite::Statement rollback_;
  SQLite::Statement savepoint_;
  SQLite::Statement release_;
  SQLite::Statement rollback_to_;

  std::atomic<WriteJob*> head_{nullptr};  // LIFO push by submitters; writer takes all at once
  WriteJob* carry_ = nullptr;             // FIFO: taken but not yet run (writer thread only)
  WriteJob* carry_tail_ = nullptr;
  std::atomic<uint32_t> signal_{0};  // bumped by a push onto the empty stack; writer sleeps on it
  std::atomic<uint32_t> epoch_{0};   // completed batches: the word submitters sleep on
  std::atomic<bool> stopping_{false};
  bool batch_fatal_ = false;  // writer thread only: the current transaction is lost
  Status batch_fatal_status_;
  std::thread thread_;
};

}  // namespace im::sqlite

#endif  // IM_SQLITE_WRITE_QUEUE_H_
