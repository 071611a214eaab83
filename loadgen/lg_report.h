/*
 * lg_report: loadgen's counts and what it prints (docs/loadgen.md
 * "Output"): the human table, the `bench: NAME.METRIC VALUE UNIT` lines of
 * scripts/bench, one CSV row per run (appended, a header when the file is
 * new or empty) and per-second CSV rows.
 *
 * Counts are per request. A request belongs to the measurement when its
 * intended time (open loop: its scheduled arrival) falls inside the
 * measured window; its answer is counted even if it comes after the window
 * closed. Latencies are microseconds from the intended time to the answer;
 * time-outs and lost requests have none (they are counted).
 */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lg_hist.h"
#include "lg_sched.h"
#include "lg_term.h"

struct lgr_op {
	uint64_t sent, answered, approved, approved_amount;
};

struct lgr_counts {
	uint64_t offered;      /* open loop: arrivals */
	uint64_t skipped;      /* arrivals whose terminal was busy or not set up */
	uint64_t send_errors;  /* requests that could not be built */
	uint64_t sent, answered, approved;
	uint64_t timeouts, macfail, lost;
	uint64_t fallback;     /* reversals sent as withdrawals (nothing to reverse) */
	struct lgr_op op[LGS_NOPS];
	uint64_t reversed_withdraw_amount; /* approved mix reversals of withdrawals */
	uint64_t rc[101];      /* answers by DE 39 "00".."99"; [100] anything else */
};

void lgr_count_sent(struct lgr_counts *c, enum lgs_op op, bool fallback);
/* An answer (a MAC failure included) counts its rc; approved means
 * answered with a good MAC and 00. */
void lgr_count_result(struct lgr_counts *c, const struct lgt_result *r);

struct lgr_run {
	const char *name;      /* bench line prefix, e.g. "loadgen" */
	const char *label;     /* the CSV's label column */
	bool closed;
	double rate;           /* open loop: target, per second */
	const char *arrivals;  /* "poisson" / "even" */
	unsigned think_ms;     /* closed loop */
	unsigned terminals, ready;
	const char *profile;
	double duration_s, warmup_s;
	uint64_t seed;
	struct lgr_counts c;
	struct lgh lat;        /* latency, us */
	struct lgh lag;        /* open loop: send - intended, us */
	struct lgt_counters ev;
	uint64_t unfinished;   /* still in flight when loadgen stopped waiting */
};

void lgr_print_table(FILE *f, const struct lgr_run *r);
void lgr_print_bench(FILE *f, const struct lgr_run *r);
/* Appends the run's row (and the header first when the file is empty).
 * Returns 0, or -1 with the reason in why. */
int lgr_csv_append(const char *path, const struct lgr_run *r, char *why, size_t cap);

/* Per-second rows: the header, then one row per interval: its end in
 * seconds since the run started, the phase ("warmup", "measure",
 * "drain"), the counts of what happened in it and its latencies. */
void lgr_interval_header(FILE *f);
void lgr_interval_row(FILE *f, const char *label, unsigned second, const char *phase,
                      const struct lgr_counts *c, const struct lgh *lat);

#endif
