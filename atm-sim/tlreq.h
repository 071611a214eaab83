/*
 * tlreq: a terminal's financial requests and reversals as data, and the
 * messages built from them, with no I/O (STYLE.md 1). termlink keeps one
 * of these per request it may repeat or reverse; loadgen, which runs
 * thousands of terminals on one event loop, builds its messages with the
 * same functions.
 *
 * A request holds what its message needs: the terminal's own fields come
 * from a struct tlq_ident, the STAN from the caller (each terminal has its
 * own counter, tlq_next_stan), DE 7, 12, 13 and the RRN from the clock
 * (tlq_stamp). The layouts are those of docs/atm-sim.md "Behaviour".
 *
 * A request may hold a PAN and a PIN block: wipe it (pc_wipe) when done.
 *
 * Errors: 0 or a negative TL_ERR_* (termlink.h), with a one-line reason
 * in *why (a static string) when why is not NULL.
 */
#ifndef TLREQ_H
#define TLREQ_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "iso8583.h"
#include "paycrypto.h"
#include "termlink.h"

/* The terminal's own fields: DE 41, 32, 18, and 42 and 43 when not "". */
struct tlq_ident {
	char tid[9], acq[12], mcc[5], mid[16], loc[41];
};

enum tlq_kind { TLQ_NONE, TLQ_FIN, TLQ_REV };

/* A 0200 (TLQ_FIN) or 0420 (TLQ_REV) as first sent. */
struct tlq_req {
	enum tlq_kind kind;
	char mti[5];                 /* 0200 / 0420 */
	char stan[7], de7[11], time12[7], date13[5], rrn[13];
	char pan[20], expiry[5], track2[38], proc[7], currency[4], entry[4];
	uint64_t amount;
	bool has_pin;
	uint8_t pin_block[8];
	char approval[7];            /* TLQ_REV: the original answer's DE 38 */
	char orig_mti[5], orig_stan[7], orig_de7[11];
	uint64_t dispensed;          /* DE 95 when partial */
	bool partial;
	char de48[40];               /* private tags, e.g. NP (PIN change); "" none */
	char reference[17];          /* DE 102 instead of a card (cardless cash); "" none */
};

/* The STAN a counter gives (6 digits), then the counter moves on
 * (1..999999, wrapping; a counter outside that range restarts at 1). */
void tlq_next_stan(unsigned *counter, char out[7]);

/* A terminal's first STAN when none is configured, from the wall clock
 * NOW: its time of day in units of 100 us, modulo 999999, plus 1 (1..999999;
 * it wraps every 100 s, and DE 7 has moved on by then). The switch's
 * duplicate key is DE 32, 41, 11 and 7 (to the second), so a session
 * started right after another of the same terminal must not reuse a STAN
 * the other sent in the same second; for that the first session would
 * have to send a message every 100 us. A stand-in for a terminal's own
 * persistent counter. */
unsigned tlq_first_stan(const struct timespec *now);
/* tlq_first_stan() of the wall clock now. */
unsigned tlq_first_stan_now(void);

/* DE 7 (UTC), DE 12 and 13 (local time) and DE 37 of a request whose
 * r->stan is set, at `now`. */
void tlq_stamp(struct tlq_req *r, time_t now);

/* A new 0200 with STAN `stan` at `now`: track 2 from the card, the PIN
 * block under `tpk` when f->pin is set. Errors: TL_ERR_ARG (bad field or
 * card), TL_ERR_NO_KEY (a PIN but no TPK), TL_ERR_CRYPTO. */
int tlq_financial(struct tlq_req *r, const struct tl_fin *f, const pc_key *tpk,
                  const char *stan, time_t now, const char **why);

/* A new 0420 reversing `orig` (a TLQ_FIN with an amount), STAN `stan` at
 * `now`, keeping the original's RRN and approval code; a partial dispense
 * when 0 < dispensed < the original amount. Errors: TL_ERR_NO_ORIGINAL,
 * TL_ERR_ARG (dispensed not below the amount). */
int tlq_reversal(struct tlq_req *r, const struct tlq_req *orig, uint64_t dispensed,
                 const char *stan, time_t now, const char **why);

/* The message of `r` with the given MTI (0200, 0201, 0420, 0421), without
 * MAC (tl_pack_mac adds it). Errors: TL_ERR_ENCODE. */
int tlq_build(const struct tlq_ident *id, const struct tlq_req *r, const char *mti,
              struct iso_msg *m);

/* A 0800 with DE 7 and 11 of `r` (stamped), 41 and 70 = code.
 * Errors: TL_ERR_ENCODE. */
int tlq_network(const struct tlq_ident *id, const struct tlq_req *r, unsigned code,
                struct iso_msg *m);

#endif
