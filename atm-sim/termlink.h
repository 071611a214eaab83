/*
 * termlink: the terminal side of the ISO 8583:1987 terminal link, for the
 * ATM and POS simulators.
 *
 * One tl_term is one terminal: its identity (DE 41, DE 32), its keys (the
 * clear TMK from a file, the clear TPK and TAK from the last key change,
 * kept in memory only), its STAN counter and one blocking connection to
 * the switch (tlconn.h) with the chosen framing and profile. It builds the
 * messages of docs/message-profile.md and WIRE.md (0800 network
 * management, 0200 financial requests, 0420 reversals, their repeats),
 * PIN blocks (ISO 9564 format 0 under the TPK) and MACs (ISO 9797-1
 * algorithm 3 under the TAK, DE 64 or DE 128), sends them, and waits for
 * the answer: a message of the same class with the response function
 * (0200 -> 0210, 0420/0421 -> 0430) and the request's DE 11 and DE 41.
 * Other messages that arrive meanwhile are dropped and counted.
 *
 * Nothing here prints. A PAN, PIN, PIN block or key never leaves the
 * terminal except inside the messages the profile defines.
 *
 * Errors: every function returning int returns 0 on success and a negative
 * TL_ERR_* on failure; tl_strerror() names the code and tl_reason() gives
 * the one-line detail of the last failure. "No answer in time" is
 * TL_ERR_TIMEOUT; an answer with a declining DE 39 is a success (read the
 * answer). A MAC that fails on an answer is not an error either: see
 * tl_answer.mac.
 */
#ifndef TERMLINK_H
#define TERMLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iso8583.h"
#include "paycrypto.h"
#include "tlfield.h"

enum {
	TL_ERR_ARG = -1,        /* bad configuration or argument */
	TL_ERR_NOMEM = -2,
	TL_ERR_CONNECT = -3,    /* could not connect (TCP or TLS) */
	TL_ERR_IO = -4,         /* read or write failed */
	TL_ERR_CLOSED = -5,     /* not connected, or the switch closed the connection */
	TL_ERR_TIMEOUT = -6,    /* no (matching) answer before the deadline */
	TL_ERR_FRAME = -7,      /* bad length header from the switch (connection closed) */
	TL_ERR_DECODE = -8,     /* a message from the switch that does not decode */
	TL_ERR_ENCODE = -9,     /* a request the codec refused to build */
	TL_ERR_NO_KEY = -10,    /* the key this needs is not there (TMK, TPK) */
	TL_ERR_KEYS = -11,      /* key-change answer: bad DE 48 tags or KCV mismatch */
	TL_ERR_CRYPTO = -12,    /* paycrypto failed */
	TL_ERR_FILE = -13,      /* TMK file unreadable or malformed */
	TL_ERR_NO_ORIGINAL = -14, /* nothing to repeat or reverse */
};

const char *tl_strerror(int err);

typedef struct tl_term tl_term;

/* Called for every message sent ("send") or received ("recv"), decoded;
 * for tracing. Print only through iso_format_value (it masks). */
typedef void tl_trace_fn(void *arg, const char *dir, const struct iso_msg *m);

struct tl_config {
	const char *host;
	unsigned port;
	bool tls;
	const char *tls_ca;            /* NULL: system CAs */
	enum iso_profile profile;
	enum iso_framing framing;      /* ISO_FRAME_BIN2 or ISO_FRAME_ASCII4 */
	size_t max_msg;                /* largest message accepted; 0: 4096 */
	unsigned timeout_ms;           /* answer deadline per transmission; 0: 5000 */
	const char *terminal_id;       /* DE 41, 1..8 characters */
	const char *acquirer_id;       /* DE 32, 1..11 digits */
	const char *mcc;               /* DE 18, e.g. "6011" ATM */
	const char *merchant_id;       /* DE 42, optional (NULL) */
	const char *location;          /* DE 43, optional, at most 40 characters */
	tl_trace_fn *trace;            /* optional */
	void *trace_arg;
};

/* A card as the terminal reads it. */
struct tl_card {
	char pan[20];     /* 12..19 digits */
	char expiry[5];   /* YYMM */
	char service[4];  /* service code, 3 digits */
};

