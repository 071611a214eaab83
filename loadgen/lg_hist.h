/*
 * lg_hist: a log-linear histogram of non-negative integers (loadgen records
 * latencies in microseconds), in the manner of HdrHistogram: values below
 * 256 each have their own bucket; above, every power of two is split into
 * 128 equal buckets, so a bucket is never wider than 1/128 of the values
 * it holds (under 0.8 % relative error). Values up to 2^41 - 1 (25 days
 * in microseconds) are kept; larger ones are counted in the top bucket,
 * and min, max and the sum stay exact.
 *
 * A percentile is the nearest-rank sample's bucket's highest value, capped
 * at the exact maximum: never below the true sample, at most 1/128 above.
 *
 * Pure functions on a caller-owned struct (about 36 KiB); no allocation.
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LGH_LINEAR 256u                      /* exact buckets 0..255 */
#define LGH_HALF 128u                        /* buckets per power of two above */
#define LGH_MAX_EXP 40u                      /* highest power of two kept: 2^40..2^41-1 */
#define LGH_BUCKETS (LGH_LINEAR + (LGH_MAX_EXP - 7u) * LGH_HALF)

struct lgh {
	uint64_t total;  /* samples */
	uint64_t sum;    /* of the values (saturating) */
	uint64_t min, max;
	uint64_t counts[LGH_BUCKETS];
};

/* Empties the histogram. */
void lgh_reset(struct lgh *h);
void lgh_record(struct lgh *h, uint64_t v);
/* Adds src's samples to dst. */
void lgh_add(struct lgh *dst, const struct lgh *src);

/* The pct-th percentile (0..100) as above; pct 0 gives the minimum.
 * 0 when the histogram is empty. */
uint64_t lgh_percentile(const struct lgh *h, double pct);
/* The mean, 0 when empty. */
double lgh_mean(const struct lgh *h);

/* The bucket of a value, and the lowest and highest value of a bucket. */
size_t lgh_index(uint64_t v);
uint64_t lgh_low(size_t i);
uint64_t lgh_high(size_t i);

#endif
