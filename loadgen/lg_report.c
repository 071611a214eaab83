/* loadgen's counts and output (lg_report.h). */
#include "lg_report.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void lgr_count_sent(struct lgr_counts *c, enum lgs_op op, bool fallback)
{
	c->sent++;
	c->op[op].sent++;
	if (fallback)
		c->fallback++;
}

static unsigned rc_index(const char *rc)
{
	if (rc[0] >= '0' && rc[0] <= '9' && rc[1] >= '0' && rc[1] <= '9' && rc[2] == '\0')
		return (unsigned)(rc[0] - '0') * 10u + (unsigned)(rc[1] - '0');
	return 100;
}

void lgr_count_result(struct lgr_counts *c, const struct lgt_result *r)
{
	struct lgr_op *o = &c->op[r->op];
	switch (r->outcome) {
	case LGT_TIMEOUT:
		c->timeouts++;
		return;
	case LGT_LOST:
		c->lost++;
		return;
	case LGT_MACFAIL:
		c->macfail++;
		break;
	case LGT_ANSWERED:
		break;
	}
	c->answered++;
	o->answered++;
	c->rc[rc_index(r->rc)]++;
	if (r->outcome == LGT_ANSWERED && strcmp(r->rc, "00") == 0) {
		c->approved++;
		o->approved++;
		o->approved_amount += r->amount;
		if (r->op == LGS_REVERSAL && r->reversed == LGS_WITHDRAW)
			c->reversed_withdraw_amount += r->amount;
	}
}

static double throughput(const struct lgr_run *r)
{
	return r->duration_s > 0 ? (double)r->c.answered / r->duration_s : 0.0;
}

static double approval_pct(const struct lgr_counts *c)
{
	return c->answered ? 100.0 * (double)c->approved / (double)c->answered : 0.0;
}

static const double pcts[] = {50, 90, 99, 99.9};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9"};
static const char *const pct_keys[] = {"p50", "p90", "p99", "p999"};
#define NPCT (sizeof pcts / sizeof pcts[0])

/* The response code counted at rc[i]: "00".."99", or "other". */
static const char *rc_name(unsigned i, char buf[3])
{
	if (i >= 100)
		return "other";
	buf[0] = (char)('0' + i / 10);
	buf[1] = (char)('0' + i % 10);
	buf[2] = '\0';
	return buf;
}

static void rc_list(FILE *f, const struct lgr_counts *c, const char *sep, const char *kv)
{
	bool first = true;
	char buf[3];
	for (unsigned i = 0; i <= 100; i++) {
		if (c->rc[i] == 0)
			continue;
		fprintf(f, "%s%s%s%llu", first ? "" : sep, rc_name(i, buf), kv, (unsigned long long)c->rc[i]);
		first = false;
	}
}

void lgr_print_table(FILE *f, const struct lgr_run *r)
{
	const struct lgr_counts *c = &r->c;
	if (r->closed)
		fprintf(f, "loadgen: closed loop (think %u ms)", r->think_ms);
	else
		fprintf(f, "loadgen: open loop, %s arrivals at %.1f tx/s", r->arrivals, r->rate);
	fprintf(f, ", %u terminals (%u set up), %s, %.1f s measured after %.1f s warm-up, seed %llu\n",
	        r->terminals, r->ready, r->profile, r->duration_s, r->warmup_s,
	        (unsigned long long)r->seed);
	fprintf(f, "  requests     ");
	if (!r->closed)
		fprintf(f, "offered %llu  skipped %llu  ", (unsigned long long)c->offered,
		        (unsigned long long)c->skipped);
	fprintf(f, "sent %llu  answered %llu  time-outs %llu  MAC failures %llu  lost %llu",
	        (unsigned long long)c->sent, (unsigned long long)c->answered,
	        (unsigned long long)c->timeouts, (unsigned long long)c->macfail,
	        (unsigned long long)c->lost);
	if (c->send_errors)
		fprintf(f, "  not built %llu", (unsigned long long)c->send_errors);
	if (r->unfinished)
		fprintf(f, "  unfinished %llu", (unsigned long long)r->unfinished);
	fprintf(f, "\n  throughput   %.1f answered/s   approved %.1f %%\n", throughput(r), approval_pct(c));
	fprintf(f, "  latency us  ");
	for (size_t i = 0; i < NPCT; i++)
		fprintf(f, " %s %llu ", pct_names[i], (unsigned long long)lgh_percentile(&r->lat, pcts[i]));
	fprintf(f, " max %llu  mean %.0f\n", (unsigned long long)r->lat.max, lgh_mean(&r->lat));
	fprintf(f, "  codes        ");
	rc_list(f, c, "  ", " ");
	fprintf(f, "\n  %-10s %10s %10s %10s %16s\n", "operation", "sent", "answered", "approved",
	        "approved amount");
	for (unsigned op = 0; op < LGS_NOPS; op++) {
		const struct lgr_op *o = &c->op[op];
		if (o->sent == 0)
			continue;
		fprintf(f, "  %-10s %10llu %10llu %10llu %16llu\n", lgs_op_name((enum lgs_op)op),
		        (unsigned long long)o->sent, (unsigned long long)o->answered,
		        (unsigned long long)o->approved, (unsigned long long)o->approved_amount);
	}
	if (c->fallback)
		fprintf(f, "  (%llu reversals had nothing to reverse and went as withdrawals)\n",
		        (unsigned long long)c->fallback);
	const struct lgt_counters *e = &r->ev;
	fprintf(f, "  reversals owed (time-outs, MAC failures, lost): %llu, sent %llu times, acknowledged %llu,"
	           " unacknowledged %llu\n",
	        (unsigned long long)e->adv_started, (unsigned long long)e->adv_sent,
	        (unsigned long long)e->adv_acked, (unsigned long long)e->adv_unacked);
	fprintf(f, "  late or unmatched answers %llu, disconnects %llu, set-up failures %llu",
	        (unsigned long long)e->unmatched, (unsigned long long)e->disconnects,
	        (unsigned long long)e->setup_failed);
	if (!r->closed)
		fprintf(f, ", send lag us p99 %llu max %llu", (unsigned long long)lgh_percentile(&r->lag, 99),
		        (unsigned long long)r->lag.max);
	fprintf(f, "\n");
}

