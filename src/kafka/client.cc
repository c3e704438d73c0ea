#include "kafka/client.h"

#include <algorithm>
#include <array>

#include "common/log.h"

namespace im::kafka {
namespace {

// Set by the bus from KafkaBusOptions; never from the property maps.
constexpr std::array<std::string_view, 9> kManaged = {"bootstrap.servers",
                                                      "metadata.broker.list",
                                                      "client.id",
                                                      "group.id",
                                                      "enable.idempotence",
                                                      "acks",
                                                      "request.required.acks",
                                                      "enable.auto.commit",
                                                      "enable.auto.offset.store"};

void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug
  LogLevel l = level <= 3   ? LogLevel::kError
               : level == 4 ? LogLevel::kWarn
               : level <= 6 ? LogLevel::kInfo
                            : LogLevel::kDebug;
  if (!log::Enabled(l)) return;
  log::Write(l, "kafka.log", {{"client", rd_kafka_name(rk)}, {"facility", facility}, {"text", text}});
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void*) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  // Broker connections come and go; librdkafka reconnects by itself.
  LogLevel l = code == RD_KAFKA_RESP_ERR__FATAL ? LogLevel::kError : LogLevel::kWarn;
  if (!log::Enabled(l)) return;
  log::Write(l, "kafka.error", {{"client", rd_kafka_name(rk)}, {"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument("kafka property " + name + ": " + err);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateOptions(const KafkaBusOptions& o) {
  if (o.bootstrap_servers.empty()) return Status::InvalidArgument("kafka: bootstrap_servers is required");
  if (o.max_attempts < 1) return Status::InvalidArgument("kafka: max_attempts must be at least 1");
  if (o.initial_backoff_ms < 0 || o.max_backoff_ms < o.initial_backoff_ms) {
    return Status::InvalidArgument("kafka: need 0 <= initial_backoff_ms <= max_backoff_ms");
  }
  if (o.session_timeout_ms < 1000) return Status::InvalidArgument("kafka: session_timeout_ms must be >= 1000");
  if (o.commit_interval_ms < 0) return Status::InvalidArgument("kafka: commit_interval_ms must be >= 0");
  if (o.topic_partitions < 1) return Status::InvalidArgument("kafka: topic_partitions must be >= 1");
  if (o.topic_replication_factor < -1 || o.topic_replication_factor == 0) {
    return Status::InvalidArgument("kafka: topic_replication_factor must be -1 or >= 1");
  }
  if (o.publish_timeout_ms < 0 || o.drain_timeout_ms < 0 || o.operation_timeout_ms < 1) {
    return Status::InvalidArgument("kafka: timeouts must be positive");
  }
  for (const auto* m : {&o.extra_config, &o.producer_config, &o.consumer_config}) {
    for (const auto& [name, value] : *m) {
      if (std::find(kManaged.begin(), kManaged.end(), name) != kManaged.end()) {
        return Status::InvalidArgument("kafka property " + name + " is set by the bus, not by the property maps");
      }
    }
  }
  return Status::Ok();
}

Result<ConfPtr> MakeConf(const KafkaBusOptions& o, ClientKind kind, const std::string& group) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  // Defaults the property maps may override.
  IM_RETURN_IF_ERROR(Set(conf.get(), "log.connection.close", "false"));
  if (kind == ClientKind::kProducer) {
    IM_RETURN_IF_ERROR(Set(conf.get(), "partitioner", "murmur2_random"));
  } else {
    IM_RETURN_IF_ERROR(Set(conf.get(), "auto.offset.reset", "earliest"));
    IM_RETURN_IF_ERROR(Set(conf.get(), "session.timeout.ms", std::to_string(o.session_timeout_ms)));
    const int heartbeat = std::clamp(o.session_timeout_ms / 5, 100, 3000);
    IM_RETURN_IF_ERROR(Set(conf.get(), "heartbeat.interval.ms", std::to_string(heartbeat)));
  }
  for (const auto& [name, value] : o.extra_config) IM_RETURN_IF_ERROR(Set(conf.get(), name, value));
  for (const auto& [name, value] : kind == ClientKind::kProducer ? o.producer_config : o.consumer_config) {
    IM_RETURN_IF_ERROR(Set(conf.get(), name, value));
  }
  // Managed.
  IM_RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", o.bootstrap_servers));
  IM_RETURN_IF_ERROR(Set(conf.get(), "client.id", o.client_id));
  if (kind == ClientKind::kProducer) {
    IM_RETURN_IF_ERROR(Set(conf.get(), "enable.idempotence", "true"));
    IM_RETURN_IF_ERROR(Set(conf.get(), "acks", "all"));
  } else {
    IM_RETURN_IF_ERROR(Set(conf.get(), "group.id", group));
    IM_RETURN_IF_ERROR(Set(conf.get(), "enable.auto.commit", "false"));
    IM_RETURN_IF_ERROR(Set(conf.get(), "enable.auto.offset.store", "false"));
  }
  return conf;
}

Result<HandlePtr> NewClient(ClientKind kind, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk =
      rd_kafka_new(kind == ClientKind::kProducer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) return Status::InvalidArgument(std::string("kafka: cannot create client: ") + err);
  conf.release();  // rd_kafka_new took it
  return HandlePtr(rk);
}

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view what) {
  std::string msg = std::string(what) + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return Status::Ok();
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Status::DeadlineExceeded(msg);
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Status::ResourceExhausted(msg);
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(msg);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return Status::PermissionDenied(msg);
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return Status::Unauthenticated(msg);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
      return Status::InvalidArgument(msg);
    default:
      return Status::Unavailable(msg);
  }
}

Status CheckTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 249) return Status::InvalidArgument("kafka topic names have 1 to 249 characters");
  if (topic == "." || topic == "..")
    return Status::InvalidArgument("'" + std::string(topic) + "' is not a kafka topic name");
  for (char c : topic) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("kafka topic name '" + std::string(topic) +
                                     "' may only have letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

}  // namespace im::kafka
