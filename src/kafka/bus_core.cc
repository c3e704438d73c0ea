#include "kafka/bus_core.h"

#include <algorithm>

#include "common/log.h"

namespace im::kafka {

Result<std::shared_ptr<BusCore>> BusCore::Open(const KafkaBusOptions& options) {
  IM_RETURN_IF_ERROR(ValidateOptions(options));
  // Consumer properties are checked now rather than at the first Subscribe.
  IM_RETURN_IF_ERROR(MakeConf(options, ClientKind::kConsumer, "check").status());
  std::shared_ptr<BusCore> core(new BusCore(options));
  IM_ASSIGN_OR_RETURN(core->producer_, Producer::Open(core->options_));
  core->topics_ = std::make_unique<TopicManager>(core->producer_->handle(), core->options_);
  return core;
}

BusCore::~BusCore() {
  readers_.clear();
  topics_.reset();
  producer_.reset();  // flushes
}

Status BusCore::Publish(std::string_view topic, std::string_view key, std::string_view payload) {
  IM_RETURN_IF_ERROR(CheckTopicName(topic));
  IM_RETURN_IF_ERROR(topics_->Ensure(topic));
  return producer_->Produce(topic, key, payload);
}

Status BusCore::DeadLetter(const BusRecord& r, int32_t partition, int64_t offset, const Status& error) {
  const std::string topic(topics::kDeadLetter);
  IM_RETURN_IF_ERROR(topics_->Ensure(topic));
  Producer::Headers headers = {{std::string(dead_letter::kOriginTopic), r.topic},
                               {std::string(dead_letter::kOriginKey), r.key},
                               {std::string(dead_letter::kError), error.ToString()},
                               {std::string(dead_letter::kAttempts), std::to_string(r.attempt)},
                               {"im-origin-partition", std::to_string(partition)},
                               {"im-origin-offset", std::to_string(offset)}};
  headers.insert(headers.end(), r.headers.begin(), r.headers.end());  // the record's own come after ours
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.operation_timeout_ms);
  IM_RETURN_IF_ERROR(producer_->ProduceAndWait(topic, r.topic + "/" + r.key, r.payload, headers, deadline));
  dead_lettered++;
  return Status::Ok();
}

void BusCore::Register(const std::string& topic, const std::string& group) {
  std::lock_guard lock(mu_);
  subscribed_[{topic, group}]++;
}

void BusCore::Unregister(const std::string& topic, const std::string& group) {
  std::lock_guard lock(mu_);
  auto it = subscribed_.find({topic, group});
  if (it != subscribed_.end() && --it->second == 0) subscribed_.erase(it);
  committed_cv_.notify_all();
}

void BusCore::Committed(const std::string& group, const std::string& topic, int32_t partition, int64_t offset) {
  if (partition < 0 || offset < 0) return;
  std::lock_guard lock(mu_);
  auto& offsets = committed_[{group, topic}];
  if (partition >= static_cast<int32_t>(offsets.size())) offsets.resize(partition + 1, -1);
  if (offset > offsets[partition]) {
    offsets[partition] = offset;
    committed_cv_.notify_all();
  }
}

int64_t BusCore::CommittedLocked(const Target& t) const {
  auto it = committed_.find({t.group, t.topic});
  if (it == committed_.end() || t.partition >= static_cast<int32_t>(it->second.size())) return -1;
  return it->second[t.partition];
}

Status BusCore::Drain() {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
  // Handlers may publish while we wait: go round until a pass saw no new record.
  for (;;) {
    const uint64_t published = producer_->Published();
    IM_RETURN_IF_ERROR(producer_->WaitInFlight(deadline));
    const Producer::Offsets acknowledged = producer_->Acknowledged();
    std::vector<Target> targets;
    {
      std::lock_guard lock(mu_);
      for (const auto& [topic_group, count] : subscribed_) {
        auto it = acknowledged.find(topic_group.first);
        if (it == acknowledged.end()) continue;
        for (size_t p = 0; p < it->second.size(); ++p) {
          if (it->second[p] < 0) continue;
          targets.push_back(Target{topic_group.second, topic_group.first, static_cast<int32_t>(p), it->second[p] + 1});
        }
      }
    }
    IM_RETURN_IF_ERROR(WaitCommitted(std::move(targets), deadline));
    if (producer_->Published() == published) break;
  }
  return producer_->TakeFailures();
}

Status BusCore::WaitCommitted(std::vector<Target> targets, Clock::time_point deadline) {
  // Commits of this process's consumers arrive by Committed(); partitions that other processes
  // consume are asked of the group coordinator now and then.
  constexpr auto kQueryEvery = std::chrono::milliseconds(500);
  auto next_query = Clock::now() + kQueryEvery;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      std::erase_if(targets, [&](const Target& t) {
        return CommittedLocked(t) >= t.offset || !subscribed_.contains({t.topic, t.group});
      });
      if (targets.empty()) return Status::Ok();
      if (Clock::now() >= deadline) {
        const Target& t = targets.front();
        return Status::DeadlineExceeded("kafka: drain: group " + t.group + " has committed " + t.topic + " [" +
                                        std::to_string(t.partition) + "] up to " + std::to_string(CommittedLocked(t)) +
                                        ", not " + std::to_string(t.offset) + " (" + std::to_string(targets.size()) +
                                        " partitions behind)");
      }
      committed_cv_.wait_until(lock, std::min(deadline, next_query));
    }
    if (Clock::now() >= next_query) {
      QueryCommitted(targets, deadline);
      next_query = Clock::now() + kQueryEvery;
    }
  }
}

void BusCore::QueryCommitted(const std::vector<Target>& targets, Clock::time_point deadline) {
  std::map<std::string, std::vector<const Target*>> by_group;
  for (const Target& t : targets) by_group[t.group].push_back(&t);
  std::lock_guard lock(readers_mu_);
  for (const auto& [group, ts] : by_group) {
    auto& reader = readers_[group];
    if (!reader) {
      auto conf = MakeConf(options_, ClientKind::kConsumer, group);
      if (!conf.ok()) return;
      auto client = NewClient(ClientKind::kConsumer, std::move(conf).value());
      if (!client.ok()) return;
      reader = std::move(client).value();
    }
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(ts.size())));
    for (const Target* t : ts) rd_kafka_topic_partition_list_add(list.get(), t->topic.c_str(), t->partition);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    int timeout = static_cast<int>(std::clamp<int64_t>(left, 1, 2000));
    if (rd_kafka_committed(reader.get(), list.get(), timeout) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      if (!e.err) Committed(group, e.topic, e.partition, e.offset);
    }
  }
}

Status BusCore::Flush(std::chrono::milliseconds timeout) {
  IM_RETURN_IF_ERROR(producer_->WaitInFlight(Clock::now() + timeout));
  return producer_->TakeFailures();
}

KafkaBusStats BusCore::Stats() {
  KafkaBusStats s;
  producer_->AddStats(&s);
  s.handled = handled.load();
  s.redeliveries = redeliveries.load();
  s.dead_lettered = dead_lettered.load();
  return s;
}

}  // namespace im::kafka
