/* switchctl's database helpers (see switchctl_db.h). */
#include "switchctl_db.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static void report(const char *what, const char *pgmsg)
{
    /* libpq messages end with a newline and may span lines: keep the first. */
    size_t n = strcspn(pgmsg, "\n");
    fprintf(stderr, "switchctl: %s: %.*s\n", what, (int)n, pgmsg);
}

PGconn *scdb_connect(const char *conninfo)
{
    PGconn *db = PQconnectdb(conninfo ? conninfo : "");
    if (PQstatus(db) != CONNECTION_OK) {
        report("cannot connect to the database", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    PGresult *r = PQexec(db, "SET client_min_messages = warning");
    PQclear(r);
    return db;
}

PGresult *scdb_exec(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
        /* A refusal our own functions raise on purpose ("no card 7") is
         * the answer itself; anything else is a database error. */
        if (m && ctx && strstr(ctx, "PL/pgSQL function") == ctx && strstr(ctx, " at RAISE"))
            fprintf(stderr, "switchctl: %.*s\n", (int)strcspn(m, "\n"), m);
        else
            report("database error", m ? m : PQerrorMessage(db));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool exec_simple(PGconn *db, const char *sql, const char *what)
{
    PGresult *r = PQexec(db, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        report(what, m ? m : PQerrorMessage(db));
    }
    PQclear(r);
    return ok;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "switchctl: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "switchctl: out of memory reading %s\n", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

bool scdb_run_file(PGconn *db, const char *path)
{
    char *sql = read_file(path);
    if (!sql)
        return false;
    bool ok = exec_simple(db, "BEGIN", "begin") && exec_simple(db, sql, path) &&
              exec_simple(db, "COMMIT", "commit");
    if (!ok)
        exec_simple(db, "ROLLBACK", "rollback");
    free(sql);
    return ok;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int migration_name(const struct dirent *e)
{
    const char *n = e->d_name;
    size_t len = strlen(n);
    return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
           n[2] <= '9' && n[3] == '_' && strcmp(n + len - 4, ".sql") == 0;
}

bool scdb_migrate(PGconn *db, const char *dir, bool quiet)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, migration_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "switchctl: cannot read schema dir %s: %s\n", dir, strerror(errno));
        return false;
    }
    if (n == 0) {
        fprintf(stderr, "switchctl: no migrations (NNN_name.sql) in %s\n", dir);
        free(list);
        return false;
    }
    /* One migrator at a time per database (session advisory lock), so two
     * concurrent `db migrate` runs apply each file once. */
    bool ok = exec_simple(db, "SELECT pg_advisory_lock(7346127)", "cannot take the migration lock") &&
              exec_simple(db,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version integer PRIMARY KEY, name text NOT NULL,"
                          " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                          "cannot create schema_migrations");
    int applied = 0;
    for (int i = 0; ok && i < n; i++) {
        const char *name = list[i]->d_name;
        char path[4096], version[4], hash[65];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        memcpy(version, name, 3);
        version[3] = '\0';
        char *sql = read_file(path);
        if (!sql) {
            ok = false;
            break;
        }
        sha256_hex(sql, hash);
        /* One transaction per file: a failing file leaves nothing behind. */
        ok = exec_simple(db, "BEGIN", "begin");
        PGresult *r = NULL;
        if (ok) {
            const char *p[1] = {version};
            r = scdb_exec(db, "SELECT sha256 FROM schema_migrations WHERE version = $1::int", 1, p);
            ok = r != NULL;
        }
        if (ok && PQntuples(r) == 1) {
            if (strcmp(PQgetvalue(r, 0, 0), hash) != 0) {
                fprintf(stderr, "switchctl: migration %s changed since it was applied: add a new migration instead\n",
                        name);
                ok = false;
            }
            PQclear(r);
            exec_simple(db, ok ? "COMMIT" : "ROLLBACK", "end");
            free(sql);
            continue;
        }
        PQclear(r);
        if (ok)
            ok = exec_simple(db, sql, name);
        if (ok) {
            const char *p[3] = {version, name, hash};
            PGresult *ins = scdb_exec(db, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1::int, $2, $3)",
                                      3, p);
            ok = ins != NULL;
            PQclear(ins);
        }
        if (ok)
            ok = exec_simple(db, "COMMIT", "commit");
        else
            exec_simple(db, "ROLLBACK", "rollback");
        if (ok) {
            applied++;
            if (!quiet)
                printf("migrated %s\n", name);
        }
        free(sql);
    }
    PQclear(PQexec(db, "SELECT pg_advisory_unlock(7346127)"));
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    if (ok && !quiet)
        printf("schema up to date (%d applied now)\n", applied);
    return ok;
}
