// Durable AppendMessage throughput of the PostgreSQL store, with 1 and 64 concurrent senders.
//
//   postgres_append_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// The program starts its own throwaway PostgreSQL cluster (tests/support/postgres_fixture.h:
// loopback TCP, fsync=on and the default synchronous_commit=on, so every acknowledged append is
// on disk) and removes it at exit. The workload is shared with the other stores (append_bench.h).
//   GroupTwoStores: as Group, but the senders are split over two stores (two pools, two
//           writers), as two im-logic processes appending to one conversation would be.
// One database per benchmark (kept across its runs, so history grows as on a live server).
// Counters: batch_avg = appends per group-committed transaction, batches = transactions.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "append_bench.h"
#include "im/postgres_store.h"
#include "im/store.h"
#include "postgres/append_writer.h"
#include "support/postgres_fixture.h"

namespace {

std::unique_ptr<im::test::PostgresCluster>& Cluster() {
  static std::unique_ptr<im::test::PostgresCluster> cluster;
  return cluster;
}

[[noreturn]] void Die(const std::string& what, const im::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// A fresh database with `count` stores (pools and writers) on it.
std::vector<std::shared_ptr<im::Store>> OpenStores(int /*index*/, int count) {
  std::vector<std::shared_ptr<im::Store>> stores;
  auto db = Cluster()->CreateDatabase();
  if (!db.ok()) Die("create database", db.status());
  for (int i = 0; i < count; ++i) {
    auto store = im::OpenPostgresStore({.conninfo = *db, .pool_size = 4});
    if (!store.ok()) Die("open store", store.status());
    stores.push_back(*store);
  }
  return stores;
}

im::bench::BatchCounters Counters() {
  return {im::postgres::GlobalAppendStats().batches.load(), im::postgres::GlobalAppendStats().appends.load()};
}

}  // namespace

int main(int argc, char** argv) {
  im::bench::RegisterAppendBenchmarks({.open = OpenStores, .counters = Counters, .fail = Die, .two_stores = true});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto cluster = im::test::PostgresCluster::Start({.fsync = true});
  if (!cluster.ok()) Die("start PostgreSQL", cluster.status());
  Cluster() = std::move(cluster).value();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& stats = im::postgres::GlobalAppendStats();
  std::fprintf(stderr, "group commit: %llu transactions, %llu appends, %.1f appends/transaction, largest %llu\n",
               static_cast<unsigned long long>(stats.batches.load()),
               static_cast<unsigned long long>(stats.appends.load()),
               stats.batches.load() ? static_cast<double>(stats.appends.load()) / static_cast<double>(stats.batches.load())
                                    : 0.0,
               static_cast<unsigned long long>(stats.largest_batch.load()));
  im::bench::CloseAppendBenchStores();
  Cluster().reset();
  return 0;
}
