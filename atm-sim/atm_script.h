/*
 * atm_script: the step language of atm-sim's scripted mode (docs/atm-sim.md
 * "Script language"), parsed completely before anything is sent.
 *
 * One step per line, '#' starts a comment, blank lines are skipped:
 *
 *     signon | signoff | echo | keychange | repeat | duplicate-mismatch
 *     withdraw CARD AMOUNT [currency=USD|KHR] [pin=NNNN|none] [account=default|savings|current] [entry=mag|chip]
 *     balance CARD [currency=..] [pin=..] [account=..] [entry=..]
 *     pinchange CARD NEWPIN [pin=CURRENT] | cardless REFERENCE CODE AMOUNT [currency=..]
 *     reverse [dispensed=AMOUNT]
 *     sleep MS | raw HEX... | expect-close | reconnect
 *
 * Message steps may end in expect=OUTCOME: a 2-character response code,
 * or timeout, macfail, closed, keyfail, error. withdraw, balance, repeat,
 * duplicate-mismatch and reverse may also expect amounts of the answer:
 * fee=[-]AMOUNT (DE 28: D, or C when negative), ledger=[CUR][-]AMOUNT and
 * avail=[CUR][-]AMOUNT (DE 54 amount types 01 and 02, negative for D).
 *
 * Errors: as_parse returns 0 or AS_ERR_SYNTAX / AS_ERR_NOMEM with
 * "ORIGIN:LINE: reason" in the caller's buffer.
 */
#ifndef ATM_SCRIPT_H
#define ATM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cardfile.h"

enum {
	AS_ERR_SYNTAX = -1,
	AS_ERR_NOMEM = -2,
};

enum as_op {
	AS_SIGNON,
	AS_SIGNOFF,
	AS_ECHO,
	AS_KEYCHANGE,
	AS_WITHDRAW,
	AS_BALANCE,
	AS_PINCHANGE,
	AS_CARDLESS,
	AS_REPEAT,
	AS_DUP_MISMATCH,
	AS_REVERSE,
	AS_SLEEP,
	AS_RAW,
	AS_EXPECT_CLOSE,
	AS_RECONNECT,
};

#define AS_RAW_MAX 8192

/* An amount the answer must carry (fee=, ledger=, avail=). */
struct as_amount {
	bool set;
	int64_t minor;              /* signed: D balance / C fee negative */
	char currency[4];           /* numeric; "" : any currency */
};

struct as_step {
	unsigned line;
	enum as_op op;
	const struct cf_card *card; /* withdraw, balance, pinchange: points into the card set */
	char new_pin[13];           /* pinchange */
	char reference[17], code[13]; /* cardless: the voucher's cash-account number and code */
	uint64_t amount;            /* withdraw: minor units */
	char currency[4];           /* numeric; "840" unless currency= */
	char pin[13];               /* "" : the card's PIN */
	bool no_pin;                /* pin=none: send no PIN block */
	char account[3];            /* DE 3 from-account: "00", "10", "20" */
	char entry[4];              /* DE 22: "021" or "051" */
	uint64_t dispensed;         /* reverse */
	unsigned ms;                /* sleep */
	uint8_t *raw;               /* raw: the bytes (owned by the script) */
	size_t rawlen;
	char expect[8];             /* "" when none */
	struct as_amount fee;       /* DE 28 */
	struct as_amount ledger;    /* DE 54, amount type 01 */
	struct as_amount avail;     /* DE 54, amount type 02 */
};

struct as_script {
	struct as_step *steps;
	size_t n;
};

/* Parses a whole script. Cards are looked up in `cards`, which must
 * outlive the script. */
int as_parse(const char *text, const char *origin, const struct cf_set *cards,
             struct as_script *out, char *why, size_t cap);
void as_free(struct as_script *s);

/* The step's keyword ("withdraw", "duplicate-mismatch", ...). */
const char *as_op_name(enum as_op op);

/* "USD-490.00", "5.00": an expected (or received) amount as the script
 * writes it. Returns like snprintf. */
int as_amount_format(const struct as_amount *a, char *out, size_t cap);

/* Whether an outcome word is one a step can expect. */
bool as_outcome_valid(const char *s);

#endif
