/* switchd's Prometheus counters: see sw_metrics.h. */
#include "sw_metrics.h"

#include <string.h>
#include <time.h>

#include <event2/buffer.h>

static unsigned long long counters[SWM_NCOUNTERS];
static uint64_t counter_last_ms[SWM_NCOUNTERS];

static const struct {
	const char *name, *help;
} counter_info[SWM_NCOUNTERS] = {
	[SWM_CONN_ACCEPTED] = {"switchd_connections_accepted_total", "Terminal connections accepted"},
	[SWM_CONN_REFUSED] = {"switchd_connections_refused_total",
	                      "Connections refused: over the limit or TLS handshake failed"},
	[SWM_CONN_CLOSED_IDLE] = {"switchd_connections_idle_closed_total",
	                          "Connections closed after the idle timeout"},
	[SWM_CONN_CLOSED_FRAMING] = {"switchd_connections_framing_closed_total",
	                             "Connections closed for a bad length header or a stalled message"},
	[SWM_MSG_FORMAT_ERROR] = {"switchd_format_errors_total",
	                          "Messages that failed to decode or missed a mandatory field"},
	[SWM_MAC_FAILURES] = {"switchd_mac_failures_total", "Messages answered 63 (MAC missing or wrong)"},
	[SWM_DEADLINE_91] = {"switchd_deadline_expired_total",
	                     "Transactions answered 91 because the deadline passed"},
	[SWM_DB_ERRORS] = {"switchd_db_errors_total", "Database requests that failed or were lost"},
	[SWM_DB_UNAVAILABLE] = {"switchd_db_unavailable_total",
	                        "Database requests refused at once: queue full"},
	[SWM_HSM_ERRORS] = {"switchd_hsm_errors_total",
	                    "HSM commands unanswered (unavailable, timed out, lost, malformed)"},
	[SWM_LATE_REVERSALS] = {"switchd_late_reversals_total",
	                        "Approvals reversed by the switch: committed after the deadline or undeliverable"},
	[SWM_LATE_REVERSAL_FAILURES] = {"switchd_late_reversal_retries_total",
	                                "Attempts at such a reversal that must be retried"},
	[SWM_UNDELIVERED] = {"switchd_undelivered_answers_total",
	                     "Answers whose terminal connection had closed"},
	[SWM_KEY_CHANGES] = {"switchd_key_changes_total", "Terminal key changes completed"},
	[SWM_ADMIN_UNAUTHORISED] = {"switchd_admin_unauthorised_total",
	                            "Admin requests for /live refused: no or wrong token"},
};

/* Answers by request MTI and response code: a small table, linear search
 * (a few dozen combinations in practice). */
#define MAX_PAIRS 128
static struct {
	char mti[5], rc[3];
	unsigned long long n;
	uint64_t last_ms;
} pairs[MAX_PAIRS];
static unsigned npairs;
static unsigned long long pairs_overflow;

/* Latency histogram, upper bounds in microseconds. */
static const uint64_t bounds_us[] = {250,   500,    1000,   2000,   5000,    10000,  20000,
                                     50000, 100000, 250000, 500000, 1000000, 3000000};
#define NBUCKETS (sizeof bounds_us / sizeof bounds_us[0])
static unsigned long long buckets[NBUCKETS + 1];
static unsigned long long lat_count;
static double lat_sum_s;

/* What one answer adds to a window's counts. */
struct tally {
	unsigned long long transactions, financial, approved, answers;
};
static struct tally totals;

/* The last minute, one slot per second: a slot is reused (zeroed) when
 * its second comes round again, so reading skips slots of other seconds. */
#define RING 64
static struct sec_slot {
	uint64_t sec; /* monotonic second + 1; 0: never used */
	struct tally n;
	unsigned buckets[NBUCKETS + 1];
} ring[RING];

_Static_assert(RING > SWM_WINDOW_MAX, "the ring must hold the longest window");

uint64_t swm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void swm_inc(enum swm_counter c)
{
	counters[c]++;
	counter_last_ms[c] = swm_now_ms();
}

