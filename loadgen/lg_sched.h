/*
 * lg_sched: what loadgen sends and when, as pure functions: a seeded
 * random generator (xoshiro256**, so a run can be repeated with --seed),
 * the transaction mix ("withdraw=70,balance=10,purchase=15,reversal=5")
 * and the open-loop arrival schedule (Poisson or evenly spaced arrivals at
 * a target rate, each given to a terminal).
 *
 * Times are nanoseconds on the caller's clock. Nothing here reads a clock,
 * allocates or prints.
 */
#ifndef LG_SCHED_H
#define LG_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers ---------------------------------------------------- */

struct lgs_rng {
	uint64_t s[4];
};

/* Any seed (0 included) gives a usable state (expanded with splitmix64). */
void lgs_seed(struct lgs_rng *r, uint64_t seed);
uint64_t lgs_next(struct lgs_rng *r);
/* Uniform in [0, 1), 53 bits. */
double lgs_uniform(struct lgs_rng *r);
/* Uniform in [0, n) without modulo bias; 0 when n is 0. */
uint64_t lgs_below(struct lgs_rng *r, uint64_t n);

/* ---- the transaction mix ------------------------------------------------ */

enum lgs_op {
	LGS_WITHDRAW,  /* 0200 cash, 01 */
	LGS_BALANCE,   /* 0200 balance inquiry, 31 */
	LGS_PURCHASE,  /* 0200 purchase, 00 */
	LGS_REVERSAL,  /* 0420 of one of the terminal's earlier approvals */
	LGS_NOPS
};

/* "withdraw", "balance", "purchase", "reversal". */
const char *lgs_op_name(enum lgs_op op);

struct lgs_mix {
	unsigned weight[LGS_NOPS];
	unsigned total;
};

/* Parses NAME=WEIGHT[,NAME=WEIGHT...]: names as lgs_op_name, each at most
 * once, weights 0..1000000 (relative, not necessarily summing to 100),
 * at least one above 0; an operation not named has weight 0. Returns 0,
 * or -1 with the reason in why[0..cap). */
int lgs_mix_parse(const char *s, struct lgs_mix *m, char *why, size_t cap);
/* An operation drawn with probability weight / total. */
enum lgs_op lgs_mix_pick(const struct lgs_mix *m, struct lgs_rng *r);

/* ---- open-loop arrivals ------------------------------------------------- */

enum lgs_arrivals {
	LGS_POISSON, /* exponential gaps of mean 1/rate; each to a random terminal */
	LGS_EVEN,    /* gaps of exactly 1/rate; terminals in turn */
};

struct lgs_sched {
	enum lgs_arrivals kind;
	double gap_ns;   /* mean gap */
	double next_ns;  /* the next arrival */
	unsigned nterm;
	unsigned turn;   /* LGS_EVEN: the next terminal */
};

/* rate > 0 arrivals per second over nterm > 0 terminals; the first
 * arrival is at start_ns. */
void lgs_sched_init(struct lgs_sched *s, enum lgs_arrivals kind, double rate, unsigned nterm,
                    uint64_t start_ns);
/* The intended time of the next arrival, and its terminal in *term
 * (0..nterm-1); then moves on. Times never decrease. */
uint64_t lgs_sched_next(struct lgs_sched *s, struct lgs_rng *r, unsigned *term);
/* The intended time of the next arrival, without taking it. */
uint64_t lgs_sched_peek(const struct lgs_sched *s);

#endif
