#include "common/services.h"

#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include "im/kafka_bus.h"
#include "im/redis_presence.h"

namespace im::daemon {

void AddKafkaSettings(Settings& s, KafkaSettings* k) {
  s.RequiredString("kafka.brokers", &k->brokers, "Kafka bootstrap servers, host:port,…");
  s.Choice("kafka.topic_creation", &k->topic_creation, {"admin", "auto", "none"},
           "how missing topics come to exist: admin API, broker auto-create, or not at all");
  s.Int("kafka.topic_partitions", &k->topic_partitions, 1, 10'000, "partitions of topics made through the admin API");
  s.Int("kafka.session_timeout_ms", &k->session_timeout_ms, 1'000, 300'000,
        "consumer group session: a dead member's partitions move after this");
  s.List("kafka.properties", &k->properties, "librdkafka properties for every client, name=value,…");
  s.List("kafka.producer_properties", &k->producer_properties, "librdkafka properties for the producer");
  s.List("kafka.consumer_properties", &k->consumer_properties, "librdkafka properties for the consumers");
}

Result<std::shared_ptr<Bus>> OpenKafka(const KafkaSettings& k, const std::string& client_id) {
  KafkaBusOptions o;
  o.bootstrap_servers = k.brokers;
  o.client_id = client_id;
  o.topic_creation = k.topic_creation == "admin"  ? KafkaTopicCreation::kAdminApi
                     : k.topic_creation == "auto" ? KafkaTopicCreation::kAutoCreate
                                                  : KafkaTopicCreation::kNone;
  o.topic_partitions = k.topic_partitions;
  o.session_timeout_ms = k.session_timeout_ms;
  auto apply = [](const std::vector<std::string>& list, const char* key, std::map<std::string, std::string>* out) {
    for (const auto& p : list) {
      auto eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument(std::string(key) + ": \"" + p + "\" is not name=value");
      }
      (*out)[p.substr(0, eq)] = p.substr(eq + 1);
    }
    return Status::Ok();
  };
  IM_RETURN_IF_ERROR(apply(k.properties, "kafka.properties", &o.extra_config));
  IM_RETURN_IF_ERROR(apply(k.producer_properties, "kafka.producer_properties", &o.producer_config));
  IM_RETURN_IF_ERROR(apply(k.consumer_properties, "kafka.consumer_properties", &o.consumer_config));
  return OpenKafkaBus(o);
}

void AddRedisSettings(Settings& s, RedisSettings* r) {
  s.Address("redis.address", &r->address, "Redis server for presence and routes");
  s.String("redis.password", &r->password, "AUTH password (empty: none)");
  s.Int("redis.db", &r->db, 0, 1'000, "SELECT database");
  s.Int("redis.pool_size", &r->pool_size, 1, 1'024, "connections");
  s.Int("redis.command_timeout_ms", &r->command_timeout_ms, 10, 60'000, "longest a Redis call may take");
}

Result<std::shared_ptr<Presence>> OpenRedis(const RedisSettings& r, int64_t ttl_ms) {
  RedisPresenceOptions o;
  uint16_t port = 0;
  IM_RETURN_IF_ERROR(SplitAddress(r.address, &o.host, &port));
  o.port = port;
  o.password = r.password;
  o.db = r.db;
  o.pool_size = r.pool_size;
  o.ttl_ms = ttl_ms;
  o.command_timeout_ms = r.command_timeout_ms;
  o.connect_timeout_ms = std::min(1'000, r.command_timeout_ms);
  return OpenRedisPresence(o);
}

std::function<Status()> StoreReadiness(std::shared_ptr<Store> store) {
  return [store = std::move(store)]() -> Status {
    auto probe = store->GetUser(UserId(0));
    if (probe.ok() || probe.status().code() == StatusCode::kNotFound) return Status::Ok();
    return probe.status();
  };
}

Result<std::string> ReadJwtKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FailedPrecondition("cannot read the JWT key file " + path);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 32) return Status::FailedPrecondition(path + " holds fewer than 32 bytes");
  return key;
}

std::optional<int> LoadSettings(Settings& s, int argc, char** argv) {
  if (Status st = s.Load(std::vector<std::string>(argv + 1, argv + argc)); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n%s", s.program().c_str(), st.message().c_str(), s.Usage().c_str());
    return 2;
  }
  if (s.help()) {
    std::fputs(s.Usage().c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

Result<std::unique_ptr<AdminServer>> StartAdmin(const std::string& address, std::function<Status()> ready,
                                               Engine* dead_letters, const std::string& admin_token) {
  AdminServerOptions admin;
  admin.dead_letters = dead_letters;
  admin.admin_token = admin_token;
  if (Status st = SplitAddress(address, &admin.listen_host, &admin.listen_port); !st.ok()) {
    return Status::InvalidArgument("admin_listen " + st.message());
  }
  admin.ready = std::move(ready);
  return StartAdminServer(std::move(admin));
}

void AddFeatureSettings(Settings& s, FeaturesConfig* c, bool push_and_tasks) {
  s.Choice("search.backend", &c->search_backend, {"none", "postgres", "elasticsearch"},
           "full-text search index (im-logic queries it, im-task feeds it)");
  s.String("search.postgres_conninfo", &c->search_postgres_conninfo, "libpq connection string (backend postgres)");
  s.String("search.elasticsearch_url", &c->elasticsearch_url, "Elasticsearch/OpenSearch base URL");
  s.String("search.elasticsearch_index", &c->elasticsearch_index, "index name (created with its mapping)");
  s.String("search.elasticsearch_api_key", &c->elasticsearch_api_key, "API key (Authorization: ApiKey)");
  s.String("search.elasticsearch_username", &c->elasticsearch_username, "basic-auth user (instead of an API key)");
  s.String("search.elasticsearch_password", &c->elasticsearch_password, "basic-auth password");
  s.String("search.elasticsearch_ca_file", &c->elasticsearch_ca_file, "PEM CA bundle for https (empty: system)");
  s.Bool("push.enabled", &c->push_enabled, "push new messages to recipients with no online session");
  if (!push_and_tasks) return;
  s.String("push.apns_key_file", &c->apns_key_file, "APNs .p8 auth key (empty: APNs pushes are logged)");
  s.String("push.apns_key_id", &c->apns_key_id, "APNs key id (10 characters)");
  s.String("push.apns_team_id", &c->apns_team_id, "Apple team id (10 characters)");
  s.String("push.apns_topic", &c->apns_topic, "the app's bundle id");
  s.String("push.apns_endpoint", &c->apns_endpoint, "https://api.push.apple.com or the sandbox");
  s.String("push.apns_ca_file", &c->apns_ca_file, "PEM CA bundle (empty: system)");
  s.String("push.fcm_service_account_file", &c->fcm_service_account_file,
           "FCM service-account JSON (empty: FCM pushes are logged)");
  s.String("push.fcm_endpoint", &c->fcm_endpoint, "FCM HTTP v1 base URL");
  s.String("push.fcm_token_uri", &c->fcm_token_uri, "OAuth token URL (empty: the service account's)");
  s.String("push.fcm_ca_file", &c->fcm_ca_file, "PEM CA bundle (empty: system)");
  s.Int("tasks.max_attempts", &c->task_max_attempts, 1, 100, "tries before a task is dead-lettered");
  // A retry waits inside a Kafka handler: stay well below max.poll.interval.ms (300 s).
  s.Int("tasks.initial_backoff_ms", &c->task_initial_backoff_ms, 0, 240'000, "wait before the 2nd try (doubles)");
  s.Int("tasks.max_backoff_ms", &c->task_max_backoff_ms, 0, 240'000, "longest wait between tries");
  s.Int("tasks.consumers", &c->task_consumers, 1, 256, "im-task records handled at once");
}

namespace {
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void MakeFilesPrivate() { ::umask(0077); }

void BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void WaitForStopSignal() {
  sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
}

int Fail(const std::string& program, const Status& status) {
  std::fprintf(stderr, "%s: %s\n", program.c_str(), status.ToString().c_str());
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace im::daemon
