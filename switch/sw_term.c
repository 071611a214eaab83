/*
 * Terminal keys cache. A terminal's keys change only by key change (done
 * by the switch process that serves the terminal, which updates its own
 * copy) or by an operator (switchctl terminal set-tmk); entries expire after
 * SW_TERM_TTL_MS and sign-on always reloads, so another process's change is
 * seen at the next sign-on at the latest. SIGHUP empties the cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw.h"

static unsigned term_hash(const char *tid)
{
	unsigned h = 2166136261u;
	for (; *tid; tid++)
		h = (h ^ (unsigned char)*tid) * 16777619u;
	return h & 1023u;
}

struct sw_term *sw_term_get(struct sw *sw, const char *tid, uint64_t max_age_ms)
{
	for (struct sw_term *t = sw->terms[term_hash(tid)]; t; t = t->next)
		if (!strcmp(t->tid, tid))
			return sw_now_ms() - t->loaded_ms <= max_age_ms ? t : NULL;
	return NULL;
}

static void copy_col(char *dst, size_t cap, const PGresult *res, int col)
{
	const char *v = PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col);
	size_t n = strlen(v);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Columns of terminal_keys(): terminal_id, kind, status, acquirer_id,
 * tmk_lmk, tpk_lmk, tak_lmk, bdk_lmk, aes_bdk_lmk. */
struct sw_term *sw_term_put(struct sw *sw, const char *tid, const PGresult *res)
{
	unsigned h = term_hash(tid);
	struct sw_term *t;
	for (t = sw->terms[h]; t; t = t->next)
		if (!strcmp(t->tid, tid))
			break;
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			return NULL;
		snprintf(t->tid, sizeof t->tid, "%s", tid);
		t->next = sw->terms[h];
		sw->terms[h] = t;
	}
	copy_col(t->kind, sizeof t->kind, res, 1);
	t->active = !strcmp(PQgetvalue(res, 0, 2), "active");
	copy_col(t->acquirer, sizeof t->acquirer, res, 3);
	copy_col(t->tmk, sizeof t->tmk, res, 4);
	copy_col(t->tpk, sizeof t->tpk, res, 5);
	copy_col(t->tak, sizeof t->tak, res, 6);
	copy_col(t->bdk, sizeof t->bdk, res, 7);
	copy_col(t->aes_bdk, sizeof t->aes_bdk, res, 8);
	t->loaded_ms = sw_now_ms();
	return t;
}

void sw_term_set_keys(struct sw *sw, const char *tid, const char *tpk, const char *tak)
{
	for (struct sw_term *t = sw->terms[term_hash(tid)]; t; t = t->next) {
		if (!strcmp(t->tid, tid)) {
			snprintf(t->tpk, sizeof t->tpk, "%s", tpk);
			snprintf(t->tak, sizeof t->tak, "%s", tak);
			return;
		}
	}
}

void sw_term_clear(struct sw *sw)
{
	for (unsigned h = 0; h < 1024; h++) {
		while (sw->terms[h]) {
			struct sw_term *t = sw->terms[h];
			sw->terms[h] = t->next;
			explicit_bzero(t, sizeof *t);
			free(t);
		}
	}
}
