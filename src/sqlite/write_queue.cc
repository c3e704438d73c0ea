#include "sqlite/write_queue.h"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>
#include <bit>
#include <string>

#include "common/futex.h"
#include "sqlite/error.h"

namespace im::sqlite {
namespace {

struct AtomicStats {
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> jobs{0};
  std::atomic<uint64_t> failed_batches{0};
  std::atomic<uint64_t> batch_size_log2[12] = {};
};
AtomicStats g_stats;

void RecordBatch(uint64_t size, bool failed) {
  g_stats.batches.fetch_add(1, std::memory_order_relaxed);
  g_stats.jobs.fetch_add(size, std::memory_order_relaxed);
  if (failed) g_stats.failed_batches.fetch_add(1, std::memory_order_relaxed);
  size_t bucket = std::bit_width(size) - 1;
  if (bucket > 11) bucket = 11;
  g_stats.batch_size_log2[bucket].fetch_add(1, std::memory_order_relaxed);
}

// Runs a statement that returns no row and leaves it reset for the next use, even on failure.
void Exec(SQLite::Statement& statement) {
  struct Reset {
    SQLite::Statement& s;
    ~Reset() { s.tryReset(); }
  } reset{statement};
  statement.exec();
}

bool InTransaction(SQLite::Database& db) { return sqlite3_get_autocommit(db.getHandle()) == 0; }

// A job whose only effect is to be committed after every job queued before it.
class NoopJob final : public WriteJob {
 public:
  Status Apply() override { return Status::Ok(); }
  bool light() const override { return true; }
};

}  // namespace

WriteQueueStats GlobalWriteQueueStats() {
  WriteQueueStats s;
  s.batches = g_stats.batches.load(std::memory_order_relaxed);
  s.jobs = g_stats.jobs.load(std::memory_order_relaxed);
  s.failed_batches = g_stats.failed_batches.load(std::memory_order_relaxed);
  for (int i = 0; i < 12; ++i) s.batch_size_log2[i] = g_stats.batch_size_log2[i].load(std::memory_order_relaxed);
  return s;
}

WriteQueue::WriteQueue(SQLite::Database& db, BatchHooks& hooks, int max_batch)
    : db_(db),
      hooks_(hooks),
      max_batch_(max_batch > 0 ? max_batch : 1),
      begin_(db, "BEGIN IMMEDIATE"),
      commit_(db, "COMMIT"),
      rollback_(db, "ROLLBACK"),
      savepoint_(db, "SAVEPOINT job"),
      release_(db, "RELEASE job"),
      rollback_to_(db, "ROLLBACK TO job") {
  thread_ = std::thread([this] { Run(); });
}

WriteQueue::~WriteQueue() { Stop(); }

Status WriteQueue::Submit(WriteJob& job) {
  if (stopping_.load(std::memory_order_acquire)) return Status::Unavailable("sqlite store: closed");
  Push(job, job);
  for (;;) {
    // Read the epoch before checking done_: a completion after the check bumps the epoch, so the
    // wait returns at once instead of missing the wake-up.
    uint32_t epoch = epoch_.load(std::memory_order_acquire);
    if (job.done_.load(std::memory_order_acquire) != 0) break;
    FutexWait(epoch_, epoch);
  }
  return std::move(job.status_);
}

std::vector<Status> WriteQueue::SubmitAll(std::span<WriteJob* const> jobs) {
  std::vector<Status> out;
  if (jobs.empty()) return out;
  if (stopping_.load(std::memory_order_acquire)) {
    out.assign(jobs.size(), Status::Unavailable("sqlite store: closed"));
    return out;
  }
  // The stack is LIFO: link the chain newest first, so that the writer, which reverses what it
  // takes, runs the jobs in the order given.
  for (size_t i = jobs.size() - 1; i > 0; --i) jobs[i]->next_ = jobs[i - 1];
  Push(*jobs.front(), *jobs.back());
  // The chain is contiguous in the queue and batches complete in queue order, so the last job
  // done means all are.
  WriteJob& last = *jobs.back();
  for (;;) {
    uint32_t epoch = epoch_.load(std::memory_order_acquire);
    if (last.done_.load(std::memory_order_acquire) != 0) break;
    FutexWait(epoch_, epoch);
  }
  out.reserve(jobs.size());
  for (WriteJob* job : jobs) out.push_back(std::move(job->status_));
  return out;
}

void WriteQueue::Push(WriteJob& first, WriteJob& last) {
  WriteJob* old = head_.load(std::memory_order_relaxed);
  do {
    first.next_ = old;
  } while (!head_.compare_exchange_weak(old, &last, std::memory_order_release, std::memory_order_relaxed));
  // Only a push onto an empty stack can find the writer asleep (it sleeps only when it found
  // the stack empty); later pushes are picked up when it takes the next batch.
  if (old == nullptr) {
    signal_.fetch_add(1, std::memory_order_release);
    FutexWake(&signal_, 1);
  }
}

void WriteQueue::Stop() {
  if (!thread_.joinable()) return;
  // stopping_ is set before the push that wakes the writer: when it next finds the stack empty
  // it exits instead of sleeping.
  stopping_.store(true, std::memory_order_release);
  NoopJob last;  // committed after every job queued so far
  Push(last, last);
  thread_.join();
}

void WriteQueue::Run() {
  for (;;) {
    TakeQueued();
    if (carry_ != nullptr) {
      RunBatch();
      continue;
    }
    if (stopping_.load(std::memory_order_acquire)) {
      TakeQueued();
      if (carry_ == nullptr) return;
      continue;
    }
    // Event count: read the signal before re-checking the stack, so a push in between either
    // shows up in the check or changes the signal and makes the wait return at once.
    uint32_t seen = signal_.load(std::memory_order_acquire);
    if (head_.load(std::memory_order_acquire) != nullptr) continue;
    FutexWait(signal_, seen);
  }
}

void WriteQueue::TakeQueued() {
  WriteJob* lifo = head_.exchange(nullptr, std::memory_order_acquire);
  if (lifo == nullptr) return;
  // Reverse into submission order and append to the carried-over jobs.
  WriteJob* fifo = nullptr;
  WriteJob* tail = lifo;
  while (lifo != nullptr) {
    WriteJob* next = lifo->next_;
    lifo->next_ = fifo;
    fifo = lifo;
    lifo = next;
  }
  if (carry_ == nullptr) {
    carry_ = fifo;
  } else {
    carry_tail_->next_ = fifo;
  }
  carry_tail_ = tail;
}

void WriteQueue::RunBatch() {
  // Cut the first max_batch_ jobs off the FIFO.
  WriteJob* first = carry_;
  WriteJob* last = first;
  uint64_t size = 1;
  while (last->next_ != nullptr && size < static_cast<uint64_t>(max_batch_)) {
    last = last->next_;
    ++size;
  }
  carry_ = last->next_;
  if (carry_ == nullptr) carry_tail_ = nullptr;
  last->next_ = nullptr;

  batch_fatal_ = false;
  try {
    Exec(begin_);
  } catch (...) {
    batch_fatal_ = true;
    batch_fatal_status_ = FromCurrentException("sqlite store: begin write transaction");
  }
  for (WriteJob* job = first; job != nullptr && !batch_fatal_; job = job->next_) ApplyOne(job);
  if (!batch_fatal_) {
    try {
      hooks_.FlushDeferred();
      Exec(commit_);
    } catch (...) {
      batch_fatal_ = true;
      batch_fatal_status_ = FromCurrentException("sqlite store: commit");
    }
  }
  if (batch_fatal_) {
    if (InTransaction(db_)) {
      try {
        Exec(rollback_);
      } catch (...) {
        // Nothing left to do: the connection reports the same failure on the next BEGIN.
      }
    }
    hooks_.OnRollback();
    // A failed commit is reported as unavailable whatever SQLite said: the caller may retry.
    if (batch_fatal_status_.code() != StatusCode::kUnavailable) {
      batch_fatal_status_ = Status::Unavailable(batch_fatal_status_.message());
    }
  } else {
    hooks_.OnCommit();
  }
  RecordBatch(size, batch_fatal_);
  const bool committed = !batch_fatal_;
  CompleteJobs(first, committed ? nullptr : &batch_fatal_status_);
  if (committed) hooks_.AfterBatch();
}

void WriteQueue::ApplyOne(WriteJob* job) {
  const bool heavy = !job->light();
  try {
    if (heavy) {
      hooks_.FlushDeferred();
      Exec(savepoint_);
    }
  } catch (...) {
    batch_fatal_ = true;
    batch_fatal_status_ = FromCurrentException("sqlite store: write batch");
    return;
  }
  Status status;
  try {
    status = job->Apply();
  } catch (const SQLite::Exception&) {
    // A failed statement is rolled back by SQLite on its own: the job failed alone.
    status = FromCurrentException("sqlite store: write");
  } catch (...) {
    // Anything else (out of memory) may have struck a light job between two of its steps, where
    // no savepoint can undo the first: only abandoning the transaction keeps it atomic.
    status = FromCurrentException("sqlite store: write");
    if (!heavy) {
      batch_fatal_ = true;
      batch_fatal_status_ = status;
      return;
    }
  }
  if (!InTransaction(db_)) {
    // SQLite rolled the whole transaction back (I/O error, disk full, out of memory).
    batch_fatal_ = true;
    batch_fatal_status_ = status.ok() ? Status::Unavailable("sqlite store: write transaction aborted") : status;
    return;
  }
  if (heavy) {
    try {
      if (!status.ok()) Exec(rollback_to_);
      Exec(release_);
    } catch (...) {
      batch_fatal_ = true;
      batch_fatal_status_ = FromCurrentException("sqlite store: savepoint");
      return;
    }
  }
  job->status_ = std::move(status);
}

void WriteQueue::CompleteJobs(WriteJob* first, const Status* batch_failure) {
  for (WriteJob* job = first; job != nullptr;) {
    // Read the link first: once done_ is set the submitter may return and destroy the job.
    WriteJob* next = job->next_;
    if (batch_failure != nullptr && job->status_.ok()) job->status_ = *batch_failure;
    job->done_.store(1, std::memory_order_release);
    job = next;
  }
  // One syscall wakes the whole batch (a futex wake costs ~9 us here, one per job would cost
  // more than the batch's SQL). Submitters of the next batch wake too and go back to sleep; they
  // are few, since nearly every submitter is in the batch that just committed.
  epoch_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(&epoch_);
}

}  // namespace im::sqlite
