/* switchctl report: runs one of the report functions of migration 021 and
 * prints its rows as an aligned table or as CSV (see switchctl_report.h). */
#include "switchctl_report.h"
#include "switchctl_common.h"
#include "switchctl_db.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_report[] =
    "usage: switchctl report auths|fees|fx|holds|retention --date YYYY-MM-DD [--csv]\n"
    "       switchctl report statement --account ACCOUNT --from YYYY-MM-DD --to YYYY-MM-DD [--csv]\n"
    "  auths      the day's authorisations by channel (ATM, POS: the bank's terminals;\n"
    "             network: other acquirers), currency and response code: counts, amounts,\n"
    "             and per channel and currency the approval rate\n"
    "  fees       fee income booked that day, from the ledger (fee income accounts and the\n"
    "             conversion fees on the FX income accounts) by product, fee type and\n"
    "             currency: charged, refunded by reversals, net\n"
    "  fx         FX income that day per currency pair: conversions, what the bank paid out\n"
    "             and took in, conversion fees, the FX position's result at the reference rate\n"
    "  holds      holds outstanding at the end of the day by currency and age (0-1, 2-7,\n"
    "             8-14, 15-32, over 32 days)\n"
    "  statement  a customer account's statement between two business days: date,\n"
    "             description (masked card, merchant or terminal), debit, credit, running\n"
    "             balance, opening and closing balance, in the account's currency\n"
    "  retention  dry run of the retention purge: per retention class and table, the rows\n"
    "             past their retention period as of the day; nothing is deleted\n"
    "  Days are business days in the bank's time zone (Asia/Phnom_Penh). ACCOUNT is an\n"
    "  account id or number. --csv: comma-separated values with a header line. Every run\n"
    "  is recorded in audit_log (action report).\n";

struct report {
    const char *name;
    const char *sql;     /* $1 the day; statement: $1 account id, $2 from, $3 to */
    const char *title;   /* heading of the text form, followed by the day */
};

static const struct report reports[] = {
    {"auths", "SELECT * FROM report_auths($1::date)", "authorisations of business day"},
    {"fees", "SELECT * FROM report_fees($1::date)", "fee income booked on business day"},
    {"fx", "SELECT * FROM report_fx($1::date)", "FX income of business day"},
    {"holds", "SELECT * FROM report_holds($1::date)", "holds outstanding at the end of business day"},
    {"retention", "SELECT * FROM report_retention($1::date)",
     "retention purge dry run (nothing is deleted) as of business day"},
    {"statement", "SELECT * FROM report_statement($1::bigint, $2::date, $3::date)", NULL},
};

struct report_args {
    const char *date, *from, *to, *account;
    bool csv;
};

