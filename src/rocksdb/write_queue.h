// The group committer of the RocksDB store.
//
// One writer thread applies every write. Callers Submit() a job and block until the WriteBatch
// containing it was written (with sync, durably) or failed. Every job waiting when a batch starts
// joins it (up to max_batch), so N concurrent writers cost one WAL fsync, not N.
//
// Failure isolation: a heavy job runs between a savepoint and its release, so when it returns
// non-ok its partial writes are rolled back and it fails alone. A light job (an append: it checks
// first and only then writes, and cannot fail half-way) runs without a savepoint. Only a failed
// commit (the WAL write or its fsync) fails every job of the batch, with unavailable.
//
// Wake-ups: submitters sleep on one futex word (the count of completed batches) and the writer
// wakes them with one syscall per batch (common/futex.h).
#ifndef IM_ROCKSDB_WRITE_QUEUE_H_
#define IM_ROCKSDB_WRITE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "im/status.h"

namespace im::rocks {

// A unit of work for the writer thread. It lives in the submitter's stack frame (Submit blocks
// until it is done), so queueing allocates nothing.
class WriteJob {
 public:
  // Runs on the writer thread, adding to the open batch. Non-ok fails this job alone.
  virtual Status Apply() = 0;
  // See the file comment. Light jobs also tolerate the batch's deferred updates
  // (BatchHooks::FlushDeferred) not being written yet; heavy jobs see them.
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

// What the owner of the batch does around jobs. Called on the writer thread only.
class BatchHooks {
 public:
  virtual ~BatchHooks() = default;
  // Adds the updates light jobs deferred (coalesced per key) to the batch. Called before every
  // heavy job and before the commit. Non-ok fails the batch.
  virtual Status FlushDeferred() = 0;
  virtual void SetSavePoint() = 0;
  // Undoes the batch since the savepoint (the job failed), or forgets the savepoint (it
  // succeeded). Non-ok fails the batch.
  virtual Status RollbackToSavePoint() = 0;
  virtual Status PopSavePoint() = 0;
  // Non-ok when a light job left the batch in a state it could not undo (fails the batch).
  virtual Status TakeFatal() = 0;
  // Writes the batch durably and empties it.
  virtual Status Commit() = 0;
  // The batch is lost: empty it and drop every cached value it may have changed.
  virtual void Abandon() = 0;
  // After a committed batch's submitters were woken: housekeeping nobody waits for.
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

  // `hooks` must outlive the queue.
  WriteQueue(BatchHooks& hooks, int max_batch);
  ~WriteQueue();  // Stop()
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Queues `job`, blocks until its batch committed or failed, and returns its outcome.
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
  void TakeQueued();  // moves the pushed jobs, oldest first, to the end of carry_
  void RunBatch();    // runs up to max_batch_ jobs from carry_ as one batch
  // Applies one job; non-ok means the batch is lost.
  Status ApplyOne(WriteJob* job);
  void CompleteJobs(WriteJob* first, const Status* batch_failure);

  BatchHooks& hooks_;
  const int max_batch_;

  std::atomic<WriteJob*> head_{nullptr};  // LIFO push by submitters; the writer takes all at once
  WriteJob* carry_ = nullptr;             // FIFO: taken but not yet run (writer thread only)
  WriteJob* carry_tail_ = nullptr;
  std::atomic<uint32_t> signal_{0};  // bumped by a push onto the empty stack; the writer sleeps on it
  std::atomic<uint32_t> epoch_{0};   // completed batches: the word submitters sleep on
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace im::rocks

#endif  // IM_ROCKSDB_WRITE_QUEUE_H_
