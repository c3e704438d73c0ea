#include "postgres/append_writer.h"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <pqxx/binarystring>
#include <pqxx/nontransaction>
#include <vector>

#include "postgres/error.h"

namespace im::postgres {
namespace {

constexpr int kAttempts = 4;

constexpr const char* kAppendBatch =
    "SELECT out_index, out_conversation, out_id, out_seq, out_sent_at, out_duplicate "
    "FROM im_append_batch($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::smallint[], $6::bigint[], "
    "$7::bigint[], $8::integer[], $9::bytea)";

// Builds the text form of a one-dimensional array literal: {"a","b",NULL} / {1,2,3}.
class ArrayLiteral {
 public:
  void Quoted(std::string_view text) {
    Separator();
    out_ += '"';
    for (char c : text) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void Null() {
    Separator();
    out_ += "NULL";
  }
  void Number(int64_t v) {
    Separator();
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof(digits), v).ptr;
    out_.append(digits, end);
  }
  std::string Take() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Separator() { out_ += out_.empty() ? '{' : ','; }
  std::string out_;
};

template <typename T>
void Bump(std::atomic<T>& counter, T by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace

AppendStats& GlobalAppendStats() {
  static AppendStats stats;
  return stats;
}

AppendWriter::AppendWriter(std::string conninfo, std::unique_ptr<Session> session, int max_batch)
    : conninfo_(std::move(conninfo)), max_batch_(static_cast<size_t>(max_batch)), session_(std::move(session)) {
  thread_ = std::thread([this] { Run(); });
}

AppendWriter::~AppendWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

Result<AppendResult> AppendWriter::Append(const NewMessage& message) {
  Job job;
  job.message = &message;
  Status s = Submit(job);
  if (!s.ok()) return s;
  return job.result;
}

Status AppendWriter::Flush() {
  Job barrier;
  return Submit(barrier);
}

Status AppendWriter::Submit(Job& job) {
  std::unique_lock lock(mu_);
  if (stopping_) return Status::Unavailable("postgres store: shutting down");
  queue_.push_back(&job);
  work_.notify_one();
  done_.wait(lock, [&] { return job.done; });
  return job.status;
}

void AppendWriter::Run() {
  std::vector<Job*> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything queued has run
    size_t n = std::min(queue_.size(), max_batch_);
    batch.assign(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    for (Job* job : batch) job->done = true;
    done_.notify_all();
  }
}

void AppendWriter::RunBatch(std::span<Job*> jobs) {
  std::vector<Job*> appends;
  appends.reserve(jobs.size());
  for (Job* job : jobs) {
    if (job->message != nullptr) appends.push_back(job);  // barriers just complete with the batch
  }
  if (appends.empty()) return;
  // Counter rows are locked in conversation order (no deadlock between batches); within a
  // conversation, seqs follow arrival order.
  std::stable_sort(appends.begin(), appends.end(), [](const Job* a, const Job* b) {
    return a->message->conversation.str() < b->message->conversation.str();
  });
  Status s = Execute(appends);
  if (s.ok()) return;
  Bump(GlobalAppendStats().failed_batches);
  if (appends.size() > 1 && s.code() != StatusCode::kUnavailable) {
    // Something in the batch is refused (a bad value): find it by running the appends one by one.
    for (Job* job : appends) job->status = Execute(std::span<Job*>(&job, 1));
    return;
  }
  for (Job* job : appends) job->status = s;
}

Status AppendWriter::Execute(std::span<Job*> jobs) {
  ArrayLiteral conversations, ids, senders, keys, types, sent_at, peers, lengths;
  std::string contents;
  for (const Job* job : jobs) {
    const NewMessage& m = *job->message;
    conversations.Quoted(m.conversation.str());
    ids.Number(m.id.value);
    senders.Number(m.sender.value);
    if (m.client_msg_id.empty()) {
      keys.Null();
    } else {
      keys.Quoted(m.client_msg_id);
    }
    types.Number(static_cast<int64_t>(m.type));
    sent_at.Number(m.sent_at_ms);
    peers.Number(m.conversation.is_direct() ? m.conversation.PeerOf(m.sender).value : 0);
    lengths.Number(static_cast<int64_t>(m.content.size()));
    contents += m.content;
  }
  const std::string params[] = {conversations.Take(), ids.Take(),     senders.Take(), keys.Take(),
                                types.Take(),         sent_at.Take(), peers.Take(),   lengths.Take()};
  const pqxx::binarystring blob(contents.data(), contents.size());

  Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) Bump(GlobalAppendStats().retried_batches);
    if (session_ == nullptr || !session_->LooksAlive()) {
      if (session_ != nullptr) Bump(GlobalConnectionStats().discarded);
      session_.reset();
      auto reopened = OpenSession(conninfo_);
      if (!reopened.ok()) return reopened.status();
      session_ = std::move(reopened).value();
    }
    try {
      // One autocommitted statement: the server commits (and flushes its WAL) before it answers,
      // and the counter rows stay locked for the statement and its commit only, not for the
      // extra round trips of BEGIN and COMMIT.
      pqxx::nontransaction txn(session_->connection());
      Tx tx(*session_, txn);
      pqxx::result rows = tx.Exec(kAppendBatch, params[0], params[1], params[2], params[3], params[4], params[5],
                                  params[6], params[7], blob);
      if (rows.size() != jobs.size()) {
        return Status::Internal("postgres store: im_append_batch returned " + std::to_string(rows.size()) +
                                " rows for " + std::to_string(jobs.size()) + " messages");
      }
      std::vector<AppendResult> results(jobs.size());
      for (const auto& row : rows) {
        int index = row[0].as<int>() - 1;
        if (index < 0 || static_cast<size_t>(index) >= jobs.size()) {
          return Status::Internal("postgres store: im_append_batch returned a bad index");
        }
        AppendResult& r = results[static_cast<size_t>(index)];
        auto conversation = ConversationId::Parse(row[1].c_str());
        if (!conversation) return Status::Internal("postgres store: bad conversation id stored");
        r.conversation = std::move(*conversation);
        r.id = MessageId(row[2].as<int64_t>());
        r.seq = static_cast<Seq>(row[3].as<int64_t>());
        r.sent_at_ms = row[4].as<int64_t>();
        r.duplicate = row[5].as<bool>();
      }
      txn.commit();  // a no-op: the statement committed
      for (size_t i = 0; i < jobs.size(); ++i) {
        jobs[i]->result = std::move(results[i]);
        jobs[i]->status = Status::Ok();
      }
      auto& stats = GlobalAppendStats();
      Bump(stats.batches);
      Bump(stats.appends, static_cast<uint64_t>(jobs.size()));
      uint64_t largest = stats.largest_batch.load(std::memory_order_relaxed);
      while (jobs.size() > largest &&
             !stats.largest_batch.compare_exchange_weak(largest, jobs.size(), std::memory_order_relaxed)) {
      }
      return Status::Ok();
    } catch (...) {
      Failure failure = ClassifyCurrentException("postgres store: append");
      if (failure.connection_lost) {
        // The statement may or may not have committed: only the caller can retry (with the same
        // client_msg_id, which returns the original if it did).
        session_.reset();
        Bump(GlobalConnectionStats().discarded);
        return Status::Unavailable(failure.status.message() + " (the append may have been stored)");
      }
      if (!failure.retry) return failure.status;
      last = failure.status;  // rolled back by the server (serialization failure, deadlock)
    }
  }
  return last;
}

}  // namespace im::postgres
