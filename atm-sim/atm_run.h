/*
 * atm_run: runs a parsed script (atm_script.h) against the switch through
 * a terminal (termlink.h), behaving as an ATM: a withdrawal that gets no
 * answer in time, or an approval whose MAC fails (tl_unsure), is reversed
 * with a 0420 (repeated as 0421 until acknowledged).
 *
 * Prints one result line per step on `out` (docs/atm-sim.md "Output"),
 * and at the end one line per failed expectation and a summary. PANs are
 * masked (first 6, last 4); no PIN, PIN block or key is printed.
 *
 * Returns the number of steps whose expectation failed or that ended in a
 * local error (0: all good).
 */
#ifndef ATM_RUN_H
#define ATM_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "atm_script.h"
#include "termlink.h"

struct ar_opts {
	FILE *out;               /* result lines */
	unsigned timeout_ms;     /* for expect-close */
	unsigned reversal_repeats; /* 0421 tries after an unanswered 0420 */
};

int ar_run(tl_term *t, const struct as_script *s, const struct ar_opts *o);

#endif
