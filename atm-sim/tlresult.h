/*
 * tlresult: the result lines of the terminal simulators' scripted modes
 * (docs/atm-sim.md and docs/pos-sim.md "Output").
 *
 * A step's line is built in a struct tlr_line: text added piece by piece,
 * and the step's outcome, which is what `expect=` compares with: the
 * answer's DE 39, or an outcome word (timeout, macfail, closed, keyfail,
 * error, and ok / open for steps that send nothing). tlr_judge derives it
 * from a termlink return code and answer. A struct tlr_summary collects
 * the failed expectations and prints them with the summary line.
 *
 * Of the answer only DE 39, 38, 28 and 54 are shown; a PAN is shown only
 * masked (tlr_pan); nothing here ever sees a PIN, PIN block or key.
 */
#ifndef TLRESULT_H
#define TLRESULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "termlink.h"

struct tlr_line {
	char outcome[12];  /* response code or outcome word; "" until set */
	char text[512];    /* the line after the step name */
	size_t len;
	bool local_error;  /* a failure of the terminal or the script, not of the switch */
};

/* Appends to the line (silently cut at its capacity). */
void tlr_add(struct tlr_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tlr_set_outcome(struct tlr_line *l, const char *outcome);
/* " key=USD-20.00": the currency's letters (or its code), '-' for D. */
void tlr_amount(struct tlr_line *l, const char *key, const char *currency, char sign, uint64_t v);
/* " 453910******1107" */
void tlr_pan(struct tlr_line *l, const char *pan);

/* The outcome and text of a message step: `rc` is what the termlink call
 * returned, `a` its answer, `reason` the one-line detail of a failure
 * (tl_reason()). 0 with a bad or missing MAC is macfail; TL_ERR_TIMEOUT
 * timeout; TL_ERR_CLOSED, _IO, _FRAME closed; TL_ERR_KEYS keyfail;
 * anything else error (a local error). */
void tlr_judge(struct tlr_line *l, int rc, const struct tl_answer *a, const char *reason);

/* What became of the reversal a terminal sent for a request it could not
 * trust (tl_unsure): `rc` and `rev` of the reversal call.
 * " reversal=0421/00 sends=2" when answered, " reversal=unacknowledged
 * sends=4" when no try was, " reversal=failed reason=\"...\"" otherwise. */
void tlr_reversal(struct tlr_line *l, int rc, const struct tl_answer *rev, const char *reason);

/* Whether a word is an outcome a step can expect: 2 letters or digits (a
 * response code), timeout, macfail, closed, keyfail, error. */
bool tlr_outcome_valid(const char *s);

#define TLR_MAX_FAILURES 32

struct tlr_summary {
	FILE *out;
	unsigned steps, failed;
	size_t nfail;
	char failures[TLR_MAX_FAILURES][160];
};

/* Ends a step: compares the outcome with `expect` (NULL or "": the step
 * passes unless it was a local error), adds " expect=X ok|FAIL" when there
 * was an expectation, prints "L<line> <name> <text>" and counts a failure.
 * Returns whether the step passed. */
bool tlr_step_done(struct tlr_summary *s, unsigned line, const char *name,
                   struct tlr_line *l, const char *expect);
/* Prints one "FAILED ..." line per failed step and "summary: N steps, M
 * failed". */
void tlr_summary_print(const struct tlr_summary *s);

#endif
