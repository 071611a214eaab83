/* The simulated cash dispenser (cassette.h). */
#include "cassette.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlfield.h"

static int bad(char *why, size_t cap, const char *item, const char *reason)
{
	snprintf(why, cap, "cassette \"%s\": %s", item, reason);
	return CAS_ERR_SYNTAX;
}

/* One "CUR:NOTExCOUNT". */
static int parse_unit(const char *item, struct cas_unit *u, char *why, size_t cap)
{
	char cur[8];
	const char *colon = strchr(item, ':');
	if (colon == NULL || (size_t)(colon - item) >= sizeof cur)
		return bad(why, cap, item, "want CUR:NOTExCOUNT, e.g. USD:20x500");
	memcpy(cur, item, (size_t)(colon - item));
	cur[colon - item] = '\0';
	if (tlf_currency_code(cur, u->currency) != 0)
		return bad(why, cap, item, "currency must be USD or KHR");
	char *end;
	unsigned long long note = strtoull(colon + 1, &end, 10);
	if (end == colon + 1 || *end != 'x' || note == 0 || note > 10000000)
		return bad(why, cap, item, "note must be 1 to 10000000 (major units)");
	const char *cnt = end + 1;
	unsigned long count = strtoul(cnt, &end, 10);
	if (end == cnt || *end != '\0' || count > 100000)
		return bad(why, cap, item, "count must be 0 to 100000");
	u->note = note * 100;
	u->count = (unsigned)count;
	return 0;
}

int cas_parse(const char *spec, struct cas_set *s, char *why, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->max_notes = 50;
	char buf[512];
	if (strlen(spec) >= sizeof buf)
		return bad(why, cap, "...", "specification too long");
	strcpy(buf, spec);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (s->n == CAS_MAX)
			return bad(why, cap, item, "at most 8 cassettes");
		int rc = parse_unit(item, &s->u[s->n], why, cap);
		if (rc != 0)
			return rc;
		s->n++;
	}
	if (s->n == 0)
		return bad(why, cap, spec, "no cassette");
	return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Bounded knapsack by the fewest notes over the amount in steps of the
 * notes' common divisor: best[v] the fewest notes making v steps with the
 * cassettes seen so far, pick[i][v] how many of cassette i that took.
 * Amounts of more than MAX_STEPS steps are refused: no dispenser pays
 * them out (50 notes of the largest make a few hundred steps). */
#define MAX_STEPS 65536

int cas_plan(const struct cas_set *s, const char *currency, uint64_t amount,
             unsigned take[CAS_MAX])
{
	memset(take, 0, CAS_MAX * sizeof take[0]);
	size_t idx[CAS_MAX], k = 0;
	uint64_t g = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->u[i].currency, currency) == 0 && s->u[i].count > 0) {
			idx[k++] = i;
			g = gcd(g, s->u[i].note);
		}
	}
	if (k == 0 || amount == 0 || amount % g != 0 || amount / g >= MAX_STEPS)
		return CAS_ERR_CANNOT;
	size_t steps = (size_t)(amount / g);
	unsigned short *best = malloc((steps + 1) * sizeof *best);
	unsigned char *pick = calloc(k * (steps + 1), 1);
	if (best == NULL || pick == NULL) {
		free(best);
		free(pick);
		return CAS_ERR_CANNOT;
	}
	const unsigned short none = 0xFFFF;
	for (size_t v = 0; v <= steps; v++)
		best[v] = v == 0 ? 0 : none;
	for (size_t j = 0; j < k; j++) {
		size_t d = (size_t)(s->u[idx[j]].note / g);
		unsigned limit = s->u[idx[j]].count < s->max_notes ? s->u[idx[j]].count : s->max_notes;
		/* Downwards so that best[v - c*d] is still the previous row's. */
		for (size_t v = steps; v > 0; v--) {
			for (unsigned c = 1; c <= limit && (size_t)c * d <= v; c++) {
				unsigned short prev = best[v - (size_t)c * d];
				if (prev != none && prev + c < best[v]) {
					best[v] = (unsigned short)(prev + c);
					pick[j * (steps + 1) + v] = (unsigned char)c;
				}
			}
		}
	}
	int rc = CAS_ERR_CANNOT;
	if (best[steps] != none && best[steps] <= s->max_notes) {
		/* Walk back from the last cassette: pick[j][v] is valid for the
		 * value left after the later cassettes took theirs. */
		size_t v = steps;
		for (size_t j = k; j-- > 0;) {
			unsigned c = pick[j * (steps + 1) + v];
			take[idx[j]] = c;
			v -= (size_t)c * (size_t)(s->u[idx[j]].note / g);
		}
		rc = v == 0 ? 0 : CAS_ERR_CANNOT;
	}
	free(best);
	free(pick);
	return rc;
}

uint64_t cas_dispense(struct cas_set *s, const unsigned take[CAS_MAX])
{
	uint64_t paid = 0;
	unsigned notes = 0, stop = s->jam_after ? s->jam_after : ~0u;
	for (size_t i = 0; i < s->n; i++) {
		for (unsigned c = 0; c < take[i] && s->u[i].count > 0 && notes < stop; c++) {
			s->u[i].count--;
			paid += s->u[i].note;
			notes++;
		}
	}
	s->jam_after = 0;
	return paid;
}

uint64_t cas_smallest(const struct cas_set *s, const char *currency)
{
	uint64_t m = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->u[i].currency, currency) == 0 && s->u[i].count > 0 &&
		    (m == 0 || s->u[i].note < m))
			m = s->u[i].note;
	return m;
}
