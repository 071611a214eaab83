/* Terminal master keys: formed in hsm-sim from clear components (the key
 * ceremony, HSM in its authorised state) and stored only under the LMK
 * through terminal_set_tmk(), which audit-logs the change and clears the
 * working keys issued under the old TMK. */
#include "switchctl_term.h"
#include "switchctl_db.h"

#include "hsmproto.h"
#include "keycomp.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_term[] =
    "usage: switchctl terminal set-tmk TID [--hsm HOST:PORT] [--scheme U|T]\n"
    "       switchctl terminal show TID\n"
    "       switchctl terminal list\n"
    "  set-tmk  key ceremony: 1-3 clear key components, one a line on standard input\n"
    "           (never on the command line), are XORed by hsm-sim, which must run with\n"
    "           --authorised; the TMK is stored under the LMK (audit-logged) and its KCV\n"
    "           printed. The terminal's TPK and TAK are cleared until its next key change.\n"
    "           --hsm defaults to SWITCH_HSM; --scheme U double length (default), T triple.\n"
    "  show     kind, status, owner acquirer, location, merchant, KCVs of TMK, TPK, TAK\n"
    "  list     the same, one line per terminal\n";

static const char not_authorised[] =
    "hsm-sim is not in the authorised state (start it with --authorised for the key ceremony)";

/* Asks hsm-sim for a TMK formed from kc; w gets key_lmk and kcv. On failure
 * *send_rc and w say why (schsm_perror). */
static bool form_tmk(schsm *hsm, const keycomp *kc, char scheme, struct schsm_wait *w, int *send_rc)
{
    const char *cv[KEYCOMP_MAX] = {kc->c[0], kc->c[1], kc->c[2]};
    *send_rc = hsmc_form_key(schsm_pool(hsm), HSM_KT_TMK, scheme, cv, kc->n, schsm_on_reply, w);
    return schsm_done(hsm, *send_rc, w);
}

static bool refused_not_authorised(int send_rc, const struct schsm_wait *w)
{
    return send_rc == 0 && w->r.status == 0 && w->r.hsm_err == HSM_E_NOT_AUTHORISED;
}

static bool set_tmk_sql(PGconn *db, const char *tid, const struct schsm_wait *w)
{
    const char *p[3] = {tid, w->r.key_lmk, w->r.kcv};
    PGresult *r = scdb_exec(db, "SELECT terminal_set_tmk($1, $2, $3)", 3, p);
    PQclear(r);
    return r != NULL;
}

/* ---- terminal set-tmk ---- */

static int set_tmk(PGconn *db, const char *tid, const char *hsm_addr, char scheme)
{
    const char *p[1] = {tid};
    PGresult *r = scdb_exec(db, "SELECT 1 FROM terminals WHERE terminal_id = $1", 1, p);
    if (!r)
        return 1;
    int found = PQntuples(r);
    PQclear(r);
    if (!found) {
        fprintf(stderr, "switchctl: no terminal %s\n", tid);
        return 1;
    }
    schsm *hsm = schsm_open(hsm_addr);
    if (!hsm)
        return 1;
    int rc = 1, send_rc = 0;
    keycomp kc;
    char err[128];
    struct schsm_wait w = {0};
    bool formed = false;
    unsigned n = 0;
    if (keycomp_read(stdin, scheme, &kc, err, sizeof err) != 0) {
        fprintf(stderr, "switchctl: %s\n", err);
        goto out;
    }
    formed = form_tmk(hsm, &kc, scheme, &w, &send_rc);
    n = kc.n;
    keycomp_wipe(&kc);
    if (!formed) {
        if (refused_not_authorised(send_rc, &w))
            fprintf(stderr, "switchctl: hsm form TMK: %s\n", not_authorised);
        else
            schsm_perror(send_rc, &w, "form TMK");
        goto out;
    }
    if (!set_tmk_sql(db, tid, &w))
        goto out;
    printf("terminal %s: TMK from %u component%s, KCV %s; TPK and TAK cleared until the next key change\n",
           tid, n, n == 1 ? "" : "s", w.r.kcv);
    rc = 0;
out:
    schsm_close(hsm);
    return rc;
}

/* ---- terminal show / list ---- */

enum { T_ID, T_KIND, T_STATUS, T_ACQ, T_INST, T_LOC, T_MCC, T_MID, T_MNAME, T_TMK, T_TPK, T_TAK, T_SINCE };