static void line(FILE *f, const struct lgr_run *r, const char *metric, double v, const char *unit)
{
	fprintf(f, "bench: %s.%s %.*f %s\n", r->name, metric, v == (double)(uint64_t)v ? 0 : 1, v, unit);
}

void lgr_print_bench(FILE *f, const struct lgr_run *r)
{
	const struct lgr_counts *c = &r->c;
	if (!r->closed)
		line(f, r, "offered_rate", r->rate, "tx/s");
	line(f, r, "throughput", throughput(r), "tx/s");
	fprintf(f, "bench: %s.approval_ratio %.1f %%\n", r->name, approval_pct(c));
	line(f, r, "sent", (double)c->sent, "requests");
	line(f, r, "answered", (double)c->answered, "requests");
	line(f, r, "approved", (double)c->approved, "requests");
	line(f, r, "timeouts", (double)c->timeouts, "requests");
	line(f, r, "skipped", (double)c->skipped, "requests");
	line(f, r, "macfail", (double)c->macfail, "requests");
	line(f, r, "lost", (double)c->lost, "requests");
	for (size_t i = 0; i < NPCT; i++) {
		char m[32];
		snprintf(m, sizeof m, "latency_%s", pct_keys[i]);
		line(f, r, m, (double)lgh_percentile(&r->lat, pcts[i]), "us");
	}
	line(f, r, "latency_max", (double)r->lat.max, "us");
	fprintf(f, "bench: %s.latency_mean %.0f us\n", r->name, lgh_mean(&r->lat));
	for (unsigned i = 0; i <= 100; i++) {
		char m[16], buf[3];
		snprintf(m, sizeof m, "rc_%s", rc_name(i, buf));
		if (c->rc[i])
			line(f, r, m, (double)c->rc[i], "answers");
	}
	for (unsigned op = 0; op < LGS_NOPS; op++) {
		const struct lgr_op *o = &c->op[op];
		if (o->sent == 0)
			continue;
		const char *n = lgs_op_name((enum lgs_op)op);
		char m[48];
		snprintf(m, sizeof m, "%s.sent", n);
		line(f, r, m, (double)o->sent, "requests");
		snprintf(m, sizeof m, "%s.approved", n);
		line(f, r, m, (double)o->approved, "requests");
		snprintf(m, sizeof m, "%s.approved_amount", n);
		line(f, r, m, (double)o->approved_amount, "minor");
	}
	if (c->op[LGS_REVERSAL].sent)
		line(f, r, "reversal.withdraw_amount", (double)c->reversed_withdraw_amount, "minor");
	line(f, r, "advice_started", (double)r->ev.adv_started, "reversals");
	line(f, r, "advice_unacked", (double)r->ev.adv_unacked, "reversals");
	line(f, r, "advice_withdraw_amount", (double)r->ev.adv_acked_withdraw_amount, "minor");
	line(f, r, "unmatched", (double)r->ev.unmatched, "answers");
	line(f, r, "disconnects", (double)r->ev.disconnects, "connections");
	line(f, r, "setup_failed", (double)r->ev.setup_failed, "terminals");
	if (!r->closed) {
		line(f, r, "send_lag_p99", (double)lgh_percentile(&r->lag, 99), "us");
		line(f, r, "send_lag_max", (double)r->lag.max, "us");
	}
}

