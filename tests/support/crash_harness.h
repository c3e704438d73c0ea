// Shared halves of the store crash tests (tests/sqlite/crash_test.cc, tests/rocksdb/crash_test.cc).
//   Child:  RunCrashWriter, the main of a crash writer: opens a durable store, sends an endless
//           stream of messages from 32 threads through an Engine (so the logic half persists them
//           in batches: one Store::AppendMessages call, one commit) and prints one line per ack:
//             READY <conversation>
//             ACK <client_msg_id> <seq> <message_id>
//   Parent: RunAndKillCrashWriter spawns a writer, reads its acks and kills it with SIGKILL
//           after `kill_after` of them; CheckCrashRecovery then checks the reopened store.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "im/store.h"

namespace im::test {

// Opens the store of a crash writer at `path` (the writer's only argument).
using CrashStoreOpener = std::function<Result<std::shared_ptr<Store>>(const std::string& path)>;

// The main of a crash writer (crash_writer.cc, no doctest): `usage_arg` names the argument in
// the usage line. Returns the process exit code; never returns while the stream goes on.
int RunCrashWriter(int argc, char** argv, const char* usage_arg, const CrashStoreOpener& open);

struct CrashAck {
  Seq seq;
  int64_t id;
};

struct CrashRun {
  std::string conv_text;                 // the READY line's conversation
  std::map<std::string, CrashAck> acks;  // by client_msg_id
};

// Spawns `writer` on `db`, reads its acks, kills it with SIGKILL once `kill_after` were read,
// and REQUIREs that it was killed by the signal (crash_harness.cc, doctest).
CrashRun RunAndKillCrashWriter(const char* writer, const std::string& db, size_t kill_after);

// Checks the reopened `store` after a crash: every ack survived with its seq and id, seqs are
// gapless, nothing is duplicated, and the next send continues the sequence. Returns the
// conversation.
ConversationId CheckCrashRecovery(Store& store, const CrashRun& run, int round);

}  // namespace im::test
