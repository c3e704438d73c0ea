// Child process of the RocksDB crash test: sends an endless stream of messages from 32 threads
// through an Engine on a durable RocksDB store, printing one line per acknowledged send:
//   ACK <client_msg_id> <seq> <message_id>
// The test kills it with SIGKILL mid-stream and checks that every printed ack survived. Small
// memtables make RocksDB flush many times during the stream, so recovery combines SST files
// with the WAL written since the last flush.
// The writer loop is shared with the SQLite crash writer (tests/support/crash_harness.h).
#include "im/rocksdb_store.h"
#include "support/crash_harness.h"

int main(int argc, char** argv) {
  return im::test::RunCrashWriter(argc, argv, "DB_DIR", [](const std::string& path) {
    return im::OpenRocksDbStore({.path = path, .write_buffer_bytes = 128 << 10});
  });
}