static const char csv_header[] =
	"time_utc,label,mode,arrivals,rate_tps,think_ms,terminals,ready,profile,duration_s,warmup_s,seed,"
	"offered,sent,skipped,answered,approved,approval_pct,timeouts,macfail,lost,throughput_tps,"
	"p50_us,p90_us,p99_us,p999_us,max_us,mean_us,lag_p99_us,lag_max_us,"
	"withdraw_approved,withdraw_amount,reversal_withdraw_amount,advice_started,advice_unacked,"
	"unmatched,disconnects,setup_failed,rc_counts\n";

/* A CSV field: quoted when it holds a comma, a quote or a newline. */
static void csv_text(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int lgr_csv_append(const char *path, const struct lgr_run *r, char *why, size_t cap)
{
	FILE *f = fopen(path, "a");
	if (f == NULL) {
		snprintf(why, cap, "%s: cannot open for appending", path);
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && st.st_size == 0)
		fputs(csv_header, f);
	char ts[32];
	time_t now = time(NULL);
	struct tm u;
	gmtime_r(&now, &u);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &u);
	const struct lgr_counts *c = &r->c;
	fprintf(f, "%s,", ts);
	csv_text(f, r->label);
	fprintf(f, ",%s,%s,%.1f,%u,%u,%u,%s,%.1f,%.1f,%llu,", r->closed ? "closed" : "open",
	        r->closed ? "" : r->arrivals, r->closed ? 0.0 : r->rate, r->think_ms, r->terminals, r->ready,
	        r->profile, r->duration_s, r->warmup_s, (unsigned long long)r->seed);
	fprintf(f, "%llu,%llu,%llu,%llu,%llu,%.2f,%llu,%llu,%llu,%.2f,",
	        (unsigned long long)c->offered, (unsigned long long)c->sent,
	        (unsigned long long)c->skipped, (unsigned long long)c->answered,
	        (unsigned long long)c->approved, approval_pct(c), (unsigned long long)c->timeouts,
	        (unsigned long long)c->macfail, (unsigned long long)c->lost, throughput(r));
	for (size_t i = 0; i < NPCT; i++)
		fprintf(f, "%llu,", (unsigned long long)lgh_percentile(&r->lat, pcts[i]));
	fprintf(f, "%llu,%.0f,%llu,%llu,", (unsigned long long)r->lat.max, lgh_mean(&r->lat),
	        (unsigned long long)lgh_percentile(&r->lag, 99), (unsigned long long)r->lag.max);
	fprintf(f, "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,",
	        (unsigned long long)c->op[LGS_WITHDRAW].approved,
	        (unsigned long long)c->op[LGS_WITHDRAW].approved_amount,
	        (unsigned long long)c->reversed_withdraw_amount, (unsigned long long)r->ev.adv_started,
	        (unsigned long long)r->ev.adv_unacked, (unsigned long long)r->ev.unmatched,
	        (unsigned long long)r->ev.disconnects, (unsigned long long)r->ev.setup_failed);
	rc_list(f, c, ";", ":");
	fputc('\n', f);
	if (fclose(f) != 0) {
		snprintf(why, cap, "%s: write failed", path);
		return -1;
	}
	return 0;
}

void lgr_interval_header(FILE *f)
{
	fputs("label,second,phase,sent,answered,approved,timeouts,skipped,throughput_tps,"
	      "p50_us,p90_us,p99_us,max_us\n", f);
}

void lgr_interval_row(FILE *f, const char *label, unsigned second, const char *phase,
                      const struct lgr_counts *c, const struct lgh *lat)
{
	csv_text(f, label);
	fprintf(f, ",%u,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n", second, phase,
	        (unsigned long long)c->sent, (unsigned long long)c->answered,
	        (unsigned long long)c->approved, (unsigned long long)c->timeouts,
	        (unsigned long long)c->skipped, (unsigned long long)c->answered,
	        (unsigned long long)lgh_percentile(lat, 50), (unsigned long long)lgh_percentile(lat, 90),
	        (unsigned long long)lgh_percentile(lat, 99), (unsigned long long)lat->max);
	fflush(f);
}
