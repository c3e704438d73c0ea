// Durable AppendMessage throughput of the RocksDB store (WriteOptions.sync: every acknowledged
// append survives power loss), with 1 and 64 concurrent senders. The same workload as
// sqlite_append_bench.cc (shared: append_bench.h), so the two can be compared figure for figure.
//
//   rocksdb_append_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// One store per benchmark (kept across its runs, so history grows as on a live server), in
// $IM_BENCH_DIR or the system temp directory; removed at exit.
// Counters: batch_avg = appends per group-committed WriteBatch (from the store's counters),
// batches = batches written during the run. At exit, a histogram of batch sizes over the whole
// process goes to stderr.
// IM_NOSYNC=1 opens the stores with sync=false (no fsync per batch, NOT durable against power
// loss): only to separate the cost of the fsync from everything else.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "append_bench.h"
#include "im/rocksdb_store.h"
#include "im/store.h"
#include "rocksdb/write_queue.h"

namespace {

namespace fs = std::filesystem;

fs::path BenchDir() { return im::bench::BenchDir("rocksdb"); }

std::vector<std::shared_ptr<im::Store>> OpenStore(int index, int /*count: always 1*/) {
  im::RocksDbStoreOptions options;
  options.path = (BenchDir() / std::to_string(index)).string();
  options.sync = getenv("IM_NOSYNC") == nullptr;
  auto store = im::OpenRocksDbStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", options.path.c_str(), store.status().ToString().c_str());
    std::abort();
  }
  return {*store};
}

im::bench::BatchCounters Counters() {
  auto stats = im::rocks::GlobalWriteQueueStats();
  return {stats.batches, stats.jobs};
}

}  // namespace

int main(int argc, char** argv) {
  im::bench::RegisterAppendBenchmarks({.open = OpenStore, .counters = Counters, .fail = nullptr, .two_stores = false});
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
  im::bench::PrintBatchSizes(stats.batch_size_log2);
  im::bench::CloseAppendBenchStores();
  fs::remove_all(BenchDir(), ec);
  return 0;
}
