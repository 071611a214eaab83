/* Terminal master keys and PIN pads' DUKPT base derivation keys: formed in
 * hsm-sim from clear components (the key ceremony, HSM in its authorised
 * state) and stored only under the LMK through terminal_set_tmk() (which
 * audit-logs the change and clears the working keys issued under the old
 * TMK) or terminal_set_bdk(). */
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
#include <unistd.h>

static const char usage_term[] =
    "usage: switchctl terminal set-tmk TID [--hsm HOST:PORT] [--scheme U|T]\n"
    "       switchctl terminal set-bdk TID [--hsm HOST:PORT] [--scheme U|T|P|Q|R]\n"
    "       switchctl terminal show TID\n"
    "       switchctl terminal list\n"
    "  set-tmk  key ceremony: 1-3 clear key components, one a line on standard input\n"
    "           (never on the command line), are XORed by hsm-sim, which must run with\n"
    "           --authorised; the TMK is stored under the LMK (audit-logged) and its KCV\n"
    "           printed. The terminal's TPK and TAK are cleared until its next key change.\n"
    "           --hsm defaults to SWITCH_HSM; --scheme U double length (default), T triple.\n"
    "  set-bdk  the same ceremony for the base derivation key of the terminal's DUKPT\n"
    "           PIN pad: TDES (U, T) for X9.24-1, AES (P, Q, R: 128/192/256) for X9.24-3\n"
    "  show     kind, status, owner acquirer, location, merchant, KCVs of TMK, TPK, TAK\n"
    "  list     the same, one line per terminal\n";

/* Set once load demo has warned that hsm-sim cannot form keys: the BDKs
 * are then skipped without a second warning. */
static bool hsm_not_authorised;

static const char not_authorised[] =
    "hsm-sim is not in the authorised state (start it with --authorised for the key ceremony)";

/* The two kinds of terminal key a ceremony makes. */
struct keykind {
    const char *name;     /* "TMK" */
    const char *hsm_type; /* HSM_KT_TMK */
    const char *set_sql;  /* stores it: (tid, key_lmk, kcv) */
    const char *column;   /* terminals.tmk_key_id */
    const char *file;     /* the demo's public test keys, under schema/demo/ */
    const char *variant;  /* that file's second column ("tdes", "aes"), or NULL: none */
    const char *schemes;  /* allowed --scheme letters */
    const char *after;    /* said after storing it */
};

static const struct keykind TMK = {
    "TMK", HSM_KT_TMK, "SELECT terminal_set_tmk($1, $2, $3)", "tmk_key_id", "terminal_tmks.txt", NULL, "UT",
    "; TPK and TAK cleared until the next key change"};
static const struct keykind BDK = {
    "BDK", HSM_KT_BDK, "SELECT terminal_set_bdk($1, $2, $3)", "bdk_key_id", "terminal_bdks.txt", "tdes",
    "UT", "; the TDES DUKPT PIN pad derives its keys from it"};
static const struct keykind AES_BDK = {
    "AES BDK", HSM_KT_BDK, "SELECT terminal_set_bdk($1, $2, $3)", "aes_bdk_key_id", "terminal_bdks.txt",
    "aes", "PQR", "; the AES DUKPT PIN pad derives its keys from it"};

/* Asks hsm-sim for a key formed from kc; w gets key_lmk and kcv. On failure
 * *send_rc and w say why (schsm_perror). */
static bool form_key(schsm *hsm, const struct keykind *k, const keycomp *kc, char scheme,
                     struct schsm_wait *w, int *send_rc)
{
    const char *cv[KEYCOMP_MAX] = {kc->c[0], kc->c[1], kc->c[2]};
    *send_rc = hsmc_form_key(schsm_pool(hsm), k->hsm_type, scheme, cv, kc->n, schsm_on_reply, w);
    return schsm_done(hsm, *send_rc, w);
}

