/*
 * atm-sim: an ATM on the terminal link (docs/atm-sim.md).
 *
 * Scripted mode (--script FILE) runs a list of steps and exits 0 when every
 * expectation held, 1 when one failed, 2 for a bad command line, script,
 * card file or key file, 3 when the first connection cannot be made. The
 * interactive mode (a text screen) will be a second front end on the same
 * terminal: main() only gathers the options and picks the mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atm_run.h"
#include "atm_script.h"
#include "cardfile.h"
#include "termlink.h"
#include "tlcli.h"

#ifndef ATM_SIM_CARDS
#define ATM_SIM_CARDS "atm-sim/demo-cards.txt"
#endif

static void usage(FILE *f, const struct tlcli *c)
{
	fprintf(f, "usage: atm-sim --script FILE [options]\n");
	tlcli_usage(f, c);
}

/* Returns 0, or the exit status for a bad command line. */
static int parse_options(int argc, char **argv, struct tlcli *o)
{
	struct option lo[TLCLI_OPT_END - 256 + 2];
	size_t n = tlcli_longopts(lo, sizeof lo / sizeof lo[0] - 2);
	lo[n++] = (struct option){"help", 0, 0, 'h'};
	lo[n] = (struct option){0, 0, 0, 0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		int r = tlcli_option(o, c, optarg);
		if (r == 2)
			return 2;
		if (r == 1)
			continue;
		if (c == 'h') {
			usage(stdout, o);
			exit(0);
		}
		return tlcli_bad_usage(o, "bad option %s", argv[optind - 1]);
	}
	return tlcli_finish(o, argc, argv, optind);
}

static int run_script(const struct tlcli *o, tl_term *t)
{
	char why[512];
	struct cf_set cards;
	char *text;
	if (tlcli_load(o, &cards, &text) != 0)
		return 2;
	struct as_script s = {0};
	int rc = 2;
	if (as_parse(text, o->script, &cards, &s, why, sizeof why) != 0) {
		fprintf(stderr, "atm-sim: %s\n", why);
	} else if (tl_connect(t) != 0) {
		fprintf(stderr, "atm-sim: %s\n", tl_reason(t));
		rc = 3;
	} else {
		struct ar_opts ro = {.out = stdout, .timeout_ms = o->tl.timeout_ms, .reversal_repeats = 3};
		rc = ar_run(t, &s, &ro) ? 1 : 0;
	}
	free(text);
	as_free(&s);
	cf_free(&cards);
	return rc;
}

int main(int argc, char **argv)
{
	struct tlcli o = {
		.prog = "atm-sim",
		.tl = {.host = "127.0.0.1", .port = 8583, .profile = ISO_ASCII87,
		       .framing = ISO_FRAME_BIN2, .timeout_ms = 5000, .terminal_id = "ATM00001",
		       .acquirer_id = "00000000001", .mcc = "6011"},
		.cards = ATM_SIM_CARDS,
	};
	int rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	tl_term *t = tlcli_terminal(&o);
	if (t == NULL)
		return 2;
	if (o.script) {
		rc = run_script(&o, t);
	} else {
		fprintf(stderr, "atm-sim: the interactive mode is not there yet; use --script FILE\n");
		rc = 2;
	}
	tl_free(t);
	return rc;
}
