// The parent half of the store crash tests: see crash_harness.h.
#include "support/crash_harness.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

extern char** environ;

namespace im::test {

CrashRun RunAndKillCrashWriter(const char* writer, const std::string& db, size_t kill_after) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::string db_arg = db;
  char* args[] = {const_cast<char*>(writer), db_arg.data(), nullptr};
  pid_t pid;
  REQUIRE(posix_spawn(&pid, writer, &actions, nullptr, args, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);

  FILE* in = ::fdopen(pipe_fds[0], "r");
  REQUIRE(in != nullptr);
  char line[256];
  CrashRun run;
  bool killed = false;
  while (std::fgets(line, sizeof line, in)) {
    std::istringstream parts(line);
    std::string tag;
    parts >> tag;
    if (tag == "READY") {
      parts >> run.conv_text;
    } else if (tag == "ACK") {
      std::string key;
      CrashAck a{};
      parts >> key >> a.seq >> a.id;
      REQUIRE_MESSAGE(run.acks.emplace(key, a).second, "key acked twice: " << key);
    }
    if (!killed && run.acks.size() >= kill_after) {
      ::kill(pid, SIGKILL);  // acks already in the pipe are still read below
      killed = true;
    }
  }
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(killed);
  REQUIRE(WIFSIGNALED(status));
  return run;
}

ConversationId CheckCrashRecovery(Store& store, const CrashRun& run, int round) {
  const auto& acks = run.acks;
  auto conv = ConversationId::Parse(run.conv_text).value();
  auto state = store.GetConversationState(conv).value();
  CHECK(state.last_seq >= acks.size());
  std::map<std::string, Message> by_key;
  Seq expect = 1;
  for (Seq after = 0;;) {
    auto page = store.ListMessages(conv, {after, 0, 1000, false}).value();
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

  // The next send continues the sequence with no hole.
  NewMessage next{MessageId(1), conv, conv.low_user(), "after-crash", ContentType::kText, "x", 1};
  auto appended = store.AppendMessage(next);
  REQUIRE(appended.ok());
  CHECK(appended->seq == state.last_seq + 1);
  return conv;
}

}  // namespace im::test
