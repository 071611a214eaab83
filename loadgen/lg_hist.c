/* Log-linear histogram (lg_hist.h). */
#include "lg_hist.h"

#include <math.h>
#include <string.h>

void lgh_reset(struct lgh *h)
{
	memset(h, 0, sizeof *h);
}

/* The position of the highest set bit (v > 0). */
static unsigned top_bit(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

size_t lgh_index(uint64_t v)
{
	if (v < LGH_LINEAR)
		return (size_t)v;
	unsigned e = top_bit(v);
	if (e > LGH_MAX_EXP)
		return LGH_BUCKETS - 1;
	/* The 8 top bits of v are 128..255: the bucket within the power. */
	uint64_t m = v >> (e - 7u);
	return LGH_LINEAR + (size_t)(e - 8u) * LGH_HALF + (size_t)(m - LGH_HALF);
}

/* Bucket i holds [low, low + width). */
static void span(size_t i, uint64_t *low, uint64_t *width)
{
	if (i < LGH_LINEAR) {
		*low = i;
		*width = 1;
		return;
	}
	size_t k = i - LGH_LINEAR;
	unsigned e = 8u + (unsigned)(k / LGH_HALF);
	*low = (LGH_HALF + k % LGH_HALF) << (e - 7u);
	*width = 1ull << (e - 7u);
}

uint64_t lgh_low(size_t i)
{
	uint64_t lo, w;
	span(i, &lo, &w);
	return lo;
}

uint64_t lgh_high(size_t i)
{
	uint64_t lo, w;
	span(i, &lo, &w);
	return lo + w - 1;
}

void lgh_record(struct lgh *h, uint64_t v)
{
	h->counts[lgh_index(v)]++;
	if (h->total == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->total++;
	h->sum = v > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + v;
}

void lgh_add(struct lgh *dst, const struct lgh *src)
{
	if (src->total == 0)
		return;
	for (size_t i = 0; i < LGH_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	if (dst->total == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->total += src->total;
	dst->sum = src->sum > UINT64_MAX - dst->sum ? UINT64_MAX : dst->sum + src->sum;
}

uint64_t lgh_percentile(const struct lgh *h, double pct)
{
	if (h->total == 0)
		return 0;
	if (!(pct > 0))
		return h->min;
	if (pct >= 100)
		return h->max;
	/* Nearest rank: the smallest sample with at least pct % at or below. */
	double r = ceil(pct / 100.0 * (double)h->total);
	uint64_t rank = r < 1 ? 1 : r > (double)h->total ? h->total : (uint64_t)r;
	uint64_t seen = 0;
	for (size_t i = 0; i < LGH_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			/* The top bucket also holds everything beyond the range. */
			uint64_t v = i == LGH_BUCKETS - 1 ? h->max : lgh_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double lgh_mean(const struct lgh *h)
{
	return h->total ? (double)h->sum / (double)h->total : 0.0;
}
