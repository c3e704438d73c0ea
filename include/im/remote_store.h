// RemoteStore (target im::grpc): the Store seam implemented by calls to im-repo's gRPC services
// (RepoServer, im/repo_server.h). im-logic uses it where imd uses a local store; the engine cannot
// tell the difference: every method keeps the Store contract (im/store.h) and fails with the
// code the store behind the server returned (already_exists, not_found, …).
//
// Network behaviour:
//  - Every attempt of a call has a deadline (deadline_ms); a call that runs out of it fails with
//    deadline_exceeded, which is not retried (the write may have happened).
//  - unavailable (no server reachable, connection lost) is retried with exponential backoff and
//    jitter, up to max_attempts in all, only for calls that are safe to repeat: reads; writes
//    that are idempotent by contract (UpdateUser, UpdatePasswordHash, revocations,
//    SetGroupMemberRole, DismissGroup, TrimHistory, AdvanceReadSeq, Flush); and AppendMessage
//    with a client_msg_id (the store answers a repeat with the original, duplicate = true).
//    Other writes (CreateUser, CreateGroup, AddGroupMember, RemoveGroupMember, DeleteUser,
//    PutRefreshToken, RotateRefreshToken, TransferGroupOwnership, AppendMessage without a key)
//    are tried once: a lost reply would make a repeat fail (already_exists, not_found) or, for a
//    rotation, look like token reuse. Such a write waits up to deadline_ms for a connection to a
//    server before it is sent; unavailable without one means it was not sent at all.
//  - Several addresses are balanced round-robin, call by call; a server that goes away is skipped
//    (its in-flight calls fail unavailable and are retried per the rule above).
//
// Thread-safe; calls block the calling thread. Opening does not wait for a server: calls fail
// with unavailable until one answers.
#ifndef IM_REMOTE_STORE_H_
#define IM_REMOTE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "im/status.h"
#include "im/store.h"

namespace im {

struct RemoteStoreOptions {
  // im-repo servers, "host:port" each. One address may be a DNS name (every address it resolves
  // to is balanced); several must be IP literals ("10.0.0.5:50051", "[::1]:50051"), all of one
  // family: they become a static gRPC "ipv4:"/"ipv6:" target with the round_robin policy.
  std::vector<std::string> addresses;
  int64_t deadline_ms = 5000;  // per attempt
  int max_attempts = 4;        // attempts in all for a retryable call; 1 disables retries
  int64_t initial_backoff_ms = 50;
  int64_t max_backoff_ms = 2000;
  double backoff_multiplier = 2.0;  // each wait is drawn uniformly from [b/2, b], b growing by this
  int max_message_bytes = 16 << 20;
  // How soon the channel tries again to connect to a server that went away (gRPC's reconnect
  // backoff starts here and grows to max_backoff_ms).
  int64_t reconnect_backoff_ms = 100;
};

// invalid_argument for options that name no server or cannot form one target.
Result<std::shared_ptr<Store>> OpenRemoteStore(const RemoteStoreOptions& options);

}  // namespace im

#endif  // IM_REMOTE_STORE_H_