/* A real calendar day written YYYY-MM-DD. */
static bool valid_day(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

/* ---- output ---- */

/* Type oids of the numbers the report functions return (PostgreSQL's
 * pg_type.dat; libpq has no header for them): right-aligned, and their
 * digits grouped in the text form. */
static bool is_number(Oid t)
{
    return t == 20 || t == 21 || t == 23 || t == 1700;
}

/* "-1234567.89" -> "-1,234,567.89"; anything that is not a plain number
 * is copied as it is. */
static void group_digits(const char *in, char *out, size_t n)
{
    const char *p = in + (*in == '-');
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || (p[digits] != '\0' && p[digits] != '.') || strlen(in) + digits / 3 + 1 > n) {
        snprintf(out, n, "%s", in);
        return;
    }
    size_t o = 0;
    if (*in == '-')
        out[o++] = '-';
    for (size_t i = 0; i < digits; i++) {
        if (i > 0 && (digits - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = p[i];
    }
    snprintf(out + o, n - o, "%s", p + digits);
}

/* Display width of UTF-8 text: code points, not bytes (merchant names). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* One cell of the text form into buf (numbers grouped); NULL is empty. */
static const char *text_cell(const PGresult *r, int row, int col, char *buf, size_t n)
{
    if (PQgetisnull(r, row, col))
        return "";
    const char *v = PQgetvalue(r, row, col);
    if (!is_number(PQftype(r, col)))
        return v;
    group_digits(v, buf, n);
    return buf;
}

static void print_padded(const char *s, int width, bool right, bool last)
{
    int pad = width - text_width(s);
    if (right)
        printf("%*s%s", pad > 0 ? pad : 0, "", s);
    else if (last)
        fputs(s, stdout);
    else
        printf("%s%*s", s, pad > 0 ? pad : 0, "");
}

static void print_text(const PGresult *r)
{
    int nc = PQnfields(r), nr = PQntuples(r);
    int *width = calloc((size_t)nc, sizeof *width);
    char head[64], cell[64];
    if (!width) {
        fprintf(stderr, "switchctl: report: out of memory\n");
        return;
    }
    for (int c = 0; c < nc; c++) {
        width[c] = text_width(PQfname(r, c));
        for (int i = 0; i < nr; i++) {
            int w = text_width(text_cell(r, i, c, cell, sizeof cell));
            if (w > width[c])
                width[c] = w;
        }
    }
    /* Header: the column names, words apart. */
    for (int c = 0; c < nc; c++) {
        snprintf(head, sizeof head, "%s", PQfname(r, c));
        for (char *p = head; *p; p++)
            if (*p == '_')
                *p = ' ';
        fputs("  ", stdout);
        print_padded(head, width[c], is_number(PQftype(r, c)), c == nc - 1);
    }
    fputs("\n", stdout);
    for (int c = 0; c < nc; c++) {
        fputs("  ", stdout);
        for (int k = 0; k < width[c]; k++)
            fputc('-', stdout);
    }
    fputs("\n", stdout);
    for (int i = 0; i < nr; i++) {
        for (int c = 0; c < nc; c++) {
            fputs("  ", stdout);
            print_padded(text_cell(r, i, c, cell, sizeof cell), width[c], is_number(PQftype(r, c)), c == nc - 1);
        }
        fputs("\n", stdout);
    }
    if (nr == 0)
        fputs("  (none)\n", stdout);
    free(width);
}

/* RFC 4180: a field with a comma, quote or line break is quoted, quotes
 * doubled. Text that a spreadsheet would take for a formula (a merchant
 * name from a clearing file starting with '=', '+', '-' or '@') gets a
 * leading apostrophe; numbers, and the lone "-" of an empty cell, are left
 * alone. */
static void print_csv_field(const char *v, bool number)
{
    bool formula = !number && *v && strchr("=+-@", *v) && strcmp(v, "-") != 0;
    if (!formula && !strpbrk(v, ",\"\r\n")) {
        fputs(v, stdout);
        return;
    }
    fputc('"', stdout);
    if (formula)
        fputc('\'', stdout);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', stdout);
        fputc(*v, stdout);
    }
    fputc('"', stdout);
}

static void print_csv(const PGresult *r)
{
    int nc = PQnfields(r);
    for (int c = 0; c < nc; c++)
        printf("%s%s", c ? "," : "", PQfname(r, c));
    fputs("\n", stdout);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < nc; c++) {
            if (c)
                fputc(',', stdout);
            print_csv_field(PQgetvalue(r, i, c), is_number(PQftype(r, c)));
        }
        fputs("\n", stdout);
    }
}

/* ---- running ---- */

static bool exec_ok(PGconn *db, const char *sql)
{
    PGresult *r = scdb_exec(db, sql, 0, NULL);
    PQclear(r);
    return r != NULL;
}

/* The statement's account: its id, and the heading's words into head.
 * False after a one-line error. */
static bool statement_account(PGconn *db, const char *account, char id[32], char *head, size_t n)
{
    const char *p[1] = {account};
    PGresult *r = scdb_exec(db,
                            "SELECT a.id, a.number, a.kind, c.alpha, coalesce(cu.full_name, ''), a.status"
                            " FROM accounts a JOIN currencies c ON c.code = a.currency"
                            " LEFT JOIN customers cu ON cu.id = a.customer_id"
                            " WHERE a.number = $1 OR a.id::text = $1",
                            1, p);
    if (!r)
        return false;
    bool ok = PQntuples(r) == 1;
    if (!ok)
        fprintf(stderr, "switchctl: report statement: no account %s\n", account);
    else if (strcmp(PQgetvalue(r, 0, 2), "internal") == 0) {
        fprintf(stderr, "switchctl: report statement: account %s is one of the bank's own accounts, not a customer's\n",
                account);
        ok = false;
    } else {
        snprintf(id, 32, "%s", PQgetvalue(r, 0, 0));
        snprintf(head, n, "statement of account %s (%s, %s, %s), %s", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                 PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 4));
    }
    PQclear(r);
    return ok;
}

