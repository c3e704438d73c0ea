// Kills a process with SIGKILL in the middle of a durable send stream on RocksDB, then checks
// that every acknowledged message survived with its seq and id, that seqs are gapless, that
// nothing is duplicated, and that the next send continues the sequence.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "im/rocksdb_store.h"

extern char** environ;

namespace {

struct Ack {
  im::Seq seq;
  int64_t id;
};

}  // namespace

TEST_CASE("rocksdb: SIGKILL mid-stream loses no acknowledged message and leaves seqs gapless") {
  auto dir = std::filesystem::temp_directory_path() / ("im-rocksdb-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  for (int round = 0; round < 3; ++round) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    // Each round uses a fresh database so the registrations are repeatable.
    std::string round_db = (dir / ("db." + std::to_string(round))).string();
    char* args[] = {const_cast<char*>(IM_ROCKSDB_CRASH_WRITER), round_db.data(), nullptr};
    pid_t pid;
    REQUIRE(posix_spawn(&pid, IM_ROCKSDB_CRASH_WRITER, &actions, nullptr, args, environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);

    FILE* in = ::fdopen(pipe_fds[0], "r");
    REQUIRE(in != nullptr);
    char line[256];
    std::string conv_text;
    std::map<std::string, Ack> acks;
    const size_t kill_after = 1500 + round * 1000;
    bool killed = false;
    while (std::fgets(line, sizeof line, in)) {
      std::istringstream parts(line);
      std::string tag;
      parts >> tag;
      if (tag == "READY") {
        parts >> conv_text;
      } else if (tag == "ACK") {
        std::string key;
        Ack a{};
        parts >> key >> a.seq >> a.id;
        REQUIRE_MESSAGE(acks.emplace(key, a).second, "key acked twice: " << key);
      }
      if (!killed && acks.size() >= kill_after) {
        ::kill(pid, SIGKILL);  // acks already in the pipe are still read below
        killed = true;
      }
    }
    std::fclose(in);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(killed);
    REQUIRE(WIFSIGNALED(status));

    auto opened = im::OpenRocksDbStore({.path = round_db});
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto store = *opened;
    auto conv = im::ConversationId::Parse(conv_text).value();
    auto state = store->GetConversationState(conv).value();
    CHECK(state.last_seq >= acks.size());
    std::map<std::string, im::Message> by_key;
    im::Seq expect = 1;
    for (im::Seq after = 0;;) {
      auto page = store->ListMessages(conv, {after, 0, 1000, false}).value();
      if (page.empty()) break;
      for (auto& m : page) {
        CHECK(m.seq == expect);
        expect = m.seq + 1;
        CHECK_MESSAGE(by_key.emplace(m.client_msg_id, m).second, "duplicate in history: " << m.client_msg_id);
      }
      after = page.back().seq;
    }
    CHECK(expect == state.last_seq + 1);
    size_t missing = 0;
    for (auto& [key, ack] : acks) {
      auto it = by_key.find(key);
      if (it == by_key.end() || it->second.seq != ack.seq || it->second.id.value != ack.id) missing++;
    }
    CHECK_MESSAGE(missing == 0, missing << " of " << acks.size() << " acknowledged messages lost or changed");
    MESSAGE("round " << round << ": " << acks.size() << " acked, " << state.last_seq << " stored");

    // The next send continues the sequence with no hole, and a retry of an acked key is a duplicate.
    im::NewMessage next{im::MessageId(1), conv, conv.low_user(), "after-crash", im::ContentType::kText, "x", 1};
    auto appended = store->AppendMessage(next);
    REQUIRE(appended.ok());
    CHECK(appended->seq == state.last_seq + 1);
    if (!acks.empty()) {
      const auto& [key, ack] = *acks.begin();
      im::NewMessage retry{im::MessageId(2), conv, conv.low_user(), key, im::ContentType::kText, "x", 1};
      auto dup = store->AppendMessage(retry);
      REQUIRE(dup.ok());
      CHECK(dup->duplicate);
      CHECK(dup->seq == ack.seq);
    }
  }
  std::filesystem::remove_all(dir);
}
