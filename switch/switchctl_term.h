/* switchctl terminal: terminal master keys from a key ceremony, and what an
 * operator may see of a terminal's keys (their check values, never the
 * keys). Clear key components pass through switchctl only on their way to
 * hsm-sim; nothing here prints or stores them. */
#ifndef SWITCHCTL_TERM_H
#define SWITCHCTL_TERM_H

#include <libpq-fe.h>

#include "switchctl_hsm.h"

/* `switchctl terminal set-tmk|show|list ...` (argv after "terminal");
 * conninfo as for scdb_connect. Returns the exit status: 0, 1 after a
 * one-line error, 2 after a usage message. */
int scterm_cmd(int argc, char **argv, const char *conninfo);

/* For `load demo --hsm`: every terminal without a TMK that is listed in
 * <schema_dir>/demo/terminal_tmks.txt (public test keys) gets that TMK,
 * formed in hsm-sim and stored with terminal_set_tmk() in one transaction;
 * terminals that have a TMK keep it. Prints the KCVs. Returns 0 — also
 * when hsm-sim is not in the authorised state, after one warning line that
 * the TMKs were not loaded — or 1 after a one-line error. */
int demo_terminal_tmks(PGconn *db, schsm *hsm, const char *schema_dir);

/* The same for the DUKPT PIN pads' BDKs of SCHEMA_DIR/demo/terminal_bdks.txt
 * ("TID HEX [U|T|P|Q|R]", terminal_set_bdk()); nothing when the file does
 * not exist. */
int demo_terminal_bdks(PGconn *db, schsm *hsm, const char *schema_dir);

#endif
