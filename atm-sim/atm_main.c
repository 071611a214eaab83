/*
 * atm-sim: an ATM on the terminal link (docs/atm-sim.md).
 *
 * Scripted mode (--script FILE) runs a list of steps and exits 0 when every
 * expectation held, 1 when one failed, 2 for a bad command line, script,
 * card file or key file, 3 when the first connection cannot be made. The
 * interactive mode (a text screen) will be a second front end on the same
 * terminal: main() only gathers the options and picks the mode.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atm_run.h"
#include "atm_script.h"
#include "cardfile.h"
#include "termlink.h"

#ifndef ATM_SIM_CARDS
#define ATM_SIM_CARDS "atm-sim/demo-cards.txt"
#endif

struct options {
	struct tl_config tl;
	const char *script;
	const char *tmk_file;
	const char *cards;
	unsigned stan;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: atm-sim --script FILE [options]\n"
	        "  --host A            switch address (127.0.0.1)\n"
	        "  --port N            switch port (8583)\n"
	        "  --profile P         ascii87 (default) or binary87\n"
	        "  --framing F         bin2 (default) or ascii4\n"
	        "  --terminal TID      DE 41 (ATM00001)\n"
	        "  --acquirer ID       DE 32 (00000000001, the demo bank)\n"
	        "  --tmk-file FILE     clear TMKs, 'TID HEX' lines (none: no key change)\n"
	        "  --cards FILE        test cards (%s)\n"
	        "  --timeout MS        answer deadline per message (5000)\n"
	        "  --tls [--tls-ca F]  TLS, server certificate checked against F\n"
	        "  --location TEXT     DE 43 (up to 40 characters; not sent by default)\n"
	        "  --stan N            first STAN (default: from the clock)\n"
	        "  -v                  trace every message (masked) on stderr\n",
	        ATM_SIM_CARDS);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "atm-sim: %s (atm-sim --help)\n", msg);
	return 2;
}

static bool number(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static void trace(void *arg, const char *dir, const struct iso_msg *m)
{
	(void)arg;
	char line[2048], v[256];
	int n = snprintf(line, sizeof line, "%s %.4s", strcmp(dir, "send") == 0 ? ">" : "<", m->mti);
	for (unsigned de = 2; de <= ISO_MAX_DE && n > 0 && (size_t)n < sizeof line; de++) {
		if (de == 65 || !iso_has(m, de))
			continue;
		iso_format_value(m, de, v, sizeof v);
		n += snprintf(line + n, sizeof line - (size_t)n, " %u=%s", de, v);
	}
	fprintf(stderr, "%s\n", line);
}

/* Returns 0, or the exit status for a bad command line. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_HOST = 256, O_PORT, O_PROFILE, O_FRAMING, O_TERMINAL, O_ACQ, O_TMK, O_CARDS,
	       O_TIMEOUT, O_TLS, O_TLSCA, O_LOCATION, O_STAN, O_SCRIPT, O_HELP };
	static const struct option lo[] = {
		{"host", 1, 0, O_HOST}, {"port", 1, 0, O_PORT}, {"profile", 1, 0, O_PROFILE},
		{"framing", 1, 0, O_FRAMING}, {"terminal", 1, 0, O_TERMINAL},
		{"acquirer", 1, 0, O_ACQ}, {"tmk-file", 1, 0, O_TMK}, {"cards", 1, 0, O_CARDS},
		{"timeout", 1, 0, O_TIMEOUT}, {"tls", 0, 0, O_TLS}, {"tls-ca", 1, 0, O_TLSCA},
		{"location", 1, 0, O_LOCATION}, {"stan", 1, 0, O_STAN}, {"script", 1, 0, O_SCRIPT},
		{"help", 0, 0, O_HELP}, {0, 0, 0, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case O_HOST: o->tl.host = optarg; break;
		case O_PORT:
			if (!number(optarg, 1, 65535, &o->tl.port))
				return bad_usage("--port %s: want 1..65535", optarg);
			break;
		case O_PROFILE:
			if (strcmp(optarg, "ascii87") == 0)
				o->tl.profile = ISO_ASCII87;
			else if (strcmp(optarg, "binary87") == 0)
				o->tl.profile = ISO_BINARY87;
			else
				return bad_usage("--profile %s: want ascii87 or binary87", optarg);
			break;
		case O_FRAMING:
			if (strcmp(optarg, "bin2") == 0)
				o->tl.framing = ISO_FRAME_BIN2;
			else if (strcmp(optarg, "ascii4") == 0)
				o->tl.framing = ISO_FRAME_ASCII4;
			else
				return bad_usage("--framing %s: want bin2 or ascii4", optarg);
			break;
		case O_TERMINAL: o->tl.terminal_id = optarg; break;
		case O_ACQ: o->tl.acquirer_id = optarg; break;
		case O_TMK: o->tmk_file = optarg; break;
		case O_CARDS: o->cards = optarg; break;
		case O_TIMEOUT:
			if (!number(optarg, 1, 600000, &o->tl.timeout_ms))
				return bad_usage("--timeout %s: want 1..600000 ms", optarg);
			break;
		case O_TLS: o->tl.tls = true; break;
		case O_TLSCA: o->tl.tls_ca = optarg; break;
		case O_LOCATION: o->tl.location = optarg; break;
		case O_STAN:
			if (!number(optarg, 1, 999999, &o->stan))
				return bad_usage("--stan %s: want 1..999999", optarg);
			break;
		case O_SCRIPT: o->script = optarg; break;
		case 'v': o->verbose++; break;
		case 'h':
		case O_HELP: usage(stdout); exit(0);
		default:
			return bad_usage("bad option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument %s", argv[optind]);
	if (o->tl.tls_ca && !o->tl.tls)
		return bad_usage("%s needs --tls", "--tls-ca");
	return 0;
}

/* The first STAN when none is given: tenths of a second into the day, so
 * that runs a moment apart do not reuse each other's STAN and DE 7. */
