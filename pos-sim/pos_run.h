/*
 * pos_run: runs a parsed script (pos_script.h) against the switch through
 * a POS terminal (pos_txn.h), behaving as a POS: a sale (purchase,
 * cash-back, pre-authorisation, refund) that gets no answer in time, or an
 * approval whose MAC fails (tl_unsure), is reversed with a 0420 (repeated
 * as 0421 until acknowledged); a completion, void or batch without an
 * answer is repeated (pos_txn.h).
 *
 * Prints one result line per step on `out` (docs/pos-sim.md "Output"),
 * then one line per failed expectation and a summary. PANs are masked
 * (first 6, last 4); no PIN, PIN block, CVV2 or key is printed; the KSN
 * of a DUKPT PIN entry is (it travels in clear).
 *
 * Returns the number of steps whose expectation failed or that ended in a
 * local error (0: all good).
 */
#ifndef POS_RUN_H
#define POS_RUN_H

#include <stdio.h>

#include "pos_script.h"
#include "pos_txn.h"
#include "termlink.h"

int pr_run(tl_term *t, pt_term *p, const struct ps_script *s, FILE *out);

#endif
