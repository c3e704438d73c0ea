// The SQLite store's schema and its forward migrations.
//
// The schema version lives in PRAGMA user_version. Each migration step moves the database from
// version N to N+1 in its own IMMEDIATE transaction (the step and the version bump commit
// together), so a crash mid-migration leaves the database at a consistent version and the next
// open resumes from there. Steps are append-only: a released step is never edited.
#ifndef IM_SQLITE_SCHEMA_H_
#define IM_SQLITE_SCHEMA_H_

#include <SQLiteCpp/Database.h>

#include "im/status.h"

namespace im::sqlite {

// The version a fully migrated database has.
int LatestSchemaVersion();

// Applies every missing step to `db` (a read-write connection). failed_precondition when the file
// was written by a newer libim (user_version above LatestSchemaVersion()).
Status MigrateSchema(SQLite::Database& db);

}  // namespace im::sqlite

#endif  // IM_SQLITE_SCHEMA_H_
