#include "sqlite/error.h"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>
#include <new>
#include <string>

namespace im::sqlite {

Status FromSqliteCode(int extended_code, std::string_view what, std::string_view detail) {
  std::string message(what);
  message += ": ";
  message += detail;
  switch (extended_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_FULL:  // disk full: transient from the caller's point of view
      return Status::Unavailable(std::move(message));
    case SQLITE_NOMEM:
      return Status::ResourceExhausted(std::move(message));
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(std::move(message));
    case SQLITE_TOOBIG:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

Status FromCurrentException(std::string_view what) {
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    int code = e.getExtendedErrorCode();
    if (code <= 0) code = e.getErrorCode();  // not every SQLiteCpp exception carries one
    return FromSqliteCode(code, what, e.what());
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + ": unknown exception");
  }
}

bool IsTransactionFatal(int extended_code) {
  switch (extended_code & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return true;
    default:
      return false;
  }
}

}  // namespace im::sqlite