static bool refused_not_authorised(int send_rc, const struct schsm_wait *w)
{
    return send_rc == 0 && w->r.status == 0 && w->r.hsm_err == HSM_E_NOT_AUTHORISED;
}

static bool set_key_sql(PGconn *db, const struct keykind *k, const char *tid, const struct schsm_wait *w)
{
    const char *p[3] = {tid, w->r.key_lmk, w->r.kcv};
    PGresult *r = scdb_exec(db, k->set_sql, 3, p);
    PQclear(r);
    return r != NULL;
}

/* ---- terminal set-tmk / set-bdk ---- */

static int set_key(PGconn *db, const struct keykind *k, const char *tid, const char *hsm_addr, char scheme)
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
    formed = form_key(hsm, k, &kc, scheme, &w, &send_rc);
    n = kc.n;
    keycomp_wipe(&kc);
    if (!formed) {
        if (refused_not_authorised(send_rc, &w))
            fprintf(stderr, "switchctl: hsm form %s: %s\n", k->name, not_authorised);
        else
            schsm_perror(send_rc, &w, k == &TMK ? "form TMK" : "form BDK");
        goto out;
    }
    if (!set_key_sql(db, k, tid, &w))
        goto out;
    printf("terminal %s: %s from %u component%s, KCV %s%s\n", tid, k->name, n, n == 1 ? "" : "s", w.r.kcv,
           k->after);
    rc = 0;
out:
    schsm_close(hsm);
    return rc;
}

/* ---- terminal show / list ---- */

enum { T_ID, T_KIND, T_STATUS, T_ACQ, T_INST, T_LOC, T_MCC, T_MID, T_MNAME, T_TMK, T_TPK, T_TAK, T_SINCE, T_BDK, T_ABDK };