static PGresult *terminals_query(PGconn *db, const char *tid)
{
    const char *p[1] = {tid};
    return scdb_exec(db,
                     "SELECT t.terminal_id::text, t.kind, t.status, coalesce(i.acquirer_id, '-'), i.name,"
                     " t.location, t.mcc, coalesce(m.merchant_id, ''), coalesce(m.name, ''),"
                     " coalesce(km.kcv, 'none'), coalesce(kp.kcv, 'none'), coalesce(ka.kcv, 'none'),"
                     " coalesce(to_char(km.created_at AT TIME ZONE 'Asia/Phnom_Penh', 'YYYY-MM-DD HH24:MI'), '')"
                     " FROM terminals t JOIN institutions i ON i.id = t.institution_id"
                     " LEFT JOIN merchants m ON m.id = t.merchant_id"
                     " LEFT JOIN crypto_keys km ON km.id = t.tmk_key_id"
                     " LEFT JOIN crypto_keys kp ON kp.id = t.tpk_key_id"
                     " LEFT JOIN crypto_keys ka ON ka.id = t.tak_key_id"
                     " WHERE $1::text IS NULL OR t.terminal_id = $1 ORDER BY t.terminal_id",
                     1, p);
}

static int show(PGconn *db, const char *tid)
{
    PGresult *r = terminals_query(db, tid);
    if (!r)
        return 1;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "switchctl: no terminal %s\n", tid);
        PQclear(r);
        return 1;
    }
    printf("terminal %s  %s  %s\n", PQgetvalue(r, 0, T_ID), PQgetvalue(r, 0, T_KIND), PQgetvalue(r, 0, T_STATUS));
    printf("  owner     acquirer %s (%s)\n", PQgetvalue(r, 0, T_ACQ), PQgetvalue(r, 0, T_INST));
    printf("  location  %s  MCC %s\n", PQgetvalue(r, 0, T_LOC), PQgetvalue(r, 0, T_MCC));
    if (*PQgetvalue(r, 0, T_MID))
        printf("  merchant  %s %s\n", PQgetvalue(r, 0, T_MID), PQgetvalue(r, 0, T_MNAME));
    /* Key check values only: the keys themselves are LMK cryptograms that
     * an operator has no use for. */
    printf("  TMK KCV   %s%s%s%s\n", PQgetvalue(r, 0, T_TMK), *PQgetvalue(r, 0, T_SINCE) ? " (set " : "",
           PQgetvalue(r, 0, T_SINCE), *PQgetvalue(r, 0, T_SINCE) ? ", Phnom Penh)" : "");
    printf("  TPK KCV   %s\n  TAK KCV   %s\n", PQgetvalue(r, 0, T_TPK), PQgetvalue(r, 0, T_TAK));
    PQclear(r);
    return 0;
}

static int list(PGconn *db)
{
    PGresult *r = terminals_query(db, NULL);
    if (!r)
        return 1;
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s  %-3s  %-8s  acquirer %-11s  TMK %-6s  TPK %-6s  TAK %-6s  %s\n", PQgetvalue(r, i, T_ID),
               PQgetvalue(r, i, T_KIND), PQgetvalue(r, i, T_STATUS), PQgetvalue(r, i, T_ACQ),
               PQgetvalue(r, i, T_TMK), PQgetvalue(r, i, T_TPK), PQgetvalue(r, i, T_TAK),
               PQgetvalue(r, i, T_LOC));
    PQclear(r);
    return 0;
}

