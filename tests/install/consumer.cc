// A host application linking libim the way a user would: exits 0 only if a message makes the
// round trip through the engine and the SQLite store.
#include <cstdio>
#include <filesystem>

#include "im/engine.h"
#include "im/sqlite_store.h"
#ifdef IM_CONSUMER_REDIS
#include "im/redis_presence.h"
#endif
#ifdef IM_CONSUMER_KAFKA
#include "im/kafka_bus.h"
#endif
#ifdef IM_CONSUMER_POSTGRES
#include "im/postgres_store.h"
#endif
#ifdef IM_CONSUMER_ROCKSDB
#include "im/rocksdb_store.h"
#endif

int main() {
  auto dir = std::filesystem::temp_directory_path() / "im-consumer";
  std::filesystem::remove_all(dir);
  auto store = im::OpenSqliteStore({.path = (dir / "im.db").string()});
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  im::Options options;
  options.store = *store;
  options.password_iterations = 1000;
  auto engine = im::Engine::Open(options);
  if (!engine.ok()) return 1;
  auto a = (*engine)->Register("alice", "password-1", "");
  auto b = (*engine)->Register("bob", "password-2", "");
  if (!a.ok() || !b.ok()) return 1;
  auto conv = im::ConversationId::Direct(a->id, b->id);
  auto ack = (*engine)->Send(a->id, "cli", {conv, "k1", im::ContentType::kText, "hello from a consumer"});
  auto history = (*engine)->GetHistory(b->id, conv, {});
  if (!ack.ok() || !history.ok() || history->messages.size() != 1 || ack->seq != 1) return 1;
#ifdef IM_CONSUMER_KAFKA
  // Opening connects lazily; publishing to a port nobody listens on fails with the topic's name.
  auto kafka = im::KafkaBus::Open({.bootstrap_servers = "127.0.0.1:1", .operation_timeout_ms = 500});
  if (!kafka.ok()) return std::fprintf(stderr, "%s\n", kafka.status().ToString().c_str()), 1;
  im::Status published = (*kafka)->Publish("im-consumer-check", "k", "x");
  if (published.ok()) return 1;
  std::printf("consumer: kafka bus linked (%s)\n", published.ToString().c_str());
#endif
#ifdef IM_CONSUMER_REDIS
  // Nothing listens on port 1: the presence must answer unavailable (proves it links and runs).
  auto redis = im::OpenRedisPresence({.port = 1, .connect_timeout_ms = 500, .command_timeout_ms = 1000});
  if (redis.ok() || redis.status().code() != im::StatusCode::kUnavailable) return 1;
  std::printf("consumer: redis presence linked (%s)\n", redis.status().ToString().c_str());
#endif
#ifdef IM_CONSUMER_POSTGRES
  // Nothing listens on port 1: the store must answer unavailable (proves it links and runs).
  auto pg = im::OpenPostgresStore({.conninfo = "host=127.0.0.1 port=1 connect_timeout=2"});
  if (pg.ok() || pg.status().code() != im::StatusCode::kUnavailable) return 1;
  std::printf("consumer: postgres store linked (%s)\n", pg.status().ToString().c_str());
#endif
#ifdef IM_CONSUMER_ROCKSDB
  {
    auto rocks = im::OpenRocksDbStore({.path = (dir / "rocksdb").string()});
    if (!rocks.ok()) return std::fprintf(stderr, "%s\n", rocks.status().ToString().c_str()), 1;
    auto user = (*rocks)->CreateUser({"carol", "Carol", "hash", 1});
    if (!user.ok()) return 1;
    auto group = (*rocks)->CreateGroup({"g", user->id, 10, 1});
    if (!group.ok()) return 1;
    auto gconv = im::ConversationId::Group(group->id);
    auto appended = (*rocks)->AppendMessage({im::MessageId(1), gconv, user->id, "k", im::ContentType::kText, "hi", 1});
    auto read = (*rocks)->ListMessages(gconv, {});
    if (!appended.ok() || appended->seq != 1 || !read.ok() || read->size() != 1) return 1;
    std::printf("consumer: rocksdb store ok (%s)\n", read->front().content.c_str());
  }
#endif
  std::printf("consumer: ok (%s)\n", history->messages[0].content.c_str());
  return 0;
}
