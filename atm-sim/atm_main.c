/*
 * atm-sim: an ATM on the terminal link (docs/atm-sim.md).
 *
 * Scripted mode (--script FILE) runs a list of steps and exits 0 when every
 * expectation held, 1 when one failed, 2 for a bad command line, script,
 * card file or key file, 3 when the first connection cannot be made. The
 * interactive mode (no --script, or --interactive) is a second front end
 * on the same terminal (atm_ui.h): 0 when shut down, 1 out of service, 2
 * and 3 as above. main() only gathers the options and picks the mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atm_run.h"
#include "atm_script.h"
#include "atm_ui.h"
#include "cardfile.h"
#include "cassette.h"
#include "termlink.h"
#include "tlcli.h"

#ifndef ATM_SIM_CARDS
#define ATM_SIM_CARDS "atm-sim/demo-cards.txt"
#endif

/* The ATM's own options next to the shared ones (tlcli.h). */
struct options {
	struct tlcli cli;
	const char *cassettes; /* CAS_DEFAULT unless --cassettes */
	unsigned jam;          /* --jam N: the first dispense stops after N notes */
};

static void usage(FILE *f, const struct tlcli *c)
{
	fprintf(f, "usage: atm-sim [--script FILE | --interactive] [options]\n");
	tlcli_usage(f, c);
	fprintf(f,
	        "  --cassettes SPEC    interactive: the notes loaded, CUR:NOTExCOUNT,...\n"
	        "                      (%s)\n"
	        "  --jam N             interactive: the first dispense jams after N notes\n"
	        "                      (a partial dispense, reversed with DE 95)\n",
	        CAS_DEFAULT);
}

/* Returns 0, or the exit status for a bad command line. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_CASSETTES = TLCLI_OPT_END, O_JAM };
	struct option lo[TLCLI_OPT_END - 256 + 4];
	size_t n = tlcli_longopts(lo, sizeof lo / sizeof lo[0] - 4);
	lo[n++] = (struct option){"cassettes", 1, 0, O_CASSETTES};
	lo[n++] = (struct option){"jam", 1, 0, O_JAM};
	lo[n++] = (struct option){"help", 0, 0, 'h'};
	lo[n] = (struct option){0, 0, 0, 0};
	struct tlcli *c = &o->cli;
	int id;
	opterr = 0;
	while ((id = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		int r = tlcli_option(c, id, optarg);
		if (r == 2)
			return 2;
		if (r == 1)
			continue;
		switch (id) {
		case O_CASSETTES: o->cassettes = optarg; break;
		case O_JAM:
			if (!tlcli_number(optarg, 1, CAS_MAX_NOTES, &o->jam))
				return tlcli_bad_usage(c, "--jam %s: want 1..%d notes", optarg, CAS_MAX_NOTES);
			break;
		case 'h': usage(stdout, c); exit(0);
		default: return tlcli_bad_usage(c, "bad option %s", argv[optind - 1]);
		}
	}
	if (c->script && (o->cassettes || o->jam))
		return tlcli_bad_usage(c, "--cassettes and --jam go with the interactive mode");
	return tlcli_finish(c, argc, argv, optind);
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
		struct ar_opts ro = {.out = stdout, .timeout_ms = o->tl.timeout_ms,
		                     .reversal_repeats = TL_REPEATS};
		rc = ar_run(t, &s, &ro) ? 1 : 0;
	}
	free(text);
	as_free(&s);
	cf_free(&cards);
	return rc;
}

static int run_interactive(const struct options *o, tl_term *t)
{
	char why[512];
	struct cf_set cards;
	struct au_opts ao = {.reversal_repeats = TL_REPEATS};
	if (cas_parse(o->cassettes ? o->cassettes : CAS_DEFAULT, &ao.cassettes, why, sizeof why) != 0)
		return tlcli_bad_usage(&o->cli, "--cassettes: %s", why);
	ao.cassettes.jam_after = o->jam;
	if (tu_open(&ao.ui, &cards, &o->cli) != 0)
		return 2;
	int rc = au_run(t, &ao);
	tu_close(&ao.ui, &cards);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {
		.cli = {
			.prog = "atm-sim",
			.tl = {.host = "127.0.0.1", .port = 8583, .profile = ISO_ASCII87,
			       .framing = ISO_FRAME_BIN2, .timeout_ms = 5000, .terminal_id = "ATM00001",
			       .acquirer_id = "00000000001", .mcc = "6011"},
			.cards = ATM_SIM_CARDS,
		},
	};
	int rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	tl_term *t = tlcli_terminal(&o.cli);
	if (t == NULL)
		return 2;
	rc = o.cli.script ? run_script(&o.cli, t) : run_interactive(&o, t);
	tl_free(t);
	return rc;
}
