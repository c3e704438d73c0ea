// The daemons' TOML configuration: imd's (daemons/imd/config.h) and the split daemons' Settings
// (daemons/common/settings.h), from the text a --config file would hold. Bad text must be an
// invalid_argument naming the source; a good one must leave every limit within its documented
// range.
#include <cstdint>
#include <string>
#include <vector>

#include "common/settings.h"
#include "fuzz/fuzz_check.h"
#include "imd/config.h"

namespace {

void Imd(std::string_view text) {
  imd::Config c;
  im::Status s = imd::ApplyTomlText(c, text, "imd.toml");
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == im::StatusCode::kInvalidArgument);
    FUZZ_CHECK(s.message().rfind("imd.toml", 0) == 0);
    return;
  }
  FUZZ_CHECK(c.password_iterations >= 1000 && c.password_iterations <= 10'000'000);
  FUZZ_CHECK(c.access_token_ttl_seconds >= 1 && c.access_token_ttl_seconds <= 24 * 3600);
  FUZZ_CHECK(c.gateway.max_frame_bytes >= 1024 && c.gateway.max_frame_bytes <= (16u << 20));
  FUZZ_CHECK(c.gateway.network_threads >= 0 && c.gateway.network_threads <= 64);
  FUZZ_CHECK(c.gateway.worker_threads >= 1 && c.gateway.worker_threads <= 1024);
  FUZZ_CHECK(c.gateway.admin_token.empty() || c.gateway.admin_token.size() >= 16);
  FUZZ_CHECK(c.features.task_max_attempts >= 1 && c.features.task_max_attempts <= 100);
  FUZZ_CHECK(!c.data_dir.empty());
  FUZZ_CHECK(c.store == "sqlite" || c.store == "rocksdb");
}

// The kinds of key the four services declare (daemons/im_*/main.cc), one of each.
void Split(std::string_view text) {
  struct {
    std::string listen = "0.0.0.0:7000", gateway_id, mode = "a";
    int64_t threads = 4;
    int consumers = 2;
    bool flag = false;
    std::vector<std::string> brokers;
    im::LogLevel level = im::LogLevel::kInfo;
  } c;
  im::daemon::Settings s("im-fuzz", "IM_FUZZ");
  s.Address("listen", &c.listen, "");
  s.String("gateway_id", &c.gateway_id, "");
  s.Int("threads", &c.threads, 1, 64, "");
  s.Int("kafka.consumers", &c.consumers, 1, 1024, "");
  s.Bool("flag", &c.flag, "");
  s.List("kafka.brokers", &c.brokers, "");
  s.Choice("mode", &c.mode, {"a", "b"}, "");
  s.LogLevel("log_level", &c.level, "");
  im::Status st = s.ApplyTomlText(text, "split.toml");
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == im::StatusCode::kInvalidArgument);
    FUZZ_CHECK(st.message().rfind("split.toml", 0) == 0);
    return;
  }
  FUZZ_CHECK(c.threads >= 1 && c.threads <= 64);
  FUZZ_CHECK(c.consumers >= 1 && c.consumers <= 1024);
  FUZZ_CHECK(c.mode == "a" || c.mode == "b");
  std::string host;
  uint16_t port = 0;
  FUZZ_CHECK(im::daemon::SplitAddress(c.listen, &host, &port).ok());
  for (const auto& b : c.brokers) FUZZ_CHECK(!b.empty() && b.find(',') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = im::fuzz::AsText(data, size);
  Imd(text);
  Split(text);
  return 0;
}
