/*
 * termui: what the interactive modes of atm-sim (atm_ui.h) and pos-sim
 * (pos_ui.h) do alike around a transaction: bring the link up (connect,
 * sign on, key change), judge an answer, print a receipt to the screen
 * and the receipts file, and list and pick the test cards.
 *
 * A card is shown only by its masked PAN (receipt.h) and its name; no PIN
 * or key is ever printed. Messages for the person at the terminal go to
 * the screen; result lines (tlresult.h) go to stderr when tracing.
 */
#ifndef TERMUI_H
#define TERMUI_H

#include <stdbool.h>
#include <stdio.h>

#include "cardfile.h"
#include "receipt.h"
#include "screen.h"
#include "termlink.h"
#include "tlcli.h"

/* What both interactive terminals are given. */
struct tu_opts {
	FILE *in, *out;             /* keyboard and screen */
	FILE *receipts;             /* NULL: receipts on the screen only */
	const struct cf_set *cards;
	const char *terminal_id;    /* for the receipts */
	const char *location;       /* NULL: none */
	const char *bank;           /* receipts' first line; NULL: "OUR BANK" */
	bool trace;                 /* state changes and result lines on stderr */
};

/* The options of the shared command line (tlcli.h) for an interactive
 * terminal on stdin and stdout: the card file loaded into *cards (which
 * ui->cards points to), the receipts file opened for appending. Returns 0,
 * or 2 (printed on stderr: a bad card file, a receipts file that cannot be
 * opened). */
int tu_open(struct tu_opts *ui, struct cf_set *cards, const struct tlcli *c);
/* Closes the receipts file and frees the cards. */
void tu_close(struct tu_opts *ui, struct cf_set *cards);

/* The screen, the receipts file and the trace of one interactive terminal. */
struct tu_out {
	const char *prog;  /* "atm-sim": starts every trace line */
	FILE *screen;
	FILE *receipts;    /* NULL: none */
	bool trace;
};

/* The one place a session's state changes (STYLE.md 7): `to` is checked
 * against allowed[from] (one bit per state) and the change traced with the
 * states' names. Returns the state to take: `to`, or `closed` for a change
 * not allowed (a bug in the caller, said on stderr), which ends the
 * session. */
unsigned tu_state_change(const struct tu_out *o, const char *const names[], const unsigned allowed[],
                         unsigned n, unsigned from, unsigned to, unsigned closed);

/* The start of a session: the screen (scr_init on ui's in and out) and
 * the output set up for `prog`, then the link brought up (tu_link_up,
 * whose return value this is). */
int tu_start(tl_term *t, const struct tu_opts *ui, const char *prog, struct scr *scr,
             struct tu_out *out);

/* Connects, signs on and, with a TMK, changes keys, saying on the screen
 * what went wrong. Returns 0, 1 (the switch refused the sign-on) or 3 (no
 * connection). A failed key change is not fatal: the terminal goes on
 * without a PIN block. */
int tu_link_up(tl_term *t, const struct tu_out *o);

/* Before a transaction: a lost connection is made again once (connect,
 * sign on, key change). Whether the terminal is connected. */
bool tu_link_ready(tl_term *t, const struct tu_out *o);

/* The outcome of a termlink call (tlr_judge: DE 39, or timeout, macfail,
 * closed, keyfail, error), with its result line on stderr when tracing. */
void tu_judge(tl_term *t, const struct tu_out *o, const char *what, int rc,
              const struct tl_answer *a, char outcome[12]);

/* Whether the call brought an approval: DE 39 00, the MAC good or not
 * checked. */
bool tu_approved(int rc, const struct tl_answer *a);

/* The end of a session: out of service (said on the screen; returns 1), or
 * signed off with `bye` on the screen (returns 0). The exit status. */
int tu_link_down(tl_term *t, const struct tu_out *o, bool out_of_service, const char *bye);

/* Judges the answer (tu_judge) and puts it on the receipt: the outcome,
 * the answer and its DE 37, kept in outcome[] and rrn[] (which must live
 * as long as r). */
void tu_receipt_answer(tl_term *t, const struct tu_out *o, const char *what, int rc,
                       const struct tl_answer *a, struct rcp_receipt *r, char outcome[12],
                       char rrn[13]);

/* The reversal a terminal sent for a transaction it could not trust
 * (tl_unsure), from `rc` and `rev` of the reversal call: judged (a result
 * line on stderr when tracing) and added to the receipt as an item
 * "Reversal": "0421 answered 00", "unacknowledged (4 sent)" (no answer,
 * or none whose MAC verified) or "not sent". */
void tu_reversal_item(tl_term *t, const struct tu_out *o, int rc, const struct tl_answer *rev,
                      struct rcp_receipt *r);

/* Formats the receipt onto the screen and appends it to the receipts file. */
void tu_print(const struct tu_out *o, const struct rcp_receipt *r);

/* Prints the cards, numbered from 1: " 2  453910******1107    visa-classic". */
void tu_card_list(FILE *out, const struct cf_set *cards);

/* The card the person typed: its number in the list or one of its names;
 * NULL when none. */
const struct cf_card *tu_card_pick(const struct cf_set *cards, const char *typed);

#endif
