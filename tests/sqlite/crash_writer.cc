// Child process of the SQLite crash test: sends an endless stream of messages from 32 threads
// through an Engine on a durable SQLite store, printing one line per acknowledged send:
//   ACK <client_msg_id> <seq> <message_id>
// The test kills it with SIGKILL mid-stream and checks that every printed ack survived.
// The writer loop is shared with the RocksDB crash writer (tests/support/crash_harness.h).
#include "im/sqlite_store.h"
#include "support/crash_harness.h"

int main(int argc, char** argv) {
  return im::test::RunCrashWriter(argc, argv, "DB_PATH",
                                  [](const std::string& path) { return im::OpenSqliteStore({.path = path}); });
}