/* One run in one REPEATABLE READ transaction: the report's rows and its
 * audit_log row; printed once committed. */
static int run(PGconn *db, const struct report *rep, const struct report_args *a)
{
    bool statement = rep->title == NULL;
    char id[32] = "", head[512] = "", tz[64] = "", rows[16];
    PGresult *r = NULL;
    if (!exec_ok(db, "BEGIN ISOLATION LEVEL REPEATABLE READ"))
        return 1;
    PGresult *s = scdb_exec(db, "SELECT business_tz FROM bank_settings", 0, NULL);
    bool ok = s && PQntuples(s) == 1;
    if (ok)
        snprintf(tz, sizeof tz, "%s", PQgetvalue(s, 0, 0));
    PQclear(s);
    if (ok && statement)
        ok = statement_account(db, a->account, id, head, sizeof head);
    if (ok) {
        const char *p[3] = {statement ? id : a->date, a->from, a->to};
        r = scdb_exec(db, rep->sql, statement ? 3 : 1, p);
        ok = r != NULL;
    }
    if (ok) {
        snprintf(rows, sizeof rows, "%d", PQntuples(r));
        const char *p[7] = {rep->name, a->date, a->from, a->to, a->account, a->csv ? "csv" : "text", rows};
        PGresult *ins = scdb_exec(db,
                                  "INSERT INTO audit_log (action, object, details) VALUES ('report', 'report:' || $1::text,"
                                  " jsonb_strip_nulls(jsonb_build_object('date', $2::date, 'from', $3::date,"
                                  " 'to', $4::date, 'account', $5::text, 'format', $6::text, 'rows', $7::int)))",
                                  7, p);
        ok = ins != NULL;
        PQclear(ins);
    }
    ok = ok && exec_ok(db, "COMMIT");
    if (!ok) {
        PQclear(r);
        PQclear(PQexec(db, "ROLLBACK"));
        return 1;
    }
    if (a->csv)
        print_csv(r);
    else if (statement)
        printf("%s\nbusiness days %s to %s (%s)\n\n", head, a->from, a->to, tz);
    else
        printf("%s %s (%s)\n\n", rep->title, a->date, tz);
    if (!a->csv)
        print_text(r);
    PQclear(r);
    return 0;
}

int screp_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_report, false);
    if (argc < 1)
        return sc_bad("report", "missing report name (auths, fees, fx, holds, statement or retention)", NULL);
    const struct report *rep = NULL;
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++)
        if (strcmp(argv[0], reports[i].name) == 0)
            rep = &reports[i];
    if (!rep)
        return sc_bad("report", "unknown report", argv[0]);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "report %s", rep->name);
    bool statement = rep->title == NULL;
    struct report_args a = {0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = NULL;
        if (strcmp(o, "--csv") == 0) {
            a.csv = true;
            continue;
        }
        if (!statement && strcmp(o, "--date") == 0)
            slot = &a.date;
        else if (statement && strcmp(o, "--account") == 0)
            slot = &a.account;
        else if (statement && strcmp(o, "--from") == 0)
            slot = &a.from;
        else if (statement && strcmp(o, "--to") == 0)
            slot = &a.to;
        if (!slot || i + 1 >= argc)
            return sc_bad(cmd, slot ? "missing value after" : "unexpected argument", o);
        *slot = argv[++i];
    }
    if (statement && (!a.account || !a.from || !a.to))
        return sc_bad(cmd, "needs --account ACCOUNT --from YYYY-MM-DD --to YYYY-MM-DD", NULL);
    if (!statement && !a.date)
        return sc_bad(cmd, "missing --date YYYY-MM-DD", NULL);
    const char *days[3] = {a.date, a.from, a.to};
    for (int i = 0; i < 3; i++)
        if (days[i] && !valid_day(days[i]))
            return sc_bad(cmd, "not a day (YYYY-MM-DD)", days[i]);
    if (statement && strcmp(a.from, a.to) > 0)
        return sc_bad(cmd, "--from is after --to", NULL);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = run(db, rep, &a);
    PQfinish(db);
    return rc;
}
