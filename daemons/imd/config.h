// imd's configuration: defaults < TOML file (--config) < environment (IMD_*) < flags.
#ifndef IM_DAEMONS_IMD_CONFIG_H_
#define IM_DAEMONS_IMD_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/features.h"
#include "im/gateway.h"
#include "im/log.h"
#include "im/status.h"

namespace imd {

struct Config {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::string data_dir = "data";
  std::string store = "sqlite";  // the embedded store: "sqlite" (data_dir/im.db) or "rocksdb" (data_dir/rocksdb)
  int password_iterations = 600'000;
  int64_t access_token_ttl_seconds = 15 * 60;
  int64_t login_cache_seconds = 10;  // im::Options::login_cache_ms
  im::LogLevel log_level = im::LogLevel::kInfo;
  // limits, admin_token; listen address copied in by Load. One network thread per CPU of imd's
  // affinity mask unless [limits] network_threads says otherwise.
  im::GatewayOptions gateway = [] {
    im::GatewayOptions g;
    g.network_threads = 0;
    return g;
  }();
  // [admin] listen / IMD_ADMIN_LISTEN / --admin-listen: a second, plaintext listener for
  // operators (/healthz, /readyz, /metrics and, with admin_token, /admin/dead-letters). When
  // set, /metrics and /admin/ are no longer served on the public port. Unset by default.
  bool admin_listen = false;
  std::string admin_host;
  uint16_t admin_port = 0;
  // [search], [push], [tasks]. search.backend defaults to "sqlite" (data_dir/search.db).
  im::daemon::FeaturesConfig features;
  bool help = false;
};

// Parses argv (and the TOML file it names, and the environment). invalid_argument with a message
// naming the offending key, variable or flag.
im::Result<Config> LoadConfig(const std::vector<std::string>& args);

// Applies the text of a TOML configuration file, named `source` in errors, onto `c`: what
// --config does once the file is read (the fuzz target in tests/fuzz calls it without a file).
im::Status ApplyTomlText(Config& c, std::string_view text, const std::string& source);

const char* Usage();

}  // namespace imd

#endif  // IM_DAEMONS_IMD_CONFIG_H_
