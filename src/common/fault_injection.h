// Handlers that must not let an exception escape (the gateway's network threads and worker pool)
// and the test seam that proves it: each such handler calls FaultPoint(name) first, so a test can
// make every one of them throw and check that the gateway answers 500 (or closes that one
// connection) and goes on serving. Off (one relaxed atomic load) unless a test installs a hook.
#ifndef IM_SRC_COMMON_FAULT_INJECTION_H_
#define IM_SRC_COMMON_FAULT_INJECTION_H_

#include <atomic>
#include <exception>
#include <string>
#include <string_view>

namespace im {

// Names: "http.request" (a parsed request, before routing: probes, /metrics, every route),
// "http.rest" (a REST call on the worker pool), "http.auth" (an auth route on its pool),
// "http.static" (a static file), "http.write" (a response was written), "ws.upgrade" (the
// upgrade's token check, on the network thread or the worker pool), "ws.attach" (the new session attaching to the
// engine), "ws.frame" (SessionProtocol handling a client frame).
using FaultHook = void (*)(std::string_view where);
inline std::atomic<FaultHook> fault_hook{nullptr};

inline void FaultPoint(std::string_view where) {
  if (FaultHook hook = fault_hook.load(std::memory_order_relaxed)) hook(where);
}

// Inside a catch block: what the exception being handled says.
inline std::string CurrentExceptionMessage() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace im

#endif  // IM_SRC_COMMON_FAULT_INJECTION_H_
