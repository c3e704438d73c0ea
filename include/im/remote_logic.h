// RemoteLogic (target im::grpc): the LogicApi implemented by calls to im-logic's gRPC services
// (LogicServer, im/logic_server.h). im-gateway passes it as Options::logic; its engine then runs
// only the gateway half and cannot tell the difference: every method keeps the LogicApi contract
// and fails with the code the logic half returned.
//
// Network behaviour (as RemoteStore's, im/remote_store.h):
//  - Every attempt has a deadline (deadline_ms); running out of it is deadline_exceeded, not
//    retried.
//  - unavailable is retried with exponential backoff and jitter, up to max_attempts, for calls
//    that are safe to repeat: reads (Authenticate, users, groups, conversations, history, sync)
//    and idempotent writes (MarkRead, UpdateProfile, Logout, SetMemberRole, DismissGroup,
//    UpdateGroupSettings, InviteMember, RequestToJoin). The others (Register, Login, Refresh — a
//    repeat would look like token reuse —, ChangePassword, DeleteUser, CreateGroup, Join, Leave,
//    Kick, Transfer, ApproveJoinRequest, RemoveGroupRelation, Typing) are sent once, after
//    waiting up to deadline_ms for a connection.
//  - Several addresses are balanced round-robin, call by call.
//
// Thread-safe; calls block. Opening does not wait for a server.
#ifndef IM_REMOTE_LOGIC_H_
#define IM_REMOTE_LOGIC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "im/logic_api.h"
#include "im/status.h"

namespace im {

struct RemoteLogicOptions {
  // im-logic servers, "host:port" each: one DNS name, or several IP literals of one family.
  std::vector<std::string> addresses;
  // Per attempt. Login and Register hash a password on the server: keep this well above that.
  int64_t deadline_ms = 5000;
  int max_attempts = 4;
  int64_t initial_backoff_ms = 50;
  int64_t max_backoff_ms = 2000;
  double backoff_multiplier = 2.0;
  int max_message_bytes = 16 << 20;
  int64_t reconnect_backoff_ms = 100;
};

// invalid_argument for options that name no server or cannot form one target.
Result<std::shared_ptr<LogicApi>> OpenRemoteLogic(const RemoteLogicOptions& options);

}  // namespace im

#endif  // IM_REMOTE_LOGIC_H_
