/*
 * pos_script: the step language of pos-sim's scripted mode (docs/pos-sim.md
 * "Script language"), parsed completely before anything is sent.
 *
 * One step per line, '#' starts a comment, blank lines are skipped:
 *
 *     signon | signoff | echo | keychange | repeat | void | reconnect
 *     purchase CARD AMOUNT [entry=E] [pin=NNNN|card] [cvv2=NNN] [recurring] [currency=C]
 *     preauth CARD AMOUNT [the options of purchase]
 *     cashback CARD AMOUNT CASHBACK [entry=E] [pin=NNNN|card] [currency=C]
 *     refund CARD AMOUNT [entry=E] [currency=C]
 *     complete AMOUNT
 *     batch [currency=C]
 *     sleep MS
 *
 * E is chip, stripe, contactless, manual, ecom or cof; C is USD or KHR.
 * Every step that sends a message may end in expect=OUTCOME (tlresult.h).
 *
 * Errors: ps_parse returns 0 or PS_ERR_SYNTAX / PS_ERR_NOMEM with
 * "ORIGIN:LINE: reason" in the caller's buffer.
 */
#ifndef POS_SCRIPT_H
#define POS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cardfile.h"

enum {
	PS_ERR_SYNTAX = -1,
	PS_ERR_NOMEM = -2,
};

enum ps_op {
	PS_SIGNON,
	PS_SIGNOFF,
	PS_ECHO,
	PS_KEYCHANGE,
	PS_PURCHASE,
	PS_CASHBACK,
	PS_PREAUTH,
	PS_REFUND,
	PS_COMPLETE,
	PS_VOID,
	PS_BATCH,
	PS_REPEAT,
	PS_SLEEP,
	PS_RECONNECT,
};

struct ps_step {
	unsigned line;
	enum ps_op op;
	const struct cf_card *card; /* points into the card set */
	uint64_t amount;            /* minor units: the goods, or the completed amount */
	uint64_t cashback;          /* cashback: the cash part */
	char currency[4];           /* numeric; "840" unless currency= */
	char entry[4];              /* DE 22: "051" (chip) unless entry= */
	char cond[3];               /* DE 25: "59" for ecom, else "00" */
	bool card_present;          /* chip, stripe, contactless: track 2 (DE 35) is read */
	bool pin;                   /* pin= given: the request carries a PIN block */
	char pin_value[13];         /* "" with pin=card: the card's PIN */
	char cvv2[4];               /* "" when none */
	bool recurring;             /* DE 48 RC = 1 */
	unsigned ms;                /* sleep */
	char expect[8];             /* "" when none */
};

struct ps_script {
	struct ps_step *steps;
	size_t n;
};

/* Parses a whole script. Cards are looked up in `cards`, which must
 * outlive the script. */
int ps_parse(const char *text, const char *origin, const struct cf_set *cards,
             struct ps_script *out, char *why, size_t cap);
/* Frees the steps (wiping the PINs and CVV2s they hold). */
void ps_free(struct ps_script *s);

/* The step's keyword ("purchase", "keychange", ...). */
const char *ps_op_name(enum ps_op op);

/* Whether the step sends a message (and may expect=). */
bool ps_op_sends(enum ps_op op);

#endif
