// im-task: the task workers of the split deployment (include/im/task.h). Consumes im-task and
// im-task-retry — large-group fanout in batches, search indexing, offline push — and keeps the
// dead letters of im-dead-letter in the store for /admin/dead-letters. docs/deploy.md,
// docs/search-and-push.md.
#include <cstdio>

#include "common/readiness_probe.h"
#include "common/services.h"
#include "im/engine.h"
#include "im/remote_store.h"

namespace {

struct Config {
  std::string admin_listen = "127.0.0.1:9103";
  std::vector<std::string> repo_addresses;
  int fanout_batch_size = 1000;
  im::daemon::KafkaSettings kafka;
  im::daemon::RedisSettings redis;
  im::LogLevel log_level = im::LogLevel::kInfo;
  std::string admin_token;
  im::daemon::FeaturesConfig features;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "im-task";
  im::daemon::MakeFilesPrivate();
  im::daemon::BlockStopSignals();
  Config c;
  im::daemon::Settings s(program, "IM_TASK");
  s.Address("admin_listen", &c.admin_listen, "HTTP /healthz, /readyz, /metrics");
  s.List("repo.addresses", &c.repo_addresses, "im-repo servers, host:port,… (required)");
  s.Int("fanout_batch_size", &c.fanout_batch_size, 1, 100'000, "members per fanout batch");
  im::daemon::AddKafkaSettings(s, &c.kafka);
  im::daemon::AddRedisSettings(s, &c.redis);
  im::daemon::AddFeatureSettings(s, &c.features, /*push_and_tasks=*/true);
  s.String("admin_token", &c.admin_token, "bearer token of /admin/dead-letters (empty: those paths are off)");
  s.LogLevel("log_level", &c.log_level, "debug, info, warn or error");
  if (auto exit_code = im::daemon::LoadSettings(s, argc, argv)) return *exit_code;
  im::SetLogSink(nullptr, c.log_level);
  if (!c.admin_token.empty() && c.admin_token.size() < 16) {
    return im::daemon::Fail(program, im::Status::InvalidArgument("admin_token must be at least 16 characters"));
  }
  if (c.repo_addresses.empty()) {
    return im::daemon::Fail(program, im::Status::InvalidArgument("repo.addresses is required"));
  }

  auto store = im::OpenRemoteStore({.addresses = c.repo_addresses});
  if (!store.ok()) return im::daemon::Fail(program, store.status());
  auto bus = im::daemon::OpenKafka(c.kafka, "im-task");
  if (!bus.ok()) return im::daemon::Fail(program, bus.status());
  auto presence = im::daemon::OpenRedis(c.redis, 120'000);
  if (!presence.ok()) return im::daemon::Fail(program, presence.status());

  im::Options o;
  o.store = *store;
  o.bus = *bus;
  o.presence = *presence;
  o.run_gateway = false;
  o.run_logic = false;
  o.run_tasks = true;
  o.fanout_batch_size = static_cast<uint32_t>(c.fanout_batch_size);
  if (auto st = im::daemon::ApplyFeatures(c.features, /*open_push_providers=*/true, &o); !st.ok()) {
    return im::daemon::Fail(program, st);
  }
  auto engine = im::Engine::Open(o);
  if (!engine.ok()) return im::daemon::Fail(program, engine.status());

  im::daemon::ReadinessProbe probe(im::daemon::StoreReadiness(*store));
  auto admin_server =
      im::daemon::StartAdmin(c.admin_listen, [&probe] { return probe.Get(); }, engine->get(), c.admin_token);
  if (!admin_server.ok()) return im::daemon::Fail(program, admin_server.status());
  std::printf("im-task running (admin port %u)\n", (*admin_server)->port());
  std::fflush(stdout);

  im::daemon::WaitForStopSignal();
  engine->reset();  // finishes the batch in hand, commits, leaves the group
  std::printf("im-task stopped\n");
  return 0;
}
