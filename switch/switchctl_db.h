#ifndef SWITCHCTL_DB_H
#define SWITCHCTL_DB_H
/* switchctl's database helpers: connection, migrations, SQL files.
 * Convention: functions return true on success; on failure they have
 * printed a one-line "switchctl: ..." error to stderr. */
#include <stdbool.h>
#include <libpq-fe.h>

/* Connect with a libpq connection string (NULL or "": PG* variables). */
PGconn *scdb_connect(const char *conninfo) __attribute__((warn_unused_result));

/* Run a statement with text parameters; NULL on error (already reported). */
PGresult *scdb_exec(PGconn *db, const char *sql, int nparams, const char *const *params)
    __attribute__((warn_unused_result));

/* Apply the numbered migrations NNN_name.sql in dir, in order, each in its
 * own transaction, recording them in schema_migrations (version, name,
 * sha256). Safe to run twice or concurrently (advisory lock); refuses to
 * continue when an applied file has changed since. */
bool scdb_migrate(PGconn *db, const char *dir, bool quiet) __attribute__((warn_unused_result));

/* Run a whole SQL file in one transaction. */
bool scdb_run_file(PGconn *db, const char *path) __attribute__((warn_unused_result));

#endif
