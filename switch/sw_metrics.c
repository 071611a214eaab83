/* switchd's Prometheus counters: see sw_metrics.h. */
#include "sw_metrics.h"

#include <string.h>

#include <event2/buffer.h>

static unsigned long long counters[SWM_NCOUNTERS];

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
};

/* Answers by request MTI and response code: a small table, linear search
 * (a few dozen combinations in practice). */
#define MAX_PAIRS 128
static struct {
	char mti[5], rc[3];
	unsigned long long n;
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

void swm_inc(enum swm_counter c)
{
	counters[c]++;
}

void swm_answer(const char mti[4], const char rc[2], uint64_t usec)
{
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
latency:;
	unsigned b = 0;
	while (b < NBUCKETS && usec > bounds_us[b])
		b++;
	buckets[b]++;
	lat_count++;
	lat_sum_s += (double)usec / 1e6;
}

uint64_t swm_latency_percentile(double pct)
{
	if (!lat_count)
		return 0;
	unsigned long long want = (unsigned long long)((double)lat_count * pct / 100.0);
	unsigned long long seen = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += buckets[b];
		if (seen >= want && seen > 0)
			return bounds_us[b];
	}
	return bounds_us[NBUCKETS - 1];
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