/* A financial request (0200). */
struct tl_fin {
	const struct tl_card *card;
	const char *pin;     /* clear PIN for DE 52; NULL: send no PIN block */
	char proc[7];        /* DE 3, e.g. "011000" cash from savings, "310000" balance */
	uint64_t amount;     /* DE 4, minor units */
	char currency[4];    /* DE 49, numeric: "840", "116" */
	char entry[4];       /* DE 22: "021" magnetic stripe, "051" chip; "": 021 */
};

enum tl_mac {
	TL_MAC_NONE = 0,  /* not checked: the request was not MACed */
	TL_MAC_OK,
	TL_MAC_MISSING,   /* the answer has no MAC field where the profile wants one */
	TL_MAC_BAD,       /* the MAC does not verify */
};

#define TL_MAX_BAL 6

/* What came back. Text fields are "" when absent. */
struct tl_answer {
	char sent_mti[5];   /* the last transmission's MTI */
	char stan[7];       /* its DE 11 */
	char mti[5];        /* the answer's MTI */
	char rc[3];         /* DE 39 */
	char approval[7];   /* DE 38 */
	bool has_fee;       /* DE 28 */
	char fee_sign;
	uint64_t fee;
	int nbal;           /* DE 54 groups; -1 when DE 54 is malformed */
	struct tlf_balance bal[TL_MAX_BAL];
	enum tl_mac mac;
	unsigned latency_ms;/* last transmission to answer */
	unsigned sends;     /* transmissions made (original plus repeats) */
	unsigned skipped;   /* unmatched messages dropped while waiting */
};

/* ---- the terminal ------------------------------------------------------- */

/* Checks the configuration and creates a terminal (not connected). The
 * strings are copied. Errors: TL_ERR_ARG, TL_ERR_NOMEM (*err may be NULL). */
tl_term *tl_new(const struct tl_config *cfg, int *err);
void tl_free(tl_term *t);

/* The one-line detail of the last failure ("" when none). */
const char *tl_reason(const tl_term *t);

/* The clear TMK: a double- or triple-length TDES key with odd parity.
 * Errors: TL_ERR_ARG. */
int tl_set_tmk(tl_term *t, const uint8_t *key, size_t len);
/* Reads the TMK from a file of "TERMINAL-ID HEX" lines ('#' comments), the
 * layout of schema/demo/terminal_tmks.txt. Errors: TL_ERR_FILE (unreadable,
 * bad line, no line for this terminal), TL_ERR_ARG (bad key). */
int tl_load_tmk(tl_term *t, const char *path);
/* Working keys set directly (tests); either may be NULL to clear it.
 * The TAK must be double length. Errors: TL_ERR_ARG. */
int tl_set_working_keys(tl_term *t, const pc_key *tpk, const pc_key *tak);
bool tl_has_tmk(const tl_term *t);
bool tl_has_tpk(const tl_term *t);
bool tl_has_tak(const tl_term *t);
/* The STAN the next new message gets (1..999999; the counter wraps). */
void tl_set_stan(tl_term *t, unsigned stan);

/* ---- the connection ------------------------------------------------------ */

/* (Re)connects: an open connection is closed first.
 * Errors: TL_ERR_CONNECT, TL_ERR_TIMEOUT. */
int tl_connect(tl_term *t);
void tl_disconnect(tl_term *t);
bool tl_connected(const tl_term *t);

/* ---- messages ------------------------------------------------------------ */

enum tl_netcode {
	TL_NM_SIGNON = 1,
	TL_NM_SIGNOFF = 2,
	TL_NM_KEYCHANGE = 101,
	TL_NM_ECHO = 301,
};

/* 0800 with DE 7, 11, 41, 70 (never MACed). For TL_NM_KEYCHANGE use
 * tl_key_change. Errors: TL_ERR_ARG, the exchange errors below. */
int tl_network(tl_term *t, enum tl_netcode code, struct tl_answer *a);

/* 0800 key change: on a 00 answer, decrypts KP and KA of DE 48 with the
 * TMK, checks CP and CA, and puts the new TPK and TAK in force for the
 * next message; on any failure the old keys stay. Errors: the exchange
 * errors, TL_ERR_NO_KEY (no TMK to decrypt with), TL_ERR_KEYS. */
int tl_key_change(tl_term *t, struct tl_answer *a);

