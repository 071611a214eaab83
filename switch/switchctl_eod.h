/* switchctl eod: the end of a business day, its batch jobs in order (hold
 * expiry, cardless voucher expiry, annual fees, the clearing check), each
 * once per day through eod_step() (migration 020), which records each step
 * in eod_runs and audit_log in the step's own transaction. */
#ifndef SWITCHCTL_EOD_H
#define SWITCHCTL_EOD_H

/* `switchctl eod --date YYYY-MM-DD` (argv after "eod"); conninfo as for
 * scdb_connect. Prints one line per step. Returns the exit status: 0, 1
 * after a one-line error (the steps before it stay done), 2 after a
 * one-line usage error (the usage on --help). */
int sceod_cmd(int argc, char **argv, const char *conninfo);

#endif