unsigned long long swm_count(enum swm_counter c)
{
	return counters[c];
}

uint64_t swm_last_ms(enum swm_counter c)
{
	return counter_last_ms[c];
}

int swm_rc_approved(const char rc[2])
{
	return !memcmp(rc, "00", 2) || !memcmp(rc, "08", 2) || !memcmp(rc, "10", 2) ||
	       !memcmp(rc, "11", 2);
}

static unsigned bucket_of(uint64_t usec)
{
	unsigned b = 0;
	while (b < NBUCKETS && usec > bounds_us[b])
		b++;
	return b;
}

static void tally_add(struct tally *t, const char mti[4], const char rc[2])
{
	t->answers++;
	/* MTI "0xyy": x is the message class (1 authorisation, 2 financial,
	 * 4 reversal, 5 reconciliation, 8 network management). */
	if (mti[1] == '1' || mti[1] == '2' || mti[1] == '4')
		t->transactions++;
	if (mti[1] == '1' || mti[1] == '2') {
		t->financial++;
		if (swm_rc_approved(rc))
			t->approved++;
	}
}

static void count_second(uint64_t now_ms, const char mti[4], const char rc[2], unsigned b)
{
	uint64_t sec = now_ms / 1000 + 1;
	struct sec_slot *s = &ring[sec % RING];
	if (s->sec != sec) {
		memset(s, 0, sizeof *s);
		s->sec = sec;
	}
	tally_add(&s->n, mti, rc);
	s->buckets[b]++;
}

void swm_answer(const char mti[4], const char rc[2], uint64_t usec)
{
	uint64_t now = swm_now_ms();
	unsigned b = bucket_of(usec);
	count_second(now, mti, rc, b);
	tally_add(&totals, mti, rc);
	unsigned i;
	for (i = 0; i < npairs; i++)
		if (!memcmp(pairs[i].mti, mti, 4) && !memcmp(pairs[i].rc, rc, 2))
			break;
	if (i == npairs) {
		if (npairs == MAX_PAIRS) {
			pairs_overflow++;
			goto latency;
		}
		memcpy(pairs[i].mti, mti, 4);
		memcpy(pairs[i].rc, rc, 2);
		npairs++;
	}
	pairs[i].n++;
	pairs[i].last_ms = now;
latency:
	buckets[b]++;
	lat_count++;
	lat_sum_s += (double)usec / 1e6;
}

/* The upper bound of the bucket holding the answer of rank ceil(n * pct
 * / 100) (at least the first). */
static uint64_t percentile(const unsigned long long *b, unsigned long long n, double pct)
{
	if (!n)
		return 0;
	double r = (double)n * pct / 100.0;
	unsigned long long want = (unsigned long long)r;
	if ((double)want < r)
		want++;
	if (want == 0)
		want = 1;
	unsigned long long seen = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		seen += b[i];
		if (seen >= want)
			return bounds_us[i];
	}
	return SWM_BEYOND;
}

uint64_t swm_latency_percentile(double pct)
{
	return percentile(buckets, lat_count, pct);
}

void swm_window(unsigned seconds, struct swm_window *w)
{
	struct tally t = {0};
	unsigned long long b[NBUCKETS + 1] = {0};
	if (seconds == 0) {
		t = totals;
		memcpy(b, buckets, sizeof b);
	} else {
		if (seconds > SWM_WINDOW_MAX)
			seconds = SWM_WINDOW_MAX;
		uint64_t now = swm_now_ms() / 1000 + 1;
		for (unsigned k = 0; k < seconds && k < now; k++) {
			const struct sec_slot *s = &ring[(now - k) % RING];
			if (s->sec != now - k)
				continue;
			t.transactions += s->n.transactions;
			t.financial += s->n.financial;
			t.approved += s->n.approved;
			t.answers += s->n.answers;
			for (unsigned i = 0; i <= NBUCKETS; i++)
				b[i] += s->buckets[i];
		}
	}
	w->transactions = t.transactions;
	w->financial = t.financial;
	w->approved = t.approved;
	w->answers = t.answers;
	w->p50_us = percentile(b, t.answers, 50);
	w->p95_us = percentile(b, t.answers, 95);
	w->p99_us = percentile(b, t.answers, 99);
}

