// Kills a process with SIGKILL in the middle of a durable send stream on SQLite, then checks that
// every acknowledged message survived with its seq, that seqs are gapless, and that nothing is
// duplicated. The spawn-and-kill and the checks are shared with RocksDB (tests/support/crash_harness.h).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "im/sqlite_store.h"
#include "support/crash_harness.h"

TEST_CASE("sqlite: SIGKILL mid-stream loses no acknowledged message and leaves seqs gapless") {
  auto dir = std::filesystem::temp_directory_path() / ("im-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string db = (dir / "im.db").string();

  for (int round = 0; round < 3; ++round) {
    // Each round uses a fresh database so "READY" registration is repeatable.
    std::string round_db = db + "." + std::to_string(round);
    auto run = im::test::RunAndKillCrashWriter(IM_CRASH_WRITER, round_db, static_cast<size_t>(1500 + round * 1000));

    auto store = im::OpenSqliteStore({.path = round_db}).value();
    im::test::CheckCrashRecovery(*store, run, round);
  }
  std::filesystem::remove_all(dir);
}
