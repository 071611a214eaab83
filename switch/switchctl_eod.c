/* switchctl eod (see switchctl_eod.h). The steps, their order and what
 * each does are the database's (eod_steps(), eod_step()); this file names
 * the day, runs each step once and prints its line. */
#include "switchctl_eod.h"
#include "switchctl_common.h"
#include "switchctl_db.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage_eod[] =
    "usage: switchctl eod --date YYYY-MM-DD\n"
    "  Ends business day YYYY-MM-DD (Phnom Penh time) once it is over: its batch jobs in\n"
    "  order, as of the day's last instant, one line each:\n"
    "    holds        holds nobody presented within 32 days are released\n"
    "    vouchers     cardless vouchers past their expiry return to the senders\n"
    "    annual_fees  cards whose issue day or anniversary it is are charged the\n"
    "                 product's annual fee to fee income; what the available balance\n"
    "                 cannot cover stays owed and is collected by later days' runs\n"
    "    clearing     whether the expected schemes' clearing files for the day were\n"
    "                 imported, the net settlement, open clearing exceptions\n"
    "  Each step runs once per day, in its own transaction with its audit_log row:\n"
    "  a rerun prints what each step did before and does nothing again; after a\n"
    "  failure it resumes at the failed step.\n";

int sceod_cmd(int argc, char **argv, const char *conninfo)
{
    if (sc_wants_help(argc, argv))
        return sc_usage(usage_eod, false);
    const char *date = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--date") == 0 && i + 1 < argc && !date)
            date = argv[++i];
        else
            return sc_bad("eod", "unexpected argument", argv[i]);
    }
    if (!date)
        return sc_bad("eod", "missing --date YYYY-MM-DD", NULL);
    int y, m, d;
    char tail;
    if (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return sc_bad("eod", "--date must be YYYY-MM-DD, not", date);
    PGconn *db = scdb_connect(conninfo);
    if (!db)
        return 1;
    int rc = 1;
    PGresult *steps = NULL;
    if (!sc_valid_time(db, date)) {
        /* 2025-02-30 and the like: a bad command line, said before anything runs. */
        rc = sc_bad("eod", "--date is not a calendar date", date);
        goto out;
    }
    steps = scdb_exec(db, "SELECT unnest(eod_steps())", 0, NULL);
    if (!steps)
        goto out;
    for (int i = 0; i < PQntuples(steps); i++) {
        const char *p[2] = {date, PQgetvalue(steps, i, 0)};
        PGresult *r = scdb_exec(db,
                                "SELECT e.done_before, e.result,"
                                " to_char(e.done_at AT TIME ZONE s.business_tz, 'YYYY-MM-DD HH24:MI:SS'), e.done_by"
                                " FROM eod_step($1::date, $2) e, bank_settings s",
                                2, p);
        if (!r)
            goto out;
        if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
            printf("%s: done before (%s by %s): %s\n", p[1], PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
                   PQgetvalue(r, 0, 1));
        else
            printf("%s: %s\n", p[1], PQgetvalue(r, 0, 1));
        fflush(stdout);
        PQclear(r);
    }
    rc = 0;
out:
    PQclear(steps);
    PQfinish(db);
    return rc;
}
