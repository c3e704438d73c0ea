// Kills a process with SIGKILL in the middle of a durable send stream on RocksDB, then checks
// that every acknowledged message survived with its seq and id, that seqs are gapless, that
// nothing is duplicated, and that the next send continues the sequence. The spawn-and-kill and
// the checks are shared with SQLite (tests/support/crash_harness.h).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "im/rocksdb_store.h"
#include "support/crash_harness.h"

TEST_CASE("rocksdb: SIGKILL mid-stream loses no acknowledged message and leaves seqs gapless") {
  auto dir = std::filesystem::temp_directory_path() / ("im-rocksdb-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  for (int round = 0; round < 3; ++round) {
    // Each round uses a fresh database so the registrations are repeatable.
    std::string round_db = (dir / ("db." + std::to_string(round))).string();
    auto run =
        im::test::RunAndKillCrashWriter(IM_ROCKSDB_CRASH_WRITER, round_db, static_cast<size_t>(1500 + round * 1000));

    auto opened = im::OpenRocksDbStore({.path = round_db});
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto store = *opened;
    // Then a retry of an acked key is a duplicate.
    auto conv = im::test::CheckCrashRecovery(*store, run, round);
    if (!run.acks.empty()) {
      const auto& [key, ack] = *run.acks.begin();
      im::NewMessage retry{im::MessageId(2), conv, conv.low_user(), key, im::ContentType::kText, "x", 1};
      auto dup = store->AppendMessage(retry);
      REQUIRE(dup.ok());
      CHECK(dup->duplicate);
      CHECK(dup->seq == ack.seq);
    }
  }
  std::filesystem::remove_all(dir);
}