unsigned swm_declines(struct swm_decline *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < npairs; i++) {
		const char *m = pairs[i].mti;
		if ((m[1] != '1' && m[1] != '2') || swm_rc_approved(pairs[i].rc))
			continue;
		unsigned j = 0;
		while (j < n && memcmp(out[j].rc, pairs[i].rc, 2))
			j++;
		if (j == n) {
			if (n == max)
				continue;
			memcpy(out[n].rc, pairs[i].rc, 3);
			out[n].n = 0;
			out[n].last_ms = 0;
			n++;
		}
		out[j].n += pairs[i].n;
		if (pairs[i].last_ms > out[j].last_ms)
			out[j].last_ms = pairs[i].last_ms;
	}
	/* most frequent first; ties by code (a handful of entries) */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0; j--) {
			struct swm_decline *a = &out[j - 1], *c = &out[j];
			if (a->n > c->n || (a->n == c->n && memcmp(a->rc, c->rc, 2) <= 0))
				break;
			struct swm_decline t = *a;
			*a = *c;
			*c = t;
		}
	return n;
}

static void gauge(struct evbuffer *o, const char *name, const char *help, double v)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v);
}

void swm_render(struct evbuffer *o, const struct swm_gauges *g)
{
	for (unsigned c = 0; c < SWM_NCOUNTERS; c++)
		evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		                    counter_info[c].name, counter_info[c].help, counter_info[c].name,
		                    counter_info[c].name, counters[c]);

	evbuffer_add_printf(o, "# HELP switchd_messages_total Requests answered, by request MTI "
	                       "and response code (DE 39)\n# TYPE switchd_messages_total counter\n");
	for (unsigned i = 0; i < npairs; i++)
		evbuffer_add_printf(o, "switchd_messages_total{mti=\"%.4s\",rc=\"%.2s\"} %llu\n",
		                    pairs[i].mti, pairs[i].rc, pairs[i].n);
	evbuffer_add_printf(o, "# HELP switchd_messages_unlabelled_total Answers beyond the label "
	                       "table\n# TYPE switchd_messages_unlabelled_total counter\n"
	                       "switchd_messages_unlabelled_total %llu\n",
	                    pairs_overflow);

	evbuffer_add_printf(o, "# HELP switchd_latency_seconds Time from request to answer inside "
	                       "the switch\n# TYPE switchd_latency_seconds histogram\n");
	unsigned long long cum = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		cum += buckets[b];
		evbuffer_add_printf(o, "switchd_latency_seconds_bucket{le=\"%g\"} %llu\n",
		                    (double)bounds_us[b] / 1e6, cum);
	}
	cum += buckets[NBUCKETS];
	evbuffer_add_printf(o, "switchd_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	evbuffer_add_printf(o, "switchd_latency_seconds_sum %f\nswitchd_latency_seconds_count %llu\n",
	                    lat_sum_s, lat_count);

	gauge(o, "switchd_connections", "Open terminal connections", g->connections);
	gauge(o, "switchd_signed_on", "Connections signed on", g->signed_on);
	gauge(o, "switchd_inflight", "Requests being processed", g->inflight);
	gauge(o, "switchd_pending_reversals", "Switch-initiated reversals waiting for the database",
	      g->pending_reversals);
	gauge(o, "switchd_db_connections_up", "Database connections up", g->db_connected);
	gauge(o, "switchd_db_connections", "Database connections configured", g->db_size);
	gauge(o, "switchd_db_queued", "Database requests waiting for a connection", g->db_queued);
	gauge(o, "switchd_db_inflight", "Database requests sent, not yet answered", g->db_inflight);
	gauge(o, "switchd_hsm_connections_up", "HSM connections up", g->hsm_connected);
	gauge(o, "switchd_hsm_connections", "HSM connections configured", g->hsm_size);
	gauge(o, "switchd_draining", "1 while shutting down", g->draining);
}
