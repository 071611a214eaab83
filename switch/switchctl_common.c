/* What every switchctl command shares (see switchctl_common.h). */
#include "switchctl_common.h"
#include "switchctl_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/hmac.h>

const char sc_demo_hmac_key[] = "64656d6f2d70616e2d686d61632d6b65792d6e6f742d666f722d70726f642121";
const char sc_demo_enc_key[] = "64656d6f2d70616e2d656e632d6b65792d6e6f742d666f722d70726f64212121";

int sc_usage(const char *text, bool err)
{
    fputs(text, err ? stderr : stdout);
    return err ? 2 : 0;
}

bool sc_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int sc_bad(const char *cmd, const char *what, const char *arg)
{
    /* The help is named by the command's first word. */
    int n = (int)strcspn(cmd, " ");
    if (arg)
        fprintf(stderr, "switchctl: %s: %s '%s' (see switchctl %.*s --help)\n", cmd, what, arg, n, cmd);
    else
        fprintf(stderr, "switchctl: %s: %s (see switchctl %.*s --help)\n", cmd, what, n, cmd);
    return 2;
}

void sc_fmt_money(const char *minor, char *out, size_t n)
{
    long long v = strtoll(minor, NULL, 10);
    unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(out, n, "%s%llu.%02llu", v < 0 ? "-" : "", a / 100, a % 100);
}

static const struct { const char *code, *alpha; } currencies[] = {{"840", "USD"}, {"116", "KHR"}};

const char *sc_cur_alpha(const char *code)
{
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcmp(code, currencies[i].code) == 0)
            return currencies[i].alpha;
    return code;
}

const char *sc_cur_code(const char *alpha)
{
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcasecmp(alpha, currencies[i].alpha) == 0)
            return currencies[i].code;
    return NULL;
}

bool sc_parse_amount(const char *s, char out[24])
{
    size_t ip = strspn(s, "0123456789"), fp = 0;
    if (ip == 0 || ip > 13)
        return false;
    if (s[ip] == '.') {
        fp = strspn(s + ip + 1, "0123456789");
        if (fp == 0 || fp > 2 || s[ip + 1 + fp] != '\0')
            return false;
    } else if (s[ip] != '\0') {
        return false;
    }
    long long v = strtoll(s, NULL, 10) * 100;
    if (fp >= 1)
        v += (s[ip + 1] - '0') * 10;
    if (fp == 2)
        v += s[ip + 2] - '0';
    snprintf(out, 24, "%lld", v);
    return true;
}

const char *sc_pan_key(const char *var, const char *fallback, bool warn)
{
    const char *k = getenv(var);
    if (k && *k)
        return k;
    if (warn)
        fprintf(stderr, "switchctl: warning: %s not set, using the public demo key (not for real cards)\n", var);
    return fallback;
}

bool sc_pan_hmac_key(unsigned char key[64], size_t *klen)
{
    const char *khex = sc_pan_key("SWITCH_PAN_HMAC_KEY", sc_demo_hmac_key, false);
    *klen = strlen(khex) / 2;
    if (*klen == 0 || *klen > 64 || strlen(khex) % 2) {
        fprintf(stderr, "switchctl: SWITCH_PAN_HMAC_KEY must be 2-128 hex digits\n");
        return false;
    }
    for (size_t i = 0; i < *klen; i++) {
        unsigned int b;
        if (sscanf(khex + 2 * i, "%2x", &b) != 1) {
            fprintf(stderr, "switchctl: SWITCH_PAN_HMAC_KEY is not hex\n");
            return false;
        }
        key[i] = (unsigned char)b;
    }
    return true;
}

/* HMAC-SHA-256 of the PAN with the operator's key, as hex for the query. */
static bool pan_hash_hex(const char *pan, char out[65])
{
    unsigned char key[64], md[32];
    size_t klen;
    if (!sc_pan_hmac_key(key, &klen))
        return false;
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)pan, strlen(pan), md, &mdlen))
        return false;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return true;
}

bool sc_card_take(struct sc_card_arg *c, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--pan") == 0 && *i + 1 < argc && !c->pan) {
        c->pan = argv[++*i];
        return true;
    }
    if (!c->id && argv[*i][0] != '-') {
        c->id = argv[*i];
        return true;
    }
    return false;
}

bool sc_card_check(const struct sc_card_arg *c)
{
    if ((!c->id) == (!c->pan)) {
        fprintf(stderr, "switchctl: name the card by its id or by --pan PAN (one of them)\n");
        return false;
    }
    if (c->id && (!*c->id || strspn(c->id, "0123456789") != strlen(c->id) || strlen(c->id) > 18)) {
        fprintf(stderr, "switchctl: card id must be a number (use --pan for a card number)\n");
        return false;
    }
    return true;
}

bool sc_card_resolve(PGconn *db, const struct sc_card_arg *c, char out[32])
{
    if (c->id) {
        snprintf(out, 32, "%s", c->id);
        return true;
    }
    char h[65];
    if (!pan_hash_hex(c->pan, h))
        return false;
    const char *p[1] = {h};
    PGresult *r = scdb_exec(db, "SELECT id FROM cards WHERE pan_hash = decode($1,'hex')", 1, p);
    if (!r)
        return false;
    bool found = PQntuples(r) == 1;
    if (found)
        snprintf(out, 32, "%s", PQgetvalue(r, 0, 0));
    else
        fprintf(stderr, "switchctl: no such card\n");
    PQclear(r);
    return found;
}

bool sc_valid_time(PGconn *db, const char *now)
{
    if (!now)
        return true;
    const char *p[1] = {now};
    PGresult *t = PQexecParams(db, "SELECT $1::timestamptz", 1, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(t) == PGRES_TUPLES_OK;
    PQclear(t);
    return ok;
}

int sc_job(const char *conninfo, const char *cmd, int argc, char **argv, const char *sql, const char *label)
{
    const char *now = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
            now = argv[++i];
        else
            return sc_bad(cmd, "unexpected argument", argv[i]);
    }
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = 1;
    if (!sc_valid_time(db, now)) {
        /* A bad --now is a bad command line: said before anything runs. */
        fprintf(stderr, "switchctl: --now wants a timestamp (e.g. '2025-01-31 12:00+07'), got '%s'\n", now);
        rc = 2;
    } else {
        /* The job and its audit_log row in one statement, one transaction. */
        char action[64], q[512];
        snprintf(action, sizeof action, "%s", cmd);
        for (char *c = action; *c; c++)
            if (*c == ' ')
                *c = '_';
        snprintf(q, sizeof q,
                 "WITH j(n) AS (%s), a AS (INSERT INTO audit_log (action, object, details)"
                 " SELECT $2, 'job', jsonb_build_object('now', $1::text, 'result', j.n) FROM j)"
                 " SELECT n FROM j",
                 sql);
        const char *p[2] = {now, action};
        PGresult *r = scdb_exec(db, q, 2, p);
        if (r) {
            printf("%s: %s\n", label, PQgetvalue(r, 0, 0));
            PQclear(r);
            rc = 0;
        }
    }
    PQfinish(db);
    return rc;
}
