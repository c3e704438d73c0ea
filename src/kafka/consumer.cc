#include "kafka/consumer.h"

#include <algorithm>

#include "common/log.h"

namespace im::kafka {

Result<std::unique_ptr<Subscription>> Consumer::Start(std::shared_ptr<BusCore> core, std::string topic,
                                                      std::string group, Bus::Handler handler) {
  std::unique_ptr<Consumer> c(new Consumer(std::move(core), std::move(topic), std::move(group), std::move(handler)));
  IM_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(c->core_->options(), ClientKind::kConsumer, c->group_));
  rd_kafka_conf_set_opaque(conf.get(), c.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::OnRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &Consumer::OnCommit);
  IM_ASSIGN_OR_RETURN(c->rk_, NewClient(ClientKind::kConsumer, std::move(conf)));
  rd_kafka_poll_set_consumer(c->rk_.get());
  PartitionListPtr subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), c->topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk_.get(), subscription.get())) {
    return ErrorStatus(err, "kafka: subscribing to " + c->topic_);
  }
  c->core_->Register(c->topic_, c->group_);
  c->registered_ = true;
  c->thread_ = std::thread([raw = c.get()] { raw->Run(); });
  return std::unique_ptr<Subscription>(std::move(c));
}

Consumer::~Consumer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (rk_ && !closed_) rd_kafka_consumer_close(rk_.get());
  rk_.reset();
  if (registered_) core_->Unregister(topic_, group_);
}

void Consumer::Run() {
  last_commit_ = Clock::now();
  while (!stop_.load()) {
    RunDueRetries();
    if (stop_.load()) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), CommitDue(true) ? 0 : PollTimeoutMs());
    if (!m) {
      if (CommitDue(true)) Commit(false);
      continue;
    }
    OnMessage(m);
    if (CommitDue(false)) Commit(false);
  }
  Commit(true);
  // Revokes the assignment (Rebalance commits on revoke) and leaves the group at once.
  rd_kafka_consumer_close(rk_.get());
  closed_ = true;
}

BusRecord Consumer::ToRecord(const rd_kafka_message_t* m) const {
  BusRecord r;
  r.topic = topic_;
  if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.payload.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : std::string());
    }
  }
  return r;
}

void Consumer::OnMessage(rd_kafka_message_t* m) {
  if (m->err) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      log::Warn("kafka.consume_error", {{"topic", topic_}, {"group", group_}, {"error", rd_kafka_message_errstr(m)}});
    }
    rd_kafka_message_destroy(m);
    return;
  }
  const int32_t partition = m->partition;
  const int64_t offset = m->offset;
  BusRecord record = ToRecord(m);
  rd_kafka_message_destroy(m);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;  // no longer ours
  Partition& st = it->second;
  if (st.retry || !st.held.empty()) {
    // Fetched before the pause took effect: it waits behind the failed record.
    st.held.push_back(Held{std::move(record), offset});
    return;
  }
  Deliver(partition, st, std::move(record), offset);
}

bool Consumer::Deliver(int32_t partition, Partition& st, BusRecord record, int64_t offset) {
  if (record.attempt > 1) core_->redeliveries++;
  Status s = handler_(record);
  if (s.ok()) {
    core_->handled++;
    MarkDone(st, offset);
    return true;
  }
  Pending pending;
  pending.record = std::move(record);
  pending.offset = offset;
  pending.error = std::move(s);
  return Failed(partition, st, std::move(pending));
}

bool Consumer::Failed(int32_t partition, Partition& st, Pending pending) {
  if (pending.record.attempt >= core_->options().max_attempts) {
    pending.dead = true;
    if (TryDeadLetter(partition, st, pending)) return true;
  }
  pending.due = Clock::now() + Backoff(pending.record.attempt);
  if (!pending.dead) pending.record.attempt++;
  st.retry = std::move(pending);
  SetPaused(partition, st, true);
  return false;
}

bool Consumer::TryDeadLetter(int32_t partition, Partition& st, const Pending& pending) {
  const BusRecord& r = pending.record;
  if (topic_ == topics::kDeadLetter) {
    log::Error("bus.dead_letter_dropped", {{"key", r.key}, {"error", pending.error.ToString()}});
    MarkDone(st, pending.offset);
    return true;
  }
  Status s = core_->DeadLetter(r, partition, pending.offset, pending.error);
  if (!s.ok()) {
    log::Error("kafka.dead_letter_failed", {{"topic", topic_}, {"key", r.key}, {"error", s.ToString()}});
    return false;
  }
  log::Warn("bus.dead_lettered",
            {{"topic", topic_}, {"key", r.key}, {"attempts", r.attempt}, {"error", pending.error.ToString()}});
  MarkDone(st, pending.offset);
  return true;
}

void Consumer::RunDueRetries() {
  const auto now = Clock::now();
  for (auto& [partition, st] : partitions_) {
    if (stop_.load()) return;
    if (!st.retry || st.retry->due > now) continue;
    Pending pending = std::move(*st.retry);
    st.retry.reset();
    bool finished;
    if (pending.dead) {
      finished = TryDeadLetter(partition, st, pending);
      if (!finished) {
        pending.due = now + Backoff(pending.record.attempt);
        st.retry = std::move(pending);
      }
    } else {
      finished = Deliver(partition, st, std::move(pending.record), pending.offset);
    }
    while (finished && !st.held.empty() && !stop_.load()) {
      Held next = std::move(st.held.front());
      st.held.pop_front();
      finished = Deliver(partition, st, std::move(next.record), next.offset);
    }
    if (finished && st.held.empty()) SetPaused(partition, st, false);
  }
}

