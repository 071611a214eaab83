/*
 * pos_ui: pos-sim's interactive mode (docs/pos-sim.md "Interactive mode"):
 * a card terminal's screens on the terminal, on the same POS transactions
 * as the scripted mode (pos_txn.h) and its DUKPT PIN pad.
 *
 * At start-up the POS connects, signs on and, with a TMK, changes keys.
 * The cashier then picks from a menu: a purchase with chip and PIN, with
 * a signature, or contactless (a PIN above the contactless limit); a
 * purchase with cash-back; a pre-authorisation and the completion of the
 * last one; a refund; the void of the last purchase; a card-not-present
 * purchase with CVV2; a recurring payment; the end-of-day batch close
 * (0500 with this session's totals). A card is chosen from the card file
 * (masked PAN and name); the PIN and the CVV2 are typed without echo on a
 * terminal (screen.h). Every transaction that reaches the switch prints a
 * merchant copy and a customer copy in English and Khmer (receipt.h),
 * the batch one report.
 *
 * One transaction at a time, in one explicit state (enum pu_state)
 * changed by one function that checks and traces it. No PAN but masked,
 * no PIN, CVV2 or key is ever printed.
 */
#ifndef POS_UI_H
#define POS_UI_H

#include <stdint.h>

#include "pos_txn.h"
#include "termlink.h"
#include "termui.h"

struct pu_opts {
	struct tu_opts ui;          /* keyboard, screen, receipts, cards, trace */
	const char *merchant_id;    /* DE 42, for the receipts */
	char currency[4];           /* the terminal's currency, numeric */
	uint64_t cvm_limit;         /* contactless: a PIN above this (minor units) */
};

/* Runs the POS until the cashier quits or the input ends, then signs off.
 * Returns the exit status: 0, 1 out of service (sign-on refused, or the
 * connection lost and not made again), 3 the first connection failed. */
int pu_run(tl_term *t, pt_term *p, const struct pu_opts *o);

#endif
