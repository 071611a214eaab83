/*
 * tlcli: the command line the terminal simulators share (atm-sim, pos-sim):
 * the switch, link, terminal, key, card and script options, the masked
 * message trace of -v, the first STAN from the clock, and loading the card
 * file and the script text.
 *
 * Every failure is printed here as one line on stderr, "PROG: reason", and
 * reported as the simulators' exit status for it: 2 (bad command line,
 * settings, card file or script).
 */
#ifndef TLCLI_H
#define TLCLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cardfile.h"
#include "termlink.h"

struct tlcli {
	const char *prog;      /* "atm-sim": starts every message */
	struct tl_config tl;   /* defaults set by the program */
	const char *script, *tmk_file, *cards;
	unsigned stan;         /* 0: from the clock */
	int verbose;
	/* The interactive mode (--interactive, or no --script): */
	bool interactive;
	const char *receipts;  /* --receipts FILE: every receipt appended; NULL: none */
	const char *bank;      /* --bank TEXT: the receipts' first line; NULL: "OUR BANK" */
};

/* getopt_long ids of the shared options are below this; a program numbers
 * its own from here. */
#define TLCLI_OPT_END 300

/* Copies the shared long options into out[0..cap) and returns how many;
 * the program appends its own and the terminating zero entry. */
size_t tlcli_longopts(struct option *out, size_t cap);

/* Takes option `id` from getopt_long ('v' included) if it is a shared one.
 * Returns 1 taken, 0 not a shared option, 2 bad value (printed). */
int tlcli_option(struct tlcli *c, int id, const char *arg);

/* After getopt_long: nothing may be left over, --tls-ca needs --tls,
 * --script and --interactive exclude each other, --receipts goes with the
 * interactive mode. Returns 0, or 2 (printed). */
int tlcli_finish(const struct tlcli *c, int argc, char **argv, int optind_);

/* The lines of --help for the shared options (defaults from c). */
void tlcli_usage(FILE *f, const struct tlcli *c);

/* "PROG: MESSAGE (PROG --help)" on stderr; returns 2. */
int tlcli_bad_usage(const struct tlcli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s as a decimal number in [min, max]. */
bool tlcli_number(const char *s, unsigned long min, unsigned long max, unsigned *out);

/* The terminal the options describe: its settings checked, the first STAN
 * set (--stan or the clock), the TMK loaded (--tmk-file), the trace on
 * stderr (-v). NULL when something is wrong (printed; exit status 2). */
tl_term *tlcli_terminal(struct tlcli *c);

/* Reads the card file and the script's text (the caller frees it and
 * cf_free()s the cards). Returns 0, or 2 (printed). */
int tlcli_load(const struct tlcli *c, struct cf_set *cards, char **text);

#endif
