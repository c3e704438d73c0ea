// The task-half features configured the same way in imd and the split daemons: the search index,
// offline push providers and task retries (docs/search-and-push.md lists every key).
#ifndef IM_DAEMONS_COMMON_FEATURES_H_
#define IM_DAEMONS_COMMON_FEATURES_H_

#include <string>

#include "im/options.h"
#include "im/status.h"

namespace im::daemon {

struct FeaturesConfig {
  // [search] backend: "none", "sqlite" (imd only), "postgres" (split only) or "elasticsearch".
  std::string search_backend = "none";
  std::string search_sqlite_path;        // imd: <data_dir>/search.db
  std::string search_postgres_conninfo;  // libpq connection string
  std::string elasticsearch_url = "http://127.0.0.1:9200";
  std::string elasticsearch_index = "im-messages";
  std::string elasticsearch_api_key;
  std::string elasticsearch_username;
  std::string elasticsearch_password;
  std::string elasticsearch_ca_file;

  // [push]
  bool push_enabled = false;  // produce im.push tasks for offline recipients
  std::string apns_key_file;  // the .p8 key; empty: APNs pushes are only logged
  std::string apns_key_id;
  std::string apns_team_id;
  std::string apns_topic;
  std::string apns_endpoint = "https://api.push.apple.com";
  std::string apns_ca_file;
  std::string fcm_service_account_file;  // empty: FCM pushes are only logged
  std::string fcm_endpoint = "https://fcm.googleapis.com";
  std::string fcm_token_uri;
  std::string fcm_ca_file;

  // [tasks]
  int task_max_attempts = 5;
  int64_t task_initial_backoff_ms = 200;
  int64_t task_max_backoff_ms = 60'000;
  int task_consumers = 4;
};

// Opens what `c` names into `options`: the search index (when this process needs it), the push
// providers (when `open_push_providers`: the task half) and the task settings. Errors name the
// setting and say what is wrong (a missing key file, a malformed service account, a backend this
// build lacks).
Status ApplyFeatures(const FeaturesConfig& c, bool open_push_providers, Options* options);

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_FEATURES_H_
