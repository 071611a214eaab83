/* switchctl: the operator's command line for the card switch database.
 * Errors: one line on stderr, exit 1 (usage errors exit 2). Output never
 * shows a full PAN: cards are shown by id and masked PAN. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchctl_cardless.h"
#include "switchctl_clearing.h"
#include "switchctl_common.h"
#include "switchctl_db.h"
#include "switchctl_dispute.h"
#include "switchctl_eod.h"
#include "switchctl_pin.h"
#include "switchctl_report.h"
#include "switchctl_stop.h"
#include "switchctl_term.h"

static const char *opt_db;
static const char *opt_schema = SWITCH_SCHEMA_DIR;

static const char usage_main[] =
    "usage: switchctl [--db CONNINFO] [--schema-dir DIR] COMMAND ...\n"
    "  db init              create the database if missing, then migrate\n"
    "  db migrate           apply the numbered migrations in the schema dir\n"
    "  load demo            load the demo bank (customers, accounts, cards, terminals, rates)\n"
    "  card show|block|unblock|lost|stolen|close|pin-reset CARD [--reason TEXT]\n"
    "  account show ACCOUNT  balances, active holds, last transactions\n"
    "  terminal set-tmk|show|list  terminal master keys (key ceremony), key check values\n"
    "  cardless send|list|expire   cardless-cash vouchers (code checked by hsm-sim)\n"
    "  stop-payment add|list|remove CARD  a customer's stop on a merchant's recurring charges\n"
    "  holds expire [--now TIMESTAMP]  release holds nobody presented in time\n"
    "  clearing import|exceptions|report|make-test-file  scheme clearing files (IPM, BASE II)\n"
    "  report auths|fees|fx|holds|statement|retention  operators' reports (text or --csv)\n"
    "  dispute open|show|list|review|resolve  disputes and error claims on a card transaction\n"
    "  eod --date YYYY-MM-DD  end of day: hold and voucher expiry, annual fees, clearing check\n"
    "CARD is a card id or --pan PAN (hashed with SWITCH_PAN_HMAC_KEY, never sent in clear);\n"
    "ACCOUNT is an account id or number. The connection comes from --db or PG* variables.\n";

/* ---- db ---- */

static const char usage_db[] = "usage: switchctl db init|migrate\n"
                               "  init     create the database named by the connection if missing, then migrate\n"
                               "  migrate  apply schema/NNN_*.sql not yet applied (recorded in schema_migrations)\n";

static int cmd_db(int argc, char **argv)
{
    if (argc < 1 || sc_wants_help(argc, argv))
        return sc_usage(usage_db, argc < 1);
    bool init = strcmp(argv[0], "init") == 0;
    if (!init && strcmp(argv[0], "migrate") != 0)
        return sc_usage(usage_db, true);
    if (init) {
        /* Connect to the maintenance database with the same parameters. */
        const char *kw[] = {"dbname", "dbname", NULL};
        const char *val[] = {opt_db ? opt_db : "", "postgres", NULL};
        PGconn *m = PQconnectdbParams(kw, val, 1);
        if (PQstatus(m) != CONNECTION_OK) {
            fprintf(stderr, "switchctl: cannot connect to the server: %.*s\n",
                    (int)strcspn(PQerrorMessage(m), "\n"), PQerrorMessage(m));
            PQfinish(m);
            return 1;
        }
        PGconn *probe = PQconnectdb(opt_db ? opt_db : "");
        if (PQstatus(probe) != CONNECTION_OK) {
            /* Name of the target database from the same connection string. */
            PQconninfoOption *opts = PQconninfoParse(opt_db ? opt_db : "", NULL);
            const char *name = getenv("PGDATABASE");
            for (PQconninfoOption *o = opts; o && o->keyword; o++)
                if (strcmp(o->keyword, "dbname") == 0 && o->val)
                    name = o->val;
            if (!name) {
                fprintf(stderr, "switchctl: no database name (set PGDATABASE or dbname= in --db)\n");
                PQconninfoFree(opts);
                PQfinish(m);
                return 1;
            }
            char *ident = PQescapeIdentifier(m, name, strlen(name));
            char sql[512];
            snprintf(sql, sizeof sql, "CREATE DATABASE %s", ident ? ident : "\"\"");
            PQfreemem(ident);
            PGresult *r = scdb_exec(m, sql, 0, NULL);
            PQconninfoFree(opts);
            if (!r) {
                PQfinish(m);
                return 1;
            }
            PQclear(r);
            fprintf(stderr, "switchctl: created database\n");
        }
        PQfinish(probe);
        PQfinish(m);
    }
    PGconn *db = scdb_connect(opt_db);
    if (!db)
        return 1;
    bool ok = scdb_migrate(db, opt_schema, false);
    PQfinish(db);
    return ok ? 0 : 1;
}

