/*
 * lg_cards: the cards loadgen's terminals read: the bench bank's generated
 * cards (schema/bench/switch.sql), a simulator card file (cardfile.h), or
 * one hot card that every transaction uses.
 *
 * Bench card i (1 .. 999,999,999) has the PAN LGC_BENCH_BIN, then i in 9
 * digits, then the Luhn check digit: 16 digits a client derives from i,
 * as the bench data does in SQL (its pan_hash is the HMAC of that PAN).
 * All bench cards share one PIN and one expiry date.
 *
 * Nothing here prints a PAN or PIN. Errors: 0, or -1 with the reason in
 * why[0..cap).
 */
#ifndef LG_CARDS_H
#define LG_CARDS_H

#include <stdbool.h>
#include <stddef.h>

#include "cardfile.h"
#include "lg_sched.h"
#include "termlink.h"

#define LGC_BENCH_BIN "453919"
#define LGC_BENCH_MAX 999999999ul

struct lgc_set {
	bool bench;             /* bench cards, else the card file */
	unsigned long nbench;   /* bench: cards 1..nbench */
	struct cf_set file;
	unsigned long hot;      /* 0: none; bench card number or file index + 1 */
	char pin[13], expiry[5], service[4]; /* of the bench cards */
};

/* The Luhn check digit of a string of digits, as a character. */
char lgc_luhn(const char *digits);
/* Bench card i's PAN (16 digits and a NUL). */
void lgc_bench_pan(unsigned long i, char out[20]);

/* Bench cards 1..n with a shared PIN (4..12 digits) and expiry (YYMM). */
int lgc_open_bench(struct lgc_set *s, unsigned long n, const char *pin, const char *expiry,
                   char *why, size_t cap);
/* The cards of a simulator card file. */
int lgc_open_file(struct lgc_set *s, const char *path, char *why, size_t cap);
/* Every pick is this card from now on: a card file's card name, or with
 * bench cards a card number 1..n. */
int lgc_set_hot(struct lgc_set *s, const char *name, char *why, size_t cap);
void lgc_close(struct lgc_set *s);

/* A card for one request (uniformly random, or the hot card) and its PIN;
 * *pin stays valid while the set is open. */
void lgc_pick(const struct lgc_set *s, struct lgs_rng *r, struct tl_card *out, const char **pin);

/* How a card may be named in loadgen's output: with bench cards the
 * card's number i (the bench bank's customer i) when `pan` is bench card
 * 1..n, else the PAN masked (first 6, last 4). */
void lgc_label(const struct lgc_set *s, const char *pan, char *out, size_t cap);

#endif
