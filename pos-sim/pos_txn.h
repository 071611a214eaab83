/*
 * pos_txn: a POS terminal's transactions, on top of a termlink terminal
 * (docs/pos-sim.md "Messages"): purchases, purchases with cash-back,
 * pre-authorisations and their completions, refunds, voids, repeats, and
 * the session's batch totals for the reconciliation (0500).
 *
 * The terminal remembers the last request (for a repeat or a reversal),
 * the last approved pre-authorisation not yet completed (for a completion)
 * and the last approved purchase not yet voided (for a void). An approval
 * counts in the batch totals once, when it first arrives (the original's
 * answer or a repeat's). "Approved" means DE 39 00 with a good MAC when the
 * request was MACed.
 *
 * No answer (docs/pos-sim.md "When no answer comes"): a sale is sent once;
 * the caller reverses one it cannot trust (tl_unsure) with pt_reverse. A
 * completion, a void, a reversal and a batch must be acknowledged: without
 * an answer in time each is repeated (0221, 0401, 0421, 0501: same STAN,
 * DE 7 and content) up to TL_REPEATS times (tl_exchange_repeat); the
 * answer's sent_mti and sends say how far it went.
 *
 * PIN blocks: under the TPK of the last key change (ISO 9564 format 0, DE
 * 52), or from a DUKPT PIN pad (pos_pinpad.h): TDES, DE 52 and DE 48 tag KS;
 * AES, DE 48 tags P4 and KS and no DE 52.
 *
 * Nothing here prints. Errors: 0 or a negative TL_ERR_* (termlink.h), the
 * exchange's or TL_ERR_ARG (bad sale), TL_ERR_NO_KEY (a PIN without a TPK),
 * TL_ERR_NO_ORIGINAL (nothing to repeat, complete or void), TL_ERR_CRYPTO
 * (the PIN pad failed); pt_reason() gives the one-line detail.
 */
#ifndef POS_TXN_H
#define POS_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "pos_pinpad.h"
#include "termlink.h"

enum pt_kind {
	PT_PURCHASE, /* 0200, DE 3 000000 */
	PT_CASHBACK, /* 0200, DE 3 090000, DE 54 the cash part */
	PT_PREAUTH,  /* 0100, DE 3 000000 */
	PT_REFUND,   /* 0200, DE 3 200000 */
};

/* What the cashier keys in and the card gives. */
struct pt_sale {
	enum pt_kind kind;
	const struct tl_card *card;
	uint64_t amount;       /* the goods; DE 4 is amount + cashback */
	uint64_t cashback;     /* PT_CASHBACK only */
	char currency[4];      /* DE 49, numeric */
	char entry[4];         /* DE 22 */
	char cond[3];          /* DE 25 */
	bool card_present;     /* track 2 (DE 35) is sent */
	const char *pin;       /* clear PIN; NULL: no PIN block */
	const char *cvv2;      /* DE 48 tag C2; NULL or "": none */
	bool recurring;        /* DE 48 tag RC = 1 */
};

/* Batch totals of one currency (DE 74-77 counts, 86-89 amounts). */
struct pt_totals {
	uint64_t credits, credit_reversals, debits, debit_reversals;
	uint64_t credits_amount, credit_reversals_amount, debits_amount, debit_reversals_amount;
};

typedef struct pt_term pt_term;

/* A POS on terminal t (which it does not own); pad NULL: PINs under the
 * TPK. NULL when out of memory. */
pt_term *pt_new(tl_term *t, pp_pad *pad);
void pt_free(pt_term *p);
const char *pt_reason(const pt_term *p);

/* 0100 (pre-authorisation) or 0200 (the others): a new STAN, DE 7 and RRN. */
int pt_sale(pt_term *p, const struct pt_sale *s, struct tl_answer *a);
/* 0220 completing the last approved pre-authorisation with `amount`. */
int pt_complete(pt_term *p, uint64_t amount, struct tl_answer *a);
/* 0400 voiding the last approved purchase (or cash-back) in full. */
int pt_void(pt_term *p, struct tl_answer *a);
/* 0420 reversing the last request in full, when it is a sale (0100 or
 * 0200) the terminal did not see approved: no answer, or an approval whose
 * MAC failed (tl_unsure). A new STAN and DE 7; the sale's DE 2, 3, 4, 14,
 * 22, 25, 37 (its RRN), 38 (when its answer had one), 49 and 54; DE 90 to
 * it; no DE 95 (nothing kept), no track 2, PIN block or DE 48. Repeated as
 * 0421 without an answer; it becomes the request pt_repeat sends. Neither
 * the sale nor its reversal counts in the batch totals. Errors:
 * TL_ERR_NO_ORIGINAL (the last request is not such a sale), the
 * exchange's (TL_ERR_TIMEOUT: no transmission was answered). */
int pt_reverse(pt_term *p, struct tl_answer *a);
/* The last 0100, 0200, 0220, 0400 or 0420 again as 0101, 0201, 0221,
 * 0401, 0421, once: same STAN, DE 7 and content (PIN block and KSN
 * included), MAC recomputed. */
int pt_repeat(pt_term *p, struct tl_answer *a);
/* 0500 with the totals of `currency` (DE 50); an approval starts a new
 * batch for that currency. */
int pt_batch(pt_term *p, const char *currency, struct tl_answer *a);

/* The totals the next batch of `currency` sends. */
void pt_totals(const pt_term *p, const char *currency, struct pt_totals *out);
/* Whether PINs go through a DUKPT PIN pad. */
bool pt_dukpt(const pt_term *p);
/* The KSN of the last request's DUKPT PIN entry; "" when it had none. */
const char *pt_last_ksn(const pt_term *p);

#endif
