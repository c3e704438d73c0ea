// Child process of the RocksDB crash test: sends an endless stream of messages from 4 threads
// through an Engine on a durable RocksDB store, printing one line per acknowledged send:
//   ACK <client_msg_id> <seq> <message_id>
// The test kills it with SIGKILL mid-stream and checks that every printed ack survived. Small
// memtables make RocksDB flush many times during the stream, so recovery combines SST files
// with the WAL written since the last flush.
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "im/engine.h"
#include "im/rocksdb_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_DIR\n", argv[0]);
    return 2;
  }
  auto store = im::OpenRocksDbStore({.path = argv[1], .write_buffer_bytes = 128 << 10});
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  im::Options options;
  options.store = *store;
  options.password_iterations = 1000;
  auto engine = im::Engine::Open(options);
  if (!engine.ok()) return 1;
  auto alice = (*engine)->Register("alice", "password-alice", "");
  auto bob = (*engine)->Register("bob", "password-bob", "");
  if (!alice.ok() || !bob.ok()) return 1;
  auto conv = im::ConversationId::Direct(alice->id, bob->id);
  std::printf("READY %s\n", conv.str().c_str());
  std::fflush(stdout);

  std::mutex out;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (long i = 0;; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto ack = (*engine)->Send(alice->id, "dev", {conv, key, im::ContentType::kText, "payload " + key});
        if (!ack.ok()) {
          std::fprintf(stderr, "send: %s\n", ack.status().ToString().c_str());
          std::_Exit(1);
        }
        std::lock_guard lock(out);
        std::printf("ACK %s %llu %lld\n", key.c_str(), static_cast<unsigned long long>(ack->seq),
                    static_cast<long long>(ack->id.value));
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();
}
