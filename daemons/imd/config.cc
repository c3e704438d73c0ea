#include "config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <utility>

#include "common/toml_file.h"

namespace imd {
namespace {

using im::Status;

// HOST:PORT into `host` and `port`.
Status ParseHostPort(const std::string& value, const std::string& where, std::string* host, uint16_t* port_out) {
  size_t colon = value.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(value.data() + colon + 1, value.data() + value.size(), port);
    if (ec != std::errc() || end != value.data() + value.size()) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return Status::InvalidArgument(where + ": listen wants HOST:PORT, got \"" + value + "\"");
  }
  *host = value.substr(0, colon);
  *port_out = static_cast<uint16_t>(port);
  return Status::Ok();
}

Status SetListen(Config& c, const std::string& value, const std::string& where) {
  return ParseHostPort(value, where, &c.listen_host, &c.listen_port);
}

Status SetAdminListen(Config& c, const std::string& value, const std::string& where) {
  IM_RETURN_IF_ERROR(ParseHostPort(value, where, &c.admin_host, &c.admin_port));
  c.admin_listen = true;
  return Status::Ok();
}

Status SetInt(int64_t& out, int64_t value, int64_t lo, int64_t hi, const std::string& where) {
  if (value < lo || value > hi) {
    return Status::InvalidArgument(where + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  out = value;
  return Status::Ok();
}

Status SetStore(Config& c, const std::string& value, const std::string& where) {
  if (value == "sqlite") {
    c.store = value;
    return Status::Ok();
  }
#ifdef IMD_WITH_ROCKSDB
  if (value == "rocksdb") {
    c.store = value;
    return Status::Ok();
  }
  return Status::InvalidArgument(where + ": store must be \"sqlite\" or \"rocksdb\", got \"" + value + "\"");
#else
  return Status::InvalidArgument(where + ": store must be \"sqlite\" (this imd was built without RocksDB), got \"" +
                                 value + "\"");
#endif
}

// A TOML array of non-empty strings.
Status SetStrings(std::vector<std::string>& out, const toml::node& node, const std::string& where) {
  const toml::array* list = node.as_array();
  if (!list) return Status::InvalidArgument(where + " must be an array of strings");
  out.clear();
  for (auto&& item : *list) {
    auto v = item.value_exact<std::string>();
    if (!v || v->empty()) return Status::InvalidArgument(where + " must be an array of strings");
    out.push_back(*v);
  }
  return Status::Ok();
}

// [search], [push] and [tasks]: every key is a string, a boolean or an integer as
// FeaturesConfig declares it (docs/search-and-push.md).
Status ApplyFeatureTable(im::daemon::FeaturesConfig& f, const std::string& table, const toml::table& t,
                         const std::string& where) {
  using Strings = std::vector<std::pair<const char*, std::string*>>;
  const Strings search = {{"backend", &f.search_backend},
                          {"elasticsearch_url", &f.elasticsearch_url},
                          {"elasticsearch_index", &f.elasticsearch_index},
                          {"elasticsearch_api_key", &f.elasticsearch_api_key},
                          {"elasticsearch_username", &f.elasticsearch_username},
                          {"elasticsearch_password", &f.elasticsearch_password},
                          {"elasticsearch_ca_file", &f.elasticsearch_ca_file}};
  const Strings push = {{"apns_key_file", &f.apns_key_file},
                        {"apns_key_id", &f.apns_key_id},
                        {"apns_team_id", &f.apns_team_id},
                        {"apns_topic", &f.apns_topic},
                        {"apns_endpoint", &f.apns_endpoint},
                        {"apns_ca_file", &f.apns_ca_file},
                        {"fcm_service_account_file", &f.fcm_service_account_file},
                        {"fcm_endpoint", &f.fcm_endpoint},
                        {"fcm_token_uri", &f.fcm_token_uri},
                        {"fcm_ca_file", &f.fcm_ca_file}};
  for (auto&& [key, node] : t) {
    const std::string k(key.str());
    const std::string at = where + "." + k;
    const Strings& strings = table == "search" ? search : table == "push" ? push : Strings{};
    auto it = std::find_if(strings.begin(), strings.end(), [&](const auto& e) { return k == e.first; });
    if (it != strings.end()) {
      auto v = node.value_exact<std::string>();
      if (!v) return Status::InvalidArgument(at + " must be a string");
      *it->second = *v;
    } else if (table == "push" && k == "enabled") {
      auto v = node.value_exact<bool>();
      if (!v) return Status::InvalidArgument(at + " must be true or false");
      f.push_enabled = *v;
    } else if (table == "tasks") {
      auto v = node.value_exact<int64_t>();
      if (!v) return Status::InvalidArgument(at + " must be an integer");
      int64_t out = 0;
      if (k == "max_attempts") {
        IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 100, at));
        f.task_max_attempts = static_cast<int>(out);
      } else if (k == "initial_backoff_ms") {
        IM_RETURN_IF_ERROR(SetInt(f.task_initial_backoff_ms, *v, 0, 240'000, at));
      } else if (k == "max_backoff_ms") {
        IM_RETURN_IF_ERROR(SetInt(f.task_max_backoff_ms, *v, 0, 240'000, at));
      } else if (k == "consumers") {
        IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 256, at));
        f.task_consumers = static_cast<int>(out);
      } else {
        return Status::InvalidArgument(at + " is not a known setting");
      }
    } else {
      return Status::InvalidArgument(at + " is not a known setting");
    }
  }
  if (table == "search" && f.search_backend != "sqlite" && f.search_backend != "elasticsearch" &&
      f.search_backend != "none") {
    return Status::InvalidArgument(where + ".backend must be \"sqlite\", \"elasticsearch\" or \"none\"");
  }
  return Status::Ok();
}

Status ApplyTomlTable(Config& c, const toml::table& t, const std::string& path) {
  for (auto&& [key, node] : t) {
    const std::string k(key.str());
    const std::string where = path + ": " + k;
    if (k == "listen") {
      auto v = node.value_exact<std::string>();
      if (!v) return Status::InvalidArgument(where + " must be a string");
      IM_RETURN_IF_ERROR(SetListen(c, *v, where));
    } else if (k == "data_dir") {
      auto v = node.value_exact<std::string>();
      if (!v || v->empty()) return Status::InvalidArgument(where + " must be a non-empty string");
      c.data_dir = *v;
    } else if (k == "store") {
      auto v = node.value_exact<std::string>();
      if (!v) return Status::InvalidArgument(where + " must be a string");
      IM_RETURN_IF_ERROR(SetStore(c, *v, where));
    } else if (k == "web_root") {
      auto v = node.value_exact<std::string>();
      if (!v) return Status::InvalidArgument(where + " must be a string");
      c.gateway.web_root = *v;
    } else if (k == "tls_certificate_file" || k == "tls_private_key_file") {
      auto v = node.value_exact<std::string>();
      if (!v || v->empty()) return Status::InvalidArgument(where + " must be a non-empty string");
      (k == "tls_certificate_file" ? c.gateway.tls_certificate_file : c.gateway.tls_private_key_file) = *v;
    } else if (k == "allowed_origins" || k == "trusted_proxies") {
      IM_RETURN_IF_ERROR(
          SetStrings(k == "allowed_origins" ? c.gateway.allowed_origins : c.gateway.trusted_proxies, node, where));
    } else if (k == "log_level") {
      auto v = node.value_exact<std::string>();
      if (!v || !im::ParseLogLevel(*v, &c.log_level)) {
        return Status::InvalidArgument(where + " must be one of debug, info, warn, error");
      }
    } else if (k == "access_token_ttl_seconds") {
      auto v = node.value_exact<int64_t>();
      if (!v) return Status::InvalidArgument(where + " must be an integer");
      IM_RETURN_IF_ERROR(SetInt(c.access_token_ttl_seconds, *v, 1, 24 * 3600, where));
    } else if (k == "login_cache_seconds") {
      auto v = node.value_exact<int64_t>();
      if (!v) return Status::InvalidArgument(where + " must be an integer");
      IM_RETURN_IF_ERROR(SetInt(c.login_cache_seconds, *v, 0, 3600, where));
    } else if (k == "password_iterations") {
      auto v = node.value_exact<int64_t>();
      int64_t out = 0;
      if (!v) return Status::InvalidArgument(where + " must be an integer");
      IM_RETURN_IF_ERROR(SetInt(out, *v, 1000, 10'000'000, where));
      c.password_iterations = static_cast<int>(out);
    } else if (k == "admin") {
      const toml::table* admin = node.as_table();
      if (!admin) return Status::InvalidArgument(where + " must be a table");
      for (auto&& [akey, anode] : *admin) {
        const std::string awhere = where + "." + std::string(akey.str());
        if (akey.str() != "listen") return Status::InvalidArgument(awhere + " is not a known setting");
        auto v = anode.value_exact<std::string>();
        if (!v) return Status::InvalidArgument(awhere + " must be a string");
        IM_RETURN_IF_ERROR(SetAdminListen(c, *v, awhere));
      }
    } else if (k == "search" || k == "push" || k == "tasks") {
      const toml::table* table = node.as_table();
      if (!table) return Status::InvalidArgument(where + " must be a table");
      IM_RETURN_IF_ERROR(ApplyFeatureTable(c.features, k, *table, where));
    } else if (k == "admin_token") {
      auto v = node.value_exact<std::string>();
      if (!v || (!v->empty() && v->size() < 16)) {
        return Status::InvalidArgument(where + " must be a string of at least 16 characters");
      }
      c.gateway.admin_token = *v;
    } else if (k == "limits") {
      const toml::table* limits = node.as_table();
      if (!limits) return Status::InvalidArgument(where + " must be a table");
      // The abuse limits (docs/http-api.md#limits): whole numbers here, 0 turns one off.
      const std::pair<const char*, double*> rates[] = {
          {"auth_requests_per_minute_per_ip", &c.gateway.auth_requests_per_minute_per_ip},
          {"auth_burst_per_ip", &c.gateway.auth_burst_per_ip},
          {"login_failures_per_minute_per_account", &c.gateway.login_failures_per_minute_per_account},
          {"login_failure_burst_per_account", &c.gateway.login_failure_burst_per_account}};
      const std::pair<const char*, uint32_t*> caps[] = {
          {"max_queued_auth_requests", &c.gateway.max_queued_auth_requests},
          {"max_connections", &c.gateway.max_connections},
          {"max_connections_per_ip", &c.gateway.max_connections_per_ip}};
      for (auto&& [lkey, lnode] : *limits) {
        const std::string lk(lkey.str());
        const std::string lwhere = where + "." + lk;
        auto v = lnode.value_exact<int64_t>();
        if (!v) return Status::InvalidArgument(lwhere + " must be an integer");
        int64_t out = 0;
        if (lk == "max_frame_bytes") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1024, 16 << 20, lwhere));
          c.gateway.max_frame_bytes = static_cast<uint32_t>(out);
        } else if (lk == "idle_timeout_seconds") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 2, 3600, lwhere));
          c.gateway.idle_timeout_seconds = static_cast<int>(out);
        } else if (lk == "network_threads") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 0, 64, lwhere));
          c.gateway.network_threads = static_cast<int>(out);
        } else if (lk == "worker_threads") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 1024, lwhere));
          c.gateway.worker_threads = static_cast<int>(out);
        } else if (lk == "max_pending_requests") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 1 << 24, lwhere));
          c.gateway.max_pending_requests = static_cast<uint32_t>(out);
        } else if (lk == "max_queued_frames") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 16, 1 << 20, lwhere));
          c.gateway.max_queued_frames = static_cast<uint32_t>(out);
        } else if (lk == "max_queued_bytes") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 64 * 1024, 1 << 30, lwhere));
          c.gateway.max_queued_bytes = static_cast<uint32_t>(out);
        } else if (lk == "connection_frames_per_second") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 1'000'000, lwhere));
          c.gateway.connection_frames_per_second = static_cast<double>(out);
          c.gateway.connection_frame_burst = static_cast<double>(out) * 2;
        } else if (lk == "user_frames_per_second") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 1'000'000, lwhere));
          c.gateway.user_frames_per_second = static_cast<double>(out);
          c.gateway.user_frame_burst = static_cast<double>(out) * 2;
        } else if (auto rate = std::find_if(std::begin(rates), std::end(rates), [&](auto& e) { return lk == e.first; });
                   rate != std::end(rates)) {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 0, 1'000'000, lwhere));
          *rate->second = static_cast<double>(out);
        } else if (auto cap = std::find_if(std::begin(caps), std::end(caps), [&](auto& e) { return lk == e.first; });
                   cap != std::end(caps)) {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 0, 1 << 24, lwhere));
          *cap->second = static_cast<uint32_t>(out);
        } else if (lk == "auth_threads") {
          IM_RETURN_IF_ERROR(SetInt(out, *v, 1, 256, lwhere));
          c.gateway.auth_threads = static_cast<int>(out);
        } else {
          return Status::InvalidArgument(lwhere + " is not a known setting");
        }
      }
    } else {
      return Status::InvalidArgument(where + " is not a known setting");
    }
  }
  return Status::Ok();
}

