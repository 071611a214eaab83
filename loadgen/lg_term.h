/*
 * lg_term: loadgen's terminals, many on one libevent loop. Each is a real
 * terminal on its own TCP connection to switchd: its DE 41, its STAN
 * counter, its TMK; it signs on (0800/001), changes keys (0800/101, the
 * TPK and TAK of DE 48 decrypted with the TMK and checked against their
 * KCVs), then takes requests one at a time, like an ATM: 0200s with PIN
 * blocks under the TPK and MACs under the TAK (tlreq, termlink's building
 * blocks), and 0420s for its earlier approvals.
 *
 * Like atm-sim (docs/atm-sim.md "Behaviour"): a withdrawal that gets no
 * answer within the time-out, or an approval whose MAC fails, is reversed
 * in full with a 0420, repeated as 0421 until answered (up to `repeats`
 * times); so is a purchase, as pos-sim does; a mix reversal that gets no
 * answer is repeated the same way. The terminal takes no request
 * meanwhile. A dropped connection is re-opened after `backoff_ms`, with a
 * new sign-on and key change, and a withdrawal or purchase that was in
 * flight is reversed then.
 *
 * Every terminal has one state (enum lgt_state), changed in one place.
 * The engine reports through hooks, called from the event loop (never
 * from inside lgt_send): `ready` when a terminal can take a request,
 * `result` for every request lgt_send accepted, `failed` when one could
 * not be set up (it then stays out of the run), and `final` (optional)
 * once for every request's and every owed reversal's final outcome, as
 * the terminal saw it. Hooks may call lgt_send, never lgt_free.
 *
 * Nothing here prints a PAN, PIN, PIN block or key; -v traces state
 * changes only.
 */
#ifndef LG_TERM_H
#define LG_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iso8583.h"
#include "lg_sched.h"
#include "termlink.h"

struct event_base;

enum lgt_state {
	LGT_NEW,        /* not started */
	LGT_CONNECTING,
	LGT_SIGNON,     /* 0800/001 sent */
	LGT_KEYCHANGE,  /* 0800/101 sent */
	LGT_READY,      /* signed on, keys in force, nothing in flight */
	LGT_BUSY,       /* a request in flight */
	LGT_REVERSING,  /* a 0420/0421 in flight that the terminal owes */
	LGT_BACKOFF,    /* connection lost; reconnecting after backoff_ms */
	LGT_FAILED,     /* could not be set up; out of the run */
};

const char *lgt_state_name(enum lgt_state s);

enum lgt_outcome {
	LGT_ANSWERED, /* a matching answer with a good MAC (rc says the rest) */
	LGT_TIMEOUT,  /* none within timeout_ms */
	LGT_MACFAIL,  /* an answer whose MAC is missing or wrong */
	LGT_LOST,     /* the connection dropped with the request in flight */
};

struct lgt_result {
	enum lgs_op op;         /* as sent */
	bool fallback;          /* a reversal with nothing to reverse, sent as a withdrawal */
	enum lgs_op reversed;   /* op LGS_REVERSAL: what its original was */
	enum lgt_outcome outcome;
	char rc[3];             /* DE 39 when answered */
	uint64_t amount;        /* DE 4 (a reversal: the original's) */
	uint64_t intended_ns, sent_ns, done_ns;
};

/* What happened outside the requests' results. */
struct lgt_counters {
	uint64_t connects, disconnects, setup_failed;
	uint64_t unmatched;      /* answers that matched nothing in flight (late) */
	uint64_t undecodable;    /* messages that did not decode (dropped) */
	uint64_t adv_started;    /* reversals owed: time-outs, MAC failures, lost */
	uint64_t adv_sent;       /* their transmissions (0420 and 0421) */
	uint64_t adv_acked, adv_unacked;
	uint64_t adv_acked_withdraw_amount; /* of acknowledged withdrawal reversals */
};

