// SessionProtocol: the transport-independent half of a client session. It turns client frames
// into Engine calls and engine events into server frames, for one authenticated (user, device).
// The WebSocket session (and any host transport speaking the same frames) owns the socket and
// calls this; Handle blocks on the engine for everything but sends, so call it from a worker, not
// a network thread.
#ifndef IM_SRC_GATEWAY_SESSION_PROTOCOL_H_
#define IM_SRC_GATEWAY_SESSION_PROTOCOL_H_

#include <functional>
#include <optional>

#include "im/engine.h"
#include "im/v1/frames.pb.h"

namespace im::gateway {

class SessionProtocol {
 public:
  SessionProtocol(Engine& engine, UserId user, DeviceId device)
      : engine_(engine), user_(user), device_(std::move(device)) {}

  // `reply` gets the answer to one client frame, carrying the frame's id: its result or an error
  // frame; nullopt for "ack" and a successful "typing", which have no reply. It runs exactly once:
  // before Handle returns, or for a send once its ack arrives (on an engine thread; keep it short).
  using Reply = std::function<void(std::optional<v1::ServerFrame>)>;
  void Handle(const v1::ClientFrame& frame, Reply reply);

  // The frame pushed to a session for an engine event. A LoginRevokedEvent that covers the
  // session's login is not a frame: the transport closes the session (1008 "session revoked").
  static v1::ServerFrame FromEvent(const Event& event);
  static v1::ServerFrame ErrorFrame(const std::string& id, const Status& status);

 private:
  Engine& engine_;
  const UserId user_;
  const DeviceId device_;
};

}  // namespace im::gateway

#endif  // IM_SRC_GATEWAY_SESSION_PROTOCOL_H_
