// The shared AppendMessage benchmark cases: see append_bench.h.
#include "append_bench.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <unistd.h>

namespace im::bench {
namespace {

constexpr int64_t kUserBase = 1000;  // sender of thread t is kUserBase + t

const std::string kContent =
    "Are we still on for the release review at four? I pushed the fixes for the sync path already.";

AppendBenchConfig& Config() {
  static AppendBenchConfig config;
  return config;
}

std::map<std::string, std::vector<std::shared_ptr<Store>>>& Stores() {
  static std::map<std::string, std::vector<std::shared_ptr<Store>>> stores;
  return stores;
}

std::atomic<int64_t> g_next_message_id{1};

[[noreturn]] void Fail(const std::string& what, const Status& status) {
  if (Config().fail) Config().fail(what, status);
  std::abort();
}

// Opens (once per benchmark name) the store(s) the benchmark appends to.
const std::vector<std::shared_ptr<Store>>& StoresFor(const std::string& name, bool group, int count) {
  auto& slot = Stores()[name];
  if (!slot.empty()) return slot;
  slot = Config().open(static_cast<int>(Stores().size()), count);
  if (group) {
    // Group 1 with every possible sender as a member, as the engine would have it.
    auto g = slot[0]->CreateGroup({"bench", UserId(kUserBase), 1000, 1});
    if (!g.ok()) Fail("create group", g.status());
    for (int64_t t = 1; t < 64; ++t) {
      auto s = slot[0]->AddGroupMember(g->id, {UserId(kUserBase + t), GroupRole::kMember, 1});
      if (!s.ok()) Fail("add member", s);
    }
  }
  return slot;
}

void RunAppends(benchmark::State& state, bool group, int store_count) {
  static const std::vector<std::shared_ptr<Store>>* stores = nullptr;
  static BatchCounters before;
  static int64_t run = 0;
  if (state.thread_index() == 0) {
    std::string name =
        (group ? "group/" : "direct/") + std::to_string(store_count) + "/" + std::to_string(state.threads());
    stores = &StoresFor(name, group, store_count);
    before = Config().counters();
    ++run;
  }
  // Everything below runs after the start barrier of the timed loop: `stores` and `run` are set.
  Store& store = *(*stores)[static_cast<size_t>(state.thread_index()) % stores->size()];
  NewMessage message;
  std::string client_prefix;
  int64_t counter = 0;
  for (auto _ : state) {
    if (counter == 0) {
      const UserId sender(kUserBase + state.thread_index());
      message.sender = sender;
      message.conversation = group ? ConversationId::Group(GroupId(1))
                                   : ConversationId::Direct(sender, UserId(kUserBase + 500 + state.thread_index()));
      message.type = ContentType::kText;
      message.content = kContent;
      client_prefix = "r" + std::to_string(run) + "-";
    }
    message.id = MessageId(g_next_message_id.fetch_add(1, std::memory_order_relaxed));
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
    BatchCounters after = Config().counters();
    double batches = static_cast<double>(after.batches - before.batches);
    state.counters["batches"] = batches;
    state.counters["batch_avg"] = batches > 0 ? static_cast<double>(after.appends - before.appends) / batches : 0;
  }
}

}  // namespace

void RegisterAppendBenchmarks(AppendBenchConfig config) {
  Config() = std::move(config);
  benchmark::RegisterBenchmark("BM_AppendDirect", [](benchmark::State& state) { RunAppends(state, false, 1); })
      ->Threads(1)
      ->Threads(64)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_AppendGroup", [](benchmark::State& state) { RunAppends(state, true, 1); })
      ->Threads(1)
      ->Threads(64)
      ->UseRealTime();
  if (Config().two_stores) {
    benchmark::RegisterBenchmark("BM_AppendGroupTwoStores", [](benchmark::State& state) { RunAppends(state, true, 2); })
        ->Threads(64)
        ->UseRealTime();
  }
}

void CloseAppendBenchStores() { Stores().clear(); }

std::filesystem::path BenchDir(const std::string& store) {
  static const std::filesystem::path dir = [&] {
    const char* env = std::getenv("IM_BENCH_DIR");
    std::filesystem::path base = env != nullptr ? std::filesystem::path(env) : std::filesystem::temp_directory_path();
    return base / ("im_" + store + "_bench_" + std::to_string(::getpid()));
  }();
  return dir;
}

void PrintBatchSizes(const uint64_t (&batch_size_log2)[12]) {
  for (int i = 0; i < 12; ++i) {
    if (batch_size_log2[i] == 0) continue;
    std::fprintf(stderr, "  size %5d..%-5d %llu\n", 1 << i, (2 << i) - 1,
                 static_cast<unsigned long long>(batch_size_log2[i]));
  }
}

}  // namespace im::bench
