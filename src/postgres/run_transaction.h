// RunTransaction: one unit of work on a pooled connection, tried again when PostgreSQL rolled it
// back (serialization failure, deadlock) or the connection broke before the commit was sent.
#ifndef IM_POSTGRES_RUN_TRANSACTION_H_
#define IM_POSTGRES_RUN_TRANSACTION_H_

#include <utility>

#include "im/status.h"
#include "postgres/connection_pool.h"
#include "postgres/error.h"

namespace im::postgres {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// Runs `f(Tx&)` in one transaction (Txn = pqxx::work) or autocommitted (pqxx::nontransaction).
// A non-ok result from `f` rolls back and is returned as is. A failure during the commit is never
// retried: the commit may have happened.
template <typename Txn, typename F>
auto RunTransaction(ConnectionPool& pool, const char* what, F& f) -> decltype(f(std::declval<Tx&>())) {
  constexpr int kAttempts = 4;
  Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    Session& session = lease->session();
    bool committing = false;
    try {
      Txn txn(session.connection());
      Tx tx(session, txn);
      auto result = f(tx);
      if (!StatusOf(result).ok()) return result;  // ~Txn rolls back
      committing = true;
      txn.commit();
      return result;
    } catch (...) {
      Failure failure = ClassifyCurrentException(what);
      if (failure.connection_lost) lease->Discard();
      if (!failure.retry || committing) return failure.status;
      last = std::move(failure.status);
    }
  }
  return last;
}

}  // namespace im::postgres

#endif  // IM_POSTGRES_RUN_TRANSACTION_H_
