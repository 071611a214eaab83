/* The cards of loadgen's terminals (lg_cards.h). */
#include "lg_cards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso8583.h"
#include "tlfield.h"

char lgc_luhn(const char *digits)
{
	/* From the right, every second digit (starting with the last one,
	 * which the check digit will push to an even place) is doubled. */
	size_t n = strlen(digits);
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');
		if (i % 2 == 0)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

void lgc_bench_pan(unsigned long i, char out[20])
{
	snprintf(out, 20, "%s%09lu", LGC_BENCH_BIN, i % (LGC_BENCH_MAX + 1));
	out[15] = lgc_luhn(out);
	out[16] = '\0';
}

int lgc_open_bench(struct lgc_set *s, unsigned long n, const char *pin, const char *expiry,
                   char *why, size_t cap)
{
	memset(s, 0, sizeof *s);
	if (n < 1 || n > LGC_BENCH_MAX) {
		snprintf(why, cap, "bench cards: 1 to %lu", LGC_BENCH_MAX);
		return -1;
	}
	if (!tlf_digits(pin, 4, 12) || !tlf_digits(expiry, 4, 4)) {
		snprintf(why, cap, "bench cards: the PIN must be 4-12 digits and the expiry YYMM");
		return -1;
	}
	s->bench = true;
	s->nbench = n;
	snprintf(s->pin, sizeof s->pin, "%s", pin);
	snprintf(s->expiry, sizeof s->expiry, "%s", expiry);
	strcpy(s->service, "201");
	return 0;
}

int lgc_open_file(struct lgc_set *s, const char *path, char *why, size_t cap)
{
	memset(s, 0, sizeof *s);
	if (cf_load(path, &s->file, why, cap) != 0)
		return -1;
	if (s->file.n == 0) {
		snprintf(why, cap, "%s: no cards", path);
		cf_free(&s->file);
		return -1;
	}
	return 0;
}

int lgc_set_hot(struct lgc_set *s, const char *name, char *why, size_t cap)
{
	if (s->bench) {
		char *end;
		unsigned long i = strtoul(name, &end, 10);
		if (!tlf_digits(name, 1, 9) || *end || i < 1 || i > s->nbench) {
			snprintf(why, cap, "hot card: with bench cards, a card number from 1 to %lu", s->nbench);
			return -1;
		}
		s->hot = i;
		return 0;
	}
	const struct cf_card *c = cf_find(&s->file, name);
	if (c == NULL) {
		snprintf(why, cap, "hot card: no card named '%s' in the card file", name);
		return -1;
	}
	s->hot = (unsigned long)(c - s->file.cards) + 1;
	return 0;
}

void lgc_close(struct lgc_set *s)
{
	cf_free(&s->file);
	memset(s, 0, sizeof *s);
}

void lgc_pick(const struct lgc_set *s, struct lgs_rng *r, struct tl_card *out, const char **pin)
{
	if (s->bench) {
		unsigned long i = s->hot ? s->hot : 1 + (unsigned long)lgs_below(r, s->nbench);
		lgc_bench_pan(i, out->pan);
		memcpy(out->expiry, s->expiry, sizeof out->expiry);
		memcpy(out->service, s->service, sizeof out->service);
		*pin = s->pin;
		return;
	}
	size_t i = s->hot ? s->hot - 1 : (size_t)lgs_below(r, s->file.n);
	*out = s->file.cards[i].card;
	*pin = s->file.cards[i].pin;
}

void lgc_label(const struct lgc_set *s, const char *pan, char *out, size_t cap)
{
	size_t n = strlen(pan);
	if (s->bench && n == 16 && memcmp(pan, LGC_BENCH_BIN, 6) == 0 && tlf_digits(pan, 16, 16)) {
		char digits[10];
		memcpy(digits, pan + 6, 9);
		digits[9] = '\0';
		unsigned long i = strtoul(digits, NULL, 10);
		char want[20];
		lgc_bench_pan(i, want);
		if (i >= 1 && i <= s->nbench && strcmp(want, pan) == 0) {
			snprintf(out, cap, "%lu", i);
			return;
		}
	}
	iso_mask_pan(pan, n, out, cap);
}
