// im::Status <-> grpc::Status. im::StatusCode uses gRPC's numbering (im/status.h), so every im
// code maps to the gRPC code of the same number and back, message preserved. gRPC codes with no
// im counterpart map to the nearest one: CANCELLED and ABORTED -> unavailable (transient),
// UNKNOWN and DATA_LOSS -> internal, OUT_OF_RANGE -> invalid_argument.
#ifndef IM_SRC_GRPC_STATUS_MAPPING_H_
#define IM_SRC_GRPC_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "im/status.h"

namespace im::rpc {

::grpc::StatusCode ToGrpcCode(StatusCode code);
StatusCode FromGrpcCode(::grpc::StatusCode code);

::grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const ::grpc::Status& status);

}  // namespace im::rpc

#endif  // IM_SRC_GRPC_STATUS_MAPPING_H_
