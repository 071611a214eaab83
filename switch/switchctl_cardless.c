/* Cardless-cash vouchers (see switchctl_cardless.h). The code is made from
 * the CSPRNG, handed to hsm-sim once (BA, then DE: its IBM 3624 offset
 * under the voucher PVK, the reference standing in for the PAN), printed
 * once on stdout, and wiped; the database gets the offset only. */
#include "switchctl_cardless.h"
#include "switchctl_common.h"
#include "switchctl_db.h"
#include "switchctl_hsm.h"
#include "switchctl_pin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

static const char usage_cl[] =
    "usage: switchctl cardless send --account ACCOUNT --amount AMOUNT [--currency USD|KHR]\n"
    "                               --phone +NUMBER [--hsm HOST:PORT]\n"
    "       switchctl cardless list [--account ACCOUNT] [--status STATUS]\n"
    "       switchctl cardless expire [--now TIMESTAMP]\n"
    "  send    moves AMOUNT (e.g. 50.00, in the account's currency unless --currency)\n"
    "          from the sender's account to the voucher suspense account and prints the\n"
    "          voucher: a 16-digit reference and an 8-digit code for the recipient, shown\n"
    "          this once and stored nowhere (hsm-sim makes an IBM 3624 offset of it under\n"
    "          the voucher PVK, like a PIN). --hsm defaults to SWITCH_HSM.\n"
    "  list    reference, amount, status, wrong tries, created, expiry (Phnom Penh),\n"
    "          sender's account; STATUS: active redeemed expired locked cancelled\n"
    "  expire  vouchers past their expiry give their money back to the sender; prints how\n"
    "          many. Idempotent: a second run returns nothing more.\n";

#define REF_DIGITS 16
#define CODE_DIGITS 8
/* A fresh reference that collides with a stored one (94) is drawn again. */
#define SEND_ATTEMPTS 5

/* n uniform decimal digits from the CSPRNG: only bytes below 250 (25 x 10)
 * are used, so no digit is likelier than another (no modulo bias). */
static bool random_digits(char *out, size_t n)
{
    unsigned char buf[32];
    size_t have = 0, used = sizeof buf;
    bool ok = true;
    while (ok && have < n) {
        if (used == sizeof buf) {
            ok = RAND_bytes(buf, sizeof buf) == 1;
            used = 0;
        } else if (buf[used] < 250) {
            out[have++] = (char)('0' + buf[used++] % 10);
        } else {
            used++;
        }
    }
    out[have] = '\0';
    OPENSSL_cleanse(buf, sizeof buf);
    return ok;
}

/* The Luhn check digit for the n digits of d (ISO/IEC 7812-1 Annex B). */
static char luhn_digit(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 0)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

/* An international number: "+", then 8-15 digits, the first not 0 (E.164). */
static bool valid_phone(const char *s)
{
    size_t n = strlen(s);
    return n >= 9 && n <= 16 && s[0] == '+' && s[1] != '0' && strspn(s + 1, "0123456789") == n - 1;
}

struct account {
    char id[24], number[40], currency[8];
};

/* ACCOUNT as an id or a number; false after a one-line error. */
static bool find_account(PGconn *db, const char *arg, struct account *a)
{
    const char *p[1] = {arg};
    PGresult *r = scdb_exec(db, "SELECT id, number, currency FROM accounts WHERE number = $1 OR id::text = $1", 1, p);
    if (!r)
        return false;
    bool found = PQntuples(r) == 1;
    if (found) {
        snprintf(a->id, sizeof a->id, "%s", PQgetvalue(r, 0, 0));
        snprintf(a->number, sizeof a->number, "%s", PQgetvalue(r, 0, 1));
        snprintf(a->currency, sizeof a->currency, "%s", PQgetvalue(r, 0, 2));
    } else {
        fprintf(stderr, "switchctl: no account %s\n", arg);
    }
    PQclear(r);
    return found;
}

static bool sql(PGconn *db, const char *stmt)
{
    PGresult *r = scdb_exec(db, stmt, 0, NULL);
    PQclear(r);
    return r != NULL;
}

/* ---- send ---- */

struct send_req {
    const char *account, *currency, *phone, *hsm; /* currency: numeric code or NULL */
    char amount[24];                              /* minor units */
};

struct voucher {
    char reference[REF_DIGITS + 1];
    char code[CODE_DIGITS + 1]; /* clear: wiped by the caller */
    char rc[3];
    char id[24];
};

/* One attempt: a new reference and code, the code's offset from hsm-sim,
 * voucher_create(). v->rc gets the database's answer. False after a
 * one-line error (HSM, database, CSPRNG). */
