// im-repo: the storage service of the split deployment. Serves a Store (PostgreSQL or RocksDB,
// optionally behind a Redis cache-aside) as the im-repo gRPC services for im-logic and im-task
// (RemoteStore). docs/deploy.md.
#include <cstdio>

#include "common/readiness_probe.h"
#include "common/services.h"
#include "im/cached_store.h"
#include "im/postgres_store.h"
#include "im/repo_server.h"
#include "im/rocksdb_store.h"
#include "store/timed_store.h"

namespace {

struct Config {
  std::string listen = "127.0.0.1:50051";
  std::string admin_listen = "127.0.0.1:9101";
  std::string store = "postgres";
  std::string postgres_conninfo;
  int postgres_pool_size = 8;
  int postgres_max_batch = 512;
  std::string rocksdb_path = "data/rocksdb";
  int threads = 64;
  std::string cache_redis_address;  // empty: no cache
  std::string cache_redis_password;
  int64_t cache_ttl_ms = 60'000;
  std::string presence_redis_address;  // empty: OnlineStatusService not served
  im::LogLevel log_level = im::LogLevel::kInfo;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "im-repo";
  im::daemon::MakeFilesPrivate();
  im::daemon::BlockStopSignals();
  Config c;
  im::daemon::Settings s(program, "IM_REPO");
  s.Address("listen", &c.listen, "gRPC address for im-logic and im-task");
  s.Address("admin_listen", &c.admin_listen, "HTTP /healthz, /readyz, /metrics");
  s.Choice("store", &c.store, {"postgres", "rocksdb"}, "the database");
  s.String("postgres.conninfo", &c.postgres_conninfo, "libpq connection string (store = postgres)");
  s.Int("postgres.pool_size", &c.postgres_pool_size, 1, 1'000, "pooled connections for reads");
  s.Int("postgres.max_batch", &c.postgres_max_batch, 1, 100'000, "appends per group commit");
  s.String("rocksdb.path", &c.rocksdb_path, "database directory (store = rocksdb)");
  s.Int("threads", &c.threads, 2, 4'096, "gRPC calls served at once");
  s.String("cache.redis_address", &c.cache_redis_address,
           "Redis for cache-aside of users, groups and memberships, host:port (empty: no cache)");
  s.String("cache.redis_password", &c.cache_redis_password, "AUTH password of the cache's Redis");
  s.Int("cache.ttl_ms", &c.cache_ttl_ms, 1'000, 86'400'000, "how long a cached entry lives at most");
  s.String("presence.redis_address", &c.presence_redis_address,
           "the gateways' Redis, host:port: serve it as OnlineStatusService (empty: not served)");
  s.LogLevel("log_level", &c.log_level, "debug, info, warn or error");
  if (auto exit_code = im::daemon::LoadSettings(s, argc, argv)) return *exit_code;
  im::SetLogSink(nullptr, c.log_level);

  im::Result<std::shared_ptr<im::Store>> store = im::Status::InvalidArgument("no store");
  if (c.store == "postgres") {
    if (c.postgres_conninfo.empty()) {
      return im::daemon::Fail(program, im::Status::InvalidArgument("store = postgres needs postgres.conninfo"));
    }
    store = im::OpenPostgresStore(
        {.conninfo = c.postgres_conninfo, .pool_size = c.postgres_pool_size, .max_batch = c.postgres_max_batch});
  } else {
    store = im::OpenRocksDbStore({.path = c.rocksdb_path});
  }
  if (!store.ok()) return im::daemon::Fail(program, store.status());
  std::shared_ptr<im::Store> served = im::NewTimedStore(*store);  // im_store_latency_seconds on /metrics
  if (!c.cache_redis_address.empty()) {
    im::CachedStoreOptions cache;
    uint16_t port = 0;
    if (im::Status st = im::daemon::SplitAddress(c.cache_redis_address, &cache.host, &port); !st.ok()) {
      return im::daemon::Fail(program, im::Status::InvalidArgument("cache.redis_address " + st.message()));
    }
    cache.port = port;
    cache.password = c.cache_redis_password;
    cache.ttl_ms = c.cache_ttl_ms;
    auto cached = im::OpenCachedStore(served, cache);
    if (!cached.ok()) return im::daemon::Fail(program, cached.status());
    served = *cached;
  }

  im::RepoServerOptions repo;
  repo.listen_address = c.listen;
  repo.threads = c.threads;
  if (!c.presence_redis_address.empty()) {
    im::daemon::RedisSettings redis;
    redis.address = c.presence_redis_address;
    auto presence = im::daemon::OpenRedis(redis, 120'000);
    if (!presence.ok()) return im::daemon::Fail(program, presence.status());
    repo.presence = *presence;
  }
  auto server = im::StartRepoServer(served, repo);
  if (!server.ok()) return im::daemon::Fail(program, server.status());
  im::daemon::ReadinessProbe probe(im::daemon::StoreReadiness(*store));
  auto admin_server = im::daemon::StartAdmin(c.admin_listen, [&probe] { return probe.Get(); });
  if (!admin_server.ok()) return im::daemon::Fail(program, admin_server.status());
  std::printf("im-repo serving %s on %s (grpc port %d, admin port %u)\n", c.store.c_str(), c.listen.c_str(),
              (*server)->port(), (*admin_server)->port());
  std::fflush(stdout);

  im::daemon::WaitForStopSignal();
  (*server)->Shutdown(5'000);  // calls in flight finish
  (void)served->Flush();
  std::printf("im-repo stopped\n");
  return 0;
}