static unsigned stan_from_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned)((ts.tv_sec % 86400) * 10 + ts.tv_nsec / 100000000) % 999999 + 1;
}

static int run_script(const struct options *o, tl_term *t)
{
	char why[512];
	struct cf_set cards;
	if (cf_load(o->cards, &cards, why, sizeof why) != 0) {
		fprintf(stderr, "atm-sim: %s\n", why);
		return 2;
	}
	char *text = cf_read_file(o->script, why, sizeof why);
	struct as_script s = {0};
	int rc = 2;
	if (text == NULL) {
		fprintf(stderr, "atm-sim: %s\n", why);
	} else if (as_parse(text, o->script, &cards, &s, why, sizeof why) != 0) {
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
	struct options o = {
		.tl = {.host = "127.0.0.1", .port = 8583, .profile = ISO_ASCII87,
		       .framing = ISO_FRAME_BIN2, .timeout_ms = 5000, .terminal_id = "ATM00001",
		       .acquirer_id = "00000000001", .mcc = "6011"},
		.cards = ATM_SIM_CARDS,
	};
	int rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	if (o.verbose)
		o.tl.trace = trace;
	int err;
	tl_term *t = tl_new(&o.tl, &err);
	if (t == NULL) {
		fprintf(stderr, "atm-sim: bad terminal settings (--terminal 1..8 characters, "
		                "--acquirer 1..11 digits, --location up to 40 characters)\n");
		return 2;
	}
	tl_set_stan(t, o.stan ? o.stan : stan_from_clock());
	if (o.tmk_file && tl_load_tmk(t, o.tmk_file) != 0) {
		fprintf(stderr, "atm-sim: %s\n", tl_reason(t));
		tl_free(t);
		return 2;
	}
	if (o.script) {
		rc = run_script(&o, t);
	} else {
		fprintf(stderr, "atm-sim: the interactive mode is not there yet; use --script FILE\n");
		rc = 2;
	}
	tl_free(t);
	return rc;
}
