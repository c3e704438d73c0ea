// RepoServer (target im::grpc): serves a Store over gRPC as the im-repo services of
// proto/im/v1/repo.proto (UserService, GroupService, MessageService, ConversationService), so
// im-logic can reach it through RemoteStore (im/remote_store.h). Any Store works: SQLite,
// RocksDB, PostgreSQL, a CachedStore, a MemoryStore in tests.
//
// Each rpc calls the Store method of the same name on a gRPC thread and answers with the status
// the store returned (im/status.h codes are gRPC codes). The store's methods block; the server
// runs them on up to `threads` threads at a time.
//
// OnlineStatusService serves RepoServerOptions::presence (im-repo: Redis) when one is given —
// Register, Unregister, Lookup and batch Online; without one its calls fail with not_supported
// (UNIMPLEMENTED).
//
// Connections are plaintext (insecure credentials): run im-repo on a private network.
#ifndef IM_REPO_SERVER_H_
#define IM_REPO_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/presence.h"
#include "im/status.h"
#include "im/store.h"

namespace im {

struct RepoServerOptions {
  // "host:port" to listen on; port 0 picks a free one (see RepoServer::port()).
  std::string listen_address = "0.0.0.0:50051";
  // Served as OnlineStatusService when set.
  std::shared_ptr<Presence> presence;
  // Most calls served at once (gRPC's thread quota). A call beyond it is refused with
  // resource_exhausted, so size it above the callers' concurrency.
  int threads = 64;
  // Largest request or response, in bytes (a page of messages, a batch of users).
  int max_message_bytes = 16 << 20;
  // How long the destructor lets calls in flight finish before cancelling them.
  int64_t shutdown_grace_ms = 5000;
};

// Thread-safe. Destroying it shuts it down (Shutdown(options.shutdown_grace_ms)).
class RepoServer {
 public:
  virtual ~RepoServer() = default;
  // The port it listens on (the one picked when listen_address asked for port 0).
  virtual int port() const = 0;
  // Stops accepting calls, lets calls in flight finish for up to `grace_ms`, cancels the rest
  // (their callers see unavailable or cancelled) and returns when no handler runs any more.
  // Later calls do nothing.
  virtual void Shutdown(int64_t grace_ms) = 0;
};

// Starts serving `store`. unavailable when the address cannot be bound, invalid_argument for bad
// options.
Result<std::unique_ptr<RepoServer>> StartRepoServer(std::shared_ptr<Store> store, const RepoServerOptions& options);

}  // namespace im

#endif  // IM_REPO_SERVER_H_
