/* pos-sim's scripted mode against a scripted switch (tests/sims/peer.h)
 * that leaves some messages unanswered: a sale without an answer is
 * reversed in full (0420, then 0421 with the same STAN until answered,
 * DE 90 naming the sale, no DE 95, no card or PIN data beyond the PAN); a
 * completion, void or batch without an answer is repeated (0221, 0401,
 * 0501), never reversed; the batch counts neither a reversed sale nor its
 * reversal. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "simtest.h"
#include "peer.h"
#include "pos_run.h"

struct run {
	struct cf_set cards;
	struct ps_script script;
	char *out;
};

/* Runs `text` against a peer acting as `p` says; returns pr_run's count of
 * failed steps, the output in r->out. */
static int run(struct peer *p, const char *text, struct run *r)
{
	char why[256] = "";
	assert_int_equal(cf_load(DEMO_CARDS, &r->cards, why, sizeof why), 0);
	assert_int_equal(ps_parse(text, "s", &r->cards, &r->script, why, sizeof why), 0);
	pthread_t th;
	tl_term *t = peer_start(p, &th);
	tl_set_stan(t, 100);
	pt_term *pos = pt_new(t, NULL);
	assert_non_null(pos);
	size_t len = 0;
	FILE *f = open_memstream(&r->out, &len);
	assert_non_null(f);
	int failed = pr_run(t, pos, &r->script, f);
	fclose(f);
	pt_free(pos);
	peer_stop(p, th, t);
	return failed;
}

static void run_free(struct run *r)
{
	free(r->out);
	ps_free(&r->script);
	cf_free(&r->cards);
}

static void has(const char *out, const char *s)
{
	if (strstr(out, s) == NULL)
		fail_msg("\"%s\" not in:\n%s", s, out);
}

/* The MTIs the peer received, in order. */
static void received(const struct peer *p, const char *const want[], unsigned n)
{
	assert_int_equal(p->n, n);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(p->seen[i], want[i]);
}

/* DE 90 of the peer's rev-th message names its orig-th: the MTI, STAN,
 * DE 7 (10 digits), then DE 32 in 11 digits and 11 zeros. */
static void names_original(const struct peer *p, unsigned rev, unsigned orig)
{
	const char *d = p->de90[rev];
	assert_int_equal(strlen(d), 42);
	assert_memory_equal(d, p->seen[orig], 4);
	assert_memory_equal(d + 4, p->stan[orig], 6);
	assert_string_equal(d + 20, "0000000000100000000000");
}

static void t_unanswered(void **state)
{
	(void)state;
	const char *text =
		"purchase visa-classic 10.00 expect=timeout\n" /* 0200, 0420, 0421 answered */
		"purchase visa-classic 11.00 expect=00\n"
		"void expect=00\n"                           /* 0400, 0401 answered */
		"preauth visa-classic 40.00 expect=00\n"
		"complete 45.00 expect=00\n"                 /* 0220, 0221 answered */
		"batch expect=00\n"                          /* 0500, 0501 answered */
		"refund visa-classic 5.00 expect=timeout\n"; /* 0200, 0420, 3 x 0421: unanswered */
	struct peer p = {.act = {SILENT, SILENT, ANSWER, ANSWER, SILENT, ANSWER, ANSWER, SILENT,
	                         ANSWER, SILENT, ANSWER, SILENT, SILENT, SILENT, SILENT, SILENT}};
	struct run r = {.out = NULL};
	assert_int_equal(run(&p, text, &r), 0);
	has(r.out, " 0200 rc=timeout reversal=0421/00 sends=2 expect=timeout ok\n");
	has(r.out, " sends=2 expect=00 ok\n");
	has(r.out, "batch              currency=USD debits=2/56.00 debit-reversals=1/11.00 "
	           "credits=0/0.00 credit-reversals=0/0.00 0501 rc=00 ");
	has(r.out, " 0200 rc=timeout reversal=unacknowledged sends=4 expect=timeout ok\n");
	has(r.out, "summary: 7 steps, 0 failed\n");
	static const char *const mtis[] = {"0200", "0420", "0421", "0200", "0400", "0401",
	                                   "0100", "0220", "0221", "0500", "0501", "0200",
	                                   "0420", "0421", "0421", "0421"};
	received(&p, mtis, 16);
	/* The reversal: a new STAN, the same one in its repeats; the sale's
	 * fields but no track 2 and no DE 95 (a full reversal). */
	assert_string_not_equal(p.stan[1], p.stan[0]);
	assert_string_equal(p.stan[2], p.stan[1]);
	assert_string_equal(p.fields[0], "2,3,4,7,11,12,13,14,18,22,25,32,35,37,41,49");
	assert_string_equal(p.fields[1], "2,3,4,7,11,12,13,14,18,22,25,32,37,41,49,90");
	assert_string_equal(p.fields[2], p.fields[1]);
	assert_string_equal(p.de90[1], p.de90[2]);
	names_original(&p, 1, 0);
	names_original(&p, 12, 11);
	names_original(&p, 4, 3); /* the void */
	names_original(&p, 7, 6); /* the completion */
	/* Repeats of the void, the completion and the batch: the same STAN. */
	assert_string_equal(p.stan[5], p.stan[4]);
	assert_string_equal(p.stan[8], p.stan[7]);
	assert_string_equal(p.stan[10], p.stan[9]);
	assert_string_equal(p.de90[5], p.de90[4]);
	assert_string_equal(p.stan[15], p.stan[12]);
	run_free(&r);
}

/* The DE 90 of each reversal names its own sale: a pre-authorisation's
 * (0100) and a cash-back's (DE 54 kept); nothing approved, nothing to
 * void; a repeat after the reversal is its 0421. */
static void t_reversal_fields(void **state)
{
	(void)state;
	const char *text =
		"preauth visa-classic 40.00 expect=timeout\n"
		"cashback visa-classic 20.00 5.00 entry=stripe expect=timeout\n"
		"void expect=error\n"
		"repeat expect=00\n";
	struct peer p = {.act = {SILENT, ANSWER, SILENT, ANSWER, ANSWER}};
	struct run r = {.out = NULL};
	assert_int_equal(run(&p, text, &r), 0);
	has(r.out, " 0100 rc=timeout reversal=0420/00 sends=1 expect=timeout ok\n");
	has(r.out, " 0200 rc=timeout reversal=0420/00 sends=1 expect=timeout ok\n");
	has(r.out, "no approved purchase to void");
	has(r.out, " 0421 rc=00 ");
	static const char *const mtis[] = {"0100", "0420", "0200", "0420", "0421"};
	received(&p, mtis, 5);
	assert_string_equal(p.stan[4], p.stan[3]);
	names_original(&p, 1, 0);
	names_original(&p, 3, 2);
	assert_string_equal(p.fields[3], "2,3,4,7,11,12,13,14,18,22,25,32,37,41,49,54,90");
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_unanswered),
		cmocka_unit_test(t_reversal_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
