// im::Status <-> grpc::Status, in memory and through the network.
#include <doctest/doctest.h>

#include <mutex>
#include <vector>

#include "grpc/repo_fixture.h"
#include "grpc/status_mapping.h"

namespace im::test {
namespace {

const std::vector<StatusCode> kErrorCodes = {
    StatusCode::kInvalidArgument,    StatusCode::kDeadlineExceeded, StatusCode::kNotFound,
    StatusCode::kAlreadyExists,      StatusCode::kPermissionDenied, StatusCode::kResourceExhausted,
    StatusCode::kFailedPrecondition, StatusCode::kNotSupported,     StatusCode::kInternal,
    StatusCode::kUnavailable,        StatusCode::kUnauthenticated,
};

TEST_CASE("status mapping: every code round-trips with its number and message") {
  CHECK(rpc::ToGrpcStatus(Status::Ok()).ok());
  CHECK(rpc::FromGrpcStatus(::grpc::Status::OK).ok());
  for (StatusCode code : kErrorCodes) {
    Status s(code, "detail of " + std::string(StatusCodeName(code)));
    ::grpc::Status g = rpc::ToGrpcStatus(s);
    CHECK(int(g.error_code()) == int(code));
    CHECK(g.error_message() == s.message());
    CHECK(rpc::FromGrpcStatus(g) == s);
  }
  CHECK(rpc::ToGrpcCode(StatusCode::kNotSupported) == ::grpc::StatusCode::UNIMPLEMENTED);
}

TEST_CASE("status mapping: gRPC codes with no im counterpart") {
  CHECK(rpc::FromGrpcCode(::grpc::StatusCode::CANCELLED) == StatusCode::kUnavailable);
  CHECK(rpc::FromGrpcCode(::grpc::StatusCode::ABORTED) == StatusCode::kUnavailable);
  CHECK(rpc::FromGrpcCode(::grpc::StatusCode::UNKNOWN) == StatusCode::kInternal);
  CHECK(rpc::FromGrpcCode(::grpc::StatusCode::DATA_LOSS) == StatusCode::kInternal);
  CHECK(rpc::FromGrpcCode(::grpc::StatusCode::OUT_OF_RANGE) == StatusCode::kInvalidArgument);
  Status s = rpc::FromGrpcStatus(::grpc::Status(::grpc::StatusCode::UNKNOWN, "boom"));
  CHECK(s == Status::Internal("boom"));
}

// A store whose GetUser fails with a chosen status.
class FailingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<User> GetUser(UserId) override {
    std::lock_guard lock(mu_);
    return status_;
  }
  void Fail(Status s) {
    std::lock_guard lock(mu_);
    status_ = std::move(s);
  }

 private:
  std::mutex mu_;
  Status status_ = Status::Internal("unset");
};

TEST_CASE("status mapping: every code the store returns reaches the RemoteStore caller unchanged") {
  auto failing = std::make_shared<FailingStore>(NewMemoryStore());
  auto server = Serve(failing);
  auto options = RemoteOptions({server->port()});
  options.max_attempts = 1;  // unavailable would be retried; the code must arrive as it is
  auto remote = Connect(options);
  for (StatusCode code : kErrorCodes) {
    Status want(code, "store says " + std::string(StatusCodeName(code)));
    failing->Fail(want);
    auto r = remote->GetUser(UserId(1));
    REQUIRE(!r.ok());
    CHECK(r.status() == want);
  }
}

}  // namespace
}  // namespace im::test
