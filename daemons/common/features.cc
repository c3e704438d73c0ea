#include "common/features.h"

#include <fstream>
#include <sstream>

#ifdef IM_DAEMON_WITH_HTTP
#include "im/elasticsearch_index.h"
#include "im/push_providers.h"
#endif
#ifdef IM_DAEMON_WITH_POSTGRES
#include "im/postgres_search.h"
#endif
#ifdef IM_DAEMON_WITH_SQLITE
#include "im/sqlite_search.h"
#endif

namespace im::daemon {
namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(key + ": cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The error of opening something named by `key`, with the key in front.
Status Named(const std::string& key, const Status& s) { return Status(s.code(), key + ": " + s.message()); }

Result<std::shared_ptr<SearchIndex>> OpenSearch(const FeaturesConfig& c) {
  const std::string& b = c.search_backend;
  if (b == "none") return std::shared_ptr<SearchIndex>();
#ifdef IM_DAEMON_WITH_SQLITE
  if (b == "sqlite") {
    // An fsync per commit: the indexer group-commits (≤ ~40 commits/s), docs/search-and-push.md.
    auto index = OpenSqliteSearchIndex({.path = c.search_sqlite_path, .synchronous = true});
    if (!index.ok()) return Named("search.backend sqlite (" + c.search_sqlite_path + ")", index.status());
    return *index;
  }
#endif
#ifdef IM_DAEMON_WITH_POSTGRES
  if (b == "postgres") {
    if (c.search_postgres_conninfo.empty()) {
      return Status::InvalidArgument("search.postgres_conninfo is required for search.backend postgres");
    }
    auto index = OpenPostgresSearchIndex({.conninfo = c.search_postgres_conninfo});
    if (!index.ok()) return Named("search.postgres_conninfo", index.status());
    return *index;
  }
#endif
#ifdef IM_DAEMON_WITH_HTTP
  if (b == "elasticsearch") {
    ElasticsearchOptions o;
    o.url = c.elasticsearch_url;
    o.index = c.elasticsearch_index;
    o.api_key = c.elasticsearch_api_key;
    o.username = c.elasticsearch_username;
    o.password = c.elasticsearch_password;
    o.ca_file = c.elasticsearch_ca_file;
    auto index = OpenElasticsearchIndex(std::move(o));
    if (!index.ok()) return Named("search.elasticsearch", index.status());
    return *index;
  }
#endif
  return Status::InvalidArgument("search.backend \"" + b + "\" is not available in this build");
}

Status OpenPushProviders(const FeaturesConfig& c, Options* options) {
#ifdef IM_DAEMON_WITH_HTTP
  if (!c.apns_key_file.empty()) {
    IM_ASSIGN_OR_RETURN(std::string key, ReadFile(c.apns_key_file, "push.apns_key_file"));
    ApnsOptions o;
    o.team_id = c.apns_team_id;
    o.key_id = c.apns_key_id;
    o.private_key_pem = std::move(key);
    o.topic = c.apns_topic;
    o.endpoint = c.apns_endpoint;
    o.ca_file = c.apns_ca_file;
    auto provider = OpenApnsProvider(std::move(o));
    if (!provider.ok()) return Named("push.apns", provider.status());
    options->apns = *provider;
  }
  if (!c.fcm_service_account_file.empty()) {
    IM_ASSIGN_OR_RETURN(std::string json, ReadFile(c.fcm_service_account_file, "push.fcm_service_account_file"));
    FcmOptions o;
    o.service_account_json = std::move(json);
    o.endpoint = c.fcm_endpoint;
    o.token_uri = c.fcm_token_uri;
    o.ca_file = c.fcm_ca_file;
    auto provider = OpenFcmProvider(std::move(o));
    if (!provider.ok()) return Named("push.fcm", provider.status());
    options->fcm = *provider;
  }
  return Status::Ok();
#else
  if (!c.apns_key_file.empty() || !c.fcm_service_account_file.empty()) {
    return Status::InvalidArgument("push.apns_key_file / push.fcm_service_account_file: this build has no im::http");
  }
  return Status::Ok();
#endif
}

}  // namespace

Status ApplyFeatures(const FeaturesConfig& c, bool open_push_providers, Options* options) {
  IM_ASSIGN_OR_RETURN(options->search, OpenSearch(c));
  options->push_offline = c.push_enabled;
  if (open_push_providers) IM_RETURN_IF_ERROR(OpenPushProviders(c, options));
  options->task_retry.max_attempts = c.task_max_attempts;
  options->task_retry.initial_backoff_ms = c.task_initial_backoff_ms;
  options->task_retry.max_backoff_ms = c.task_max_backoff_ms;
  options->task_consumers = c.task_consumers;
  if (c.task_max_backoff_ms < c.task_initial_backoff_ms) {
    return Status::InvalidArgument("tasks.max_backoff_ms must be at least tasks.initial_backoff_ms");
  }
  return Status::Ok();
}

}  // namespace im::daemon
