/*
 * tlfield: the terminal side's field values, built and read as text.
 *
 * Pure functions, no I/O, no globals: amounts in major units, currency
 * codes, track 2 equivalent data (DE 35), the key-change tags of DE 48
 * (docs/message-profile.md "Network management"), additional amounts
 * (DE 54, WIRE.md), x+n amounts (DE 28), original data elements (DE 90),
 * replacement amounts (DE 95) and the retrieval reference number (DE 37).
 *
 * Errors: every function returning int returns 0 (or a documented count)
 * on success and a negative TLF_ERR_* on failure; tlf_strerror() names it.
 */
#ifndef TLFIELD_H
#define TLFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TLF_ERR_FORMAT = -1,    /* not the expected characters or layout */
	TLF_ERR_TRUNCATED = -2, /* input ends inside an item */
	TLF_ERR_RANGE = -3,     /* a value too large or too long for its field */
	TLF_ERR_MISSING = -4,   /* a required item is absent */
	TLF_ERR_DUPLICATE = -5, /* an item given twice */
	TLF_ERR_NOSPACE = -6,   /* output too small */
};

const char *tlf_strerror(int err);

/* Whether s is min..max decimal digits. */
bool tlf_digits(const char *s, size_t min, size_t max);

/* ---- amounts and currencies ------------------------------------------ */

/* "20.00" -> 2000: digits, a point, exactly two decimals, at most 10 digits
 * before the point (DE 4 holds 12 digits). Errors: TLF_ERR_FORMAT,
 * TLF_ERR_RANGE. */
int tlf_amount_parse(const char *s, uint64_t *minor);
/* 2000 -> "20.00". Returns like snprintf. */
int tlf_amount_format(uint64_t minor, char *out, size_t cap);

/* "USD", "usd" or "840" -> "840"; the same for KHR / 116. Only the two
 * currencies of the demo bank are known. Errors: TLF_ERR_FORMAT. */
int tlf_currency_code(const char *s, char out[4]);
/* "840" -> "USD", "116" -> "KHR", anything else NULL. */
const char *tlf_currency_alpha(const char *numeric3);

/* ---- card data ----------------------------------------------------------- */

/* Track 2 equivalent data: PAN '=' expiry (YYMM) service code (3), then
 * as many digits of `disc` (discretionary data) as fit in 37 characters.
 * Errors: TLF_ERR_FORMAT (PAN not 12..19 digits, expiry not 4 digits with
 * month 01..12, service code not 3 digits, disc not digits),
 * TLF_ERR_NOSPACE (cap < 38). Returns the length on success. */
int tlf_track2(const char *pan, const char *expiry, const char *service,
               const char *disc, char *out, size_t cap);

/* ---- DE 48 key-change tags ------------------------------------------- */

/* The four tags of a key-change answer, as hex text, NUL-terminated. */
struct tlf_keytags {
	char kp[49]; /* TPK under the TMK: 32 or 48 hex */
	char cp[7];  /* TPK check value: 6 hex */
	char ka[49]; /* TAK under the TMK: 32 or 48 hex */
	char ca[7];  /* TAK check value: 6 hex */
};

/* Reads `len` characters of DE 48 as tag (2) | length (3 digits) | value,
 * repeated. KP, CP, KA, CA must each appear once; other tags are skipped
 * (a later profile may add some). Errors: TLF_ERR_TRUNCATED (a tag, length
 * or value cut short), TLF_ERR_FORMAT (non-digit length, a key value not
 * 32/48 hex or a check value not 6 hex), TLF_ERR_DUPLICATE,
 * TLF_ERR_MISSING. `*bad_tag` (may be NULL) receives the 2-character tag
 * at fault, "" when none applies. */
int tlf_keytags_parse(const char *de48, size_t len, struct tlf_keytags *kt,
                      char bad_tag[3]);

/* Appends one private tag to DE 48 text being built (the layout above:
 * tag, 3-digit length, value); buf holds *len characters and is kept
 * NUL-terminated. Errors: TLF_ERR_FORMAT (tag not 2 letters or digits,
 * value not printable), TLF_ERR_RANGE (value over 999 characters),
 * TLF_ERR_NOSPACE (nothing is written then). */
int tlf_tag_put(char *buf, size_t cap, size_t *len, const char *tag, const char *value);

/* ---- DE 54 additional amounts ---------------------------------------- */

/* One 20-character group: account type 2, amount type 2 (01 ledger, 02
 * available), currency 3, 'C' or 'D', amount 12 (minor units). */
struct tlf_balance {
	char acct_type[3];
	char amount_type[3];
	char currency[4];
	char sign;
	uint64_t amount;
};

/* Splits DE 54 into groups. Returns the number of groups (0..max).
 * Errors: TLF_ERR_FORMAT (length not a multiple of 20, non-digit, sign
 * not C/D), TLF_ERR_RANGE (more than `max` groups). */
int tlf_balances_parse(const char *s, size_t len, struct tlf_balance *out,
                       size_t max);

/* One group in the layout above, 20 characters and a NUL (e.g. the
 * cash-back amount of a request: account type 00, amount type 40).
 * Errors: TLF_ERR_FORMAT (a code not of its digits, sign not C/D),
 * TLF_ERR_RANGE (amount over 12 digits). */
int tlf_amount_group(const struct tlf_balance *b, char out[21]);

/* An x+n amount (DE 28-31): 'C' or 'D' then digits (at most 18).
 * Errors: TLF_ERR_FORMAT, TLF_ERR_RANGE. */
int tlf_xn_parse(const char *s, size_t len, char *sign, uint64_t *value);

/* ---- reversal data -------------------------------------------------------- */

/* DE 90 (n 42, ISO 8583:1987): original MTI 4, original STAN 6, original
 * transmission date and time 10, original acquirer id 11 and forwarding
 * institution id 11 (right-justified, zero-filled; NULL or "" for none).
 * Errors: TLF_ERR_FORMAT (a part not digits or of the wrong length),
 * TLF_ERR_RANGE (an institution id over 11 digits). */
int tlf_de90(const char *mti, const char *stan, const char *de7,
             const char *acquirer, const char *forwarder, char out[43]);

/* DE 95 (ans 42, ISO 8583:1987): actual transaction amount n 12, actual
 * settlement amount n 12 (zeros: the terminal does not know it), actual
 * transaction fee x+n 9 and actual settlement fee x+n 9 ("C00000000").
 * Errors: TLF_ERR_RANGE (amount over 12 digits). */
int tlf_de95(uint64_t actual, char out[43]);

/* DE 37, 12 characters: last digit of the year, day of the year (3), hour
 * (2), then the 6-digit STAN; unique per terminal within ten years. */
void tlf_rrn(int year, int yday, int hour, const char *stan6, char out[13]);

#endif
