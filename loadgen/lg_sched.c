/* Random numbers, the transaction mix and arrival times (lg_sched.h). */
#include "lg_sched.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void lgs_seed(struct lgs_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna, 2018). */
uint64_t lgs_next(struct lgs_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double lgs_uniform(struct lgs_rng *r)
{
	return (double)(lgs_next(r) >> 11) * 0x1.0p-53;
}

uint64_t lgs_below(struct lgs_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Reject the top partial range so every residue is equally likely. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = lgs_next(r);
	while (x >= limit);
	return x % n;
}

/* ---- the transaction mix ------------------------------------------------ */

static const char *const op_names[LGS_NOPS] = {"withdraw", "balance", "purchase", "reversal"};

const char *lgs_op_name(enum lgs_op op)
{
	return (unsigned)op < LGS_NOPS ? op_names[op] : "?";
}

int lgs_mix_parse(const char *s, struct lgs_mix *m, char *why, size_t cap)
{
	memset(m, 0, sizeof *m);
	bool seen[LGS_NOPS] = {false};
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, "=,");
		unsigned op = 0;
		while (op < LGS_NOPS && (strlen(op_names[op]) != n || strncmp(p, op_names[op], n) != 0))
			op++;
		if (op == LGS_NOPS) {
			snprintf(why, cap, "mix: unknown operation '%.*s' (withdraw, balance, purchase, reversal)",
			         (int)n, p);
			return -1;
		}
		if (seen[op]) {
			snprintf(why, cap, "mix: %s given twice", op_names[op]);
			return -1;
		}
		seen[op] = true;
		if (p[n] != '=') {
			snprintf(why, cap, "mix: want NAME=WEIGHT, got '%.*s'", (int)n, p);
			return -1;
		}
		p += n + 1;
		size_t d = strspn(p, "0123456789");
		if (d == 0 || d > 7 || (p[d] != ',' && p[d] != '\0') || strtoul(p, NULL, 10) > 1000000) {
			snprintf(why, cap, "mix: the weight of %s is not a number from 0 to 1000000", op_names[op]);
			return -1;
		}
		m->weight[op] = (unsigned)strtoul(p, NULL, 10);
		m->total += m->weight[op];
		p += d;
		if (*p == ',' && *++p == '\0') {
			snprintf(why, cap, "mix: nothing after the last ','");
			return -1;
		}
	}
	if (m->total == 0) {
		snprintf(why, cap, "mix: no operation has a weight above 0");
		return -1;
	}
	return 0;
}

enum lgs_op lgs_mix_pick(const struct lgs_mix *m, struct lgs_rng *r)
{
	uint64_t x = lgs_below(r, m->total);
	for (unsigned op = 0; op < LGS_NOPS; op++) {
		if (x < m->weight[op])
			return (enum lgs_op)op;
		x -= m->weight[op];
	}
	return LGS_WITHDRAW; /* not reached: x < total */
}

/* ---- open-loop arrivals ------------------------------------------------- */

void lgs_sched_init(struct lgs_sched *s, enum lgs_arrivals kind, double rate, unsigned nterm,
                    uint64_t start_ns)
{
	s->kind = kind;
	s->gap_ns = 1e9 / rate;
	s->next_ns = (double)start_ns;
	s->nterm = nterm ? nterm : 1;
	s->turn = 0;
}

uint64_t lgs_sched_peek(const struct lgs_sched *s)
{
	return (uint64_t)s->next_ns;
}

uint64_t lgs_sched_next(struct lgs_sched *s, struct lgs_rng *r, unsigned *term)
{
	uint64_t when = (uint64_t)s->next_ns;
	if (s->kind == LGS_EVEN) {
		*term = s->turn;
		s->turn = (s->turn + 1) % s->nterm;
		s->next_ns += s->gap_ns;
	} else {
		/* A Poisson process: exponential gaps (inverse transform); a
		 * random terminal for each arrival keeps every terminal's own
		 * arrivals Poisson at rate/nterm. */
		*term = (unsigned)lgs_below(r, s->nterm);
		s->next_ns += -log1p(-lgs_uniform(r)) * s->gap_ns;
	}
	return when;
}