/* ---- load demo ---- */

static const char usage_load[] =
    "usage: switchctl load demo [--hsm HOST:PORT]\n"
    "  Loads schema/demo/demo.sql: customers, USD and KHR accounts, cards on all eight\n"
    "  products, ATMs, POS terminals, merchants, today's rates. PANs are hashed with\n"
    "  SWITCH_PAN_HMAC_KEY and encrypted with SWITCH_PAN_ENC_KEY (hex, 32 bytes each);\n"
    "  without them fixed demo keys are used and a warning is printed. Idempotent.\n"
    "  --hsm (or SWITCH_HSM): a running hsm-sim generates the PVK and each demo card's\n"
    "  PVV for the demo PIN " DEMO_PIN "; cards without PIN data get it on a later run.\n"
    "  It also forms each demo terminal's TMK from schema/demo/terminal_tmks.txt (public\n"
    "  test keys) if hsm-sim runs with --authorised; otherwise one warning, exit 0.\n"
    "  Terminals that have a TMK keep it.\n";

/* What the demo needs from hsm-sim: PIN data, CVV keys, then terminal
 * master keys. */
static int demo_hsm_data(PGconn *db, const char *hsm_addr)
{
    schsm *hsm = schsm_open(hsm_addr);
    if (!hsm)
        return 1;
    int rc = demo_pin_data(db, hsm);
    if (rc == 0)
        rc = demo_cvk_data(db, hsm);
    if (rc == 0)
        rc = demo_terminal_tmks(db, hsm, opt_schema);
    if (rc == 0)
        rc = demo_terminal_bdks(db, hsm, opt_schema);
    schsm_close(hsm);
    return rc;
}

static int cmd_load(int argc, char **argv)
{
    if (argc < 1 || sc_wants_help(argc, argv) || strcmp(argv[0], "demo") != 0)
        return sc_usage(usage_load, argc < 1 || !sc_wants_help(argc, argv));
    const char *hsm = getenv("SWITCH_HSM");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hsm") == 0 && i + 1 < argc)
            hsm = argv[++i];
        else
            return sc_usage(usage_load, true);
    }
    PGconn *db = scdb_connect(opt_db);
    if (!db)
        return 1;
    const char *p[2] = {sc_pan_key("SWITCH_PAN_HMAC_KEY", sc_demo_hmac_key, true),
                        sc_pan_key("SWITCH_PAN_ENC_KEY", sc_demo_enc_key, true)};
    /* Session settings the demo SQL reads; set_config keeps them out of
     * the server log's statement text. */
    PGresult *r = scdb_exec(db, "SELECT set_config('cardswitch.pan_hmac_key', $1, false),"
                                "       set_config('cardswitch.pan_enc_key', $2, false)", 2, p);
    bool ok = r != NULL;
    PQclear(r);
    if (ok) {
        r = scdb_exec(db, "SELECT 1 FROM customers LIMIT 1", 0, NULL);
        ok = r != NULL;
        if (r && PQntuples(r) > 0) {
            printf("demo already loaded\n");
            PQclear(r);
            int rc = hsm ? demo_hsm_data(db, hsm) : 0;
            PQfinish(db);
            return rc;
        }
        PQclear(r);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/demo/demo.sql", opt_schema);
    ok = ok && scdb_run_file(db, path);
    if (ok) {
        r = scdb_exec(db, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM accounts),"
                          " (SELECT count(*) FROM cards), (SELECT count(*) FROM terminals)", 0, NULL);
        if (r) {
            printf("demo bank: %s customers, %s accounts, %s cards, %s terminals\n", PQgetvalue(r, 0, 0),
                   PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
            PQclear(r);
        }
    }
    if (ok && hsm)
        ok = demo_hsm_data(db, hsm) == 0;
    else if (ok)
        fprintf(stderr, "switchctl: note: no --hsm given, demo cards have no PIN data yet"
                        " (run 'switchctl load demo --hsm HOST:PORT' again)\n");
    PQfinish(db);
    return ok ? 0 : 1;
}