/* 0200: a new STAN, DE 7 and RRN; PIN block under the TPK when f->pin is
 * set; MAC when the terminal has a TAK. Remembered for tl_repeat and, when
 * the amount is not zero, for tl_reverse. Errors: TL_ERR_ARG (bad card or
 * field), TL_ERR_NO_KEY (PIN without a TPK), the exchange errors. */
int tl_financial(tl_term *t, const struct tl_fin *f, struct tl_answer *a);

/* PIN change (0200, processing code 920000, docs/message-profile.md): the
 * current PIN's block in DE 52 and the new one's in DE 48 tag NP, both
 * under the TPK. Remembered for tl_repeat. Errors: as tl_financial. */
int tl_pin_change(tl_term *t, const struct tl_card *c, const char *old_pin, const char *new_pin,
                  struct tl_answer *a);

/* Cardless cash withdrawal (0200, processing code 930000): no card; the
 * voucher's reference (cash-account number, 13-16 digits) in DE 102 and
 * its 8-digit code as a format-0 PIN block with the reference in place of
 * the PAN. Remembered for tl_repeat and tl_reverse. Errors: as
 * tl_financial. */
int tl_cardless(tl_term *t, const char *reference, const char *code, uint64_t amount,
                const char *currency, struct tl_answer *a);

/* The last 0200 or 0420 again as a repeat (0201, 0421): same STAN, DE 7
 * and content, MAC recomputed. Errors: TL_ERR_NO_ORIGINAL, exchange errors. */
int tl_repeat(tl_term *t, struct tl_answer *a);

/* The last 0200 or 0420 again with the same MTI, STAN and DE 7 but DE 4
 * replaced (a duplicate with different content; the switch answers 94).
 * The remembered request is not changed. Errors: as tl_repeat. */
int tl_resend_amount(tl_term *t, uint64_t amount, struct tl_answer *a);

/* The amount tl_resend_amount replaces: DE 4 of the last 0200, or the
 * DE 95 amount of the last 0420 (0 for a full reversal); 0 when none. */
uint64_t tl_last_amount(const tl_term *t);

/* 0420 for the last 0200 with an amount: new STAN and DE 7, the original's
 * RRN and DE 38, DE 90 with the original's MTI, STAN, DE 7 and DE 32; DE 95
 * with `dispensed` when 0 < dispensed < the original amount (partial
 * dispense). Without an answer it is repeated as 0421 (same STAN and DE 7)
 * up to `repeats` times (tl_exchange_repeat). The reversal becomes the
 * request tl_repeat sends.
 * Errors: TL_ERR_NO_ORIGINAL, TL_ERR_ARG (dispensed over the amount), the
 * exchange errors (TL_ERR_TIMEOUT when no try was answered). */
int tl_reverse(tl_term *t, uint64_t dispensed, unsigned repeats, struct tl_answer *a);

/* Sends any message and waits for its answer (fills `a`; its `sends` and
 * `skipped` counters are added to, so zero `a` first): MACed (DE 64 or 128 set
 * here) when `mac` and the terminal has a TAK, in which case the answer's
 * MAC is checked. Errors: TL_ERR_CLOSED, TL_ERR_ENCODE, TL_ERR_IO,
 * TL_ERR_TIMEOUT, TL_ERR_FRAME, TL_ERR_DECODE. */
int tl_exchange(tl_term *t, struct iso_msg *req, bool mac, struct tl_answer *a);

/* How many times a terminal repeats a message it must get acknowledged
 * (a reversal, a void, an advice, a batch) when no answer comes. */
#define TL_REPEATS 3

/* A message that must be acknowledged (0400, 0420, 0220, 0500): exchanged
 * MACed as tl_exchange does, and while no answer comes in time, or the
 * answer's MAC fails (tl_mac_failed: an acknowledgement the terminal cannot
 * trust, which a forged or corrupted answer must not stop; the repeat then
 * goes when the time-out would have passed), sent again as its repeat
 * (last MTI digit 1: 0401, 0421, 0221, 0501) with the same STAN, DE 7 and
 * content, up to `repeats` times (WIRE.md "repeats": the switch answers a
 * repeat as the original and posts nothing twice). `req` ends
 * with the last transmission's MTI; `a` as tl_exchange (a->sends counts
 * every transmission; after the last repeat a->mac may still have failed).
 * Errors: those of tl_exchange; TL_ERR_TIMEOUT when no transmission was
 * answered. */
