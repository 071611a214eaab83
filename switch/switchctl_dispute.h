/* switchctl dispute: disputes and error claims on a card transaction
 * (open, show, list, review, resolve), through the SQL functions of
 * migration 020 (dispute_open(), dispute_review(), dispute_resolve()),
 * which check the bank's deadlines and limits and audit-log each change. */
#ifndef SWITCHCTL_DISPUTE_H
#define SWITCHCTL_DISPUTE_H

/* `switchctl dispute open|show|list|review|resolve ...` (argv after
 * "dispute"); conninfo as for scdb_connect. Returns the exit status: 0, 1
 * after a one-line error, 2 after a one-line usage error (the usage on
 * --help). */
int scdisp_cmd(int argc, char **argv, const char *conninfo);

#endif
