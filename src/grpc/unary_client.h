// UnaryClient: what RemoteStore and RemoteLogic share — one channel over one or several server
// addresses (round robin), and unary calls with a deadline per attempt and retries with
// exponential backoff and jitter on unavailable where the caller says a repeat is safe.
#ifndef IM_SRC_GRPC_UNARY_CLIENT_H_
#define IM_SRC_GRPC_UNARY_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "grpc/status_mapping.h"
#include "im/status.h"

namespace im::rpc {

struct ClientConfig {
  std::string who;     // "remote store": the prefix of error messages
  std::string server;  // "im-repo": what the addresses point at
  std::vector<std::string> addresses;
  int64_t deadline_ms = 5000;
  int max_attempts = 4;
  int64_t initial_backoff_ms = 50;
  int64_t max_backoff_ms = 2000;
  double backoff_multiplier = 2.0;
  int max_message_bytes = 16 << 20;
  int64_t reconnect_backoff_ms = 100;
};

// The config of RemoteStoreOptions or RemoteLogicOptions (the same fields by design).
template <typename Options>
ClientConfig ConfigOf(std::string who, std::string server, const Options& o) {
  return ClientConfig{std::move(who),      std::move(server),     o.addresses,      o.deadline_ms,
                      o.max_attempts,      o.initial_backoff_ms,  o.max_backoff_ms, o.backoff_multiplier,
                      o.max_message_bytes, o.reconnect_backoff_ms};
}

enum class Retry : bool { kNo = false, kOnUnavailable = true };

class UnaryClient {
 public:
  // invalid_argument for a config that names no server, cannot form one target, or has bad
  // backoff or size values.
  static Result<UnaryClient> Open(ClientConfig config);

  const std::shared_ptr<::grpc::Channel>& channel() const { return channel_; }

  // One unary call (`invoke(context, request, response)` calls the stub) with a deadline per
  // attempt; unavailable is retried with backoff when `retry` allows it. A call that must not be
  // repeated is sent only once a connection is up: its unavailable then means it was never sent.
  template <typename Req, typename Resp, typename Invoke>
  Status Call(Retry retry, const Req& req, Resp* resp, Invoke invoke) const {
    if (retry == Retry::kNo) {
      // A fail-fast call would fail at once on a channel still (re)connecting.
      auto connect_by = std::chrono::system_clock::now() + std::chrono::milliseconds(config_.deadline_ms);
      if (!channel_->WaitForConnected(connect_by)) {
        return Status::Unavailable(config_.who + ": no " + config_.server + " server reachable within " +
                                   std::to_string(config_.deadline_ms) + " ms; nothing was sent");
      }
    }
    double backoff_ms = double(config_.initial_backoff_ms);
    for (int attempt = 1;; ++attempt) {
      ::grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(config_.deadline_ms));
      Status s = FromGrpcStatus(invoke(&context, req, resp));
      if (s.ok() || retry == Retry::kNo || s.code() != StatusCode::kUnavailable || attempt >= config_.max_attempts) {
        return s;
      }
      resp->Clear();
      thread_local std::minstd_rand rng{std::random_device{}()};
      std::uniform_real_distribution<double> jitter(backoff_ms / 2, backoff_ms);
      std::this_thread::sleep_for(std::chrono::microseconds(int64_t(jitter(rng) * 1000)));
      backoff_ms = std::min(backoff_ms * config_.backoff_multiplier, double(config_.max_backoff_ms));
    }
  }

 private:
  UnaryClient(ClientConfig config, std::shared_ptr<::grpc::Channel> channel)
      : config_(std::move(config)), channel_(std::move(channel)) {}

  ClientConfig config_;
  std::shared_ptr<::grpc::Channel> channel_;
};

}  // namespace im::rpc

#endif  // IM_SRC_GRPC_UNARY_CLIENT_H_
