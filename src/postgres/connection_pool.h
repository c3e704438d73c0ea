// Connections of the PostgreSQL store: a Session (one connection and the statements prepared on
// it), and the fixed-size pool every call except AppendMessage leases a session from.
//
// Broken connections: a lease hands out a session whose connection is open and, as far as a
// zero-timeout poll of its socket can tell, alive — an idle connection has nothing to read, so a
// readable socket means the server sent a FATAL error (57P01 when it shuts down) or closed it. A
// dead or missing connection is reopened at checkout, outside the pool lock; failing to reopen
// it is unavailable. Discard() drops a connection that broke during use.
#ifndef IM_POSTGRES_CONNECTION_POOL_H_
#define IM_POSTGRES_CONNECTION_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "im/status.h"

namespace im::postgres {

// One connection and the names of the statements prepared on it.
class Session {
 public:
  // Connects. Throws pqxx::broken_connection when the server cannot be reached.
  explicit Session(const std::string& conninfo);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  pqxx::connection& connection() { return *connection_; }

  // True when the connection is open and its socket has nothing to read. Only meaningful while
  // no query is in flight.
  bool LooksAlive() const;

  // The name under which `sql` is prepared on this connection. `sql` must have static storage (a
  // string literal): it is keyed by address. libpqxx prepares it on the server at first use.
  const std::string& Prepared(const char* sql);

 private:
  std::unique_ptr<pqxx::connection> connection_;
  std::unordered_map<const char*, std::string> prepared_;
};

// A transaction on a session: runs prepared statements by their SQL text.
class Tx {
 public:
  Tx(Session& session, pqxx::transaction_base& txn) : session_(session), txn_(txn) {}

  template <typename... Args>
  pqxx::result Exec(const char* sql, Args&&... args) {
    return txn_.exec_prepared(session_.Prepared(sql), std::forward<Args>(args)...);
  }
  pqxx::transaction_base& txn() { return txn_; }

 private:
  Session& session_;
  pqxx::transaction_base& txn_;
};

// Counters over every pool and writer connection in the process (tests read them; relaxed).
struct ConnectionStats {
  std::atomic<uint64_t> connects{0};           // connections opened, initial and reopened
  std::atomic<uint64_t> discarded{0};          // connections dropped as broken
  std::atomic<uint64_t> checkout_timeouts{0};  // leases that gave up waiting
};
ConnectionStats& GlobalConnectionStats();

class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), slot_(other.slot_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(slot_);
    }
    Session& session() { return *pool_->slots_[slot_]; }
    // Drops the session (its connection broke); the slot's next lease opens a new one.
    void Discard();
    // Drops the session and opens a new one now: unavailable when that fails (the slot is then
    // left empty, for the next lease to try again).
    Status Reconnect();

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, size_t slot) : pool_(pool), slot_(slot) {}
    ConnectionPool* pool_ = nullptr;
    size_t slot_ = 0;
  };

  // Opens `size` (>= 1) connections now. Throws pqxx::broken_connection.
  ConnectionPool(std::string conninfo, int size, std::chrono::milliseconds checkout_timeout);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Waits up to the checkout timeout for a free slot (unavailable after it), then makes sure the
  // slot holds a live connection (unavailable when one cannot be opened).
  Result<Lease> Acquire();

 private:
  void Release(size_t slot);

  const std::string conninfo_;
  const std::chrono::milliseconds checkout_timeout_;
  // slots_[i] is touched only by the holder of slot i's lease (or the constructor).
  std::vector<std::unique_ptr<Session>> slots_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<size_t> free_;
};

// Opens a session, counting it; unavailable (with the server's message) when that fails.
Result<std::unique_ptr<Session>> OpenSession(const std::string& conninfo);

}  // namespace im::postgres

#endif  // IM_POSTGRES_CONNECTION_POOL_H_