/* ---- card ---- */

static const char usage_card[] =
    "usage: switchctl card show|block|unblock|lost|stolen|close|pin-reset (CARD_ID | --pan PAN) [--reason TEXT]\n"
    "  show     masked PAN, product, account, status with reason and instant, PIN tries\n"
    "  block    temporarily blocked by the bank (answers 62)   unblock  back to active\n"
    "  lost     reported lost (41)   stolen  reported stolen (43)   close  closed for good\n"
    "  pin-reset  wrong-PIN count back to 0 after a lock-out (75), audit-logged\n"
    "  The instant of the change is recorded to the microsecond; later transactions are declined.\n";

static int card_show(PGconn *db, const char *id)
{
    const char *p[1] = {id};
    PGresult *r = scdb_exec(db,
                            "SELECT c.id, c.pan_masked, p.code, a.number, c.status, coalesce(c.status_reason,''),"
                            " to_char(c.status_changed_at AT TIME ZONE 'Asia/Phnom_Penh','YYYY-MM-DD HH24:MI:SS.MS'),"
                            " to_char(c.expiry,'MM/YY'), c.service_code, c.pin_tries, coalesce(c.pin_method::text,'NONE'),"
                            " CASE WHEN c.is_primary THEN 'primary' ELSE 'supplementary' END,"
                            " coalesce(c.customer_daily_limit::text,''), cu.full_name"
                            " FROM cards c JOIN products p ON p.id=c.product_id JOIN accounts a ON a.id=c.account_id"
                            " JOIN customers cu ON cu.id=c.customer_id WHERE c.id=$1::bigint",
                            1, p);
    if (!r)
        return 1;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "switchctl: no card %s\n", id);
        PQclear(r);
        return 1;
    }
    char lim[32] = "product's";
    if (*PQgetvalue(r, 0, 12))
        sc_fmt_money(PQgetvalue(r, 0, 12), lim, sizeof lim);
    printf("card %s  %s  %s  %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
           PQgetvalue(r, 0, 11));
    printf("  holder   %s\n  account  %s\n", PQgetvalue(r, 0, 13), PQgetvalue(r, 0, 3));
    printf("  status   %s since %s (Phnom Penh)%s%s\n", PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 6),
           *PQgetvalue(r, 0, 5) ? ", reason: " : "", PQgetvalue(r, 0, 5));
    printf("  expiry   %s  service code %s\n", PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8));
    printf("  PIN      %s, %s wrong tries\n", PQgetvalue(r, 0, 10), PQgetvalue(r, 0, 9));
    printf("  daily limit (customer) %s USD\n", lim);
    PQclear(r);
    return 0;
}