Status ApplyToml(Config& c, const std::string& path) {
  IM_ASSIGN_OR_RETURN(std::string text, im::daemon::ReadTomlFile(path));
  return ApplyTomlText(c, text, path);
}

}  // namespace

Status ApplyTomlText(Config& c, std::string_view text, const std::string& source) {
  IM_ASSIGN_OR_RETURN(toml::table t, im::daemon::ParseTomlText(text, source));
  return ApplyTomlTable(c, t, source);
}

const char* Usage() {
  return "usage: imd [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--store sqlite|rocksdb]\n"
         "           [--web-root DIR] [--admin-listen HOST:PORT]\n"
         "           [--tls-cert PEM --tls-key PEM]\n"
         "  --config    TOML file (docs/imd.md): listen, data_dir, store, web_root, log_level,\n"
         "              password_iterations, access_token_ttl_seconds, login_cache_seconds, allowed_origins,\n"
         "              tls_certificate_file, tls_private_key_file, [limits] max_frame_bytes,\n"
         "              max_queued_frames, max_queued_bytes, idle_timeout_seconds, connection_frames_per_second,\n"
         "              network_threads, worker_threads, max_pending_requests,\n"
         "              user_frames_per_second, auth_requests_per_minute_per_ip, auth_burst_per_ip,\n"
         "              login_failures_per_minute_per_account, login_failure_burst_per_account,\n"
         "              auth_threads, max_queued_auth_requests, max_connections, max_connections_per_ip,\n"
         "              trusted_proxies, admin_token, [admin] listen, [search] backend (sqlite, elasticsearch,\n"
         "              none) and elasticsearch_*, [push] enabled, apns_*, fcm_*, [tasks] max_attempts,\n"
         "              initial_backoff_ms, max_backoff_ms, consumers (docs/search-and-push.md)\n"
         "  --listen    address for HTTP and WebSocket (default 127.0.0.1:8080; port 0 = any free port)\n"
         "  --data-dir  database and JWT key (default ./data)\n"
         "  --store     embedded store: sqlite (default; DIR/im.db) or rocksdb (DIR/rocksdb)\n"
         "  --web-root  serve the web page from this directory instead of the built-in copy\n"
         "  --admin-listen  a separate plaintext listener for /healthz, /readyz, /metrics and /admin/\n"
         "              (then not served on --listen; default: none, all on --listen)\n"
         "  --tls-cert, --tls-key  serve https and wss with this certificate chain and key\n"
         "Environment (between the file and the flags): IMD_LISTEN, IMD_DATA_DIR, IMD_STORE, IMD_LOG_LEVEL,\n"
         "IM_PASSWORD_ITERATIONS, IMD_ADMIN_TOKEN, IMD_ADMIN_LISTEN.\n";
}

