#include "rocksdb/error.h"

#include <string>

namespace im::rocks {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string message(what);
  message += ": ";
  message += s.ToString();
  // MemoryLimit is an Aborted status with its own subcode.
  if (s.subcode() == rocksdb::Status::SubCode::kMemoryLimit) return Status::ResourceExhausted(std::move(message));
  using Code = rocksdb::Status::Code;
  switch (s.code()) {
    case Code::kIOError:
    case Code::kBusy:
    case Code::kTryAgain:
    case Code::kTimedOut:
    case Code::kAborted:
    case Code::kExpired:
    case Code::kIncomplete:
    case Code::kShutdownInProgress:
      return Status::Unavailable(std::move(message));
    case Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case Code::kNotSupported:
      return Status::NotSupported(std::move(message));
    case Code::kNotFound:
      return Status::NotFound(std::move(message));
    default:
      return Status::Internal(std::move(message));  // Corruption, MergeInProgress, …
  }
}

}  // namespace im::rocks
