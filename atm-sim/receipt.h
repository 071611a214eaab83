/*
 * receipt: the printed receipts of the simulators' interactive modes, in
 * English and Khmer (UTF-8), and the plain words for every response code
 * the switch sends (/work/shared/design/WIRE.md "Response codes") and for
 * the outcomes a terminal meets without an answer (no answer in time, a
 * MAC that fails, the connection lost, a local error). atm-sim and pos-sim
 * both link this one module (docs/atm-sim.md "Receipts").
 *
 * No I/O: a receipt is formatted into the caller's buffer by a sticky
 * writer (every put is a no-op after the first overflow, checked once at
 * the end). A receipt shows a PAN only through rcp_mask_pan (first 6 and
 * last 4 digits at the most), a cardless reference only by its last 4
 * digits; it is never given a PIN, PIN block, CVV2 or key.
 *
 * Errors: rcp_format returns 0 or RCP_ERR_NOSPACE (the buffer holds the
 * part that fitted, NUL-terminated).
 */
#ifndef RECEIPT_H
#define RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "termlink.h"

enum {
	RCP_ERR_NOSPACE = -1,
};

/* Receipt lines are laid out for an 80 mm printer: this many columns, as
 * a terminal counts them (rcp_width). */
#define RCP_COLS 48

/* One text in both languages. */
struct rcp_text {
	const char *en, *km;
};

/* The words for a response code (DE 39, "51") or an outcome word
 * ("timeout", "macfail", "closed", "error"); never NULL: an unknown code
 * gets rcp_fallback(). */
const struct rcp_text *rcp_reason(const char *code);
/* "Transaction declined", for codes the table does not know. */
const struct rcp_text *rcp_fallback(void);
/* The i-th code of the table (response codes, then outcome words); NULL
 * past the end. For tests and the documentation. */
const char *rcp_code_at(size_t i);

/* A PAN as a receipt may show it: the first 6 and the last 4 digits, '*'
 * between; a PAN of 12 digits or fewer keeps only its last 4. Never more
 * than 10 digits. Returns the length (like snprintf). */
int rcp_mask_pan(const char *pan, char *out, size_t cap);

/* "USD 1,234.50": the currency's letters (or its numeric code), thousands
 * separated. Returns like snprintf. */
int rcp_money(const char *currency, uint64_t minor, char *out, size_t cap);

/* The columns a terminal gives UTF-8 text (glibc's wcwidth for Khmer:
 * the dependent vowels, signs and the coeng take none). Malformed bytes
 * count one each. */
size_t rcp_width(const char *s);

/* Whether s is well-formed UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF). */
bool rcp_utf8_valid(const char *s, size_t len);

enum rcp_txn {
	RCP_WITHDRAWAL,
	RCP_BALANCE,
	RCP_PIN_CHANGE,
	RCP_CARDLESS,
	RCP_PURCHASE,
	RCP_CASHBACK,
	RCP_PREAUTH,
	RCP_COMPLETION,
	RCP_REFUND,
	RCP_VOID,
	RCP_CNP,
	RCP_RECURRING,
	RCP_BATCH,
	RCP_TXN_COUNT,
};

/* The transaction's name ("WITHDRAWAL" / "ដកប្រាក់"). */
const struct rcp_text *rcp_txn_name(enum rcp_txn t);

enum rcp_copy { RCP_COPY_NONE, RCP_COPY_CUSTOMER, RCP_COPY_MERCHANT };

/* How the cardholder was verified (POS). */
enum rcp_cvm { RCP_CVM_NONE, RCP_CVM_PIN, RCP_CVM_SIGNATURE, RCP_CVM_NO_CVM };

/* One more labelled line (batch totals, a dispensed amount). */
struct rcp_item {
	struct rcp_text label;
	char value[40];
};

#define RCP_MAX_ITEMS 8

struct rcp_receipt {
	enum rcp_txn txn;
	enum rcp_copy copy;
	const char *bank;           /* first line; NULL: "OUR BANK" */
	const char *terminal_id;    /* DE 41 */
	const char *merchant_id;    /* DE 42; NULL: not printed */
	const char *location;       /* NULL: not printed */
	time_t when;                /* local date and time printed */
	const char *pan;            /* clear; printed masked; NULL: no card line */
	const char *reference;      /* cardless cash-account number: its last 4 */
	const char *entry;          /* DE 22 ("051"): the entry method; NULL: none */
	enum rcp_cvm cvm;
	char currency[4];           /* numeric, of the amounts */
	bool has_amount;
	uint64_t amount;            /* DE 4 (for cash-back: the goods and the cash) */
	uint64_t cashback;          /* printed when not 0 */
	const char *outcome;        /* DE 39 or an outcome word; NULL: not sent */
	const struct tl_answer *ans;/* DE 38, 28, 54 and the STAN; NULL: none */
	const char *rrn;            /* DE 37; NULL: not printed */
	struct rcp_item items[RCP_MAX_ITEMS]; /* after the amounts */
	size_t nitems;
	struct rcp_text note;       /* a closing remark; NULL texts: none */
};

/* Adds an item (silently dropped past RCP_MAX_ITEMS). */
void rcp_add_item(struct rcp_receipt *r, const char *en, const char *km, const char *value);

/* The receipt as text lines of at most RCP_COLS columns where the words
 * allow, each ending in '\n'. Errors: RCP_ERR_NOSPACE. */
int rcp_format(const struct rcp_receipt *r, char *out, size_t cap);

#endif