static bool create_one(PGconn *db, schsm *hsm, const struct send_req *q, const struct account *a,
                       const char *currency, const struct scpin_pvk *pvk, struct voucher *v)
{
    if (!random_digits(v->reference, REF_DIGITS - 1) || !random_digits(v->code, CODE_DIGITS)) {
        fprintf(stderr, "switchctl: no random numbers from OpenSSL (RAND_bytes)\n");
        return false;
    }
    v->reference[REF_DIGITS - 1] = luhn_digit(v->reference, REF_DIGITS - 1);
    v->reference[REF_DIGITS] = '\0';
    char valdata[17];
    scpin_ibm_valdata(v->reference, valdata);
    struct schsm_wait w = {0};
    int err = hsmc_pin_to_offset(schsm_pool(hsm), v->code, v->reference, pvk->key_lmk, SCPIN_DECTAB, valdata,
                                 schsm_on_reply, &w);
    if (!schsm_done(hsm, err, &w)) {
        schsm_perror(err, &w, "code offset");
        return false;
    }
    if (strlen(w.r.value) != CODE_DIGITS) {
        fprintf(stderr, "switchctl: hsm code offset: %zu digits, want %d\n", strlen(w.r.value), CODE_DIGITS);
        return false;
    }
    const char *p[7] = {a->id, v->reference, q->phone, w.r.value, pvk->id, q->amount, currency};
    PGresult *r = scdb_exec(db, "SELECT response_code, coalesce(voucher_id::text, '') FROM voucher_create("
                                "$1::bigint, $2, $3, $4, $5::int, $6::bigint, $7::smallint)", 7, p);
    if (!r)
        return false;
    snprintf(v->rc, sizeof v->rc, "%s", PQgetvalue(r, 0, 0));
    snprintf(v->id, sizeof v->id, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return true;
}

static void report_refusal(const char *rc, const struct account *a, const char *currency)
{
    if (strcmp(rc, "51") == 0)
        fprintf(stderr, "switchctl: insufficient funds in account %s (51)\n", a->number);
    else if (strcmp(rc, "62") == 0)
        fprintf(stderr, "switchctl: account %s is not an active customer account (62)\n", a->number);
    else if (strcmp(rc, "13") == 0 && strcmp(currency, a->currency) != 0)
        fprintf(stderr, "switchctl: currency %s is not the account's (%s) (13)\n", sc_cur_alpha(currency),
                sc_cur_alpha(a->currency));
    else if (strcmp(rc, "13") == 0)
        fprintf(stderr, "switchctl: bad amount (13)\n");
    else if (strcmp(rc, "94") == 0)
        fprintf(stderr, "switchctl: no unused voucher reference in %d draws (94)\n", SEND_ATTEMPTS);
    else
        fprintf(stderr, "switchctl: voucher refused (%s)\n", rc);
}

/* The voucher's expiry date (business time zone) into out. */
static bool expiry_date(PGconn *db, const char *id, char out[16])
{
    const char *p[1] = {id};
    PGresult *r = scdb_exec(db, "SELECT to_char(v.expires_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD')"
                                " FROM cardless_vouchers v, bank_settings s WHERE v.id = $1::bigint", 1, p);
    if (!r)
        return false;
    snprintf(out, 16, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return true;
}

/* PVK, offset and voucher in one transaction: a refusal leaves nothing,
 * not even a voucher PVK made for it. */
static int send_voucher(PGconn *db, const struct send_req *q)
{
    struct account a;
    if (!find_account(db, q->account, &a))
        return 1;
    const char *currency = q->currency ? q->currency : a.currency;
    schsm *hsm = schsm_open(q->hsm);
    if (!hsm)
        return 1;
    struct scpin_pvk pvk;
    struct voucher v = {0};
    char expires[16];
    bool ok = sql(db, "BEGIN") && scpin_pvk(db, hsm, SCCL_PVK_LABEL, &pvk);
    for (int i = 0; ok && i < SEND_ATTEMPTS; i++) {
        OPENSSL_cleanse(v.code, sizeof v.code);
        ok = create_one(db, hsm, q, &a, currency, &pvk, &v);
        if (!ok || strcmp(v.rc, "94") != 0)
            break;
    }
    bool made = ok && strcmp(v.rc, "00") == 0;
    if (ok && !made)
        report_refusal(v.rc, &a, currency);
    made = made && expiry_date(db, v.id, expires) && sql(db, "COMMIT");
    if (!made) {
        PQclear(PQexec(db, "ROLLBACK"));
    } else {
        char amt[32];
        sc_fmt_money(q->amount, amt, sizeof amt);
        /* The only place the code is ever shown. */
        printf("voucher %s: %s %s for %s, code %s (give it to the recipient; it is not stored and cannot be"
               " shown again), expires %s\n",
               v.reference, sc_cur_alpha(currency), amt, q->phone, v.code, expires);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "switchctl: voucher %s was made but its code could not be written out; nobody can"
                            " redeem it, and it returns the money at expiry\n", v.reference);
            made = false;
        }
    }
    OPENSSL_cleanse(v.code, sizeof v.code);
    schsm_close(hsm);
    return made ? 0 : 1;
}

