/*
 * loadgen-bench-data: what the bench bank needs from hsm-sim, written as
 * the head of a psql script that schema/bench/switch.sql completes
 * (scripts/bench, switch section):
 *
 *     loadgen-bench-data --hsm HOST:PORT --cards N --tmk HEX [--pin 1234] \
 *         | cat - schema/bench/switch.sql | psql -v terminals=M ...
 *
 * hsm-sim (started with --authorised) forms the bench ATMs' shared TMK from
 * its clear value (a PUBLIC TEST KEY, the one loadgen --tmk is given),
 * generates a PVK, and computes the Visa PVV of the shared PIN for bench
 * cards 1..N (their PANs: lg_cards.h), pipelined. Out come psql variables
 * with the LMK forms and KCVs, and per card its number, its PAN's Luhn
 * digit (so that the SQL needs no Luhn code of its own) and its PVV, as
 * COPY data into a temporary table. No PAN, PIN or clear key is printed:
 * cards by number, keys under the LMK.
 *
 * Exit status: 0, 1 hsm-sim refused or failed, 2 bad command line,
 * 3 hsm-sim unreachable.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hsmclient.h"
#include "lg_cards.h"
#include "paycrypto.h"
#include "tlfield.h"

#define WINDOW 256 /* PVV commands in flight */

struct pvv_job {
	struct gen *g;
	unsigned long card;
};

struct gen {
	struct event_base *base;
	hsmc_pool *pool;
	const char *pin, *pvk;
	unsigned long n, next, done;
	char (*pvv)[5];
	char *check;   /* each card's Luhn digit */
	struct pvv_job jobs[WINDOW];
	int failed;
	char why[160];
};

struct wait {
	bool done;
	hsmc_reply r;
};

static void on_reply(const hsmc_reply *r, void *arg)
{
	struct wait *w = arg;
	w->r = *r;
	w->r.fields = NULL;
	w->done = true;
}

/* Runs the loop until the reply is in; false with a reason when the
 * command failed. */
static bool await(struct event_base *base, int send_rc, struct wait *w, const char *what)
{
	if (send_rc != 0) {
		fprintf(stderr, "loadgen-bench-data: %s: %s\n", what, hsmc_strerror(send_rc));
		return false;
	}
	while (!w->done)
		event_base_loop(base, EVLOOP_ONCE);
	if (w->r.status != 0 || w->r.hsm_err != HSM_E_OK) {
		fprintf(stderr, "loadgen-bench-data: %s: %s%s\n", what,
		        w->r.status ? hsmc_strerror(w->r.status) : hsmc_hsm_strerror(w->r.hsm_err),
		        w->r.hsm_err == HSM_E_NOT_AUTHORISED ? " (start hsm-sim with --authorised)" : "");
		return false;
	}
	return true;
}

static void send_next(struct gen *g, struct pvv_job *j);

static void on_pvv(const hsmc_reply *r, void *arg)
{
	struct pvv_job *j = arg;
	struct gen *g = j->g;
	if (r->status != 0 || r->hsm_err != HSM_E_OK || !tlf_digits(r->value, 4, 4)) {
		if (!g->failed)
			snprintf(g->why, sizeof g->why, "PVV of card %lu: %s", j->card,
			         r->status ? hsmc_strerror(r->status) : hsmc_hsm_strerror(r->hsm_err));
		g->failed = 1;
	} else {
		memcpy(g->pvv[j->card - 1], r->value, 5);
	}
	g->done++;
	send_next(g, j);
}

static void send_next(struct gen *g, struct pvv_job *j)
{
	if (g->failed || g->next > g->n)
		return;
	char pan[20];
	j->card = g->next++;
	lgc_bench_pan(j->card, pan);
	g->check[j->card - 1] = pan[15];
	int rc = hsmc_pin_to_pvv(g->pool, g->pin, pan, g->pvk, 1, on_pvv, j);
	pc_wipe(pan, sizeof pan);
	if (rc != 0) {
		snprintf(g->why, sizeof g->why, "PVV of card %lu: %s", j->card, hsmc_strerror(rc));
		g->failed = 1;
		g->done++;
	}
}

