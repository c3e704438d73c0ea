// The AppendMessage benchmark cases shared by sqlite_append_bench.cc, rocksdb_append_bench.cc
// and postgres_append_bench.cc, so the stores can be compared figure for figure. Each program
// keeps only what is its own store's: opening it, its group-commit counters, its cluster.
//
// Each sender uses its own client_msg_ids (idempotency is on) and ~100-byte text messages.
//   BM_AppendDirect: every sender thread writes into its own 1:1 conversation.
//   BM_AppendGroup:  every sender thread writes into one group conversation whose members they are.
//   BM_AppendGroupTwoStores (only with two_stores): as Group, but the senders are split over two
//           stores, as two processes appending to one conversation would be.
// Direct and Group run with 1 and 64 senders; GroupTwoStores with 64.
// One set of stores per benchmark (kept across its runs, so history grows as on a live server).
// Counters: batch_avg = appends per group-committed batch, batches = batches during the run,
// both from the store's counters (AppendBenchConfig::counters).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/store.h"

namespace im::bench {

// The store's process-wide group-commit counters.
struct BatchCounters {
  uint64_t batches = 0;  // batches (transactions) committed
  uint64_t appends = 0;  // appends in them
};

struct AppendBenchConfig {
  // Opens `count` stores on one fresh database, the `index`-th (from 1) opened by the program.
  // Failures end the program.
  std::function<std::vector<std::shared_ptr<Store>>(int index, int count)> open;
  // Reads the store's counters (for the batches and batch_avg counters).
  std::function<BatchCounters()> counters;
  // Called when setting up the group fails; the program aborts after it if it returns.
  std::function<void(const std::string& what, const Status& status)> fail;
  // Registers BM_AppendGroupTwoStores too.
  bool two_stores = false;
};

// Registers the benchmarks; call before benchmark::RunSpecifiedBenchmarks.
void RegisterAppendBenchmarks(AppendBenchConfig config);

// Closes the stores of every benchmark.
void CloseAppendBenchStores();

// The directory of a file-backed store's databases: $IM_BENCH_DIR or the system temp directory,
// then im_<store>_bench_<pid>. Fixed by the first call.
std::filesystem::path BenchDir(const std::string& store);

// Prints to stderr a histogram of group-commit sizes: batch_size_log2[i] batches had
// 2^i <= size < 2^(i+1).
void PrintBatchSizes(const uint64_t (&batch_size_log2)[12]);

}  // namespace im::bench
