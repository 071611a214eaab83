/* lg_sched: the random generator, the transaction mix (parsing, table
 * driven; drawing, against its weights) and the arrival schedules (even:
 * exact gaps, terminals in turn; Poisson: exponential gaps of the right
 * mean, every terminal alike). */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg_sched.h"

static void t_rng(void **state)
{
	(void)state;
	struct lgs_rng a, b;
	lgs_seed(&a, 42);
	lgs_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lgs_next(&a), lgs_next(&b));
	lgs_seed(&b, 43);
	assert_int_not_equal(lgs_next(&a), lgs_next(&b));
	lgs_seed(&a, 0); /* a zero seed still gives a working state */
	assert_int_not_equal(lgs_next(&a), lgs_next(&a));
	unsigned counts[7] = {0};
	for (int i = 0; i < 70000; i++) {
		double u = lgs_uniform(&a);
		assert_true(u >= 0.0 && u < 1.0);
		uint64_t k = lgs_below(&a, 7);
		assert_true(k < 7);
		counts[k]++;
	}
	for (int k = 0; k < 7; k++)
		assert_true(counts[k] > 9500 && counts[k] < 10500);
	assert_int_equal(lgs_below(&a, 0), 0);
	assert_int_equal(lgs_below(&a, 1), 0);
}

static void t_mix_parse(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
		unsigned w[LGS_NOPS];
	} c[] = {
		{"withdraw=70,balance=10,purchase=15,reversal=5", 0, {70, 10, 15, 5}},
		{"withdraw=1", 0, {1, 0, 0, 0}},
		{"reversal=3,withdraw=1", 0, {1, 0, 0, 3}},
		{"balance=0,purchase=1000000", 0, {0, 0, 1000000, 0}},
		{"", -1, {0}},
		{"withdraw=0", -1, {0}},                  /* nothing to send */
		{"withdraw", -1, {0}},
		{"withdraw=", -1, {0}},
		{"withdraw=x", -1, {0}},
		{"withdraw=-1", -1, {0}},
		{"withdraw=1000001", -1, {0}},
		{"withdraw=1,", -1, {0}},
		{"withdraw=1,,balance=1", -1, {0}},
		{"withdraw=1,withdraw=2", -1, {0}},       /* twice */
		{"refund=1", -1, {0}},
		{"withdrawal=1", -1, {0}},
		{"Withdraw=1", -1, {0}},
		{"withdraw=1 ,balance=1", -1, {0}},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct lgs_mix m;
		char why[128] = "";
		int rc = lgs_mix_parse(c[i].s, &m, why, sizeof why);
		if (rc != c[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", c[i].s, rc, c[i].rc, why);
		if (rc == 0) {
			unsigned total = 0;
			for (int op = 0; op < LGS_NOPS; op++) {
				assert_int_equal(m.weight[op], c[i].w[op]);
				total += c[i].w[op];
			}
			assert_int_equal(m.total, total);
		} else {
			assert_true(strncmp(why, "mix: ", 5) == 0);
		}
	}
	assert_string_equal(lgs_op_name(LGS_REVERSAL), "reversal");
}

static void t_mix_pick(void **state)
{
	(void)state;
	struct lgs_mix m;
	char why[128];
	assert_int_equal(lgs_mix_parse("withdraw=70,balance=10,purchase=15,reversal=5", &m, why, sizeof why), 0);
	struct lgs_rng r;
	lgs_seed(&r, 1);
	enum { N = 200000 };
	unsigned n[LGS_NOPS] = {0};
	for (int i = 0; i < N; i++)
		n[lgs_mix_pick(&m, &r)]++;
	static const double want[LGS_NOPS] = {0.70, 0.10, 0.15, 0.05};
	for (int op = 0; op < LGS_NOPS; op++) {
		/* Within 5 standard deviations of a binomial count. */
		double mu = want[op] * N, sd = sqrt(N * want[op] * (1 - want[op]));
		if (fabs(n[op] - mu) > 5 * sd)
			fail_msg("%s drawn %u times, expected %.0f", lgs_op_name((enum lgs_op)op), n[op], mu);
	}
	/* A weight of 0 is never drawn. */
	assert_int_equal(lgs_mix_parse("balance=0,reversal=2", &m, why, sizeof why), 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(lgs_mix_pick(&m, &r), LGS_REVERSAL);
}

static void t_even(void **state)
{
	(void)state;
	struct lgs_sched s;
	struct lgs_rng r;
	lgs_seed(&r, 5);
	/* 3 per second: a gap that is not a whole number of nanoseconds does
	 * not drift (the schedule keeps the fraction). */
	lgs_sched_init(&s, LGS_EVEN, 3, 7, 1000);
	for (unsigned i = 0; i < 3000; i++) {
		unsigned term;
		uint64_t when = lgs_sched_next(&s, &r, &term);
		assert_int_equal(term, i % 7);
		uint64_t want = 1000 + (uint64_t)((double)i * 1e9 / 3);
		assert_true(when + 1 >= want && when <= want + 1);
	}
	assert_true(lgs_sched_peek(&s) >= 1000 + 1000000000000ull - 1);
}

static void t_poisson(void **state)
{
	(void)state;
	struct lgs_sched s;
	struct lgs_rng r;
	lgs_seed(&r, 9);
	enum { N = 200000, T = 10 };
	lgs_sched_init(&s, LGS_POISSON, 1000, T, 0);
	unsigned term, per[T] = {0}, below_mean = 0;
	uint64_t prev = lgs_sched_next(&s, &r, &term);
	assert_int_equal(prev, 0); /* the first arrival is at the start */
	double sum = 0, sum2 = 0;
	for (int i = 0; i < N; i++) {
		uint64_t when = lgs_sched_next(&s, &r, &term);
		assert_true(when >= prev);
		assert_true(term < T);
		per[term]++;
		double gap = (double)(when - prev);
		sum += gap;
		sum2 += gap * gap;
		below_mean += gap < 1e6;
		prev = when;
	}
	double mean = sum / N, sd = sqrt(sum2 / N - mean * mean);
	/* Exponential gaps: mean 1/rate, standard deviation equal to the mean,
	 * P(gap < mean) = 1 - 1/e. */
	assert_true(fabs(mean - 1e6) < 0.01 * 1e6);
	assert_true(fabs(sd - 1e6) < 0.02 * 1e6);
	assert_true(fabs((double)below_mean / N - (1 - exp(-1))) < 0.005);
	for (int k = 0; k < T; k++)
		assert_true(per[k] > N / T * 0.95 && per[k] < N / T * 1.05);
	/* The arrivals of N gaps span about N / rate seconds. */
	assert_true(fabs((double)prev / 1e9 - N / 1000.0) < 0.02 * N / 1000.0);
}

static void t_repeatable(void **state)
{
	(void)state;
	struct lgs_sched a, b;
	struct lgs_rng ra, rb;
	lgs_seed(&ra, 77);
	lgs_seed(&rb, 77);
	lgs_sched_init(&a, LGS_POISSON, 250, 100, 5);
	lgs_sched_init(&b, LGS_POISSON, 250, 100, 5);
	for (int i = 0; i < 1000; i++) {
		unsigned ta, tb;
		assert_int_equal(lgs_sched_next(&a, &ra, &ta), lgs_sched_next(&b, &rb, &tb));
		assert_int_equal(ta, tb);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rng),       cmocka_unit_test(t_mix_parse), cmocka_unit_test(t_mix_pick),
		cmocka_unit_test(t_even),      cmocka_unit_test(t_poisson),   cmocka_unit_test(t_repeatable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
