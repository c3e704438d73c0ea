#include "grpc/status_mapping.h"

namespace im::rpc {

// The numbers are equal by design; these asserts keep them so.
static_assert(int(StatusCode::kOk) == ::grpc::StatusCode::OK);
static_assert(int(StatusCode::kInvalidArgument) == ::grpc::StatusCode::INVALID_ARGUMENT);
static_assert(int(StatusCode::kDeadlineExceeded) == ::grpc::StatusCode::DEADLINE_EXCEEDED);
static_assert(int(StatusCode::kNotFound) == ::grpc::StatusCode::NOT_FOUND);
static_assert(int(StatusCode::kAlreadyExists) == ::grpc::StatusCode::ALREADY_EXISTS);
static_assert(int(StatusCode::kPermissionDenied) == ::grpc::StatusCode::PERMISSION_DENIED);
static_assert(int(StatusCode::kResourceExhausted) == ::grpc::StatusCode::RESOURCE_EXHAUSTED);
static_assert(int(StatusCode::kFailedPrecondition) == ::grpc::StatusCode::FAILED_PRECONDITION);
static_assert(int(StatusCode::kNotSupported) == ::grpc::StatusCode::UNIMPLEMENTED);
static_assert(int(StatusCode::kInternal) == ::grpc::StatusCode::INTERNAL);
static_assert(int(StatusCode::kUnavailable) == ::grpc::StatusCode::UNAVAILABLE);
static_assert(int(StatusCode::kUnauthenticated) == ::grpc::StatusCode::UNAUTHENTICATED);

::grpc::StatusCode ToGrpcCode(StatusCode code) { return static_cast<::grpc::StatusCode>(static_cast<int>(code)); }

StatusCode FromGrpcCode(::grpc::StatusCode code) {
  switch (code) {
    case ::grpc::StatusCode::OK:
    case ::grpc::StatusCode::INVALID_ARGUMENT:
    case ::grpc::StatusCode::DEADLINE_EXCEEDED:
    case ::grpc::StatusCode::NOT_FOUND:
    case ::grpc::StatusCode::ALREADY_EXISTS:
    case ::grpc::StatusCode::PERMISSION_DENIED:
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
    case ::grpc::StatusCode::FAILED_PRECONDITION:
    case ::grpc::StatusCode::UNIMPLEMENTED:
    case ::grpc::StatusCode::INTERNAL:
    case ::grpc::StatusCode::UNAVAILABLE:
    case ::grpc::StatusCode::UNAUTHENTICATED:
      return static_cast<StatusCode>(static_cast<int>(code));
    case ::grpc::StatusCode::CANCELLED:
    case ::grpc::StatusCode::ABORTED:
      return StatusCode::kUnavailable;
    case ::grpc::StatusCode::OUT_OF_RANGE:
      return StatusCode::kInvalidArgument;
    case ::grpc::StatusCode::UNKNOWN:
    case ::grpc::StatusCode::DATA_LOSS:
    default:
      return StatusCode::kInternal;
  }
}

::grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return ::grpc::Status::OK;
  return ::grpc::Status(ToGrpcCode(status.code()), status.message());
}

Status FromGrpcStatus(const ::grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  return Status(FromGrpcCode(status.error_code()), status.error_message());
}

}  // namespace im::rpc
