// The PostgreSQL store (target im::postgres): the store of the split deployment, where several
// im-logic / im-repo processes share one database.
//
// Durability: a call that returned ok was committed by the server (with the server's default
// synchronous_commit=on: its WAL was flushed), so it survives a crash of this process or of the
// server. The database enforces the invariants itself — UNIQUE(conversation_id, seq) and
// UNIQUE(sender_id, client_msg_id) — so any number of stores, in any number of processes, may
// write one database at once: appenders of one conversation are serialised by its counter row,
// seqs stay gapless, and a repeated key returns the original message.
//
// Threads and connections: every method is thread-safe and blocks on the network. Reads and
// writes other than AppendMessage run on a fixed pool of `pool_size` connections (a caller waits
// up to `checkout_timeout_ms` for a free one, then gets unavailable). AppendMessage is
// group-committed: one writer thread with its own connection drains the queued appends into one
// transaction, so N concurrent appends cost one commit (one WAL flush), not N.
//
// Errors: connection failures, a server shutting down or restarting, serialization failures and
// deadlocks (after a few retries) are unavailable — transient, the caller may retry (a retried
// AppendMessage with the same client_msg_id returns the original). A broken connection is
// replaced on its next use, so the store recovers by itself once the server is back. Unique
// violations are already_exists, bad values (invalid UTF-8, NUL bytes in text) invalid_argument,
// anything else internal with the server's message. No exception leaves the store.
//
// Schema: versioned migrations recorded in `schema_migrations`, applied by OpenPostgresStore in
// one transaction under an advisory lock (several processes may open at once). The tables go
// into the first schema of the connection's search_path; pick another with
// `options=-csearch_path=…` in `conninfo`.
#ifndef IM_POSTGRES_STORE_H_
#define IM_POSTGRES_STORE_H_

#include <memory>
#include <string>

#include "im/status.h"
#include "im/store.h"

namespace im {

struct PostgresStoreOptions {
  // A libpq connection string, "host=… port=… dbname=… user=…" or "postgresql://…". Include
  // connect_timeout (seconds) and keepalive settings there if the network can drop silently.
  std::string conninfo;
  int pool_size = 8;                 // pooled connections for reads and non-append writes (>= 1)
  int checkout_timeout_ms = 5'000;   // waiting longer for a pooled connection: unavailable (>= 0)
  int max_batch = 512;               // appends per group-committed transaction (>= 1)
};

// Connects (pool_size + 1 connections), migrates the schema and starts the append writer.
// invalid_argument for bad options; unavailable when the server cannot be reached;
// failed_precondition when the database was migrated by a newer libim.
Result<std::shared_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options);

}  // namespace im

#endif  // IM_POSTGRES_STORE_H_
