#include "rocksdb/write_queue.h"

#include <bit>
#include <exception>
#include <new>
#include <string>

#include "common/futex.h"

namespace im::rocks {
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

// A job whose only effect is to complete after every job queued before it.
class NoopJob final : public WriteJob {
 public:
  Status Apply() override { return Status::Ok(); }
  bool light() const override { return true; }
};

// The exception in flight (inside a catch block) as a Status. Nothing in the store throws on
// purpose: this is std::bad_alloc, or a bug.
Status FromException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("rocksdb store: out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("rocksdb store: ") + e.what());
  } catch (...) {
    return Status::Internal("rocksdb store: unknown exception");
  }
}

}  // namespace

WriteQueueStats GlobalWriteQueueStats() {
  WriteQueueStats s;
  s.batches = g_stats.batches.load(std::memory_order_relaxed);
  s.jobs = g_stats.jobs.load(std::memory_order_relaxed);
  s.failed_batches = g_stats.failed_batches.load(std::memory_order_relaxed);
  for (int i = 0; i < 12; ++i) s.batch_size_log2[i] = g_stats.batch_size_log2[i].load(std::memory_order_relaxed);
  return s;
}

WriteQueue::WriteQueue(BatchHooks& hooks, int max_batch) : hooks_(hooks), max_batch_(max_batch > 0 ? max_batch : 1) {
  thread_ = std::thread([this] { Run(); });
}

WriteQueue::~WriteQueue() { Stop(); }

Status WriteQueue::Submit(WriteJob& job) {
  if (stopping_.load(std::memory_order_acquire)) return Status::Unavailable("rocksdb store: closed");
  Push(job, job);
  for (;;) {
    // The epoch is read before done_: a completion after the check bumps the epoch, so the wait
    // returns at once instead of missing the wake-up.
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
    out.assign(jobs.size(), Status::Unavailable("rocksdb store: closed"));
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
  // The writer sleeps only after finding the stack empty, so only a push onto an empty stack
  // can find it asleep.
  if (old == nullptr) {
    signal_.fetch_add(1, std::memory_order_release);
    FutexWake(&signal_, 1);
  }
}

void WriteQueue::Stop() {
  if (!thread_.joinable()) return;
  // Set before the push that wakes the writer: when it next finds the stack empty it exits.
  stopping_.store(true, std::memory_order_release);
  NoopJob last;  // completes after every job queued so far
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
    // Event count: the signal is read before the stack is checked again, so a push in between
    // either shows in the check or changes the signal and makes the wait return at once.
    uint32_t seen = signal_.load(std::memory_order_acquire);
    if (head_.load(std::memory_order_acquire) != nullptr) continue;
    FutexWait(signal_, seen);
  }
}

void WriteQueue::TakeQueued() {
  WriteJob* lifo = head_.exchange(nullptr, std::memory_order_acquire);
  if (lifo == nullptr) return;
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

  Status fatal;
  for (WriteJob* job = first; job != nullptr && fatal.ok(); job = job->next_) fatal = ApplyOne(job);
  if (fatal.ok()) {
    try {
      fatal = hooks_.FlushDeferred();
      if (fatal.ok()) fatal = hooks_.Commit();
    } catch (...) {
      fatal = FromException();
    }
  }
  if (!fatal.ok()) {
    hooks_.Abandon();
    // Whatever failed, the batch was not committed: the caller may retry (an append with its
    // client_msg_id is idempotent).
    if (fatal.code() != StatusCode::kUnavailable) fatal = Status::Unavailable(fatal.message());
  }
  RecordBatch(size, !fatal.ok());
  CompleteJobs(first, fatal.ok() ? nullptr : &fatal);
  if (fatal.ok()) hooks_.AfterBatch();
}

Status WriteQueue::ApplyOne(WriteJob* job) {
  const bool heavy = !job->light();
  if (heavy) {
    try {
      IM_RETURN_IF_ERROR(hooks_.FlushDeferred());
      hooks_.SetSavePoint();
    } catch (...) {
      return FromException();
    }
  }
  Status status;
  try {
    status = job->Apply();
    if (!heavy) IM_RETURN_IF_ERROR(hooks_.TakeFatal());
  } catch (...) {
    // Out of memory part-way through: a light job may have written half of itself, and nothing
    // short of dropping the batch can undo that. A heavy job is rolled back below.
    status = FromException();
    if (!heavy) return status;
  }
  if (heavy) {
    try {
      IM_RETURN_IF_ERROR(status.ok() ? hooks_.PopSavePoint() : hooks_.RollbackToSavePoint());
    } catch (...) {
      return FromException();
    }
  }
  job->status_ = std::move(status);
  return Status::Ok();
}

void WriteQueue::CompleteJobs(WriteJob* first, const Status* batch_failure) {
  for (WriteJob* job = first; job != nullptr;) {
    // The link is read first: once done_ is set the submitter may return and destroy the job.
    WriteJob* next = job->next_;
    if (batch_failure != nullptr && job->status_.ok()) job->status_ = *batch_failure;
    job->done_.store(1, std::memory_order_release);
    job = next;
  }
  // One syscall wakes the whole batch. Submitters of the next batch wake too and sleep again.
  epoch_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(&epoch_);
}

}  // namespace im::rocks
