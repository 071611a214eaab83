/*
 * atm_ui: atm-sim's interactive mode (docs/atm-sim.md "Interactive
 * mode"): an ATM's text screens on the terminal, on the same terminal
 * code as the scripted mode (termlink.h).
 *
 * At start-up the ATM connects, signs on and, with a TMK, changes keys.
 * Then sessions follow one another: a card is chosen from the card file
 * (listed by masked PAN and name) or a cardless withdrawal is started; the
 * PIN is typed (screen.h: no echo on a terminal); the menu offers
 * withdrawals in USD or KHR (fast cash or another amount), the balance,
 * a PIN change (the new PIN twice) and the end of the session. Each
 * transaction ends in a receipt in English and Khmer (receipt.h) on the
 * screen and, when configured, appended to a file.
 *
 * Cash comes out of simulated cassettes (cassette.h): an amount they cannot
 * pay is refused before anything is sent; a withdrawal the ATM cannot
 * trust (tl_unsure: no answer, or an approval whose MAC fails) pays
 * nothing and is reversed, repeated as 0421 until acknowledged; a jam
 * after an approval pays part and sends a partial reversal (DE 95).
 *
 * The session has one state (enum au_state), changed only by one function
 * that checks the change and traces it on stderr with trace set. No PAN
 * but masked, no PIN, card code or key is ever printed.
 */
#ifndef ATM_UI_H
#define ATM_UI_H

#include "cassette.h"
#include "termlink.h"
#include "termui.h"

struct au_opts {
	struct tu_opts ui;           /* keyboard, screen, receipts, cards, trace */
	struct cas_set cassettes;
	unsigned reversal_repeats;   /* 0421 tries after an unanswered 0420 */
};

/* Runs the ATM until the operator shuts it down ('q' on the welcome
 * screen) or the input ends, then signs off. Returns the exit status: 0,
 * 1 out of service (the switch refused the sign-on, or the connection was
 * lost and could not be made again), 3 the first connection failed. */
int au_run(tl_term *t, struct au_opts *o);

#endif
