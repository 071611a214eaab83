/* switchctl dispute (see switchctl_dispute.h). The rules (deadlines, what
 * may be credited, finality) live in the database functions; this file
 * reads the command line, calls them and prints what they did. Cards are
 * shown masked; amounts and instants are formatted by the database
 * (ops_money_text(), the bank's time zone). */
#include "switchctl_dispute.h"
#include "switchctl_common.h"
#include "switchctl_db.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage_dispute[] =
    "usage: switchctl dispute open (--auth ID | CARD --rrn RRN | CARD --approval CODE)\n"
    "                              --kind dispute|error-claim --reason TEXT\n"
    "       switchctl dispute show ID\n"
    "       switchctl dispute list [--all | --overdue | --chargebacks] [--now TIMESTAMP]\n"
    "       switchctl dispute review ID [--note TEXT]\n"
    "       switchctl dispute resolve ID (--accept | --reject) --reason TEXT [--credit AMOUNT] [--chargeback]\n"
    "  open     a customer's dispute or error claim on one approved card transaction, named\n"
    "           by its authorisation-log id or by the card and its RRN or approval code.\n"
    "           A dispute raised more than 15 days after the transaction is refused.\n"
    "           Deadlines: reviewed within 30 days, resolved within 90 (bank settings).\n"
    "  show     the dispute, its transaction, deadlines, resolution, history, retention\n"
    "  list     open and under-review disputes; --all every one; --overdue those past a\n"
    "           deadline at TIMESTAMP (default now); --chargebacks accepted ones whose\n"
    "           chargeback is to be raised against the scheme\n"
    "  review   the review has started (meets the 30-day deadline)\n"
    "  resolve  final: --accept, optionally crediting the cardholder AMOUNT (e.g. 25.00,\n"
    "           account currency, at most what the transaction took less what came back)\n"
    "           and marking a chargeback to raise against the scheme (--chargeback: the\n"
    "           credit comes from the chargeback receivable account, otherwise from the\n"
    "           bank's dispute loss account); --reject credits nothing.\n"
    "  CARD is a card id or --pan PAN. Every change is audit-logged with the database user.\n";

static bool is_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

/* Column `name` of row i ("" when NULL). */
static const char *col(PGresult *r, int i, const char *name)
{
    int c = PQfnumber(r, name);
    return c < 0 ? "" : PQgetvalue(r, i, c);
}

/* ---- open ---- */

static int cmd_open(PGconn **db, const char *conninfo, int argc, char **argv)
{
    const char *auth = NULL, *rrn = NULL, *approval = NULL, *kind = NULL, *reason = NULL;
    struct sc_card_arg card = {0};
    for (int i = 0; i < argc; i++) {
        bool has = i + 1 < argc;
        if (strcmp(argv[i], "--auth") == 0 && has)
            auth = argv[++i];
        else if (strcmp(argv[i], "--rrn") == 0 && has)
            rrn = argv[++i];
        else if (strcmp(argv[i], "--approval") == 0 && has)
            approval = argv[++i];
        else if (strcmp(argv[i], "--kind") == 0 && has)
            kind = argv[++i];
        else if (strcmp(argv[i], "--reason") == 0 && has)
            reason = argv[++i];
        else if (!sc_card_take(&card, argc, argv, &i))
            return sc_bad("dispute open", "unexpected argument", argv[i]);
    }
    bool by_card = card.id || card.pan;
    if (!kind || (strcmp(kind, "dispute") != 0 && strcmp(kind, "error-claim") != 0))
        return sc_bad("dispute open", "--kind wants dispute or error-claim, got", kind ? kind : "");
    if (!reason || !*reason)
        return sc_bad("dispute open", "missing --reason TEXT (the customer's reason)", NULL);
    if (auth && (by_card || rrn || approval))
        return sc_bad("dispute open", "name the transaction by --auth ID or by the card with --rrn or --approval, not both",
                      NULL);
    if (auth && !is_id(auth))
        return sc_bad("dispute open", "--auth wants the authorisation-log id (a number), got", auth);
    if (!auth && (!by_card || (!rrn) == (!approval)))
        return sc_bad("dispute open", "name the transaction by --auth ID, or by CARD with one of --rrn and --approval",
                      NULL);
    if (by_card && !sc_card_check(&card))
        return 2;
    if (!(*db = scdb_connect(conninfo)))
        return 1;
    char card_id[32] = "";
    if (by_card && !sc_card_resolve(*db, &card, card_id))
        return 1;
    const char *p[6] = {auth, by_card ? card_id : NULL, rrn, approval,
                        strcmp(kind, "dispute") == 0 ? "dispute" : "error_claim", reason};
    PGresult *r = scdb_exec(*db, "SELECT dispute_open(coalesce($1::bigint, dispute_find_auth($2::bigint, $3, $4)), $5, $6)",
                            6, p);
    if (!r)
        return 1;
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *q[1] = {id};
    r = scdb_exec(*db,
                  "SELECT v.id, replace(v.kind, '_', ' ') AS kind, v.auth_id, v.txn_type, v.pan_masked,"
                  " ops_money_text(v.amount_txn, v.currency_txn) AS amount,"
                  " to_char(v.txn_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS txn_at,"
                  " to_char(v.review_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS review_by,"
                  " to_char(v.resolve_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS resolve_by"
                  " FROM dispute_overview v, bank_settings s WHERE v.id = $1::bigint",
                  1, q);
    if (!r)
        return 1;
    printf("dispute %s opened: %s on transaction %s (%s %s, card %s, %s); review by %s, resolve by %s\n",
           col(r, 0, "id"), col(r, 0, "kind"), col(r, 0, "auth_id"), col(r, 0, "txn_type"), col(r, 0, "amount"),
           col(r, 0, "pan_masked"), col(r, 0, "txn_at"), col(r, 0, "review_by"), col(r, 0, "resolve_by"));
    PQclear(r);
    return 0;
}

