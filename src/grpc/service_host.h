// What RepoServer and LogicServer share: ServiceHost — a gRPC server on one address with a thread
// quota and message size limits, and a shutdown that lets calls in flight finish for a grace
// period, once — and the two helpers their handlers answer with.
#ifndef IM_SRC_GRPC_SERVICE_HOST_H_
#define IM_SRC_GRPC_SERVICE_HOST_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grpc/status_mapping.h"
#include "im/status.h"

namespace im::rpc {

// Answers with `r`'s status, or fills the response from its value.
template <typename T, typename Fill>
::grpc::Status Reply(const Result<T>& r, Fill fill) {
  if (!r.ok()) return ToGrpcStatus(r.status());
  fill(r.value());
  return ::grpc::Status::OK;
}

// In a handler: `lhs` = the value of the Result `expr`, or return its status to the caller.
#define IM_GRPC_ASSIGN(lhs, expr)                                                                              \
  auto IM_CONCAT_(conv_, __LINE__) = (expr);                                                                   \
  if (!IM_CONCAT_(conv_, __LINE__).ok()) return ::im::rpc::ToGrpcStatus(IM_CONCAT_(conv_, __LINE__).status()); \
  lhs = std::move(IM_CONCAT_(conv_, __LINE__)).value()

class ServiceHost {
 public:
  // Serves `services` (which must outlive the host). `name` prefixes errors ("im-repo").
  Status Start(const std::string& name, const std::string& address, int threads, int max_message_bytes,
               const std::vector<::grpc::Service*>& services) {
    ::grpc::ServerBuilder builder;
    builder.AddListeningPort(address, ::grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.SetMaxSendMessageSize(max_message_bytes);
    ::grpc::ResourceQuota quota(name);
    quota.SetMaxThreads(threads);
    builder.SetResourceQuota(quota);
    for (auto* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) return Status::Unavailable(name + ": cannot listen on " + address);
    return Status::Ok();
  }

  int port() const { return port_; }

  // Stops accepting calls, lets calls in flight finish for up to `grace_ms`, cancels the rest and
  // waits for the handlers. Later calls do nothing.
  void Shutdown(int64_t grace_ms) {
    std::lock_guard lock(mu_);
    if (!server_ || stopped_) return;
    stopped_ = true;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
    server_->Wait();
  }

 private:
  std::unique_ptr<::grpc::Server> server_;
  int port_ = 0;
  std::mutex mu_;
  bool stopped_ = false;
};

}  // namespace im::rpc

#endif  // IM_SRC_GRPC_SERVICE_HOST_H_