static int cmd_card(int argc, char **argv)
{
    if (argc < 1 || sc_wants_help(argc, argv))
        return sc_usage(usage_card, argc < 1);
    const char *verb = argv[0], *reason = NULL;
    struct sc_card_arg card = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (!sc_card_take(&card, argc, argv, &i))
            return sc_usage(usage_card, true);
    }
    static const struct { const char *verb, *status; } verbs[] = {
        {"block", "blocked_bank"}, {"unblock", "active"},  {"lost", "lost"},   {"stolen", "stolen"},
        {"close", "closed"},       {"pin-reset", NULL},    {"show", NULL}};
    const char *status = NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verb, verbs[i].verb) == 0) {
            known = true;
            status = verbs[i].status;
        }
    if (!known)
        return sc_usage(usage_card, true);
    if (!sc_card_check(&card))
        return 2;
    PGconn *db = scdb_connect(opt_db);
    if (!db)
        return 1;
    char id[32];
    int rc = 1;
    if (sc_card_resolve(db, &card, id)) {
        const char *p[3] = {id, status, reason ? reason : verb};
        PGresult *r = NULL;
        if (status)
            r = scdb_exec(db, "SELECT card_set_status($1::bigint, $2::card_status, $3)", 3, p);
        else if (strcmp(verb, "pin-reset") == 0)
            r = scdb_exec(db, "SELECT card_pin_reset($1::bigint)", 1, p);
        else
            r = scdb_exec(db, "SELECT 1", 0, NULL);
        if (r) {
            PQclear(r);
            rc = card_show(db, id);
        }
    }
    PQfinish(db);
    return rc;
}

/* ---- account ---- */

static const char usage_account[] =
    "usage: switchctl account show ACCOUNT [--last N]\n"
    "  ledger balance (sum of posted lines), available balance\n"
    "  (ledger - holds - minimum + overdraft), active holds, last N postings (default 10)\n";

