/*
 * sw_metrics: switchd's counters, rendered in the Prometheus text format
 * (version 0.0.4) for the admin port's /metrics, and read back for the
 * live view (sw_live.h): a ring of per-second counts and latency
 * histograms over the last minute. Single-threaded: updated and read from
 * the event loop only. Times are CLOCK_MONOTONIC milliseconds.
 */
#ifndef SW_METRICS_H
#define SW_METRICS_H

#include <stdint.h>

struct evbuffer;

enum swm_counter {
	SWM_CONN_ACCEPTED,
	SWM_CONN_REFUSED,       /* over max_connections, or TLS handshake failed */
	SWM_CONN_CLOSED_IDLE,
	SWM_CONN_CLOSED_FRAMING,/* zero/over-long/garbage length header, stalled message */
	SWM_MSG_FORMAT_ERROR,   /* decoded badly or missing a mandatory field */
	SWM_MAC_FAILURES,
	SWM_DEADLINE_91,        /* answered 91 because the deadline passed */
	SWM_DB_ERRORS,          /* statement failed, queue full, or connection lost */
	SWM_DB_UNAVAILABLE,
	SWM_HSM_ERRORS,         /* HSM unreachable, timed out, or answered garbage */
	SWM_LATE_REVERSALS,     /* approvals the switch reversed itself */
	SWM_LATE_REVERSAL_FAILURES,
	SWM_UNDELIVERED,        /* answers the terminal was gone for */
	SWM_KEY_CHANGES,
	SWM_ADMIN_UNAUTHORISED, /* /live requests without the admin token */
	SWM_NCOUNTERS
};

/* Count one answered request: its MTI and the DE 39 sent, and how long
 * the switch took from the last byte in to the answer queued. */
void swm_answer(const char mti[4], const char rc[2], uint64_t usec);
void swm_inc(enum swm_counter c);

/* Gauges sampled when /metrics is rendered. */
struct swm_gauges {
	unsigned connections, inflight, signed_on;
	unsigned db_connected, db_size, db_queued, db_inflight;
	unsigned hsm_connected, hsm_size;
	unsigned pending_reversals;
	int draining;
};

void swm_render(struct evbuffer *out, const struct swm_gauges *g);

/* Latency percentile (0..100) over everything answered, in microseconds,
 * from the histogram (upper bound of the bucket); 0 before the first
 * answer, SWM_BEYOND past the last bound (3 s). */
#define SWM_BEYOND UINT64_MAX
uint64_t swm_latency_percentile(double pct);

/* ---- read back for the live view ---------------------------------------- */

uint64_t swm_now_ms(void);
unsigned long long swm_count(enum swm_counter c);
/* When c was last counted, 0 if never. */
uint64_t swm_last_ms(enum swm_counter c);

/* Answers over a window. "Transactions" are the answers to 01xx, 02xx and
 * 04xx requests (authorisations, financial requests and advices,
 * reversals); "financial" the 01xx and 02xx among them, whose DE 39 is an
 * approval (00, 08, 10, 11) or a decline. Latency covers every answer,
 * network management included, as /metrics' histogram does. */
#define SWM_WINDOW_MAX 60
struct swm_window {
	unsigned seconds; /* the window asked for, or the time since start when shorter */
	unsigned long long transactions, financial, approved, answers;
	uint64_t p50_us, p95_us, p99_us; /* as swm_latency_percentile */
};

/* The last `seconds` (1..SWM_WINDOW_MAX) including the current one, or,
 * with 0, everything since the start. */
void swm_window(unsigned seconds, struct swm_window *w);

/* Financial answers that were not approvals, by DE 39, since the start. */
struct swm_decline {
	char rc[3];
	unsigned long long n;
	uint64_t last_ms;
};

/* Fills up to max, most frequent first; returns how many. */
unsigned swm_declines(struct swm_decline *out, unsigned max);

/* Whether DE 39 `rc` is an approval (ISO 8583:1987 00, 08, 10, 11). */
int swm_rc_approved(const char rc[2]);

#endif
