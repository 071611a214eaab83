/*
 * sw_metrics: switchd's counters, rendered in the Prometheus text format
 * (version 0.0.4) for the admin port's /metrics. Single-threaded: updated
 * and read from the event loop only.
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
 * from the histogram (upper bound of the bucket). */
uint64_t swm_latency_percentile(double pct);

#endif
