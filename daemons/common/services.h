// What the four split-deployment daemons share: the settings and opening of their Kafka bus,
// Redis presence and gRPC peers, the JWT key file, the admin listener, and the wait for a
// stop signal.
#ifndef IM_DAEMONS_COMMON_SERVICES_H_
#define IM_DAEMONS_COMMON_SERVICES_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/features.h"
#include "common/settings.h"
#include "im/admin_server.h"
#include "im/bus.h"
#include "im/presence.h"
#include "im/status.h"
#include "im/store.h"

namespace im::daemon {

struct KafkaSettings {
  std::string brokers;                   // bootstrap servers, "host:port,…"
  std::string topic_creation = "admin";  // admin | auto | none (im/kafka_bus.h KafkaTopicCreation)
  int topic_partitions = 16;
  int session_timeout_ms = 10'000;
  // librdkafka properties for every client, "name=value" each (security.protocol, sasl.*, ssl.*).
  std::vector<std::string> properties;
  std::vector<std::string> producer_properties;  // linger.ms, …
  std::vector<std::string> consumer_properties;  // fetch.wait.max.ms, …
};
void AddKafkaSettings(Settings& s, KafkaSettings* k);
Result<std::shared_ptr<Bus>> OpenKafka(const KafkaSettings& k, const std::string& client_id);

struct RedisSettings {
  std::string address = "127.0.0.1:6379";
  std::string password;
  int db = 0;
  int pool_size = 8;
  int command_timeout_ms = 2'000;
};
void AddRedisSettings(Settings& s, RedisSettings* r);
// `ttl_ms`: how long a route outlives its last heartbeat.
Result<std::shared_ptr<Presence>> OpenRedis(const RedisSettings& r, int64_t ttl_ms);

// A readiness check for /readyz (run it in a ReadinessProbe: it blocks): ok while `store`
// answers (a lookup of a user that cannot exist is not_found, not unavailable).
std::function<Status()> StoreReadiness(std::shared_ptr<Store> store);

// The HS256 key every im-logic instance signs and checks tokens with: read from `path` (>= 32
// bytes, trailing newline ignored). failed_precondition naming the file otherwise.
Result<std::string> ReadJwtKey(const std::string& path);

// Loads `s` from the command line (--help prints the usage). Returns the code main should exit
// with now (0 after --help, 2 for a bad setting, after printing why), or nullopt to go on.
std::optional<int> LoadSettings(Settings& s, int argc, char** argv);

// Starts /healthz, /readyz (`ready`) and /metrics on `address` ("host:port").
Result<std::unique_ptr<AdminServer>> StartAdmin(const std::string& address, std::function<Status()> ready,
                                               Engine* dead_letters = nullptr, const std::string& admin_token = "");

// The [search] keys (search.*), and with `push_and_tasks` the [push] and [tasks] keys too
// (FeaturesConfig; docs/search-and-push.md).
void AddFeatureSettings(Settings& s, FeaturesConfig* c, bool push_and_tasks);

// Files the daemon creates (data directories, databases, keys) are the owner's only: umask 077.
void MakeFilesPrivate();

// Blocks SIGTERM and SIGINT in this thread and the threads it starts later: call first in main,
// so that WaitForStopSignal receives them.
void BlockStopSignals();
// Blocks until SIGTERM or SIGINT arrives.
void WaitForStopSignal();

// Prints "<program>: <status>" to stderr and returns the exit code for it (2 for
// invalid_argument: a configuration error; 1 otherwise).
int Fail(const std::string& program, const Status& status);

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_SERVICES_H_