/* ---- show ---- */

static int cmd_show(PGconn *db, const char *id)
{
    const char *p[1] = {id};
    PGresult *r = scdb_exec(
        db,
        "SELECT v.id, replace(v.kind, '_', ' ') AS kind, v.status, v.auth_id, v.txn_type,"
        " ops_money_text(v.amount_txn, v.currency_txn) AS amount, ops_money_text(v.charged, v.currency_acct) AS charged,"
        " to_char(v.txn_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS txn_at, v.terminal_id,"
        " CASE WHEN v.own_terminal THEN 'own' ELSE 'other bank''s' END AS whose,"
        " coalesce(v.merchant_id, '-') AS merchant, coalesce(v.rrn, '-') AS rrn, coalesce(v.approval_code, '-') AS approval,"
        " v.pan_masked, v.card_id, v.scheme, coalesce(v.account_number, '-') AS account, v.reason,"
        " to_char(v.opened_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS opened_at, v.opened_by,"
        " to_char(v.review_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS review_by,"
        " to_char(v.resolve_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS resolve_by,"
        " coalesce(' (' || upper(dispute_overdue(v.status, v.review_by, v.resolve_by, now())) || ')', '') AS overdue,"
        " coalesce(to_char(v.resolved_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI'), '') AS resolved_at,"
        " coalesce(v.resolved_by, '') AS resolved_by, coalesce(v.resolution, '') AS resolution,"
        " CASE WHEN v.credit_amount > 0 THEN 'credited ' || ops_money_text(v.credit_amount, v.credit_currency)"
        "      || ' (journal entry ' || v.entry_id || ')' ELSE 'no credit' END AS credit,"
        " CASE WHEN v.chargeback THEN ', chargeback to be raised against ' || v.scheme ELSE '' END AS chargeback,"
        " ops_money_text(greatest(dispute_creditable(v.auth_id), 0), v.currency_acct) AS creditable,"
        " v.retention_class, v.keep::text AS keep,"
        " coalesce('kept until ' || to_char(v.keep_until AT TIME ZONE s.business_tz, 'YYYY-MM-DD'),"
        "          'kept while unresolved, then ' || v.keep::text) AS kept"
        " FROM dispute_overview v, bank_settings s WHERE v.id = $1::bigint",
        1, p);
    if (!r)
        return 1;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "switchctl: no dispute %s\n", id);
        PQclear(r);
        return 1;
    }
    printf("dispute %s: %s, %s\n", col(r, 0, "id"), col(r, 0, "kind"), col(r, 0, "status"));
    printf("  transaction  %s: %s %s (account: %s with fees) on %s, %s terminal %s, merchant %s, RRN %s, approval %s\n",
           col(r, 0, "auth_id"), col(r, 0, "txn_type"), col(r, 0, "amount"), col(r, 0, "charged"), col(r, 0, "txn_at"),
           col(r, 0, "whose"), col(r, 0, "terminal_id"), col(r, 0, "merchant"), col(r, 0, "rrn"),
           col(r, 0, "approval"));
    printf("  card         %s (id %s, %s), account %s\n", col(r, 0, "pan_masked"), col(r, 0, "card_id"),
           col(r, 0, "scheme"), col(r, 0, "account"));
    printf("  reason       %s\n", col(r, 0, "reason"));
    printf("  opened       %s by %s\n", col(r, 0, "opened_at"), col(r, 0, "opened_by"));
    printf("  deadlines    review by %s, resolve by %s%s\n", col(r, 0, "review_by"), col(r, 0, "resolve_by"),
           col(r, 0, "overdue"));
    if (*col(r, 0, "resolved_at"))
        printf("  resolved     %s by %s: %s, %s%s; reason: %s\n", col(r, 0, "resolved_at"), col(r, 0, "resolved_by"),
               col(r, 0, "status"), col(r, 0, "credit"), col(r, 0, "chargeback"), col(r, 0, "resolution"));
    printf("  creditable   %s more\n", col(r, 0, "creditable"));
    printf("  retention    %s (%s): %s\n", col(r, 0, "retention_class"), col(r, 0, "keep"), col(r, 0, "kept"));
    PQclear(r);
    r = scdb_exec(db,
                  "SELECT to_char(e.at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI') AS at, e.status, e.operator,"
                  " coalesce(e.note, '') AS note FROM dispute_events e, bank_settings s"
                  " WHERE e.dispute_id = $1::bigint ORDER BY e.id",
                  1, p);
    if (!r)
        return 1;
    printf("  history\n");
    for (int i = 0; i < PQntuples(r); i++)
        printf("    %s  %-9s  %s  %s\n", col(r, i, "at"), col(r, i, "status"), col(r, i, "operator"),
               col(r, i, "note"));
    PQclear(r);
    return 0;
}

