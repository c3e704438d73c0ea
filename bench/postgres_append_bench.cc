// Durable AppendMessage throughput of the PostgreSQL store, with 1 and 64 concurrent senders.
//
//   postgres_append_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// The program starts its own throwaway PostgreSQL cluster (tests/support/postgres_fixture.h:
// loopback TCP, fsync=on and the default synchronous_commit=on, so every acknowledged append is
// on disk) and removes it at exit. Each sender uses its own client_msg_ids (idempotency is on)
// and ~100-byte text messages.
//   Direct: every sender thread writes into its own 1:1 conversation.
//   Group:  every sender thread writes into one group conversation whose members they are.
//   GroupTwoStores: as Group, but the senders are split over two stores (two pools, two
//           writers), as two im-logic processes appending to one conversation would be.
// One database per benchmark (kept across its runs, so history grows as on a live server).
// Counters: batch_avg = appends per group-committed transaction, batches = transactions.
#include <benchmark/benchmark.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "im/postgres_store.h"
#include "im/store.h"
#include "postgres/append_writer.h"
#include "support/postgres_fixture.h"

namespace {

constexpr int64_t kUserBase = 1000;  // sender of thread t is kUserBase + t

const std::string kContent =
    "Are we still on for the release review at four? I pushed the fixes for the sync path already.";

std::unique_ptr<im::test::PostgresCluster>& Cluster() {
  static std::unique_ptr<im::test::PostgresCluster> cluster;
  return cluster;
}

std::map<std::string, std::vector<std::shared_ptr<im::Store>>>& Stores() {
  static std::map<std::string, std::vector<std::shared_ptr<im::Store>>> stores;
  return stores;
}

std::atomic<int64_t> g_next_message_id{1};

[[noreturn]] void Die(const std::string& what, const im::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// Opens (once per benchmark name) the database and store(s) the benchmark appends to.
const std::vector<std::shared_ptr<im::Store>>& StoresFor(const std::string& name, bool group, int count) {
  auto& slot = Stores()[name];
  if (!slot.empty()) return slot;
  auto db = Cluster()->CreateDatabase();
  if (!db.ok()) Die("create database", db.status());
  for (int i = 0; i < count; ++i) {
    auto store = im::OpenPostgresStore({.conninfo = *db, .pool_size = 4});
    if (!store.ok()) Die("open store", store.status());
    slot.push_back(*store);
  }
  if (group) {
    // Group 1 with every possible sender as a member, as the engine would have it.
    auto g = slot[0]->CreateGroup({"bench", im::UserId(kUserBase), 1000, 1});
    if (!g.ok()) Die("create group", g.status());
    for (int64_t t = 1; t < 64; ++t) {
      auto s = slot[0]->AddGroupMember(g->id, {im::UserId(kUserBase + t), im::GroupRole::kMember, 1});
      if (!s.ok()) Die("add member", s);
    }
  }
  return slot;
}

void RunAppends(benchmark::State& state, bool group, int store_count) {
  static const std::vector<std::shared_ptr<im::Store>>* stores = nullptr;
  static uint64_t batches_before = 0, appends_before = 0;
  static int64_t run = 0;
  if (state.thread_index() == 0) {
    std::string name = (group ? "group/" : "direct/") + std::to_string(store_count) + "/" +
                       std::to_string(state.threads());
    stores = &StoresFor(name, group, store_count);
    batches_before = im::postgres::GlobalAppendStats().batches.load();
    appends_before = im::postgres::GlobalAppendStats().appends.load();
    ++run;
  }
  // Everything below runs after the start barrier of the timed loop: `stores` and `run` are set.
  im::Store& store = *(*stores)[static_cast<size_t>(state.thread_index()) % stores->size()];
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
    auto result = store.AppendMessage(message);
    if (!result.ok() || result->duplicate) {
      state.SkipWithError(result.ok() ? "unexpected duplicate" : result.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    // After the loop's end barrier: every sender is done.
    double batches = static_cast<double>(im::postgres::GlobalAppendStats().batches.load() - batches_before);
    double appends = static_cast<double>(im::postgres::GlobalAppendStats().appends.load() - appends_before);
    state.counters["batches"] = batches;
    state.counters["batch_avg"] = batches > 0 ? appends / batches : 0;
  }
}

void BM_AppendDirect(benchmark::State& state) { RunAppends(state, false, 1); }
void BM_AppendGroup(benchmark::State& state) { RunAppends(state, true, 1); }
void BM_AppendGroupTwoStores(benchmark::State& state) { RunAppends(state, true, 2); }

BENCHMARK(BM_AppendDirect)->Threads(1)->Threads(64)->UseRealTime();
BENCHMARK(BM_AppendGroup)->Threads(1)->Threads(64)->UseRealTime();
BENCHMARK(BM_AppendGroupTwoStores)->Threads(64)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
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
  Stores().clear();
  Cluster().reset();
  return 0;
}