static int cmd_account(int argc, char **argv)
{
    if (argc < 2 || sc_wants_help(argc, argv) || strcmp(argv[0], "show") != 0)
        return sc_usage(usage_account, !sc_wants_help(argc, argv));
    const char *last = "10";
    if (argc == 4 && strcmp(argv[2], "--last") == 0)
        last = argv[3];
    else if (argc != 2)
        return sc_usage(usage_account, true);
    PGconn *db = scdb_connect(opt_db);
    if (!db)
        return 1;
    int rc = 1;
    const char *p[1] = {argv[1]};
    char led[32], held[32], av[32], mn[32], od[32], aid[32];
    const char *cur;
    const char *ph[1] = {aid};
    const char *pl[2] = {aid, last};
    PGresult *r = scdb_exec(db,
                            "SELECT a.id, a.number, a.kind, a.currency, a.status, a.ledger_balance, a.held_amount,"
                            " account_available(a), a.minimum_balance, a.overdraft_limit, coalesce(cu.full_name, a.purpose)"
                            " FROM accounts a LEFT JOIN customers cu ON cu.id=a.customer_id"
                            " WHERE a.number=$1 OR (a.id::text=$1)",
                            1, p);
    if (!r)
        goto out;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "switchctl: no account %s\n", argv[1]);
        PQclear(r);
        goto out;
    }
    cur = sc_cur_alpha(PQgetvalue(r, 0, 3));
    sc_fmt_money(PQgetvalue(r, 0, 5), led, sizeof led);
    sc_fmt_money(PQgetvalue(r, 0, 6), held, sizeof held);
    sc_fmt_money(PQgetvalue(r, 0, 7), av, sizeof av);
    sc_fmt_money(PQgetvalue(r, 0, 8), mn, sizeof mn);
    sc_fmt_money(PQgetvalue(r, 0, 9), od, sizeof od);
    snprintf(aid, sizeof aid, "%s", PQgetvalue(r, 0, 0));
    printf("account %s (id %s)  %s %s  %s  %s\n", PQgetvalue(r, 0, 1), aid, PQgetvalue(r, 0, 2), cur,
           PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 10));
    printf("  ledger %s  held %s  minimum %s  overdraft %s  available %s %s\n", led, held, mn, od, av, cur);
    PQclear(r);

    r = scdb_exec(db,
                  "SELECT h.id, h.amount, coalesce(c.pan_masked,''), to_char(h.created_at AT TIME ZONE 'Asia/Phnom_Penh',"
                  " 'YYYY-MM-DD HH24:MI'), to_char(h.expires_at AT TIME ZONE 'Asia/Phnom_Penh','YYYY-MM-DD')"
                  " FROM holds h LEFT JOIN cards c ON c.id=h.card_id WHERE h.account_id=$1::bigint AND h.status='active'"
                  " ORDER BY h.id",
                  1, ph);
    if (!r)
        goto out;
    printf("  active holds: %d\n", PQntuples(r));
    for (int i = 0; i < PQntuples(r); i++) {
        char amt[32];
        sc_fmt_money(PQgetvalue(r, i, 1), amt, sizeof amt);
        printf("    hold %-8s %12s  %s  %s  expires %s\n", PQgetvalue(r, i, 0), amt, PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
    }
    PQclear(r);
    r = scdb_exec(db,
                  "SELECT e.id, to_char(e.posted_at AT TIME ZONE 'Asia/Phnom_Penh','YYYY-MM-DD HH24:MI:SS'), e.kind,"
                  " l.line_kind, l.amount FROM journal_lines l JOIN journal_entries e ON e.id=l.entry_id"
                  " WHERE l.account_id=$1::bigint ORDER BY l.id DESC LIMIT $2::int",
                  2, pl);
    if (!r)
        goto out;
    printf("  last postings:\n");
    for (int i = 0; i < PQntuples(r); i++) {
        char amt[32];
        sc_fmt_money(PQgetvalue(r, i, 4), amt, sizeof amt);
        printf("    entry %-8s %s  %-14s %-15s %12s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), amt);
    }
    PQclear(r);
    rc = 0;
out:
    PQfinish(db);
    return rc;
}

/* ---- holds ---- */

static const char usage_holds[] =
    "usage: switchctl holds expire [--now TIMESTAMP]\n"
    "  Releases the active holds whose expiry (hold_days, 32, after the authorisation)\n"
    "  has passed at TIMESTAMP (default: now) and prints how many. Idempotent and safe\n"
    "  beside a running switch: a second run releases nothing more.\n";

static int cmd_holds(int argc, char **argv)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_holds, false);
    if (argc < 1)
        return sc_bad("holds", "missing subcommand (expire)", NULL);
    if (strcmp(argv[0], "expire") != 0)
        return sc_bad("holds", "unknown subcommand", argv[0]);
    return sc_job(opt_db, "holds expire", argc, argv, "SELECT expire_holds(coalesce($1::timestamptz, now()))",
                  "holds expired (released)");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"schema-dir", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *env_schema = getenv("SWITCH_SCHEMA_DIR");
    if (env_schema && *env_schema)
        opt_schema = env_schema;
    int c;
    /* '+': stop at the first command word so subcommands get their options. */
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': opt_db = optarg; break;
        case 's': opt_schema = optarg; break;
        case 'h': return sc_usage(usage_main, false);
        default: return sc_usage(usage_main, true);
        }
    }
    if (optind >= argc)
        return sc_usage(usage_main, true);
    const char *cmd = argv[optind];
    int sub_argc = argc - optind - 1;
    char **sub_argv = argv + optind + 1;
    if (strcmp(cmd, "db") == 0)
        return cmd_db(sub_argc, sub_argv);
    if (strcmp(cmd, "load") == 0)
        return cmd_load(sub_argc, sub_argv);
    if (strcmp(cmd, "card") == 0)
        return cmd_card(sub_argc, sub_argv);
    if (strcmp(cmd, "account") == 0)
        return cmd_account(sub_argc, sub_argv);
    if (strcmp(cmd, "terminal") == 0)
        return scterm_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "cardless") == 0)
        return sccl_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "stop-payment") == 0)
        return scstop_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "clearing") == 0)
        return scclr_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "holds") == 0)
        return cmd_holds(sub_argc, sub_argv);
    if (strcmp(cmd, "report") == 0)
        return screp_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "dispute") == 0)
        return scdisp_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "eod") == 0)
        return sceod_cmd(sub_argc, sub_argv, opt_db);
    if (strcmp(cmd, "help") == 0)
        return sc_usage(usage_main, false);
    fprintf(stderr, "switchctl: unknown command '%s' (try --help)\n", cmd);
    return 2;
}