int tl_exchange_repeat(tl_term *t, struct iso_msg *req, unsigned repeats, struct tl_answer *a);

/* The answer's MAC failed: bad, or missing where the link MACs. */
bool tl_mac_failed(const struct tl_answer *a);

/* Whether a terminal must treat a financial request that moves money (a
 * cash withdrawal; a POS purchase, cash-back, pre-authorisation or refund)
 * as not done and reverse it in full: no answer in time (rc
 * TL_ERR_TIMEOUT), or an approval whose MAC is missing or wrong. A
 * decline, or an answer that is not an approval, leaves nothing to undo;
 * a lost connection is the switch's to reverse (docs/switchd.md). */
bool tl_unsure(int rc, const struct tl_answer *a);

/* The answer of the last exchange, decoded; valid until the next call
 * that talks to the switch. NULL when there was none. */
const struct iso_msg *tl_last_answer(const tl_term *t);

/* Bytes as they are, with no framing (hostile-client tests).
 * Errors: TL_ERR_CLOSED, TL_ERR_IO, TL_ERR_TIMEOUT. */
int tl_send_raw(tl_term *t, const uint8_t *bytes, size_t len);

/* Waits up to timeout_ms for the switch to close the connection; anything
 * it sends meanwhile is discarded. Returns 0 once closed (the terminal is
 * then disconnected), TL_ERR_TIMEOUT if still open, TL_ERR_CLOSED if it was
 * not connected. */
int tl_wait_close(tl_term *t, unsigned timeout_ms);

/* ---- other requests (pos-sim) -------------------------------------------- */

/* The identity of a new message: the next STAN (DE 11), DE 7 (UTC), DE 12
 * and 13 (local time) and a retrieval reference number (DE 37). */
struct tl_stamp {
	char stan[7], de7[11], time12[7], date13[5], rrn[13];
};
void tl_new_stamp(tl_term *t, struct tl_stamp *s);

/* Sets the terminal's own fields on a request: DE 18 (MCC), 32, 41, and 42
 * and 43 when configured. Errors: TL_ERR_ENCODE. */
int tl_put_terminal(const tl_term *t, struct iso_msg *m);

/* ISO 9564 format 0 PIN block under the TPK of the last key change.
 * Errors: TL_ERR_NO_KEY (no TPK yet), those of tl_pin_block. */
int tl_tpk_pin_block(const tl_term *t, const char *pin, const char *pan, uint8_t out[8]);

/* ---- building blocks (pure; exposed for tests and other terminals) ------ */

/* ISO 9564 format 0 PIN block of `pin` for `pan`, encrypted under the TPK.
 * Errors: TL_ERR_ARG (PIN not 4..12 digits, bad PAN), TL_ERR_CRYPTO. */
int tl_pin_block(const pc_key *tpk, const char *pin, const char *pan, uint8_t out[8]);

/* Which field carries the MAC of a message: 128 when it has any data
 * element above 64 (a secondary bitmap), else 64. */
unsigned tl_mac_field(const struct iso_msg *m);

/* Packs `m` into out[0..cap). With a TAK, sets the MAC field (tl_mac_field)
 * and fills it with the retail MAC (ISO 9797-1 algorithm 3, padding 1)
 * of every byte of the packed message before it; without, packs as is.
 * Errors: TL_ERR_ENCODE, TL_ERR_CRYPTO. */
int tl_pack_mac(const pc_key *tak, enum iso_profile prof, struct iso_msg *m,
                uint8_t *out, size_t cap, size_t *outlen);

/* Checks the MAC of a received message: `raw` is what iso_unpack decoded
 * into `m`. The MAC field (tl_mac_field) must be the last one. */
enum tl_mac tl_mac_verify(const pc_key *tak, enum iso_profile prof,
                          const uint8_t *raw, size_t len, const struct iso_msg *m);

/* Reads the key-change tags of DE 48 and decrypts the TPK and TAK with the
 * TMK (TDES-ECB per block), checking each against its KCV. Writes a reason
 * into why[0..cap) on failure. Errors: TL_ERR_KEYS. */
int tl_keys_from_de48(const pc_key *tmk, const char *de48, size_t len,
                      pc_key *tpk, pc_key *tak, char *why, size_t cap);

#endif