int scterm_cmd(int argc, char **argv, const char *conninfo)
{
    bool help = false;
    for (int i = 0; i < argc; i++)
        help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    if (argc < 1 || help) {
        fputs(usage_term, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *verb = argv[0], *tid = NULL, *hsm = getenv("SWITCH_HSM"), *scheme = "U";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hsm") == 0 && i + 1 < argc)
            hsm = argv[++i];
        else if (strcmp(argv[i], "--scheme") == 0 && i + 1 < argc)
            scheme = argv[++i];
        else if (!tid && argv[i][0] != '-')
            tid = argv[i];
        else
            return fputs(usage_term, stderr), 2;
    }
    bool is_set = strcmp(verb, "set-tmk") == 0, is_show = strcmp(verb, "show") == 0,
         is_list = strcmp(verb, "list") == 0;
    if ((!is_set && !is_show && !is_list) || (is_list == (tid != NULL)) ||
        (!is_set && (argc > 2)))
        return fputs(usage_term, stderr), 2;
    if (is_set && (!hsm || !*hsm)) {
        fprintf(stderr, "switchctl: terminal set-tmk needs --hsm HOST:PORT (or SWITCH_HSM)\n");
        return 2;
    }
    if (is_set && strcmp(scheme, "U") != 0 && strcmp(scheme, "T") != 0) {
        fprintf(stderr, "switchctl: --scheme must be U (double length) or T (triple length)\n");
        return 2;
    }
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = is_set ? set_tmk(db, tid, hsm, scheme[0]) : is_show ? show(db, tid) : list(db);
    PQfinish(db);
    return rc;
}

/* ---- load demo: the public test TMKs ---- */

#define DEMO_TMK_MAX 64

struct demo_tmk {
    char tid[9];
    char scheme;
    keycomp kc; /* one component: the whole clear key */
};

/* Reads "TID HEX" lines (# comments, blank lines) of terminal_tmks.txt.
 * Errors name the line, never its key. */
static bool read_demo_tmks(const char *path, struct demo_tmk *out, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    unsigned lineno = 0;
    bool ok = true;
    *n = 0;
    if (!f) {
        fprintf(stderr, "switchctl: cannot open %s\n", path);
        return false;
    }
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        char *save = NULL, *tid = strtok_r(line, " \t\r\n", &save);
        if (!tid || tid[0] == '#')
            continue;
        char *hex = strtok_r(NULL, " \t\r\n", &save);
        size_t hl = hex ? strlen(hex) : 0;
        ok = strlen(tid) <= 8 && (hl == 32 || hl == 48) && strspn(hex, "0123456789ABCDEFabcdef") == hl &&
             !strtok_r(NULL, " \t\r\n", &save) && *n < DEMO_TMK_MAX;
        if (!ok) {
            fprintf(stderr, "switchctl: %s line %u: expected TERMINAL-ID and 32 or 48 hex digits\n", path,
                    lineno);
            break;
        }
        struct demo_tmk *d = &out[(*n)++];
        snprintf(d->tid, sizeof d->tid, "%s", tid);
        d->scheme = hl == 32 ? 'U' : 'T';
        d->kc.n = 1;
        for (size_t j = 0; j <= hl; j++)
            d->kc.c[0][j] = (char)toupper((unsigned char)hex[j]);
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return ok;
}

struct formed {
    const char *tid;
    struct schsm_wait w;
};

/* Stores the formed TMKs in one transaction; a terminal that got a TMK
 * meanwhile (another run) keeps it: the row lock re-checks tmk_key_id. */
static bool store_demo_tmks(PGconn *db, const struct formed *f, size_t n)
{
    PGresult *r = scdb_exec(db, "BEGIN", 0, NULL);
    bool ok = r != NULL;
    PQclear(r);
    for (size_t i = 0; ok && i < n; i++) {
        const char *p[1] = {f[i].tid};
        r = scdb_exec(db, "SELECT 1 FROM terminals WHERE terminal_id = $1 AND tmk_key_id IS NULL FOR UPDATE", 1, p);
        ok = r != NULL;
        bool missing = ok && PQntuples(r) == 1;
        PQclear(r);
        if (missing)
            ok = set_tmk_sql(db, f[i].tid, &f[i].w);
        if (ok)
            printf("terminal %s: TMK KCV %s%s\n", f[i].tid, f[i].w.r.kcv, missing ? "" : " (not stored: it has a TMK)");
    }
    r = scdb_exec(db, ok ? "COMMIT" : "ROLLBACK", 0, NULL);
    ok = ok && r != NULL;
    PQclear(r);
    return ok;
}

int demo_terminal_tmks(PGconn *db, schsm *hsm, const char *schema_dir)
{
    char path[4096];
    size_t nkeys = 0, nformed = 0;
    int rc = 1;
    struct demo_tmk *keys = calloc(DEMO_TMK_MAX, sizeof *keys);
    struct formed *f = calloc(DEMO_TMK_MAX, sizeof *f);
    PGresult *todo = scdb_exec(db, "SELECT terminal_id::text FROM terminals WHERE tmk_key_id IS NULL"
                                   " ORDER BY terminal_id", 0, NULL);
    snprintf(path, sizeof path, "%s/demo/terminal_tmks.txt", schema_dir);
    if (!todo || !keys || !f || !read_demo_tmks(path, keys, &nkeys))
        goto out;
    for (int i = 0; i < PQntuples(todo); i++) {
        const char *tid = PQgetvalue(todo, i, 0);
        for (size_t k = 0; k < nkeys; k++) {
            if (strcmp(keys[k].tid, tid) != 0)
                continue;
            int send_rc = 0;
            f[nformed].tid = keys[k].tid;
            if (!form_tmk(hsm, &keys[k].kc, keys[k].scheme, &f[nformed].w, &send_rc)) {
                if (!refused_not_authorised(send_rc, &f[nformed].w)) {
                    schsm_perror(send_rc, &f[nformed].w, "form TMK");
                    goto out;
                }
                fprintf(stderr, "switchctl: warning: demo terminal TMKs not loaded: %s\n", not_authorised);
                rc = 0;
                goto out;
            }
            nformed++;
            break;
        }
    }
    if (PQntuples(todo) == 0)
        printf("demo terminals already have TMKs\n");
    else if (!store_demo_tmks(db, f, nformed))
        goto out;
    else
        printf("TMKs: %zu demo terminals, formed in hsm-sim from the public test keys of %s\n", nformed, path);
    rc = 0;
out:
    for (size_t k = 0; keys && k < nkeys; k++)
        keycomp_wipe(&keys[k].kc);
    free(keys);
    free(f);
    PQclear(todo);
    return rc;
}