std::chrono::milliseconds Consumer::Backoff(int attempt) const {
  const auto& o = core_->options();
  int64_t ms = o.initial_backoff_ms;
  for (int i = 1; i < attempt && ms < o.max_backoff_ms; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, o.max_backoff_ms));
}

void Consumer::MarkDone(Partition& st, int64_t offset) {
  st.done = offset + 1;
  st.dirty = true;
  dirty_ = true;
}

void Consumer::SetPaused(int32_t partition, Partition& st, bool paused) {
  if (st.paused == paused) return;
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition);
  // Pausing drops what was fetched beyond the last record we took; resuming fetches from there.
  rd_kafka_resp_err_t err =
      paused ? rd_kafka_pause_partitions(rk_.get(), list.get()) : rd_kafka_resume_partitions(rk_.get(), list.get());
  if (err) log::Warn("kafka.pause", {{"topic", topic_}, {"partition", partition}, {"error", rd_kafka_err2str(err)}});
  st.paused = paused;
}

bool Consumer::CommitDue(bool idle) const {
  if (!dirty_) return false;
  const auto now = Clock::now();
  if (now < commit_retry_at_) return false;
  return idle || now - last_commit_ >= std::chrono::milliseconds(core_->options().commit_interval_ms);
}

int Consumer::PollTimeoutMs() const {
  auto wait = std::chrono::milliseconds(100);
  const auto now = Clock::now();
  for (const auto& [partition, st] : partitions_) {
    if (st.retry) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(st.retry->due - now));
    }
  }
  if (dirty_ && commit_retry_at_ > now) {
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(commit_retry_at_ - now));
  }
  return static_cast<int>(std::max<int64_t>(wait.count(), 0));
}

void Consumer::Commit(bool sync, const std::set<int32_t>* only) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  dirty_ = false;
  for (auto& [partition, st] : partitions_) {
    if (!st.dirty) continue;
    if (only && !only->contains(partition)) {
      dirty_ = true;
      continue;
    }
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition)->offset = st.done;
    st.dirty = false;
  }
  last_commit_ = Clock::now();
  if (list->cnt == 0) return;
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), sync ? 0 : 1);
  if (sync || err) CommitResult(err, list.get());
}

void Consumer::CommitResult(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets) {
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET || !offsets) return;
  for (int i = 0; i < offsets->cnt; ++i) {
    const auto& e = offsets->elems[i];
    if (!err && !e.err) {
      core_->Committed(group_, topic_, e.partition, e.offset);
      continue;
    }
    // Commit it again later, unless the partition went elsewhere (its new owner starts from
    // the last commit that worked: at-least-once).
    auto it = partitions_.find(e.partition);
    if (it != partitions_.end() && it->second.done >= e.offset) {
      it->second.dirty = true;
      dirty_ = true;
      commit_retry_at_ = Clock::now() + std::chrono::milliseconds(std::max(core_->options().commit_interval_ms, 100));
    }
    log::Debug("kafka.commit_failed", {{"topic", topic_},
                                       {"group", group_},
                                       {"partition", e.partition},
                                       {"error", rd_kafka_err2str(err ? err : e.err)}});
  }
}

void Consumer::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk_.get())) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < parts->cnt; ++i) partitions_[parts->elems[i].partition] = Partition{};
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_.get(), parts)) {
        log::Error("kafka.assign", {{"topic", topic_}, {"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_.get(), parts);
    }
    log::Info("kafka.assigned", {{"topic", topic_}, {"group", group_}, {"partitions", parts->cnt}});
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    std::set<int32_t> revoked;
    for (int i = 0; i < parts->cnt; ++i) revoked.insert(parts->elems[i].partition);
    // What is done gets committed before the partitions move; a record waiting for a retry is
    // left to the next owner.
    if (!rd_kafka_assignment_lost(rk_.get())) Commit(true, &revoked);
    for (int32_t p : revoked) {
      auto it = partitions_.find(p);
      if (it == partitions_.end()) continue;
      SetPaused(p, it->second, false);  // a later assignment of it must fetch
      partitions_.erase(it);
    }
    dirty_ = std::any_of(partitions_.begin(), partitions_.end(), [](const auto& kv) { return kv.second.dirty; });
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_.get(), parts)) {
        log::Error("kafka.unassign", {{"topic", topic_}, {"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_.get(), nullptr);
    }
    log::Info("kafka.revoked", {{"topic", topic_}, {"group", group_}, {"partitions", parts->cnt}});
    return;
  }
  log::Error("kafka.rebalance_error", {{"topic", topic_}, {"group", group_}, {"error", rd_kafka_err2str(err)}});
  rd_kafka_assign(rk_.get(), nullptr);
  partitions_.clear();
  dirty_ = false;
}

void Consumer::OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) {
  static_cast<Consumer*>(opaque)->Rebalance(err, partitions);
}

void Consumer::OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  static_cast<Consumer*>(opaque)->CommitResult(err, offsets);
}

}  // namespace im::kafka
