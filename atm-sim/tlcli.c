/* The simulators' shared command line (tlcli.h). */
#include "tlcli.h"
#include "tlreq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	O_HOST = 256, O_PORT, O_PROFILE, O_FRAMING, O_TERMINAL, O_ACQ, O_TMK, O_CARDS,
	O_TIMEOUT, O_TLS, O_TLSCA, O_LOCATION, O_STAN, O_SCRIPT, O_INTERACTIVE, O_RECEIPTS, O_BANK,
};

static const struct option shared[] = {
	{"host", 1, 0, O_HOST}, {"port", 1, 0, O_PORT}, {"profile", 1, 0, O_PROFILE},
	{"framing", 1, 0, O_FRAMING}, {"terminal", 1, 0, O_TERMINAL},
	{"acquirer", 1, 0, O_ACQ}, {"tmk-file", 1, 0, O_TMK}, {"cards", 1, 0, O_CARDS},
	{"timeout", 1, 0, O_TIMEOUT}, {"tls", 0, 0, O_TLS}, {"tls-ca", 1, 0, O_TLSCA},
	{"location", 1, 0, O_LOCATION}, {"stan", 1, 0, O_STAN}, {"script", 1, 0, O_SCRIPT},
	{"interactive", 0, 0, O_INTERACTIVE}, {"receipts", 1, 0, O_RECEIPTS}, {"bank", 1, 0, O_BANK},
};

#define NSHARED (sizeof shared / sizeof shared[0])

_Static_assert(O_BANK < TLCLI_OPT_END, "shared option ids overlap the programs' own");

size_t tlcli_longopts(struct option *out, size_t cap)
{
	size_t n = NSHARED < cap ? NSHARED : cap;
	memcpy(out, shared, n * sizeof *out);
	return n;
}

int tlcli_bad_usage(const struct tlcli *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (%s --help)\n", c->prog, msg, c->prog);
	return 2;
}

bool tlcli_number(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

int tlcli_option(struct tlcli *c, int id, const char *arg)
{
	struct tl_config *tl = &c->tl;
	switch (id) {
	case O_HOST: tl->host = arg; break;
	case O_PORT:
		if (!tlcli_number(arg, 1, 65535, &tl->port))
			return tlcli_bad_usage(c, "--port %s: want 1..65535", arg);
		break;
	case O_PROFILE:
		if (strcmp(arg, "ascii87") == 0)
			tl->profile = ISO_ASCII87;
		else if (strcmp(arg, "binary87") == 0)
			tl->profile = ISO_BINARY87;
		else
			return tlcli_bad_usage(c, "--profile %s: want ascii87 or binary87", arg);
		break;
	case O_FRAMING:
		if (strcmp(arg, "bin2") == 0)
			tl->framing = ISO_FRAME_BIN2;
		else if (strcmp(arg, "ascii4") == 0)
			tl->framing = ISO_FRAME_ASCII4;
		else
			return tlcli_bad_usage(c, "--framing %s: want bin2 or ascii4", arg);
		break;
	case O_TERMINAL: tl->terminal_id = arg; break;
	case O_ACQ: tl->acquirer_id = arg; break;
	case O_TMK: c->tmk_file = arg; break;
	case O_CARDS: c->cards = arg; break;
	case O_TIMEOUT:
		if (!tlcli_number(arg, 1, 600000, &tl->timeout_ms))
			return tlcli_bad_usage(c, "--timeout %s: want 1..600000 ms", arg);
		break;
	case O_TLS: tl->tls = true; break;
	case O_TLSCA: tl->tls_ca = arg; break;
	case O_LOCATION: tl->location = arg; break;
	case O_STAN:
		if (!tlcli_number(arg, 1, 999999, &c->stan))
			return tlcli_bad_usage(c, "--stan %s: want 1..999999", arg);
		break;
	case O_SCRIPT: c->script = arg; break;
	case O_INTERACTIVE: c->interactive = true; break;
	case O_RECEIPTS: c->receipts = arg; break;
	case O_BANK: c->bank = arg; break;
	case 'v': c->verbose++; break;
	default: return 0;
	}
	return 1;
}

int tlcli_finish(const struct tlcli *c, int argc, char **argv, int optind_)
{
	if (optind_ < argc)
		return tlcli_bad_usage(c, "unexpected argument %s", argv[optind_]);
	if (c->tl.tls_ca && !c->tl.tls)
		return tlcli_bad_usage(c, "%s needs --tls", "--tls-ca");
	if (c->script && c->interactive)
		return tlcli_bad_usage(c, "--script and --interactive exclude each other");
	if (c->script && (c->receipts || c->bank))
		return tlcli_bad_usage(c, "--receipts and --bank go with the interactive mode");
	return 0;
}

void tlcli_usage(FILE *f, const struct tlcli *c)
{
	fprintf(f,
	        "  --host A            switch address (127.0.0.1)\n"
	        "  --port N            switch port (8583)\n"
	        "  --profile P         ascii87 (default) or binary87\n"
	        "  --framing F         bin2 (default) or ascii4\n"
	        "  --terminal TID      DE 41 (%s)\n"
	        "  --acquirer ID       DE 32 (00000000001, the demo bank)\n"
	        "  --tmk-file FILE     clear TMKs, 'TID HEX' lines (none: no key change)\n"
	        "  --cards FILE        test cards (%s)\n"
	        "  --timeout MS        answer deadline per message (5000)\n"
	        "  --tls [--tls-ca F]  TLS, server certificate checked against F\n"
	        "  --location TEXT     DE 43 (up to 40 characters; not sent by default)\n"
	        "  --stan N            first STAN (default: from the clock)\n"
	        "  -v                  trace every message (masked) on stderr\n"
	        "  --script FILE       scripted mode: run the steps of FILE\n"
	        "  --interactive       the text screens (the default without --script)\n"
	        "  --receipts FILE     interactive: append every receipt to FILE\n"
	        "  --bank TEXT         interactive: the receipts' first line (OUR BANK)\n",
	        c->tl.terminal_id, c->cards);
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

tl_term *tlcli_terminal(struct tlcli *c)
{
	if (c->verbose)
		c->tl.trace = trace;
	int err;
	tl_term *t = tl_new(&c->tl, &err);
	if (t == NULL) {
		fprintf(stderr, "%s: bad terminal settings (--terminal 1..8 characters, "
		                "--acquirer 1..11 digits, --location up to 40 characters)\n", c->prog);
		return NULL;
	}
	tl_set_stan(t, c->stan ? c->stan : tlq_first_stan_now());
	if (c->tmk_file && tl_load_tmk(t, c->tmk_file) != 0) {
		fprintf(stderr, "%s: %s\n", c->prog, tl_reason(t));
		tl_free(t);
		return NULL;
	}
	return t;
}

int tlcli_load(const struct tlcli *c, struct cf_set *cards, char **text)
{
	char why[512];
	*text = NULL;
	if (cf_load(c->cards, cards, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s\n", c->prog, why);
		return 2;
	}
	*text = cf_read_file(c->script, why, sizeof why);
	if (*text == NULL) {
		fprintf(stderr, "%s: %s\n", c->prog, why);
		cf_free(cards);
		return 2;
	}
	return 0;
}
