// Moved to common/futex.h (shared by the SQLite and RocksDB group committers); kept so that
// existing includes keep compiling.
#ifndef IM_SQLITE_FUTEX_H_
#define IM_SQLITE_FUTEX_H_

#include "common/futex.h"

namespace im::sqlite {
using im::FutexWait;
using im::FutexWake;
using im::FutexWakeAll;
}  // namespace im::sqlite

#endif  // IM_SQLITE_FUTEX_H_
