#include "kafka/topics.h"

#include <chrono>
#include <memory>
#include <thread>

#include "common/log.h"
#include "kafka/client.h"

namespace im::kafka {
namespace {

using Clock = std::chrono::steady_clock;

int Remaining(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<int64_t>(ms, 1));
}

}  // namespace

Status TopicManager::Ensure(std::string_view topic) {
  {
    std::lock_guard lock(mu_);
    if (known_.contains(topic)) return Status::Ok();
  }
  std::lock_guard creating(create_mu_);
  {
    std::lock_guard lock(mu_);
    if (known_.contains(topic)) return Status::Ok();
  }
  const std::string name(topic);
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.operation_timeout_ms);
  IM_ASSIGN_OR_RETURN(int partitions, Partitions(name, Remaining(deadline)));
  if (partitions == 0) {
    Status created;
    if (options_.create_topic) {
      created = options_.create_topic(name, options_.topic_partitions);
    } else {
      switch (options_.topic_creation) {
        case KafkaTopicCreation::kAdminApi:
          created = CreateWithAdminApi(name, Remaining(deadline));
          break;
        case KafkaTopicCreation::kAutoCreate:
          created = AskBrokerToAutoCreate(name, Remaining(deadline));
          break;
        case KafkaTopicCreation::kNone:
          created = Status::NotFound("kafka topic " + name + " does not exist (topic_creation is kNone)");
          break;
      }
    }
    IM_RETURN_IF_ERROR(created);
    while (partitions == 0) {
      if (Clock::now() >= deadline) {
        return Status::DeadlineExceeded("kafka topic " + name + " did not show up in the cluster's metadata");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      IM_ASSIGN_OR_RETURN(partitions, Partitions(name, Remaining(deadline)));
    }
    log::Info("kafka.topic_created", {{"topic", name}, {"partitions", partitions}});
  }
  std::lock_guard lock(mu_);
  known_.insert(name);
  return Status::Ok();
}

Result<int> TopicManager::Partitions(const std::string& topic, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, /*all_topics=*/1, nullptr, &md, timeout_ms);
  if (err) return ErrorStatus(err, "kafka: metadata for topic " + topic);
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(md, rd_kafka_metadata_destroy);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return 0;
    if (t.err && t.err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
      return ErrorStatus(t.err, "kafka: metadata for topic " + topic);
    }
    return t.partition_cnt;
  }
  return 0;
}

Status TopicManager::CreateWithAdminApi(const std::string& topic, int timeout_ms) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), options_.topic_partitions,
                                                  options_.topic_replication_factor, err, sizeof err);
  if (!nt) return Status::InvalidArgument(std::string("kafka: cannot create topic ") + topic + ": " + err);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin, timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(admin, timeout_ms, err, sizeof err);
  rd_kafka_CreateTopics(rk_, &nt, 1, admin, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
  Status s;
  if (!ev) {
    s = Status::DeadlineExceeded("kafka: no answer to creating topic " + topic);
  } else if (rd_kafka_event_error(ev)) {
    s = ErrorStatus(rd_kafka_event_error(ev),
                    "kafka: creating topic " + topic + " (" + rd_kafka_event_error_string(ev) + ")");
  } else if (const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(ev)) {
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* why = rd_kafka_topic_result_error_string(topics[i]);
        s = ErrorStatus(e, "kafka: creating topic " + topic + (why ? std::string(" (") + why + ")" : ""));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(queue);
  return s;
}

Status TopicManager::AskBrokerToAutoCreate(const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  if (!rkt) return ErrorStatus(rd_kafka_last_error(), "kafka: topic " + topic);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, /*all_topics=*/0, rkt, &md, timeout_ms);
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return ErrorStatus(err, "kafka: metadata for topic " + topic);
}

}  // namespace im::kafka