/* ---- list ---- */

static int cmd_list(PGconn **db, const char *conninfo, int argc, char **argv)
{
    const char *which = "open", *now = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "--overdue") == 0 ||
            strcmp(argv[i], "--chargebacks") == 0) {
            if (strcmp(which, "open") != 0)
                return sc_bad("dispute list", "--all, --overdue and --chargebacks exclude each other", NULL);
            which = argv[i] + 2;
        } else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
            now = argv[++i];
        } else {
            return sc_bad("dispute list", "unexpected argument", argv[i]);
        }
    }
    if (!(*db = scdb_connect(conninfo)))
        return 1;
    if (!sc_valid_time(*db, now))
        return sc_bad("dispute list", "--now wants a timestamp (e.g. '2025-01-31 12:00+07'), got", now);
    const char *p[2] = {now, which};
    PGresult *r = scdb_exec(
        *db,
        "SELECT v.id, replace(v.kind, '_', '-') AS kind, v.status,"
        " to_char(v.opened_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD') AS opened, v.pan_masked, v.txn_type,"
        " ops_money_text(v.amount_txn, v.currency_txn) AS amount,"
        " CASE WHEN v.resolved_at IS NULL THEN"
        "   'review by ' || to_char(v.review_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD')"
        "   || ', resolve by ' || to_char(v.resolve_by AT TIME ZONE s.business_tz, 'YYYY-MM-DD')"
        "   || coalesce('  ' || upper(dispute_overdue(v.status, v.review_by, v.resolve_by, t.now)), '')"
        " ELSE 'resolved ' || to_char(v.resolved_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD')"
        "   || CASE WHEN v.credit_amount > 0 THEN ', credited ' || ops_money_text(v.credit_amount, v.credit_currency)"
        "      ELSE '' END || CASE WHEN v.chargeback THEN ', chargeback to raise (' || v.scheme || ')' ELSE '' END"
        " END AS state"
        " FROM dispute_overview v, bank_settings s, (SELECT coalesce($1::timestamptz, now()) AS now) t"
        " WHERE CASE $2 WHEN 'all' THEN true"
        "               WHEN 'overdue' THEN dispute_overdue(v.status, v.review_by, v.resolve_by, t.now) IS NOT NULL"
        "               WHEN 'chargebacks' THEN v.status = 'accepted' AND v.chargeback"
        "               ELSE v.status IN ('open', 'reviewing') END"
        " ORDER BY v.id",
        2, p);
    if (!r)
        return 1;
    if (PQntuples(r) == 0)
        printf("%s\n", strcmp(which, "all") == 0           ? "no disputes"
                       : strcmp(which, "overdue") == 0     ? "no overdue disputes"
                       : strcmp(which, "chargebacks") == 0 ? "no chargebacks to raise"
                                                           : "no open disputes");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%6s  %-11s  %-9s  opened %s  %s  %-8s %16s  %s\n", col(r, i, "id"), col(r, i, "kind"),
               col(r, i, "status"), col(r, i, "opened"), col(r, i, "pan_masked"), col(r, i, "txn_type"),
               col(r, i, "amount"), col(r, i, "state"));
    PQclear(r);
    return 0;
}

/* ---- review, resolve ---- */