struct lgt_config {
	const char *host;
	unsigned port;
	enum iso_profile profile;
	enum iso_framing framing;   /* ISO_FRAME_BIN2 or ISO_FRAME_ASCII4 */
	unsigned timeout_ms;        /* answer deadline per transmission */
	unsigned repeats;           /* 0421 repeats of an unanswered reversal */
	unsigned backoff_ms;        /* before reconnecting */
	const char *acquirer;       /* DE 32 */
	const char *mcc;            /* DE 18 */
	const char *currency;       /* DE 49, numeric */
	uint64_t seed;              /* which earlier approval a reversal picks */
	int verbose;
};

/* A final outcome a terminal saw (loadgen --outcomes): a 0200's answer,
 * time-out or loss; a reversal's acknowledgement, or that it was given up
 * after its repeats. A mix reversal without an answer is reported once,
 * when its repeats end. */
struct lgt_final {
	const char *tid;
	const struct tlq_req *req; /* as first sent (0200 or 0420; holds the PAN: never print it) */
	enum lgs_op op;            /* withdraw, balance, purchase, reversal */
	enum lgs_op reversed;      /* op LGS_REVERSAL: the original's */
	const char *rc;            /* DE 39, or "timeout", "lost", "macfail", "pending" (loadgen stopped) */
	const char *approval;      /* DE 38 of the answer, "" when none */
	bool acked;                /* a reversal: an 0430 came */
	unsigned sends;            /* a reversal: its transmissions (0420 and 0421s) */
};

struct lgt_hooks {
	void (*ready)(unsigned term, void *arg);
	void (*result)(unsigned term, const struct lgt_result *r, void *arg);
	void (*failed)(unsigned term, const char *why, void *arg);
	void (*final)(unsigned term, const struct lgt_final *f, void *arg);
};

typedef struct lgt_engine lgt_engine;

/* An engine for `n` terminals (none started). NULL with a reason in
 * why[0..cap) when the host does not resolve or memory runs out. */
lgt_engine *lgt_new(struct event_base *base, const struct lgt_config *cfg, unsigned n,
                    const struct lgt_hooks *hooks, void *arg, char *why, size_t cap);
/* Closes every connection and frees everything. Not from a hook. */
void lgt_free(lgt_engine *e);

/* Terminal i's identity: DE 41 (1..8 characters), its clear TMK (16 or
 * 24 bytes, odd parity), its first STAN. Returns 0, or -1 with a reason. */
int lgt_define(lgt_engine *e, unsigned i, const char *tid, const uint8_t *tmk, size_t len,
               unsigned stan, char *why, size_t cap);
/* Connects, signs on and changes keys; `ready` or `failed` follows. */
void lgt_start(lgt_engine *e, unsigned i);

enum lgt_state lgt_state_of(const lgt_engine *e, unsigned i);
/* Terminals with a request in flight or a reversal owed (in flight, or
 * waiting for a reconnection). */
unsigned lgt_busy(const lgt_engine *e);
/* Reports every request still in flight and every reversal still owed to
 * the `final` hook as "pending": for the end of a run that stops waiting.
 * Changes no state. */
void lgt_report_pending(lgt_engine *e);
const struct lgt_counters *lgt_counters_of(const lgt_engine *e);

/* A request for terminal i, stamped with its intended time (open loop: the
 * scheduled arrival, so that time spent waiting in loadgen counts).
 * Returns 0 when sent (a result follows), LGT_SEND_BUSY when the terminal
 * is not READY, LGT_SEND_ERROR when the request cannot be built or queued
 * (bad card data; nothing sent, the terminal stays READY). *sent gets the
 * operation sent: a reversal when the terminal has nothing left to reverse
 * goes as a withdrawal. */
enum { LGT_SEND_BUSY = -1, LGT_SEND_ERROR = -2 };
int lgt_send(lgt_engine *e, unsigned i, enum lgs_op op, const struct tl_card *card,
             const char *pin, uint64_t amount, uint64_t intended_ns, enum lgs_op *sent);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lgt_now_ns(void);

#endif
