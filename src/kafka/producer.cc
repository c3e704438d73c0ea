#include "kafka/producer.h"

#include <algorithm>

#include "common/log.h"

namespace im::kafka {

struct Producer::Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

Result<std::unique_ptr<Producer>> Producer::Open(const KafkaBusOptions& options) {
  std::unique_ptr<Producer> p(new Producer(options));
  IM_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, ClientKind::kProducer));
  rd_kafka_conf_set_opaque(conf.get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::OnDelivery);
  IM_ASSIGN_OR_RETURN(p->rk_, NewClient(ClientKind::kProducer, std::move(conf)));
  p->poller_ = std::thread([raw = p.get()] {
    while (!raw->stop_.load()) rd_kafka_poll(raw->rk_.get(), 100);
  });
  return p;
}

Producer::~Producer() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (!rk_) return;
  // rd_kafka_flush serves the remaining delivery reports on this thread.
  if (rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), options_.operation_timeout_ms)) {
    log::Warn("kafka.producer_close", {{"error", rd_kafka_err2str(err)}, {"unsent", rd_kafka_outq_len(rk_.get())}});
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 10 && rd_kafka_outq_len(rk_.get()) > 0; ++i) rd_kafka_poll(rk_.get(), 100);
  }
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  rk_.reset();
}

rd_kafka_topic_t* Producer::Topic(std::string_view topic) {
  std::lock_guard lock(topics_mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) return it->second;
  std::string name(topic);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
  if (rkt) topics_.emplace(std::move(name), rkt);
  return rkt;
}

Status Producer::Produce(std::string_view topic, std::string_view key, std::string_view payload,
                         const Headers* headers) {
  return ProduceImpl(topic, key, payload, headers, nullptr);
}

Status Producer::ProduceImpl(std::string_view topic, std::string_view key, std::string_view payload,
                             const Headers* headers, void* msg_opaque) {
  rd_kafka_topic_t* rkt = Topic(topic);
  if (!rkt) return ErrorStatus(rd_kafka_last_error(), "kafka: topic " + std::string(topic));
  // An empty key is still a key (one partition, in order), never librdkafka's NULL key (random).
  const char* key_data = key.empty() ? "" : key.data();
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.publish_timeout_ms);
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (headers && !headers->empty()) {
      hdrs = rd_kafka_headers_new(headers->size());
      for (const auto& [name, value] : *headers) {
        rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                            static_cast<ssize_t>(value.size()));
      }
    }
    {
      std::lock_guard lock(mu_);
      in_flight_++;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key_data, key.size()),
                                                RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                                                RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    if (!err) {
      published_++;
      return Status::Ok();
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    std::unique_lock lock(mu_);
    in_flight_--;
    cv_.notify_all();
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(rk_.get(), reason, sizeof reason);
      return Status::Unavailable(std::string("kafka: the producer failed for good: ") + reason);
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return ErrorStatus(err, "kafka: cannot publish to " + std::string(topic));
    if (Clock::now() >= deadline) {
      return Status::ResourceExhausted("kafka: the producer queue stayed full for " +
                                       std::to_string(options_.publish_timeout_ms) + " ms");
    }
    cv_.wait_for(lock, std::chrono::milliseconds(20));  // delivery reports make room
  }
}

Status Producer::ProduceAndWait(std::string_view topic, std::string_view key, std::string_view payload,
                                const Headers& headers, Clock::time_point deadline) {
  auto waiter = std::make_shared<Waiter>();
  // Owned by the delivery report from here on (it may come after this call gave up waiting).
  auto* opaque = new std::shared_ptr<Waiter>(waiter);
  Status s = ProduceImpl(topic, key, payload, &headers, opaque);
  if (!s.ok()) {
    delete opaque;
    return s;
  }
  std::unique_lock lock(waiter->mu);
  if (!waiter->cv.wait_until(lock, deadline, [&] { return waiter->done; })) {
    return Status::DeadlineExceeded("kafka: no acknowledgement of a record to " + std::string(topic));
  }
  return ErrorStatus(waiter->err, "kafka: cannot deliver to " + std::string(topic));
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<Producer*>(opaque)->Delivered(msg);
}

void Producer::Delivered(const rd_kafka_message_t* msg) {
  if (msg->_private) {
    auto* waiter = static_cast<std::shared_ptr<Waiter>*>(msg->_private);
    {
      std::lock_guard lock((*waiter)->mu);
      (*waiter)->done = true;
      (*waiter)->err = msg->err;
    }
    (*waiter)->cv.notify_all();
    delete waiter;
  }
  const std::string_view topic = rd_kafka_topic_name(msg->rkt);
  std::lock_guard lock(mu_);
  in_flight_--;
  if (msg->err) {
    failed_++;
    failed_since_take_++;
    last_failure_ = std::string(topic) + ": " + rd_kafka_err2str(msg->err);
    log::Warn("kafka.delivery_failed", {{"topic", topic}, {"error", rd_kafka_err2str(msg->err)}});
  } else {
    delivered_++;
    auto it = acknowledged_.find(topic);
    if (it == acknowledged_.end()) it = acknowledged_.emplace(std::string(topic), std::vector<int64_t>()).first;
    auto& offsets = it->second;
    if (msg->partition >= static_cast<int32_t>(offsets.size())) offsets.resize(msg->partition + 1, -1);
    offsets[msg->partition] = std::max(offsets[msg->partition], msg->offset);
  }
  cv_.notify_all();
}

Status Producer::WaitInFlight(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return in_flight_ == 0; })) {
    return Status::DeadlineExceeded("kafka: " + std::to_string(in_flight_) + " records not yet acknowledged");
  }
  return Status::Ok();
}

Producer::Offsets Producer::Acknowledged() {
  std::lock_guard lock(mu_);
  return acknowledged_;
}

Status Producer::TakeFailures() {
  std::lock_guard lock(mu_);
  if (failed_since_take_ == 0) return Status::Ok();
  Status s = Status::Unavailable("kafka: " + std::to_string(failed_since_take_) +
                                 " records could not be delivered; the last: " + last_failure_);
  failed_since_take_ = 0;
  return s;
}

void Producer::AddStats(KafkaBusStats* stats) {
  std::lock_guard lock(mu_);
  stats->published = published_.load();
  stats->delivered = delivered_;
  stats->delivery_errors = failed_;
  stats->last_delivery_error = last_failure_;
}

}  // namespace im::kafka