static int cmd_review(PGconn **db, const char *conninfo, int argc, char **argv)
{
    const char *id = NULL, *note = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--note") == 0 && i + 1 < argc)
            note = argv[++i];
        else if (!id && argv[i][0] != '-')
            id = argv[i];
        else
            return sc_bad("dispute review", "unexpected argument", argv[i]);
    }
    if (!id || !is_id(id))
        return sc_bad("dispute review", "wants the dispute's id (a number), got", id ? id : "");
    if (!(*db = scdb_connect(conninfo)))
        return 1;
    const char *p[2] = {id, note};
    PGresult *r = scdb_exec(*db, "SELECT dispute_review($1::bigint, $2)", 2, p);
    if (!r)
        return 1;
    PQclear(r);
    printf("dispute %s: under review\n", id);
    return 0;
}

static int cmd_resolve(PGconn **db, const char *conninfo, int argc, char **argv)
{
    const char *id = NULL, *reason = NULL, *credit = NULL;
    int accept = -1;
    bool chargeback = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--accept") == 0 || strcmp(argv[i], "--reject") == 0) {
            int a = strcmp(argv[i], "--accept") == 0;
            if (accept >= 0 && accept != a)
                return sc_bad("dispute resolve", "--accept and --reject exclude each other", NULL);
            accept = a;
        } else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
            reason = argv[++i];
        } else if (strcmp(argv[i], "--credit") == 0 && i + 1 < argc) {
            credit = argv[++i];
        } else if (strcmp(argv[i], "--chargeback") == 0) {
            chargeback = true;
        } else if (!id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            return sc_bad("dispute resolve", "unexpected argument", argv[i]);
        }
    }
    if (!id || !is_id(id))
        return sc_bad("dispute resolve", "wants the dispute's id (a number), got", id ? id : "");
    if (accept < 0)
        return sc_bad("dispute resolve", "say --accept or --reject", NULL);
    if (!reason || !*reason)
        return sc_bad("dispute resolve", "missing --reason TEXT", NULL);
    if (!accept && (credit || chargeback))
        return sc_bad("dispute resolve", "--credit and --chargeback go with --accept", NULL);
    char minor[24] = "0";
    if (credit && !sc_parse_amount(credit, minor))
        return sc_bad("dispute resolve", "--credit wants an amount like 25.00, got", credit);
    if (!(*db = scdb_connect(conninfo)))
        return 1;
    const char *p[5] = {id, accept ? "t" : "f", reason, minor, chargeback ? "t" : "f"};
    PGresult *r = scdb_exec(*db, "SELECT dispute_resolve($1::bigint, $2::boolean, $3, $4::bigint, $5::boolean)", 5, p);
    if (!r)
        return 1;
    PQclear(r);
    r = scdb_exec(*db,
                  "SELECT v.status, v.account_number, v.scheme, v.entry_id,"
                  " ops_money_text(v.credit_amount, v.credit_currency) AS credit, v.credit_amount > 0 AS credited,"
                  " a.number AS source"
                  " FROM dispute_overview v LEFT JOIN journal_lines l ON l.entry_id = v.entry_id AND l.amount < 0"
                  " LEFT JOIN accounts a ON a.id = l.account_id WHERE v.id = $1::bigint",
                  1, p);
    if (!r)
        return 1;
    printf("dispute %s %s", id, col(r, 0, "status"));
    if (strcmp(col(r, 0, "credited"), "t") == 0)
        printf(": %s credited to account %s from %s (journal entry %s)", col(r, 0, "credit"),
               col(r, 0, "account_number"), col(r, 0, "source"), col(r, 0, "entry_id"));
    if (chargeback)
        printf("%s chargeback to be raised against %s", strcmp(col(r, 0, "credited"), "t") == 0 ? ";" : ":",
               col(r, 0, "scheme"));
    printf("\n");
    PQclear(r);
    return 0;
}

int scdisp_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_dispute, false);
    if (argc < 1)
        return sc_bad("dispute", "missing subcommand (open, show, list, review or resolve)", NULL);
    const char *verb = argv[0];
    PGconn *db = NULL;
    int rc;
    if (strcmp(verb, "open") == 0) {
        rc = cmd_open(&db, conninfo, argc - 1, argv + 1);
    } else if (strcmp(verb, "show") == 0) {
        if (argc != 2 || !is_id(argv[1]))
            return sc_bad("dispute show", "wants the dispute's id (a number), got", argc > 1 ? argv[1] : "");
        db = scdb_connect(conninfo);
        rc = db ? cmd_show(db, argv[1]) : 1;
    } else if (strcmp(verb, "list") == 0) {
        rc = cmd_list(&db, conninfo, argc - 1, argv + 1);
    } else if (strcmp(verb, "review") == 0) {
        rc = cmd_review(&db, conninfo, argc - 1, argv + 1);
    } else if (strcmp(verb, "resolve") == 0) {
        rc = cmd_resolve(&db, conninfo, argc - 1, argv + 1);
    } else {
        return sc_bad("dispute", "unknown subcommand", verb);
    }
    PQfinish(db);
    return rc;
}