static PGresult *terminals_query(PGconn *db, const char *tid)
{
    const char *p[1] = {tid};
    return scdb_exec(db,
                     "SELECT t.terminal_id::text, t.kind, t.status, coalesce(i.acquirer_id, '-'), i.name,"
                     " t.location, t.mcc, coalesce(m.merchant_id, ''), coalesce(m.name, ''),"
                     " coalesce(km.kcv, 'none'), coalesce(kp.kcv, 'none'), coalesce(ka.kcv, 'none'),"
                     " coalesce(to_char(km.created_at AT TIME ZONE 'Asia/Phnom_Penh', 'YYYY-MM-DD HH24:MI'), ''),"
                     " coalesce(kb.kcv, 'none'), coalesce(ke.kcv, 'none')"
                     " FROM terminals t JOIN institutions i ON i.id = t.institution_id"
                     " LEFT JOIN merchants m ON m.id = t.merchant_id"
                     " LEFT JOIN crypto_keys km ON km.id = t.tmk_key_id"
                     " LEFT JOIN crypto_keys kp ON kp.id = t.tpk_key_id"
                     " LEFT JOIN crypto_keys ka ON ka.id = t.tak_key_id"
                     " LEFT JOIN crypto_keys kb ON kb.id = t.bdk_key_id"
                     " LEFT JOIN crypto_keys ke ON ke.id = t.aes_bdk_key_id"
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
    printf("  BDK KCV   %s (TDES DUKPT), %s (AES DUKPT)\n", PQgetvalue(r, 0, T_BDK), PQgetvalue(r, 0, T_ABDK));
    PQclear(r);
    return 0;
}

static int list(PGconn *db)
{
    PGresult *r = terminals_query(db, NULL);
    if (!r)
        return 1;
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s  %-3s  %-8s  acquirer %-11s  TMK %-6s  TPK %-6s  TAK %-6s  BDK %-6s/%-6s  %s\n",
               PQgetvalue(r, i, T_ID), PQgetvalue(r, i, T_KIND), PQgetvalue(r, i, T_STATUS),
               PQgetvalue(r, i, T_ACQ), PQgetvalue(r, i, T_TMK), PQgetvalue(r, i, T_TPK), PQgetvalue(r, i, T_TAK),
               PQgetvalue(r, i, T_BDK), PQgetvalue(r, i, T_ABDK),
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
    const struct keykind *k = strcmp(verb, "set-tmk") == 0 ? &TMK : strcmp(verb, "set-bdk") == 0 ? &BDK : NULL;
    bool is_set = k != NULL, is_show = strcmp(verb, "show") == 0, is_list = strcmp(verb, "list") == 0;
    if ((!is_set && !is_show && !is_list) || (is_list == (tid != NULL)) ||
        (!is_set && (argc > 2)))
        return fputs(usage_term, stderr), 2;
    if (is_set && (!hsm || !*hsm)) {
        fprintf(stderr, "switchctl: terminal %s needs --hsm HOST:PORT (or SWITCH_HSM)\n", verb);
        return 2;
    }
    if (k == &BDK && strlen(scheme) == 1 && strchr(AES_BDK.schemes, scheme[0]))
        k = &AES_BDK;
    if (is_set && (strlen(scheme) != 1 || !strchr(k->schemes, scheme[0]))) {
        fprintf(stderr, "switchctl: --scheme must be %s\n",
                k == &TMK ? "U (double length) or T (triple length)"
                          : "U or T (TDES DUKPT), P, Q or R (AES-128/192/256 DUKPT)");
        return 2;
    }
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = is_set ? set_key(db, k, tid, hsm, scheme[0]) : is_show ? show(db, tid) : list(db);
    PQfinish(db);
    return rc;
}

/* ---- load demo: the public test TMKs and BDKs ---- */

#define DEMO_TMK_MAX 64

struct demo_tmk {
    char tid[9];
    char scheme;
    keycomp kc; /* one component: the whole clear key */
};

/* Reads the lines (# comments, blank lines) of terminal_tmks.txt ("TID
 * HEX") or of the k->variant lines of terminal_bdks.txt ("TID tdes|aes
 * HEX"); the scheme follows from the length (TDES 32 U, 48 T; AES 32 P,
 * 48 Q, 64 R). Errors name the line, never its key. */
static bool read_demo_keys(const char *path, const struct keykind *k, struct demo_tmk *out, size_t *n)
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
        char *variant = k->variant ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (variant && strcmp(variant, "tdes") != 0 && strcmp(variant, "aes") != 0)
            variant = NULL; /* malformed: reported below */
        char *hex = strtok_r(NULL, " \t\r\n", &save);
        char *rest = hex ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        size_t hl = hex ? strlen(hex) : 0;
        bool aes = variant && !strcmp(variant, "aes");
        char scheme = aes ? (hl == 32 ? 'P' : hl == 48 ? 'Q' : 'R') : (hl == 32 ? 'U' : 'T');
        ok = strlen(tid) <= 8 && (!k->variant || variant) && hl && hl == keycomp_hex_len(scheme) &&
             strspn(hex, "0123456789ABCDEFabcdef") == hl && (!rest || rest[0] == '#') && *n < DEMO_TMK_MAX;
        if (!ok) {
            fprintf(stderr, "switchctl: %s line %u: expected TERMINAL-ID%s and a key in hex\n", path, lineno,
                    k->variant ? ", tdes or aes," : "");
            break;
        }
        if (k->variant && strcmp(variant, k->variant) != 0)
            continue;
        struct demo_tmk *d = &out[(*n)++];
        snprintf(d->tid, sizeof d->tid, "%s", tid);
        d->scheme = scheme;
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

/* Stores the formed keys in one transaction; a terminal that got one
 * meanwhile (another run) keeps it: the row lock re-checks the column. */
static bool store_demo_keys(PGconn *db, const struct keykind *k, const struct formed *f, size_t n)
{
    char q[160];
    snprintf(q, sizeof q, "SELECT 1 FROM terminals WHERE terminal_id = $1 AND %s IS NULL FOR UPDATE", k->column);
    PGresult *r = scdb_exec(db, "BEGIN", 0, NULL);
    bool ok = r != NULL;
    PQclear(r);
    for (size_t i = 0; ok && i < n; i++) {
        const char *p[1] = {f[i].tid};
        r = scdb_exec(db, q, 1, p);
        ok = r != NULL;
        bool missing = ok && PQntuples(r) == 1;
        PQclear(r);
        if (missing)
            ok = set_key_sql(db, k, f[i].tid, &f[i].w);
        if (ok)
            printf("terminal %s: %s KCV %s%s%s\n", f[i].tid, k->name, f[i].w.r.kcv,
                   missing ? "" : " (not stored: it has one", missing ? "" : ")");
    }
    r = scdb_exec(db, ok ? "COMMIT" : "ROLLBACK", 0, NULL);
    ok = ok && r != NULL;
    PQclear(r);
    return ok;
}

static int demo_terminal_keys(PGconn *db, schsm *hsm, const char *schema_dir, const struct keykind *k)
{
    char path[4096], q[160];
    size_t nkeys = 0, nformed = 0;
    int rc = 1;
    struct demo_tmk *keys = calloc(DEMO_TMK_MAX, sizeof *keys);
    struct formed *f = calloc(DEMO_TMK_MAX, sizeof *f);
    snprintf(q, sizeof q, "SELECT terminal_id::text FROM terminals WHERE %s IS NULL ORDER BY terminal_id",
             k->column);
    PGresult *todo = scdb_exec(db, q, 0, NULL);
    snprintf(path, sizeof path, "%s/demo/%s", schema_dir, k->file);
    if (!todo || !keys || !f || !read_demo_keys(path, k, keys, &nkeys))
        goto out;
    for (int i = 0; i < PQntuples(todo); i++) {
        const char *tid = PQgetvalue(todo, i, 0);
        for (size_t i_k = 0; i_k < nkeys; i_k++) {
            if (strcmp(keys[i_k].tid, tid) != 0)
                continue;
            int send_rc = 0;
            f[nformed].tid = keys[i_k].tid;
            if (!form_key(hsm, k, &keys[i_k].kc, keys[i_k].scheme, &f[nformed].w, &send_rc)) {
                if (!refused_not_authorised(send_rc, &f[nformed].w)) {
                    schsm_perror(send_rc, &f[nformed].w, k == &TMK ? "form TMK" : "form BDK");
                    goto out;
                }
                fprintf(stderr, "switchctl: warning: demo terminal %ss not loaded: %s\n", k->name, not_authorised);
                hsm_not_authorised = true;
                rc = 0;
                goto out;
            }
            nformed++;
            break;
        }
    }
    if (PQntuples(todo) == 0)
        printf("demo terminals already have %ss\n", k->name);
    else if (!store_demo_keys(db, k, f, nformed))
        goto out;
    else
        printf("%ss: %zu demo terminals, formed in hsm-sim from the public test keys of %s\n", k->name, nformed,
               path);
    rc = 0;
out:
    for (size_t i_k = 0; keys && i_k < nkeys; i_k++)
        keycomp_wipe(&keys[i_k].kc);
    free(keys);
    free(f);
    PQclear(todo);
    return rc;
}

int demo_terminal_tmks(PGconn *db, schsm *hsm, const char *schema_dir)
{
    return demo_terminal_keys(db, hsm, schema_dir, &TMK);
}

int demo_terminal_bdks(PGconn *db, schsm *hsm, const char *schema_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/demo/%s", schema_dir, BDK.file);
    if (access(path, R_OK) != 0 || hsm_not_authorised)
        return 0; /* no DUKPT PIN pads in this demo, or warned already */
    int rc = demo_terminal_keys(db, hsm, schema_dir, &BDK);
    return rc ? rc : demo_terminal_keys(db, hsm, schema_dir, &AES_BDK);
}
