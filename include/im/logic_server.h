// LogicServer (target im::grpc): serves a LogicApi — normally the Engine of an im-logic process —
// over gRPC as the im-logic services of proto/im/v1/logic.proto (AuthService, UserService,
// ConversationService, GroupService), so im-gateway can reach it through RemoteLogic
// (im/remote_logic.h).
//
// Each rpc calls the LogicApi method of the same name on a gRPC thread and answers with the
// status it returned (im/status.h codes are gRPC codes). The methods block (store, password
// hashing); the server runs up to `threads` of them at a time.
//
// Connections are plaintext (insecure credentials): run im-logic on a private network.
#ifndef IM_LOGIC_SERVER_H_
#define IM_LOGIC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/logic_api.h"
#include "im/status.h"

namespace im {

struct LogicServerOptions {
  // "host:port" to listen on; port 0 picks a free one (see LogicServer::port()).
  std::string listen_address = "0.0.0.0:50052";
  // Most calls served at once (gRPC's thread quota); a call beyond it is refused with
  // resource_exhausted. Logins hash passwords for a few hundred ms each: size for the gateways'
  // concurrency.
  int threads = 64;
  int max_message_bytes = 16 << 20;
  // How long Shutdown (and the destructor) lets calls in flight finish before cancelling them.
  int64_t shutdown_grace_ms = 5000;
};

// Thread-safe. Destroying it shuts it down.
class LogicServer {
 public:
  virtual ~LogicServer() = default;
  virtual int port() const = 0;
  // Stops accepting calls, lets calls in flight finish for up to `grace_ms`, cancels the rest and
  // returns when no handler runs any more. Later calls do nothing.
  virtual void Shutdown(int64_t grace_ms) = 0;
};

// Starts serving `logic`. unavailable when the address cannot be bound, invalid_argument for bad
// options.
Result<std::unique_ptr<LogicServer>> StartLogicServer(std::shared_ptr<LogicApi> logic,
                                                      const LogicServerOptions& options);

}  // namespace im

#endif  // IM_LOGIC_SERVER_H_
