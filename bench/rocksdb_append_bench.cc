// Durable AppendMessage throughput of the RocksDB store (WriteOptions.sync: every acknowledged
// append survives power loss), with 1 and 64 concurrent senders. The same workload as
// sqlite_append_bench.cc, so the two can be compared figure for figure.
//
//   rocksdb_append_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Each sender uses its own client_msg_ids (idempotency is on) and ~100-byte text messages.
//   Direct: every sender thread writes into its own 1:1 conversation.
//   Group:  every sender thread writes into one group conversation whose members they are.
// One store per benchmark (kept across its runs, so history grows as on a live server), in
// $IM_BENCH_DIR or the system temp directory; removed at exit.
// Counters: batch_avg = appends per group-committed WriteBatch (from the store's counters),
// batches = batches written during the run. At exit, a histogram of batch sizes over the whole
// process goes to stderr.
// IM_NOSYNC=1 opens the stores with sync=false (no fsync per batch, NOT durable against power
// loss): only to separate the cost of the fsync from everything else.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "im/rocksdb_store.h"
#include "im/store.h"
#include "rocksdb/write_queue.h"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kUserBase = 1000;  // sender of thread t is kUserBase + t

const std::string kContent =
    "Are we still on for the release review at four? I pushed the fixes for the sync path already.";

fs::path BenchDir() {
  static const fs::path dir = [] {
    const char* env = std::getenv("IM_BENCH_DIR");
    fs::path base = env != nullptr ? fs::path(env) : fs::temp_directory_path();
    return base / ("im_rocksdb_bench_" + std::to_string(::getpid()));
  }();
  return dir;
}

std::map<std::string, std::shared_ptr<im::Store>>& Stores() {
  static std::map<std::string, std::shared_ptr<im::Store>> stores;
  return stores;
}

std::atomic<int64_t> g_next_message_id{1};

// Opens (once per benchmark name) the store the benchmark appends to.
std::shared_ptr<im::Store> StoreFor(const std::string& name, bool group) {
  auto& slot = Stores()[name];
  if (slot) return slot;
  im::RocksDbStoreOptions options;
  options.path = (BenchDir() / std::to_string(Stores().size())).string();
  options.sync = getenv("IM_NOSYNC") == nullptr;
  auto store = im::OpenRocksDbStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", options.path.c_str(), store.status().ToString().c_str());
    std::abort();
  }
  slot = *store;
  if (group) {
    // Group 1 with every possible sender as a member, as the engine would have it.
    auto g = slot->CreateGroup({"bench", im::UserId(kUserBase), 1000, 1});
    if (!g.ok()) std::abort();
    for (int64_t t = 1; t < 64; ++t) {
      if (!slot->AddGroupMember(g->id, {im::UserId(kUserBase + t), im::GroupRole::kMember, 1}).ok()) std::abort();
    }
  }
  return slot;
}

void RunAppends(benchmark::State& state, bool group) {
  static std::shared_ptr<im::Store> store;
  static im::rocks::WriteQueueStats before;
  static int64_t run = 0;
  if (state.thread_index() == 0) {
    store = StoreFor((group ? "group/" : "direct/") + std::to_string(state.threads()), group);
    before = im::rocks::GlobalWriteQueueStats();
    ++run;
  }
  // Everything below runs after the start barrier of the timed loop: `store` and `run` are set.
  im::NewMessage message;
  std::string client_prefix;
  int64_t counter = 0;
  for (auto _ : state) {
    if (counter == 0) {
      const im::UserId sender(kUserBase + state.thread_index());
      message.sender = sender;
      message.conversation =
          group ? im::ConversationId::Group(im::GroupId(1))
                : im::ConversationId::Direct(sender, im::UserId(kUserBase + 500 + state.thread_index()));
      message.type = im::ContentType::kText;
      message.content = kContent;
      client_prefix = "r" + std::to_string(run) + "-";
    }
    message.id = im::MessageId(g_next_message_id.fetch_add(1, std::memory_order_relaxed));
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof(digits), ++counter).ptr;
    message.client_msg_id.assign(client_prefix).append(digits, end);
    message.sent_at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    auto result = store->AppendMessage(message);
    if (!result.ok() || result->duplicate) {
      state.SkipWithError(result.ok() ? "unexpected duplicate" : result.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    // After the loop's end barrier: every sender is done.
    auto after = im::rocks::GlobalWriteQueueStats();
    double batches = static_cast<double>(after.batches - before.batches);
    state.counters["batches"] = batches;
    state.counters["batch_avg"] = batches > 0 ? static_cast<double>(after.jobs - before.jobs) / batches : 0;
  }
}

void BM_AppendDirect(benchmark::State& state) { RunAppends(state, false); }
void BM_AppendGroup(benchmark::State& state) { RunAppends(state, true); }

BENCHMARK(BM_AppendDirect)->Threads(1)->Threads(64)->UseRealTime();
BENCHMARK(BM_AppendGroup)->Threads(1)->Threads(64)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::error_code ec;
  fs::create_directories(BenchDir(), ec);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Print the batch-size histogram over the whole process (all benchmarks).
  auto stats = im::rocks::GlobalWriteQueueStats();
  std::fprintf(stderr, "group commit: %llu batches, %llu jobs, %.1f jobs/batch\n",
               static_cast<unsigned long long>(stats.batches), static_cast<unsigned long long>(stats.jobs),
               stats.batches ? static_cast<double>(stats.jobs) / static_cast<double>(stats.batches) : 0.0);
  for (int i = 0; i < 12; ++i) {
    if (stats.batch_size_log2[i] == 0) continue;
    std::fprintf(stderr, "  size %5d..%-5d %llu\n", 1 << i, (2 << i) - 1,
                 static_cast<unsigned long long>(stats.batch_size_log2[i]));
  }
  Stores().clear();
  fs::remove_all(BenchDir(), ec);
  return 0;
}
