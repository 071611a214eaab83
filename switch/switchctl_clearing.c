/* switchctl clearing: import scheme clearing files, work the exceptions,
 * print the reconciliation, write test files (see switchctl_clearing.h,
 * docs/clearing.md). PANs from a file are hashed here (HMAC-SHA-256 with
 * SWITCH_PAN_HMAC_KEY) and masked; neither they nor anything else of a
 * card's data is ever printed in full. */
#include "switchctl_clearing.h"
#include "switchctl_common.h"
#include "switchctl_db.h"

#include "clr.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char usage_clearing[] =
    "usage: switchctl clearing import FILE [--scheme mastercard|visa]\n"
    "       switchctl clearing exceptions [--all]\n"
    "       switchctl clearing exceptions --resolve ID --account ACCOUNT [--note TEXT]\n"
    "       switchctl clearing exceptions --write-off ID [--note TEXT]\n"
    "       switchctl clearing report --date YYYY-MM-DD [--csv]\n"
    "       switchctl clearing make-test-file --scheme mastercard|visa --date YYYY-MM-DD --out FILE\n"
    "             [--ebcdic] [--blocked] [--vary-amount PCT] [--unknown-cards N] [--late N]\n"
    "             [--credits N] [--reversals N] [--reverse-cleared N] [--duplicates N]\n"
    "             [--resend-cleared N] [--resend-reversed N] [--file-seq N]\n"
    "             [--bench-cards N --records N]\n"
    "  import      read a Mastercard IPM or Visa BASE II file (format detected; --scheme\n"
    "              checks it), match each record to its authorisation and post it, all in\n"
    "              one transaction. A file with a structural error is rejected whole with\n"
    "              its byte offset, record number and reason; the same file twice posts once.\n"
    "  exceptions  the records that could not be posted (open ones; --all: resolved too);\n"
    "              --resolve posts one to ACCOUNT (id or number), --write-off books it to\n"
    "              the bank's loss account. Both audit-logged.\n"
    "  report      per scheme and settlement currency for the business day: presentments,\n"
    "              credits, reversals, fees, chargebacks; matched, late, force, exceptions;\n"
    "              the net the bank owes the scheme. --csv for a spreadsheet.\n"
    "  make-test-file  a clearing file of the day's approved authorisations (held ones and\n"
    "              refunds) of the scheme's cards; --vary-amount presents PCT percent more\n"
    "              (negative: less), --unknown-cards adds presentments on cards that are not\n"
    "              ours, --late adds presentments of older authorisations whose holds\n"
    "              expired, --credits adds merchant credits without authorisation,\n"
    "              --reversals reverses the first N presentments at the end of the file,\n"
    "              --reverse-cleared the scheme's N latest posted presentments of earlier files,\n"
    "              --duplicates presents the first N presentments a second time (same ARN),\n"
    "              --resend-cleared the scheme's N latest posted presentments of earlier\n"
    "              files a second time, --resend-reversed its N latest presentments whose\n"
    "              posting a presentment reversal undid, again;\n"
    "              --bench-cards/--records: RECORDS presentments over the bench cards\n"
    "              1..N (schema/bench), no database needed. Test files only: it reads\n"
    "              the PANs back from the database.\n";

static const char *const kind_names[] = {
    [CLR_PRESENTMENT] = "presentment",   [CLR_REPRESENTMENT] = "representment",
    [CLR_CREDIT] = "credit",             [CLR_PRESENTMENT_REVERSAL] = "presentment_reversal",
    [CLR_CREDIT_REVERSAL] = "credit_reversal", [CLR_CHARGEBACK] = "chargeback",
    [CLR_FEE] = "fee",
};

static const char *scheme_name(enum clr_scheme s)
{
    return s == CLR_MASTERCARD ? "mastercard" : s == CLR_VISA ? "visa" : "unknown";
}

static bool read_whole(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "switchctl: clearing: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    bool ok = b && !ferror(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "switchctl: clearing: cannot read %s\n", path);
        free(b);
        return false;
    }
    *buf = b;
    *len = n;
    return true;
}

/* ---- import ---- */

