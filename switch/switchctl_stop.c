/* Stop-payments by card and merchant (see switchctl_stop.h). */
#include "switchctl_stop.h"
#include "switchctl_common.h"
#include "switchctl_db.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage_stop[] =
    "usage: switchctl stop-payment add (CARD_ID | --pan PAN) --merchant MID [--reason TEXT]\n"
    "       switchctl stop-payment list (CARD_ID | --pan PAN)\n"
    "       switchctl stop-payment remove (CARD_ID | --pan PAN) --merchant MID\n"
    "  add     from now on the merchant's recurring (card-on-file) charges on this card\n"
    "          are declined with 57; MID is the merchant's DE 42 id, 1-15 characters\n"
    "  list    the card's stop-payments, active and lifted\n"
    "  remove  lift the active stop-payment for the merchant\n"
    "  Adding one that is active, or removing one that is not, is an error. Both are\n"
    "  audit-logged with the database user as operator.\n";

static int list(PGconn *db, const char *id)
{
    const char *p[1] = {id};
    PGresult *c = scdb_exec(db, "SELECT pan_masked FROM cards WHERE id = $1::bigint", 1, p);
    if (!c)
        return 1;
    if (PQntuples(c) == 0) {
        fprintf(stderr, "switchctl: no card %s\n", id);
        PQclear(c);
        return 1;
    }
    printf("card %s  %s\n", id, PQgetvalue(c, 0, 0));
    PQclear(c);
    PGresult *r = scdb_exec(db,
                            "SELECT merchant_id, CASE WHEN lifted_at IS NULL THEN 'active' ELSE 'lifted' END,"
                            " to_char(created_at AT TIME ZONE 'Asia/Phnom_Penh', 'YYYY-MM-DD HH24:MI'),"
                            " coalesce(to_char(lifted_at AT TIME ZONE 'Asia/Phnom_Penh', 'YYYY-MM-DD HH24:MI'), ''),"
                            " coalesce(reason, '')"
                            " FROM stop_payments WHERE card_id = $1::bigint ORDER BY lifted_at IS NULL DESC, id",
                            1, p);
    if (!r)
        return 1;
    if (PQntuples(r) == 0)
        printf("  no stop-payments\n");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *lifted = PQgetvalue(r, i, 3), *reason = PQgetvalue(r, i, 4);
        printf("  %-15s  %-6s  since %s%s%s%s%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), *lifted ? ", lifted " : "", lifted, *reason ? ", reason: " : "", reason);
    }
    PQclear(r);
    return 0;
}

int scstop_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_stop, false);
    if (argc < 1)
        return sc_bad("stop-payment", "missing subcommand (add, list or remove)", NULL);
    const char *verb = argv[0], *merchant = NULL, *reason = NULL;
    bool add = strcmp(verb, "add") == 0, rm = strcmp(verb, "remove") == 0, ls = strcmp(verb, "list") == 0;
    if (!add && !rm && !ls)
        return sc_bad("stop-payment", "unknown subcommand", verb);
    struct sc_card_arg card = {0};
    for (int i = 1; i < argc; i++) {
        if (!ls && strcmp(argv[i], "--merchant") == 0 && i + 1 < argc)
            merchant = argv[++i];
        else if (add && strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (!sc_card_take(&card, argc, argv, &i))
            return sc_bad(ls ? "stop-payment list" : add ? "stop-payment add" : "stop-payment remove",
                          "unexpected argument", argv[i]);
    }
    if (!sc_card_check(&card))
        return 2;
    if (!ls && (!merchant || !*merchant || strlen(merchant) > 15))
        return sc_bad(add ? "stop-payment add" : "stop-payment remove",
                      "--merchant wants the merchant's id (DE 42, 1-15 characters), got", merchant ? merchant : "");
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    char id[32];
    int rc = 1;
    if (!sc_card_resolve(db, &card, id)) {
        rc = 1;
    } else if (ls) {
        rc = list(db, id);
    } else {
        const char *p[3] = {id, merchant, reason};
        PGresult *r = add ? scdb_exec(db, "SELECT stop_payment_add($1::bigint, $2, $3)", 3, p)
                          : scdb_exec(db, "SELECT stop_payment_remove($1::bigint, $2)", 2, p);
        if (r) {
            if (add)
                printf("card %s: stop-payment %s on merchant %s: its recurring charges are declined (57)\n", id,
                       PQgetvalue(r, 0, 0), merchant);
            else
                printf("card %s: stop-payment on merchant %s lifted\n", id, merchant);
            PQclear(r);
            rc = 0;
        }
    }
    PQfinish(db);
    return rc;
}
