// Translation of libpqxx/libpq failures into canonical Status codes. libpqxx reports errors by
// throwing; every entry point of the store catches and converts here, so nothing throws across
// the Store API.
#ifndef IM_POSTGRES_ERROR_H_
#define IM_POSTGRES_ERROR_H_

#include <string_view>

#include "im/status.h"

namespace im::postgres {

// Maps a SQLSTATE (five characters) and the server's message:
//   08xxx connection exception, 57P01-57P03 shutdown / cannot connect now, 57014 cancelled,
//   40xxx transaction rollback (serialization failure, deadlock), 53xxx but 53200 (disk full,
//   too many connections), 25006 read-only transaction (a standby)   -> unavailable (transient)
//   53200 out of memory                                              -> resource_exhausted
//   23505 unique violation                                           -> already_exists
//   23503 foreign key violation                                      -> failed_precondition
//   22xxx data exception (bad encoding, out of range), 23502 not null, 23514 check,
//   54xxx program limit (a value too large to index)                 -> invalid_argument
//   anything else                                                    -> internal
Status FromSqlState(std::string_view sqlstate, std::string_view what, std::string_view detail);

// What a failed attempt at a transaction means for the caller.
struct Failure {
  Status status;
  // Running the whole transaction again may succeed: it was rolled back by the server
  // (serialization failure, deadlock) or the connection broke before COMMIT was sent.
  bool retry = false;
  // The session is gone or unusable: discard the connection and open a new one.
  bool connection_lost = false;
};

// Classifies the exception in flight (call only inside a catch block):
//   pqxx::in_doubt_error (lost during COMMIT)   -> unavailable, connection lost, no retry
//   pqxx::broken_connection                     -> unavailable, connection lost, retry
//   pqxx::transaction_rollback (40xxx)          -> unavailable, retry
//   pqxx::sql_error                             -> FromSqlState (class 08 / 57P0x: connection lost)
//   std::bad_alloc -> resource_exhausted; anything else -> internal.
Failure ClassifyCurrentException(std::string_view what);

}  // namespace im::postgres

#endif  // IM_POSTGRES_ERROR_H_
