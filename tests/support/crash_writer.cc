// The child half of the store crash tests: see crash_harness.h. No doctest: it links into the
// crash writer programs.
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "im/engine.h"
#include "support/crash_harness.h"

namespace im::test {

int RunCrashWriter(int argc, char** argv, const char* usage_arg, const CrashStoreOpener& open) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s %s\n", argv[0], usage_arg);
    return 2;
  }
  auto store = open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  Options options;
  options.store = *store;
  options.password_iterations = 1000;
  auto engine = Engine::Open(options);
  if (!engine.ok()) return 1;
  auto alice = (*engine)->Register("alice", "password-alice", "");
  auto bob = (*engine)->Register("bob", "password-bob", "");
  if (!alice.ok() || !bob.ok()) return 1;
  auto conv = ConversationId::Direct(alice->id, bob->id);
  std::printf("READY %s\n", conv.str().c_str());
  std::fflush(stdout);

  std::mutex out;
  std::vector<std::thread> threads;
  // 32 senders keep up to 32 sends in the logic half at once: it persists whatever waits as one
  // batch (Store::AppendMessages, one commit), so the kill lands in the middle of batched commits.
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&, t] {
      for (long i = 0;; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto ack = (*engine)->Send(alice->id, "dev", {conv, key, ContentType::kText, "payload " + key});
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
  return 0;
}

}  // namespace im::test