struct imp {
    PGconn *db;
    unsigned char key[64];
    size_t klen;
    char *out;            /* COPY rows waiting to be sent */
    size_t used, cap;
    bool failed;
};

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void put_text(struct imp *m, const char *s)
{
    if (!*s) {
        memcpy(m->out + m->used, "\\N", 2);
        m->used += 2;
    }
    for (; *s; s++) {
        char c = *s;
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            m->out[m->used++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        m->out[m->used++] = c;
    }
    m->out[m->used++] = '\t';
}

static void put_fmt(struct imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct imp *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->out + m->used, m->cap - m->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->used += (size_t)n;
}

static bool flush_copy(struct imp *m)
{
    if (m->used && PQputCopyData(m->db, m->out, (int)m->used) != 1) {
        fprintf(stderr, "switchctl: clearing: sending records failed: %s", PQerrorMessage(m->db));
        return false;
    }
    m->used = 0;
    return true;
}

static int stage_record(void *arg, const struct clr_record *r)
{
    struct imp *m = arg;
    if (m->cap - m->used < 2048 && !flush_copy(m)) {
        m->failed = true;
        return 1;
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    HMAC(EVP_sha256(), m->key, (int)m->klen, (const unsigned char *)r->pan, strlen(r->pan), md, &mdlen);
    char masked[20] = "";
    size_t pl = strlen(r->pan);
    if (pl >= 12) {
        memcpy(masked, r->pan, 6);
        memset(masked + 6, '*', pl - 10);
        memcpy(masked + pl - 4, r->pan + pl - 4, 5);
    }
    put_fmt(m, "%" PRIu32 "\t%" PRIu64 "\t", r->seq, r->offset);
    put_text(m, kind_names[r->kind]);
    put_text(m, r->mti);
    put_text(m, r->func);
    put_text(m, r->proc);
    put_fmt(m, "\\\\x");
    for (unsigned i = 0; i < 32; i++)
        put_fmt(m, "%02x", md[i]);
    put_fmt(m, "\t");
    put_text(m, masked);
    put_fmt(m, "%" PRId64 "\t%u\t", r->amount, r->currency);
    if (r->bill_currency)
        put_fmt(m, "%" PRId64 "\t%u\t", r->bill_amount, r->bill_currency);
    else
        put_fmt(m, "\\N\t\\N\t");
    if (strlen(r->txn_date) == 8)
        put_fmt(m, "%.4s-%.2s-%.2s\t", r->txn_date, r->txn_date + 4, r->txn_date + 6);
    else
        put_fmt(m, "\\N\t");
    put_text(m, r->approval);
    put_text(m, r->arn);
    put_text(m, r->acquirer_id);
    put_text(m, r->terminal_id);
    put_text(m, r->merchant_id);
    put_text(m, r->merchant_name);
    put_text(m, r->merchant_city);
    put_text(m, r->merchant_country);
    put_text(m, r->mcc);
    put_text(m, r->reason);
    m->out[m->used - 1] = '\n';
    return 0;
}

static int count_record(void *arg, const struct clr_record *r)
{
    (void)arg, (void)r;
    return 0;
}

static bool exec_ok(PGconn *db, const char *sql)
{
    PGresult *r = scdb_exec(db, sql, 0, NULL);
    PQclear(r);
    return r != NULL;
}

static void print_summary(PGconn *db, const char *file_pk)
{
    const char *p[1] = {file_pk};
    PGresult *r = scdb_exec(db,
                            "SELECT outcome, detail, count(*), coalesce(c.alpha, '---'),"
                            "       coalesce(sum(settle_amount), 0)"
                            "  FROM clearing_records LEFT JOIN currencies c ON c.code = settle_currency"
                            " WHERE file_id = $1::bigint GROUP BY 1, 2, 4"
                            " ORDER BY array_position(ARRAY['matched','late','force','reversed','reported',"
                            "          'exception'], outcome), 2, 4",
                            1, p);
    if (!r)
        return;
    printf("  %-10s %-34s %9s  %s\n", "outcome", "why", "records", "owed to the scheme");
    for (int i = 0; i < PQntuples(r); i++) {
        char money[40];
        sc_fmt_money(PQgetvalue(r, i, 4), money, sizeof money);
        printf("  %-10s %-34s %9s  %s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), money);
    }
    PQclear(r);
}

/* Already imported (same bytes): prints so and returns 0; the same file id
 * from other bytes: error, 1; new: -1. */
static int seen_before(PGconn *db, const char *path, const char *sha_hex, enum clr_scheme sch,
                       const struct clr_file_info *info)
{
    const char *p[3] = {sha_hex, scheme_name(sch), info->file_id};
    PGresult *seen = scdb_exec(db,
                               "SELECT id, file_id, to_char(imported_at AT TIME ZONE 'Asia/Phnom_Penh',"
                               " 'YYYY-MM-DD HH24:MI'), file_sha256 = $1::bytea FROM clearing_files"
                               " WHERE file_sha256 = $1::bytea OR (scheme = $2::card_scheme AND file_id = $3)"
                               " ORDER BY file_sha256 = $1::bytea DESC LIMIT 1",
                               3, p);
    if (!seen)
        return 1;
    int rc = -1;
    if (PQntuples(seen) == 1 && strcmp(PQgetvalue(seen, 0, 3), "t") == 0) {
        printf("%s: already imported as clearing file %s (%s %s, %s): nothing posted\n", path,
               PQgetvalue(seen, 0, 0), scheme_name(sch), PQgetvalue(seen, 0, 1), PQgetvalue(seen, 0, 2));
        rc = 0;
    } else if (PQntuples(seen) == 1) {
        fprintf(stderr, "switchctl: clearing import %s: rejected: %s file id %s was imported on %s"
                        " (clearing file %s) from a different file\n",
                path, scheme_name(sch), info->file_id, PQgetvalue(seen, 0, 2), PQgetvalue(seen, 0, 0));
        rc = 1;
    }
    PQclear(seen);
    return rc;
}

/* COPY every record into clearing_stage (inside the open transaction). */
static bool stage_all(struct imp *m, const char *path, const uint8_t *buf, size_t len)
{
    PGresult *cp = PQexec(m->db, "COPY clearing_stage FROM STDIN");
    bool in = PQresultStatus(cp) == PGRES_COPY_IN;
    if (!in)
        fprintf(stderr, "switchctl: clearing: %s", PQerrorMessage(m->db));
    PQclear(cp);
    if (!in)
        return false;
    struct clr_file_info info;
    struct clr_error err = {0};
    bool sent = clr_read(buf, len, &info, stage_record, m, &err) == 0 && !m->failed && flush_copy(m);
    if (PQputCopyEnd(m->db, sent ? NULL : "records not staged") != 1)
        sent = false;
    PGresult *ce = PQgetResult(m->db);
    bool copied = sent && PQresultStatus(ce) == PGRES_COMMAND_OK;
    if (!copied)
        fprintf(stderr, "switchctl: clearing import %s: staging the records failed, nothing posted: %s", path,
                PQresultErrorMessage(ce));
    PQclear(ce);
    while ((ce = PQgetResult(m->db)))
        PQclear(ce);
    return copied;
}

static int import_db(PGconn *db, const char *path, const uint8_t *buf, size_t len,
                     const struct clr_file_info *info, enum clr_scheme sch)
{
    unsigned char sha[32];
    unsigned shalen = 0;
    EVP_Digest(buf, len, sha, &shalen, EVP_sha256(), NULL);
    char sha_hex[2 * 32 + 3] = "\\x";
    for (unsigned i = 0; i < 32; i++)
        snprintf(sha_hex + 2 + 2 * i, 3, "%02x", sha[i]);
    int seen = seen_before(db, path, sha_hex, sch, info);
    if (seen >= 0)
        return seen;

    struct imp m = {.db = db, .cap = 1 << 20};
    if (!sc_pan_hmac_key(m.key, &m.klen) || !(m.out = malloc(m.cap)))
        return 1;
    bool ok = exec_ok(db, "SET temp_buffers = '512MB'") && exec_ok(db, "BEGIN") &&
              exec_ok(db, "SELECT clearing_stage_create()") && stage_all(&m, path, buf, len);
    free(m.out);
    if (!ok)
        return 1;

    char size[24], msgs[16], total[24], day[11], file_pk[24];
    snprintf(size, sizeof size, "%zu", len);
    snprintf(msgs, sizeof msgs, "%" PRIu32, info->messages);
    snprintf(total, sizeof total, "%" PRId64, info->amount_total);
    snprintf(day, sizeof day, "%.4s-%.2s-%.2s", info->business_day, info->business_day + 4,
             info->business_day + 6);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *pi[10] = {scheme_name(sch), info->file_id, sha_hex, day, base, size,
                          info->ebcdic ? "t" : "f", info->blocked ? "t" : "f", msgs, total};
    PGresult *res = scdb_exec(db,
                              "SELECT clearing_import($1::card_scheme, $2, $3::bytea, $4::date, $5, $6::bigint,"
                              " $7::boolean, $8::boolean, $9::integer, $10::bigint)",
                              10, pi);
    if (!res)
        return 1;
    snprintf(file_pk, sizeof file_pk, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* Who imported which file, in the import's own transaction. */
    const char *pa[4] = {file_pk, scheme_name(sch), info->file_id, base};
    res = scdb_exec(db,
                    "INSERT INTO audit_log (action, object, details) VALUES ('clearing_import',"
                    " 'clearing_file:' || $1, jsonb_build_object('scheme', $2::text, 'file_id', $3::text,"
                    " 'name', $4::text, 'records', (SELECT record_count FROM clearing_files WHERE id = $1::bigint)))",
                    4, pa);
    if (!res)
        return 1;
    PQclear(res);
    if (!exec_ok(db, "COMMIT"))
        return 1;
    printf("%s: imported as clearing file %s: %s file %s, business day %s, %" PRIu32 " records%s%s\n", path,
           file_pk, scheme_name(sch), info->file_id, day, info->records, info->ebcdic ? ", EBCDIC" : "",
           info->blocked ? ", 1014-byte blocks" : "");
    print_summary(db, file_pk);
    return 0;
}

static int cmd_import(const char *conninfo, int argc, char **argv)
{
    const char *path = NULL, *want = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--scheme") == 0 && i + 1 < argc)
            want = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return sc_bad("clearing import", "unexpected argument", argv[i]);
    }
    if (!path)
        return sc_bad("clearing import", "missing FILE", NULL);
    if (want && strcmp(want, "mastercard") != 0 && strcmp(want, "visa") != 0)
        return sc_bad("clearing import", "--scheme must be mastercard or visa, not", want);

    uint8_t *buf;
    size_t len;
    if (!read_whole(path, &buf, &len))
        return 1;
    /* Structure first: a bad file touches nothing. */
    struct clr_file_info info;
    struct clr_error err = {0};
    enum clr_scheme sch = clr_detect(buf, len);
    int rc = 1;
    if (clr_read(buf, len, &info, count_record, NULL, &err) != 0)
        fprintf(stderr, "switchctl: clearing import %s: rejected, nothing posted: byte offset %" PRIu64
                        ", record %" PRIu32 ": %s\n", path, err.offset, err.record, err.reason);
    else if (want && strcmp(want, scheme_name(sch)) != 0)
        fprintf(stderr, "switchctl: clearing import %s: rejected: --scheme %s, but the file is %s\n", path, want,
                scheme_name(sch));
    else {
        PGconn *db = scdb_connect(conninfo);
        if (db)
            rc = import_db(db, path, buf, len, &info, sch);
        PQfinish(db);
    }
    free(buf);
    return rc;
}

/* ---- exceptions ---- */

static int cmd_exceptions(const char *conninfo, int argc, char **argv)
{
    const char *resolve = NULL, *account = NULL, *writeoff = NULL, *note = NULL;
    bool all = false;
    for (int i = 0; i < argc; i++) {
        bool has = i + 1 < argc;
        if (strcmp(argv[i], "--all") == 0)
            all = true;
        else if (strcmp(argv[i], "--resolve") == 0 && has)
            resolve = argv[++i];
        else if (strcmp(argv[i], "--account") == 0 && has)
            account = argv[++i];
        else if (strcmp(argv[i], "--write-off") == 0 && has)
            writeoff = argv[++i];
        else if (strcmp(argv[i], "--note") == 0 && has)
            note = argv[++i];
        else
            return sc_bad("clearing exceptions", "unexpected argument", argv[i]);
    }
    if (resolve && writeoff)
        return sc_bad("clearing exceptions", "--resolve and --write-off exclude each other", NULL);
    if (resolve && !account)
        return sc_bad("clearing exceptions", "--resolve needs --account ACCOUNT", NULL);
    if (account && !resolve)
        return sc_bad("clearing exceptions", "--account goes with --resolve ID", NULL);
    const char *id = resolve ? resolve : writeoff;
    if (id && (strspn(id, "0123456789") != strlen(id) || strlen(id) > 18 || !*id))
        return sc_bad("clearing exceptions", "the exception id must be a number, not", id);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = 1;
    if (id) {
        const char *p[4] = {id, account, writeoff ? "t" : "f", note};
        PGresult *r = scdb_exec(db, "SELECT clearing_exception_resolve($1::bigint, $2, $3::boolean, $4)", 4, p);
        if (r) {
            if (PQgetisnull(r, 0, 0))
                printf("clearing exception %s closed (nothing to post)\n", id);
            else
                printf("clearing exception %s %s: journal entry %s\n", id,
                       writeoff ? "written off" : "posted to the account", PQgetvalue(r, 0, 0));
            rc = 0;
        }
        PQclear(r);
        PQfinish(db);
        return rc;
    }
    const char *p[1] = {all ? "t" : "f"};
    PGresult *r = scdb_exec(db,
                            "SELECT x.id, f.scheme, f.file_id, r.seq, r.byte_offset, r.kind,"
                            " coalesce(r.pan_masked, ''), r.amount, coalesce(c.alpha, r.currency::text),"
                            " x.reason, to_char(x.created_at AT TIME ZONE 'Asia/Phnom_Penh', 'YYYY-MM-DD'),"
                            " coalesce(x.resolution, '')"
                            " FROM clearing_exceptions x JOIN clearing_records r ON r.id = x.record_id"
                            " JOIN clearing_files f ON f.id = r.file_id LEFT JOIN currencies c ON c.code = r.currency"
                            " WHERE $1::boolean OR x.resolved_at IS NULL ORDER BY x.id",
                            1, p);
    if (r) {
        if (PQntuples(r) == 0)
            printf("no %sclearing exceptions\n", all ? "" : "open ");
        for (int i = 0; i < PQntuples(r); i++) {
            char money[40], amount[24];
            snprintf(amount, sizeof amount, "%s", PQgetvalue(r, i, 7));
            sc_fmt_money(amount, money, sizeof money);
            printf("%6s  %s  %s %s record %s (byte %s)  %-20s %-19s %s %12s  %s%s%s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 10), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 8), money,
                   PQgetvalue(r, i, 9), *PQgetvalue(r, i, 11) ? "  -> " : "", PQgetvalue(r, i, 11));
        }
        rc = 0;
    }
    PQclear(r);
    PQfinish(db);
    return rc;
}

/* ---- report ---- */

static int cmd_report(const char *conninfo, int argc, char **argv)
{
    const char *date = NULL;
    bool csv = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--date") == 0 && i + 1 < argc)
            date = argv[++i];
        else if (strcmp(argv[i], "--csv") == 0)
            csv = true;
        else
            return sc_bad("clearing report", "unexpected argument", argv[i]);
    }
    if (!date)
        return sc_bad("clearing report", "missing --date YYYY-MM-DD", NULL);
    int y, mo, d;
    char tail;
    if (sscanf(date, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return sc_bad("clearing report", "--date must be YYYY-MM-DD, not", date);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    const char *p[1] = {date};
    PGresult *r = scdb_exec(db,
                            "SELECT scheme, coalesce(c.alpha, '---'), files, records, presentments, presentment_amount,"
                            " credits, credit_amount, reversals, fees, fee_amount, chargebacks, chargeback_amount,"
                            " matched, late, force, exceptions, exception_amount, net_settlement"
                            " FROM clearing_reconciliation v LEFT JOIN currencies c ON c.code = v.currency"
                            " WHERE business_day = $1::date ORDER BY scheme, 2",
                            1, p);
    if (!r) {
        PQfinish(db);
        return 1;
    }
    static const char *const cols[] = {"scheme", "currency", "files", "records", "presentments",
                                       "presentment_amount", "credits", "credit_amount", "reversals", "fees",
                                       "fee_amount", "chargebacks", "chargeback_amount", "matched", "late",
                                       "force", "exceptions", "exception_amount", "net_settlement"};
    const int ncols = (int)(sizeof cols / sizeof cols[0]);
    /* Money columns, shown in major units. */
    const bool money[19] = {[5] = true, [7] = true, [10] = true, [12] = true, [17] = true, [18] = true};
    if (csv) {
        printf("business_day");
        for (int j = 0; j < ncols; j++)
            printf(",%s", cols[j]);
        printf("\n");
    } else {
        printf("clearing reconciliation, business day %s\n", date);
        if (PQntuples(r) == 0)
            printf("  no clearing files for that day\n");
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (csv) {
            printf("%s", date);
            for (int j = 0; j < ncols; j++) {
                char m[40];
                if (money[j])
                    sc_fmt_money(PQgetvalue(r, i, j), m, sizeof m);
                printf(",%s", money[j] ? m : PQgetvalue(r, i, j));
            }
            printf("\n");
            continue;
        }
        char a[6][40];
        const int mi[6] = {5, 7, 10, 12, 17, 18};
        for (int k = 0; k < 6; k++)
            sc_fmt_money(PQgetvalue(r, i, mi[k]), a[k], sizeof a[k]);
        const char *cur = PQgetvalue(r, i, 1);
        printf("\n  %s, %s: %s file(s), %s records\n", PQgetvalue(r, i, 0), cur, PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3));
        printf("    presentments %8s  %s %15s\n", PQgetvalue(r, i, 4), cur, a[0]);
        printf("    credits      %8s  %s %15s\n", PQgetvalue(r, i, 6), cur, a[1]);
        printf("    reversals    %8s\n", PQgetvalue(r, i, 8));
        printf("    fees         %8s  %s %15s  (reported, not posted)\n", PQgetvalue(r, i, 9), cur, a[2]);
        printf("    chargebacks  %8s  %s %15s  (reported, not posted)\n", PQgetvalue(r, i, 11), cur, a[3]);
        printf("    matched %s, late %s, force %s, exceptions %s (%s %s)\n", PQgetvalue(r, i, 13),
               PQgetvalue(r, i, 14), PQgetvalue(r, i, 15), PQgetvalue(r, i, 16), cur, a[4]);
        printf("    net settlement owed to %s: %s %s\n", PQgetvalue(r, i, 0), cur, a[5]);
    }
    PQclear(r);
    PQfinish(db);
    return 0;
}

/* ---- make-test-file ---- */

static char luhn_digit(const char *digits)
{
    int sum = 0;
    size_t n = strlen(digits);
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 0 && (d *= 2) > 9)
            d -= 9;
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

/* "7", the acquirer's first six digits, YDDD of the date, 11 digits of
 * sequence, a Luhn digit: 23 digits like a real acquirer reference. */
static void make_arn(char out[24], const char *acquirer, const char *yyyymmdd, unsigned long long seq)
{
    char acq[7] = "000000";
    size_t al = strspn(acquirer, "0123456789");
    memcpy(acq + (al < 6 ? 6 - al : 0), acquirer + (al > 6 ? al - 6 : 0), al < 6 ? al : 6);
    struct tm tm = {0};
    tm.tm_year = atoi((char[5]){yyyymmdd[0], yyyymmdd[1], yyyymmdd[2], yyyymmdd[3], 0}) - 1900;
    tm.tm_mon = atoi((char[3]){yyyymmdd[4], yyyymmdd[5], 0}) - 1;
    tm.tm_mday = atoi((char[3]){yyyymmdd[6], yyyymmdd[7], 0});
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    struct tm *n = localtime(&t);
    char body[40];
    snprintf(body, sizeof body, "7%.6s%c%03d%011llu", acq, yyyymmdd[3], n ? (n->tm_yday + 1) % 1000 : 1,
             seq % 100000000000ULL);
    snprintf(out, 24, "%.22s%c", body, luhn_digit(body));
}

static void fill_merchant(struct clr_record *r, enum clr_scheme s, const char *tid, const char *mid, const char *mcc)
{
    snprintf(r->terminal_id, sizeof r->terminal_id, "%s", tid);
    snprintf(r->merchant_id, sizeof r->merchant_id, "%s", *mid ? mid : tid);
    snprintf(r->merchant_name, sizeof r->merchant_name, "%s %s", *mcc && strcmp(mcc, "6011") == 0 ? "ATM" : "SHOP",
             tid);
    snprintf(r->merchant_city, sizeof r->merchant_city, "PHNOM PENH");
    snprintf(r->merchant_country, sizeof r->merchant_country, "%s", s == CLR_MASTERCARD ? "KHM" : "KH");
    snprintf(r->mcc, sizeof r->mcc, "%s", *mcc ? mcc : "5411");
}

struct mk {
    enum clr_scheme scheme;
    const char *date, *out;
    char yyyymmdd[9];
    bool ebcdic, blocked;
    long vary_pct;
    long unknown, late, credits, reversals, reverse_cleared, resend_cleared, resend_reversed, duplicates, file_seq;
    long bench_cards, bench_records;
    struct clr_record *firsts;   /* the first presentments, for --reversals and --duplicates */
    long nfirsts;
};

static bool add(struct clr_writer *w, const struct clr_record *r, long *n)
{
    if (clr_writer_add(w, r) != 0) {
        fprintf(stderr, "switchctl: clearing make-test-file: record %ld: %s\n", *n + 1, clr_writer_error(w));
        return false;
    }
    (*n)++;
    return true;
}

static bool add_auths(PGconn *db, struct clr_writer *w, struct mk *k, long *n)
{
    char late[24];
    snprintf(late, sizeof late, "%ld", k->late);
    const char *p[4] = {k->date, scheme_name(k->scheme), sc_pan_key("SWITCH_PAN_ENC_KEY", sc_demo_enc_key, false),
                        late};
    /* The day's held authorisations (their final amount when completed)
     * and refunds not cleared yet, then --late ones whose holds expired. */
    PGresult *r = scdb_exec(db,
                            "WITH a AS ("
                            " SELECT l.*, h.status AS hold_status FROM auth_log l"
                            "   JOIN cards c ON c.id = l.card_id JOIN products p ON p.id = c.product_id"
                            "   LEFT JOIN holds h ON h.id = l.hold_id"
                            "  WHERE l.msg_class = 'auth' AND l.response_code = '00' AND p.scheme = $2::card_scheme"
                            "    AND l.txn_type IN ('purchase', 'cash', 'cashback', 'preauth', 'refund')"
                            "    AND NOT EXISTS (SELECT 1 FROM clearing_records r WHERE r.matched_auth_id = l.id))"
                            " SELECT * FROM ("
                            "  SELECT a.id, a.card_id, a.txn_type, coalesce(cm.amount_txn, a.amount_txn) AS amount,"
                            "         a.currency_txn, a.approval_code, to_char(a.business_day, 'YYYYMMDD') AS day,"
                            "         a.terminal_id, coalesce(a.merchant_id, ''), coalesce(a.mcc, ''), a.acquirer_id,"
                            "         coalesce(a.proc_code, '')"
                            "    FROM a LEFT JOIN auth_log cm ON cm.original_auth_id = a.id"
                            "         AND cm.msg_class = 'completion' AND cm.response_code = '00'"
                            "   WHERE a.business_day = $1::date AND (a.hold_status = 'active' OR a.txn_type = 'refund')"
                            "  UNION ALL (SELECT a.id, a.card_id, a.txn_type, a.amount_txn, a.currency_txn,"
                            "         a.approval_code, to_char(a.business_day, 'YYYYMMDD'), a.terminal_id,"
                            "         coalesce(a.merchant_id, ''), coalesce(a.mcc, ''), a.acquirer_id,"
                            "         coalesce(a.proc_code, '')"
                            "    FROM a WHERE a.business_day <= $1::date AND a.business_day >= $1::date - 60"
                            "     AND a.hold_status = 'expired' ORDER BY a.id LIMIT $4::int)) t"
                            " CROSS JOIN LATERAL (SELECT pgp_sym_decrypt(pan_enc, $3) AS pan FROM cards"
                            "                      WHERE id = t.card_id) d"
                            " ORDER BY t.id",
                            4, p);
    if (!r)
        return false;
    bool ok = true;
    int npan = PQnfields(r) - 1;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        struct clr_record c = {0};
        const char *type = PQgetvalue(r, i, 2), *proc = PQgetvalue(r, i, 11);
        c.kind = strcmp(type, "refund") == 0 ? CLR_CREDIT : CLR_PRESENTMENT;
        snprintf(c.proc, sizeof c.proc, "%s",
                 strlen(proc) == 6 ? proc : strcmp(type, "cash") == 0 ? "010000"
                                       : c.kind == CLR_CREDIT     ? "200000" : "000000");
        snprintf(c.pan, sizeof c.pan, "%s", PQgetvalue(r, i, npan));
        c.amount = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        if (c.kind == CLR_PRESENTMENT && k->vary_pct)
            c.amount = c.amount * (100 + k->vary_pct) / 100;
        c.currency = (uint16_t)atoi(PQgetvalue(r, i, 4));
        snprintf(c.approval, sizeof c.approval, "%s", PQgetvalue(r, i, 5));
        snprintf(c.txn_date, sizeof c.txn_date, "%s", PQgetvalue(r, i, 6));
        /* BASE II carries an 8-digit acquirer business id, IPM up to 11 digits. */
        const char *acq = PQgetvalue(r, i, 10);
        size_t al = strlen(acq), keep = k->scheme == CLR_VISA ? 8 : 11;
        snprintf(c.acquirer_id, sizeof c.acquirer_id, "%s", acq + (al > keep ? al - keep : 0));
        make_arn(c.arn, c.acquirer_id, c.txn_date, strtoull(PQgetvalue(r, i, 0), NULL, 10));
        fill_merchant(&c, k->scheme, PQgetvalue(r, i, 7), PQgetvalue(r, i, 8), PQgetvalue(r, i, 9));
        ok = add(w, &c, n);
        if (ok && c.kind == CLR_PRESENTMENT && (k->nfirsts < k->reversals || k->nfirsts < k->duplicates))
            k->firsts[k->nfirsts++] = c;
        /* --credits: merchant credits without authorisation, on the first cards. */
        if (ok && i < k->credits) {
            struct clr_record cr = c;
            cr.kind = CLR_CREDIT;
            snprintf(cr.proc, sizeof cr.proc, "200000");
            cr.amount = 1000;
            cr.approval[0] = '\0';
            make_arn(cr.arn, cr.acquirer_id, cr.txn_date,
                     50000000000ULL + (unsigned long long)k->file_seq * 1000000 + (unsigned long long)i);
            ok = add(w, &cr, n);
        }
    }
    PQclear(r);
    return ok;
}

/* Presentments of earlier files written again (same ARN, amount and
 * card), the scheme's LIMIT most recent of them. */
enum cleared_again {
    REVERSE_CLEARED, /* posted, nothing reversed them: as reversals */
    RESEND_CLEARED,  /* the same, as presentments: sent a second time */
    RESEND_REVERSED, /* posted, then undone by a reversal: as presentments */
};

static bool add_cleared(PGconn *db, struct clr_writer *w, const struct mk *k, long limit, enum cleared_again how,
                        long *n)
{
    if (limit == 0)
        return true;
    bool reversal = how == REVERSE_CLEARED;
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *p[4] = {scheme_name(k->scheme), sc_pan_key("SWITCH_PAN_ENC_KEY", sc_demo_enc_key, false), lim,
                        how == RESEND_REVERSED ? "t" : "f"};
    PGresult *r = scdb_exec(db,
                            "SELECT r.arn, r.amount, r.currency, coalesce(r.approval_code, ''),"
                            " coalesce(to_char(r.txn_date, 'YYYYMMDD'), ''), coalesce(r.terminal_id, ''),"
                            " coalesce(r.merchant_id, ''), coalesce(r.mcc, ''), coalesce(r.acquirer_id, ''),"
                            " r.proc, pgp_sym_decrypt(c.pan_enc, $2)"
                            " FROM clearing_records r JOIN clearing_files f ON f.id = r.file_id"
                            " JOIN cards c ON c.id = r.card_id"
                            " WHERE f.scheme = $1::card_scheme AND r.kind = 'presentment' AND r.entry_id IS NOT NULL"
                            "   AND CASE WHEN $4::boolean"
                            "       THEN EXISTS (SELECT 1 FROM clearing_records x WHERE x.reverses_record_id = r.id"
                            "                       AND x.outcome = 'reversed')"
                            "       ELSE NOT EXISTS (SELECT 1 FROM clearing_records x WHERE x.reverses_record_id = r.id) END"
                            " ORDER BY r.id DESC LIMIT $3::int",
                            4, p);
    if (!r)
        return false;
    bool ok = true;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        struct clr_record c = {.kind = reversal ? CLR_PRESENTMENT_REVERSAL : CLR_PRESENTMENT, .reversal = reversal};
        snprintf(c.arn, sizeof c.arn, "%s", PQgetvalue(r, i, 0));
        c.amount = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        c.currency = (uint16_t)atoi(PQgetvalue(r, i, 2));
        snprintf(c.approval, sizeof c.approval, "%s", PQgetvalue(r, i, 3));
        snprintf(c.txn_date, sizeof c.txn_date, "%s", PQgetvalue(r, i, 4));
        snprintf(c.acquirer_id, sizeof c.acquirer_id, "%s", PQgetvalue(r, i, 8));
        snprintf(c.proc, sizeof c.proc, "%s", PQgetvalue(r, i, 9));
        snprintf(c.pan, sizeof c.pan, "%s", PQgetvalue(r, i, 10));
        fill_merchant(&c, k->scheme, PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
        ok = add(w, &c, n);
    }
    PQclear(r);
    return ok;
}

static bool add_generated(struct clr_writer *w, const struct mk *k, long *n)
{
    const char *bin = k->scheme == CLR_MASTERCARD ? "599999" : "499999";
    for (long i = 0; i < k->unknown; i++) {
        struct clr_record c = {.kind = CLR_PRESENTMENT, .amount = 2500 + i, .currency = 840};
        char body[40];
        snprintf(body, sizeof body, "%.6s%09ld", bin, (i + 1) % 1000000000L);
        snprintf(c.pan, sizeof c.pan, "%.15s%c", body, luhn_digit(body));
        snprintf(c.proc, sizeof c.proc, "000000");
        snprintf(c.txn_date, sizeof c.txn_date, "%s", k->yyyymmdd);
        snprintf(c.acquirer_id, sizeof c.acquirer_id, "00000999");
        make_arn(c.arn, c.acquirer_id, c.txn_date,
                 60000000000ULL + (unsigned long long)k->file_seq * 1000000 + (unsigned long long)i);
        fill_merchant(&c, k->scheme, "UNKNOWN1", "", "5411");
        if (!add(w, &c, n))
            return false;
    }
    /* Bench: presentments over the bench cards, PANs as schema/bench and
     * loadgen derive them; even records carry the approval code that
     * schema/bench/clearing.sql gives their authorisations. */
    for (long i = 0; i < k->bench_records; i++) {
        struct clr_record c = {.kind = CLR_PRESENTMENT, .amount = 100 + (i * 7919) % 20000, .currency = 840};
        char body[40];
        snprintf(body, sizeof body, "453919%09ld", 1 + (i * 7) % k->bench_cards);
        snprintf(c.pan, sizeof c.pan, "%.15s%c", body, luhn_digit(body));
        snprintf(c.proc, sizeof c.proc, i % 10 == 5 ? "010000" : "000000");
        if (i % 2 == 0)
            snprintf(c.approval, sizeof c.approval, "%06ld", i % 1000000);
        snprintf(c.txn_date, sizeof c.txn_date, "%s", k->yyyymmdd);
        snprintf(c.acquirer_id, sizeof c.acquirer_id, "00000777");
        make_arn(c.arn, c.acquirer_id, c.txn_date, 70000000000ULL + (unsigned long long)i);
        fill_merchant(&c, k->scheme, "BENCH001", "BENCHSHOP00001", i % 10 == 5 ? "6011" : "5411");
        if (!add(w, &c, n))
            return false;
    }
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int cmd_make(const char *conninfo, int argc, char **argv)
{
    struct mk k = {.file_seq = 1};
    const char *scheme = NULL;
    static const struct { const char *name; long lo, hi; size_t off; } nums[] = {
        {"--vary-amount", -99, 1000, offsetof(struct mk, vary_pct)},
        {"--unknown-cards", 0, 1000000, offsetof(struct mk, unknown)},
        {"--late", 0, 1000000, offsetof(struct mk, late)},
        {"--credits", 0, 1000000, offsetof(struct mk, credits)},
        {"--reversals", 0, 1000, offsetof(struct mk, reversals)},
        {"--reverse-cleared", 0, 1000, offsetof(struct mk, reverse_cleared)},
        {"--duplicates", 0, 1000, offsetof(struct mk, duplicates)},
        {"--resend-cleared", 0, 1000, offsetof(struct mk, resend_cleared)},
        {"--resend-reversed", 0, 1000, offsetof(struct mk, resend_reversed)},
        {"--file-seq", 0, 99999, offsetof(struct mk, file_seq)},
        {"--bench-cards", 1, 999999999, offsetof(struct mk, bench_cards)},
        {"--records", 1, 50000000, offsetof(struct mk, bench_records)},
    };
    for (int i = 0; i < argc; i++) {
        bool has = i + 1 < argc, done = false;
        for (size_t j = 0; j < sizeof nums / sizeof nums[0] && !done; j++)
            if (strcmp(argv[i], nums[j].name) == 0 && has) {
                if (!parse_long(argv[++i], nums[j].lo, nums[j].hi, (long *)((char *)&k + nums[j].off)))
                    return sc_bad("clearing make-test-file", "number out of range", argv[i]);
                done = true;
            }
        if (done)
            continue;
        if (strcmp(argv[i], "--scheme") == 0 && has)
            scheme = argv[++i];
        else if (strcmp(argv[i], "--date") == 0 && has)
            k.date = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && has)
            k.out = argv[++i];
        else if (strcmp(argv[i], "--ebcdic") == 0)
            k.ebcdic = true;
        else if (strcmp(argv[i], "--blocked") == 0)
            k.blocked = true;
        else
            return sc_bad("clearing make-test-file", "unexpected argument", argv[i]);
    }
    if (!scheme || (strcmp(scheme, "mastercard") != 0 && strcmp(scheme, "visa") != 0))
        return sc_bad("clearing make-test-file", "--scheme must be mastercard or visa", scheme);
    k.scheme = strcmp(scheme, "visa") == 0 ? CLR_VISA : CLR_MASTERCARD;
    int y, mo, d;
    char tail;
    if (!k.date || sscanf(k.date, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return sc_bad("clearing make-test-file", "--date must be YYYY-MM-DD", k.date);
    if (!k.out)
        return sc_bad("clearing make-test-file", "missing --out FILE", NULL);
    if (!k.bench_cards != !k.bench_records)
        return sc_bad("clearing make-test-file", "--bench-cards and --records go together", NULL);
    if (k.blocked && k.scheme != CLR_MASTERCARD)
        return sc_bad("clearing make-test-file", "--blocked is for Mastercard IPM files", NULL);
    snprintf(k.yyyymmdd, sizeof k.yyyymmdd, "%04d%02d%02d", y, mo, d);

    struct clr_file_info info = {.scheme = k.scheme, .ebcdic = k.scheme == CLR_MASTERCARD || k.ebcdic,
                                 .blocked = k.blocked};
    snprintf(info.business_day, sizeof info.business_day, "%s", k.yyyymmdd);
    if (k.scheme == CLR_MASTERCARD)
        snprintf(info.file_id, sizeof info.file_id, "002%.6s%011d%05ld", k.yyyymmdd + 2, 777, k.file_seq);
    else
        snprintf(info.file_id, sizeof info.file_id, "453919-%.2s%03d-%03ld", k.yyyymmdd + 2,
                 (int)((mktime(&(struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_isdst = -1}) -
                        mktime(&(struct tm){.tm_year = y - 1900, .tm_mon = 0, .tm_mday = 1, .tm_isdst = -1})) /
                       86400) + 1,
                 k.file_seq % 1000);

    PGconn *db = NULL;
    if (!k.bench_records && !(db = scdb_connect(conninfo)))
        return 1;
    FILE *out = fopen(k.out, "wb");
    if (!out) {
        fprintf(stderr, "switchctl: clearing make-test-file: cannot create %s: %s\n", k.out, strerror(errno));
        PQfinish(db);
        return 1;
    }
    struct clr_writer *w = clr_writer_open(out, &info);
    long n = 0;
    k.firsts = calloc((size_t)(k.reversals > k.duplicates ? k.reversals : k.duplicates) + 1, sizeof *k.firsts);
    bool ok = w && k.firsts &&
              (!db || (add_auths(db, w, &k, &n) && add_cleared(db, w, &k, k.resend_cleared, RESEND_CLEARED, &n) &&
                       add_cleared(db, w, &k, k.resend_reversed, RESEND_REVERSED, &n) &&
                       add_cleared(db, w, &k, k.reverse_cleared, REVERSE_CLEARED, &n))) &&
              add_generated(w, &k, &n);
    /* --duplicates: the acquirer sends the first presentments again. */
    for (long i = 0; ok && i < k.nfirsts && i < k.duplicates; i++)
        ok = add(w, &k.firsts[i], &n);
    /* --reversals: the acquirer takes back the first presentments (same ARN). */
    for (long i = 0; ok && i < k.nfirsts && i < k.reversals; i++) {
        k.firsts[i].kind = CLR_PRESENTMENT_REVERSAL;
        k.firsts[i].reversal = true;
        ok = add(w, &k.firsts[i], &n);
    }
    free(k.firsts);
    if (!w)
        fprintf(stderr, "switchctl: clearing make-test-file: cannot write the file header\n");
    if (w && clr_writer_close(w) != 0) {
        fprintf(stderr, "switchctl: clearing make-test-file: cannot write the trailer of %s\n", k.out);
        ok = false;
    }
    if (fclose(out) != 0)
        ok = false;
    PQfinish(db);
    if (!ok) {
        remove(k.out);
        return 1;
    }
    printf("%s: %s file %s, business day %s, %ld records\n", k.out, scheme, info.file_id, k.date, n);
    return 0;
}

int scclr_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_clearing, false);
    if (argc < 1)
        return sc_bad("clearing", "missing subcommand (import, exceptions, report or make-test-file)", NULL);
    if (strcmp(argv[0], "import") == 0)
        return cmd_import(conninfo, argc - 1, argv + 1);
    if (strcmp(argv[0], "exceptions") == 0)
        return cmd_exceptions(conninfo, argc - 1, argv + 1);
    if (strcmp(argv[0], "report") == 0)
        return cmd_report(conninfo, argc - 1, argv + 1);
    if (strcmp(argv[0], "make-test-file") == 0)
        return cmd_make(conninfo, argc - 1, argv + 1);
    return sc_bad("clearing", "unknown subcommand", argv[0]);
}