static int cmd_send(int argc, char **argv, const char *conninfo)
{
    struct send_req q = {.hsm = getenv("SWITCH_HSM")};
    const char *amount = NULL;
    /* Every option takes a value: they come in pairs. */
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val && strcmp(o, "--account") == 0)
            q.account = val;
        else if (val && strcmp(o, "--amount") == 0)
            amount = val;
        else if (val && strcmp(o, "--currency") == 0)
            q.currency = val;
        else if (val && strcmp(o, "--phone") == 0)
            q.phone = val;
        else if (val && strcmp(o, "--hsm") == 0)
            q.hsm = val;
        else
            return sc_bad("cardless send", "unexpected argument", o);
    }
    if (!q.account)
        return sc_bad("cardless send", "missing --account ACCOUNT", NULL);
    if (!amount || !sc_parse_amount(amount, q.amount))
        return sc_bad("cardless send", "--amount wants an amount like 50.00, got", amount ? amount : "");
    if (q.currency && !(q.currency = sc_cur_code(q.currency)))
        return sc_bad("cardless send", "--currency must be USD or KHR", NULL);
    if (!q.phone || !valid_phone(q.phone))
        return sc_bad("cardless send", "--phone wants an international number like +85512345678, got",
                      q.phone ? q.phone : "");
    if (!q.hsm || !*q.hsm)
        return sc_bad("cardless send", "needs --hsm HOST:PORT (or SWITCH_HSM)", NULL);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = send_voucher(db, &q);
    PQfinish(db);
    return rc;
}

/* ---- list ---- */

static int list(PGconn *db, const char *account, const char *status)
{
    struct account a;
    if (account && !find_account(db, account, &a))
        return 1;
    const char *p[2] = {account ? a.id : NULL, status};
    /* Never the offset: it is of no use to an operator. */
    PGresult *r = scdb_exec(db,
                            "SELECT v.reference, v.amount, v.currency, v.status, v.tries,"
                            " to_char(v.created_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI'),"
                            " to_char(v.expires_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI'), a.number"
                            " FROM cardless_vouchers v JOIN accounts a ON a.id = v.sender_account_id"
                            " CROSS JOIN bank_settings s"
                            " WHERE ($1::bigint IS NULL OR v.sender_account_id = $1::bigint)"
                            "   AND ($2::text IS NULL OR v.status::text = $2) ORDER BY v.id",
                            2, p);
    if (!r)
        return 1;
    if (PQntuples(r) == 0)
        printf("no vouchers\n");
    for (int i = 0; i < PQntuples(r); i++) {
        char amt[32];
        sc_fmt_money(PQgetvalue(r, i, 1), amt, sizeof amt);
        printf("%-16s  %s %12s  %-9s  tries %s  created %s  expires %s  account %s\n", PQgetvalue(r, i, 0),
               sc_cur_alpha(PQgetvalue(r, i, 2)), amt, PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
    }
    PQclear(r);
    return 0;
}

static int cmd_list(int argc, char **argv, const char *conninfo)
{
    static const char *const statuses[] = {"active", "redeemed", "expired", "locked", "cancelled"};
    const char *account = NULL, *status = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
            account = argv[++i];
        else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
            status = argv[++i];
        else
            return sc_bad("cardless list", "unexpected argument", argv[i]);
    }
    bool known = status == NULL;
    for (size_t i = 0; !known && i < sizeof statuses / sizeof statuses[0]; i++)
        known = strcmp(status, statuses[i]) == 0;
    if (!known)
        return sc_bad("cardless list", "--status must be active, redeemed, expired, locked or cancelled, got",
                      status);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = list(db, account, status);
    PQfinish(db);
    return rc;
}

int sccl_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_cl, false);
    if (argc < 1)
        return sc_bad("cardless", "missing subcommand (send, list or expire)", NULL);
    if (strcmp(argv[0], "send") == 0)
        return cmd_send(argc, argv, conninfo);
    if (strcmp(argv[0], "list") == 0)
        return cmd_list(argc, argv, conninfo);
    if (strcmp(argv[0], "expire") == 0)
        return sc_job(conninfo, "cardless expire", argc, argv,
                      "SELECT voucher_expire(coalesce($1::timestamptz, now()))",
                      "vouchers expired (money returned to the senders)");
    return sc_bad("cardless", "unknown subcommand", argv[0]);
}
