// The PostgreSQL store's schema and its versioned migrations.
#ifndef IM_POSTGRES_SCHEMA_H_
#define IM_POSTGRES_SCHEMA_H_

#include <pqxx/connection>

#include "im/status.h"

namespace im::postgres {

// The schema version this libim writes.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion() in one transaction: takes a transaction-scoped
// advisory lock (so concurrent openers, in any process, migrate one at a time and the later ones
// find nothing to do), creates schema_migrations if missing, applies every missing migration and
// records each. failed_precondition when the database is newer than this libim.
Status MigrateSchema(pqxx::connection& connection);

}  // namespace im::postgres

#endif  // IM_POSTGRES_SCHEMA_H_
