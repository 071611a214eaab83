/* lg_hist: bucket layout, edge cases, and percentiles against a sorted
 * reference on random data of several shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg_hist.h"
#include "lg_sched.h"

static struct lgh h, h2, h3;

static void t_buckets(void **state)
{
	(void)state;
	for (size_t i = 0; i < LGH_BUCKETS; i++) {
		uint64_t lo = lgh_low(i), hi = lgh_high(i);
		assert_true(lo <= hi);
		assert_int_equal(lgh_index(lo), i);
		assert_int_equal(lgh_index(hi), i);
		if (i + 1 < LGH_BUCKETS)
			assert_int_equal(lgh_low(i + 1), hi + 1); /* no gaps, no overlaps */
		if (i < LGH_LINEAR)
			assert_int_equal(lo, hi);                 /* exact below 256 */
		else
			assert_true((hi - lo + 1) * 128 <= lo);   /* at most 1/128 wide */
	}
	assert_int_equal(lgh_high(LGH_BUCKETS - 1), (1ull << 41) - 1);
	assert_int_equal(lgh_index(UINT64_MAX), LGH_BUCKETS - 1);
}

static void t_edges(void **state)
{
	(void)state;
	lgh_reset(&h);
	assert_int_equal(lgh_percentile(&h, 50), 0);
	assert_true(lgh_mean(&h) == 0.0);

	lgh_record(&h, 0);
	assert_int_equal(lgh_percentile(&h, 0), 0);
	assert_int_equal(lgh_percentile(&h, 99.9), 0);
	assert_int_equal(lgh_percentile(&h, 100), 0);

	/* 1..100: nearest rank is exact in the linear range. */
	lgh_reset(&h);
	for (uint64_t v = 100; v >= 1; v--)
		lgh_record(&h, v);
	assert_int_equal(h.total, 100);
	assert_int_equal(lgh_percentile(&h, 0), 1);
	assert_int_equal(lgh_percentile(&h, 1), 1);
	assert_int_equal(lgh_percentile(&h, 1.01), 2);
	assert_int_equal(lgh_percentile(&h, 50), 50);
	assert_int_equal(lgh_percentile(&h, 50.5), 51);
	assert_int_equal(lgh_percentile(&h, 99), 99);
	assert_int_equal(lgh_percentile(&h, 99.9), 100);
	assert_int_equal(lgh_percentile(&h, 100), 100);
	assert_true(lgh_mean(&h) == 50.5);

	/* One large value: capped at the exact maximum, not the bucket's top. */
	lgh_reset(&h);
	lgh_record(&h, 1000001);
	assert_int_equal(lgh_percentile(&h, 50), 1000001);
	assert_int_equal(h.min, 1000001);

	/* Beyond the range: counted in the top bucket, max still exact. */
	lgh_reset(&h);
	lgh_record(&h, 5);
	lgh_record(&h, 1ull << 50);
	assert_int_equal(lgh_percentile(&h, 50), 5);
	assert_int_equal(lgh_percentile(&h, 99), 1ull << 50);
	assert_int_equal(h.max, 1ull << 50);

	/* The sum saturates instead of wrapping. */
	lgh_record(&h, UINT64_MAX);
	assert_int_equal(h.sum, UINT64_MAX);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Draws n values of one shape. */
static uint64_t draw(struct lgs_rng *r, int shape)
{
	switch (shape) {
	case 0: return lgs_below(r, 1000000);                          /* uniform */
	case 1: return (uint64_t)exp(lgs_uniform(r) * log(1e10));     /* log-uniform 1..1e10 */
	case 2: return 2000 + (uint64_t)(-log1p(-lgs_uniform(r)) * 3000); /* latency-like */
	default: return lgs_below(r, 300);                             /* mostly exact range */
	}
}

static void t_random(void **state)
{
	(void)state;
	static const double pcts[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof *v);
	assert_non_null(v);
	struct lgs_rng r;
	for (int shape = 0; shape < 4; shape++) {
		lgs_seed(&r, 1000u + (unsigned)shape);
		lgh_reset(&h);
		long double sum = 0;
		size_t n = shape == 3 ? 1001 : N; /* an odd count too */
		for (size_t i = 0; i < n; i++) {
			v[i] = draw(&r, shape);
			sum += v[i];
			lgh_record(&h, v[i]);
		}
		qsort(v, n, sizeof *v, cmp_u64);
		assert_int_equal(h.min, v[0]);
		assert_int_equal(h.max, v[n - 1]);
		assert_true(fabs(lgh_mean(&h) - (double)(sum / n)) < 1e-6 * (double)(sum / n) + 1e-9);
		for (size_t k = 0; k < sizeof pcts / sizeof pcts[0]; k++) {
			size_t rank = (size_t)ceil(pcts[k] / 100.0 * (double)n);
			if (rank < 1)
				rank = 1;
			uint64_t want = v[rank - 1], got = lgh_percentile(&h, pcts[k]);
			/* Never below the true sample, at most 1/128 above it. */
			if (got < want || got - want > want / 128)
				fail_msg("shape %d p%g: got %llu, reference %llu", shape, pcts[k],
				         (unsigned long long)got, (unsigned long long)want);
		}
	}
	free(v);
}

static void t_add(void **state)
{
	(void)state;
	struct lgs_rng r;
	lgs_seed(&r, 7);
	lgh_reset(&h);
	lgh_reset(&h2);
	lgh_reset(&h3);
	for (int i = 0; i < 5000; i++) {
		uint64_t x = draw(&r, i % 3);
		lgh_record(i % 2 ? &h : &h2, x);
		lgh_record(&h3, x);
	}
	struct lgh empty;
	lgh_reset(&empty);
	lgh_add(&h, &empty);
	lgh_add(&h, &h2);
	assert_memory_equal(&h, &h3, sizeof h);
	lgh_add(&empty, &h3); /* into an empty one: min comes over */
	assert_int_equal(empty.min, h3.min);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_buckets),
		cmocka_unit_test(t_edges),
		cmocka_unit_test(t_random),
		cmocka_unit_test(t_add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