im::Result<Config> LoadConfig(const std::vector<std::string>& args) {
  Config c;
  c.features.search_backend = "sqlite";
  std::string config_file, listen_flag, data_dir_flag, web_root_flag, tls_cert_flag, tls_key_flag, store_flag,
      admin_listen_flag;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) -> Status {
      if (i + 1 >= args.size()) return Status::InvalidArgument(a + " needs a value");
      out = args[++i];
      return Status::Ok();
    };
    if (a == "--help" || a == "-h") {
      c.help = true;
    } else if (a == "--config") {
      IM_RETURN_IF_ERROR(value(config_file));
    } else if (a == "--listen") {
      IM_RETURN_IF_ERROR(value(listen_flag));
    } else if (a == "--data-dir") {
      IM_RETURN_IF_ERROR(value(data_dir_flag));
    } else if (a == "--store") {
      IM_RETURN_IF_ERROR(value(store_flag));
    } else if (a == "--web-root") {
      IM_RETURN_IF_ERROR(value(web_root_flag));
    } else if (a == "--admin-listen") {
      IM_RETURN_IF_ERROR(value(admin_listen_flag));
    } else if (a == "--tls-cert") {
      IM_RETURN_IF_ERROR(value(tls_cert_flag));
    } else if (a == "--tls-key") {
      IM_RETURN_IF_ERROR(value(tls_key_flag));
    } else {
      return Status::InvalidArgument("unknown argument \"" + a + "\"");
    }
  }
  if (!config_file.empty()) IM_RETURN_IF_ERROR(ApplyToml(c, config_file));
  if (const char* v = std::getenv("IMD_LISTEN")) IM_RETURN_IF_ERROR(SetListen(c, v, "IMD_LISTEN"));
  if (const char* v = std::getenv("IMD_DATA_DIR"); v && *v) c.data_dir = v;
  if (const char* v = std::getenv("IM_PASSWORD_ITERATIONS")) {
    int n = 0;
    auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
    if (ec != std::errc() || *end != '\0' || n < 1000 || n > 10'000'000) {
      return Status::InvalidArgument("IM_PASSWORD_ITERATIONS must be an integer between 1000 and 10000000");
    }
    c.password_iterations = n;
  }
  if (const char* v = std::getenv("IMD_ADMIN_TOKEN"); v && *v) {
    if (std::strlen(v) < 16) return Status::InvalidArgument("IMD_ADMIN_TOKEN must be at least 16 characters");
    c.gateway.admin_token = v;
  }
  if (const char* v = std::getenv("IMD_ADMIN_LISTEN"); v && *v) {
    IM_RETURN_IF_ERROR(SetAdminListen(c, v, "IMD_ADMIN_LISTEN"));
  }
  if (const char* v = std::getenv("IMD_STORE"); v && *v) IM_RETURN_IF_ERROR(SetStore(c, v, "IMD_STORE"));
  if (const char* v = std::getenv("IMD_LOG_LEVEL"); v && *v && !im::ParseLogLevel(v, &c.log_level)) {
    return Status::InvalidArgument("IMD_LOG_LEVEL must be one of debug, info, warn, error");
  }
  if (!listen_flag.empty()) IM_RETURN_IF_ERROR(SetListen(c, listen_flag, "--listen"));
  if (!tls_cert_flag.empty()) c.gateway.tls_certificate_file = tls_cert_flag;
  if (!tls_key_flag.empty()) c.gateway.tls_private_key_file = tls_key_flag;
  if (c.gateway.tls_certificate_file.empty() != c.gateway.tls_private_key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both tls_certificate_file and tls_private_key_file (--tls-cert, --tls-key)");
  }
  if (!data_dir_flag.empty()) c.data_dir = data_dir_flag;
  if (!web_root_flag.empty()) c.gateway.web_root = web_root_flag;
  if (!store_flag.empty()) IM_RETURN_IF_ERROR(SetStore(c, store_flag, "--store"));
  if (!admin_listen_flag.empty()) IM_RETURN_IF_ERROR(SetAdminListen(c, admin_listen_flag, "--admin-listen"));
  // The operators' endpoints move to the admin listener: the public port no longer shows them.
  c.gateway.serve_metrics = !c.admin_listen;
  c.gateway.listen_host = c.listen_host;
  c.gateway.listen_port = c.listen_port;
  return c;
}

}  // namespace imd