static int usage(const char *why)
{
	fprintf(stderr, "loadgen-bench-data: %s\nusage: loadgen-bench-data --hsm HOST:PORT --cards N --tmk HEX"
	                " [--pin PIN]\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	const char *hsm = NULL, *tmk = NULL, *pin = "1234";
	unsigned long n = 0;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v && strcmp(a, "--hsm") == 0)
			hsm = v;
		else if (v && strcmp(a, "--tmk") == 0)
			tmk = v;
		else if (v && strcmp(a, "--pin") == 0)
			pin = v;
		else if (v && strcmp(a, "--cards") == 0)
			n = tlf_digits(v, 1, 9) ? strtoul(v, NULL, 10) : 0;
		else
			return usage("bad option");
	}
	const char *colon = hsm ? strrchr(hsm, ':') : NULL;
	if (!colon || n == 0 || !tmk || strlen(tmk) != 32 || !tlf_digits(pin, 4, 12))
		return usage("--hsm HOST:PORT, --cards 1..999999999, --tmk of 32 hex and a PIN of 4-12 digits");
	char host[256];
	snprintf(host, sizeof host, "%.*s", (int)(colon - hsm), hsm);
	hsmc_config cfg = {.host = host, .port = (uint16_t)atoi(colon + 1), .connections = 2,
	                   .max_inflight = WINDOW, .timeout_ms = 10000};
	int err = 0;
	struct gen g = {.pin = pin, .n = n, .next = 1};
	g.base = event_base_new();
	g.pool = g.base ? hsmc_pool_new(g.base, &cfg, &err) : NULL;
	g.pvv = calloc(n, sizeof *g.pvv);
	g.check = calloc(n, 1);
	if (g.pool == NULL || g.pvv == NULL || g.check == NULL) {
		fprintf(stderr, "loadgen-bench-data: %s\n", g.pool ? "out of memory" : hsmc_strerror(err));
		return 1;
	}
	struct timeval tick = {0, 20000};
	for (int i = 0; i < 250 && hsmc_pool_ready(g.pool) == 0; i++) {
		event_base_loopexit(g.base, &tick);
		event_base_dispatch(g.base);
	}
	if (hsmc_pool_ready(g.pool) == 0) {
		fprintf(stderr, "loadgen-bench-data: cannot connect to hsm-sim at %s\n", hsm);
		return 3;
	}
	struct wait wt = {0}, wp = {0};
	const char *comp[1] = {tmk};
	if (!await(g.base, hsmc_form_key(g.pool, HSM_KT_TMK, 'U', comp, 1, on_reply, &wt), &wt, "form the TMK") ||
	    !await(g.base, hsmc_generate_key(g.pool, HSM_KT_PVK, 'U', NULL, NULL, on_reply, &wp), &wp,
	           "generate the PVK"))
		return 1;
	g.pvk = wp.r.key_lmk;
	for (unsigned i = 0; i < WINDOW; i++) {
		g.jobs[i].g = &g;
		send_next(&g, &g.jobs[i]);
	}
	/* Until every command sent has its reply, and all were sent unless
	 * one failed. */
	while (g.done < g.next - 1 || (!g.failed && g.next <= n))
		event_base_loop(g.base, EVLOOP_ONCE);
	if (g.failed) {
		fprintf(stderr, "loadgen-bench-data: %s\n", g.why);
		return 1;
	}
	printf("-- from loadgen-bench-data: keys under hsm-sim's LMK, PVVs of bench cards 1..%lu\n", n);
	printf("\\set bench_tmk_lmk '%s'\n\\set bench_tmk_kcv '%s'\n", wt.r.key_lmk, wt.r.kcv);
	printf("\\set bench_pvk_lmk '%s'\n\\set bench_pvk_kcv '%s'\n", wp.r.key_lmk, wp.r.kcv);
	printf("CREATE TEMP TABLE bench_pvv (card_no bigint PRIMARY KEY, luhn char(1) NOT NULL,"
	       " pvv char(4) NOT NULL);\n");
	printf("COPY bench_pvv FROM STDIN;\n");
	for (unsigned long i = 0; i < n; i++)
		printf("%lu\t%c\t%s\n", i + 1, g.check[i], g.pvv[i]);
	printf("\\.\n");
	hsmc_pool_free(g.pool);
	event_base_free(g.base);
	free(g.pvv);
	free(g.check);
	return fflush(stdout) == 0 ? 0 : 1;
}
