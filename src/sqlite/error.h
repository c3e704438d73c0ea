// Translation of SQLite failures into canonical Status codes. SQLiteCpp reports errors by
// throwing; every entry point of the store catches and converts here, so nothing throws across
// the Store API.
#ifndef IM_SQLITE_ERROR_H_
#define IM_SQLITE_ERROR_H_

#include <exception>
#include <string_view>

#include "im/status.h"

namespace im::sqlite {

// Maps an SQLite (extended) result code: BUSY/LOCKED/IOERR/FULL/CANTOPEN → unavailable (the
// caller may retry), CONSTRAINT → already_exists, NOMEM → resource_exhausted, CORRUPT/NOTADB and
// anything unexpected → internal.
Status FromSqliteCode(int extended_code, std::string_view what, std::string_view detail);

// Converts the exception in flight (call only inside a catch block): SQLite::Exception via
// FromSqliteCode, std::bad_alloc → resource_exhausted, anything else → internal.
Status FromCurrentException(std::string_view what);

// True for failures that mean the write transaction may have been rolled back by SQLite itself
// (I/O error, disk full, out of memory): the whole batch must be treated as failed.
bool IsTransactionFatal(int extended_code);

}  // namespace im::sqlite

#endif  // IM_SQLITE_ERROR_H_
