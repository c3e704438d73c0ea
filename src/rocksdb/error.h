// Translation of rocksdb::Status into canonical Status codes. RocksDB never throws; every call
// of the store checks its status and converts here.
#ifndef IM_ROCKSDB_ERROR_H_
#define IM_ROCKSDB_ERROR_H_

#include <rocksdb/status.h>

#include <string_view>

#include "im/status.h"

namespace im::rocks {

// IOError (including disk full and a database locked by another process), Busy, TryAgain,
// TimedOut, Aborted, Expired, Incomplete, ShutdownInProgress → unavailable (the caller may
// retry); memory limit → resource_exhausted; InvalidArgument → invalid_argument; NotSupported →
// not_supported; NotFound → not_found; Corruption and anything else → internal. The message is
// "<what>: <rocksdb's message>".
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace im::rocks

#endif  // IM_ROCKSDB_ERROR_H_
