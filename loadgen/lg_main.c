/*
 * loadgen: many terminals from one process against switchd, open loop at a
 * target rate or closed loop, and what came back (docs/loadgen.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cardfile.h"
#include "lg_cards.h"
#include "lg_report.h"
#include "lg_sched.h"
#include "lg_term.h"
#include "paycrypto.h"
#include "tlfield.h"
#include "tlreq.h"

#ifndef LOADGEN_CARDS
#define LOADGEN_CARDS "atm-sim/demo-cards.txt"
#endif

#define SETUP_WINDOW 64       /* terminals connecting, signing on and changing keys at once */
#define ARRIVALS_PER_WAKE 256 /* open-loop requests sent per timer wake-up at most */

static const char usage_text[] =
	"usage: loadgen [options]\n"
	"switch:\n"
	"  --host ADDR --port N          switchd's terminal listener (127.0.0.1:8583)\n"
	"  --profile ascii87|binary87    (ascii87)    --framing bin2|ascii4 (bin2)\n"
	"terminals:\n"
	"  --terminals PATTERN           DE 41 of terminal i, one %%d with optional zero-padded\n"
	"                                width (ATM%%05d); at most 8 characters\n"
	"  --count N  --first I          N terminals numbered from I (1, 1)\n"
	"  --tmk HEX | --tmk-file FILE   the TMK all share, or lines TERMINAL-ID HEX\n"
	"  --acquirer ID  --mcc NNNN     DE 32 (00000000001), DE 18 (6011)\n"
	"  --stan N                      first STAN of every terminal (by default from the clock)\n"
	"cards:\n"
	"  --cards-bench N               the bench bank's cards 1..N (schema/bench/switch.sql),\n"
	"                                with --pin (1234) and --expiry YYMM (3011)\n"
	"  --cards FILE                  a simulator card file (atm-sim's demo cards by default)\n"
	"  --hot-card NAME               every transaction on this card (a name, or a bench number)\n"
	"load:\n"
	"  --mix SPEC                    withdraw=70,balance=10,purchase=15,reversal=5 (default)\n"
	"  --amount A.AA --currency C    withdrawals and purchases (20.00 USD)\n"
	"  --rate TPS [--arrivals poisson|even]   open loop (poisson)\n"
	"  --closed [--think MS]         closed loop: next request when the last is answered\n"
	"  --duration S  --warmup S      measured seconds (10), unmeasured before (0)\n"
	"  --timeout MS                  answer deadline (5000); an unanswered withdrawal is\n"
	"                                reversed (0420, then 0421 up to --repeats 3 times)\n"
	"  --seed N                      random choices (by default from the clock; printed)\n"
	"output:\n"
	"  --name PREFIX                 of the bench: lines (loadgen)\n"
	"  --label TEXT                  the CSV's label column (by default mode and rate)\n"
	"  --csv FILE                    append one row for the run (header when new)\n"
	"  --interval-csv FILE           one row per second\n"
	"  --outcomes FILE               append one CSV line per final outcome a terminal saw\n"
	"  -q                            bench: lines only, no table      -v, -vv  more on stderr\n";

enum {
	O_HOST = 256, O_PORT, O_PROFILE, O_FRAMING, O_TERMINALS, O_COUNT, O_FIRST, O_TMK, O_TMK_FILE,
	O_ACQ, O_MCC, O_STAN, O_BENCH, O_PIN, O_EXPIRY, O_CARDS, O_HOT, O_MIX, O_AMOUNT, O_CURRENCY,
	O_RATE, O_ARRIVALS, O_CLOSED, O_THINK, O_DURATION, O_WARMUP, O_TIMEOUT, O_REPEATS, O_SEED,
	O_NAME, O_LABEL, O_CSV, O_ICSV, O_OUTCOMES, O_HELP,
};

static const struct option longopts[] = {
	{"host", required_argument, NULL, O_HOST},       {"port", required_argument, NULL, O_PORT},
	{"profile", required_argument, NULL, O_PROFILE}, {"framing", required_argument, NULL, O_FRAMING},
	{"terminals", required_argument, NULL, O_TERMINALS}, {"count", required_argument, NULL, O_COUNT},
	{"first", required_argument, NULL, O_FIRST},     {"tmk", required_argument, NULL, O_TMK},
	{"tmk-file", required_argument, NULL, O_TMK_FILE}, {"acquirer", required_argument, NULL, O_ACQ},
	{"mcc", required_argument, NULL, O_MCC},         {"stan", required_argument, NULL, O_STAN},
	{"cards-bench", required_argument, NULL, O_BENCH}, {"pin", required_argument, NULL, O_PIN},
	{"expiry", required_argument, NULL, O_EXPIRY},   {"cards", required_argument, NULL, O_CARDS},
	{"hot-card", required_argument, NULL, O_HOT},    {"mix", required_argument, NULL, O_MIX},
	{"amount", required_argument, NULL, O_AMOUNT},   {"currency", required_argument, NULL, O_CURRENCY},
	{"rate", required_argument, NULL, O_RATE},       {"arrivals", required_argument, NULL, O_ARRIVALS},
	{"closed", no_argument, NULL, O_CLOSED},         {"think", required_argument, NULL, O_THINK},
	{"duration", required_argument, NULL, O_DURATION}, {"warmup", required_argument, NULL, O_WARMUP},
	{"timeout", required_argument, NULL, O_TIMEOUT}, {"repeats", required_argument, NULL, O_REPEATS},
	{"seed", required_argument, NULL, O_SEED},       {"name", required_argument, NULL, O_NAME},
	{"label", required_argument, NULL, O_LABEL},     {"csv", required_argument, NULL, O_CSV},
	{"interval-csv", required_argument, NULL, O_ICSV}, {"outcomes", required_argument, NULL, O_OUTCOMES},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

struct opts {
	const char *host, *pattern, *tmk_hex, *tmk_file, *acquirer, *mcc, *pin, *expiry, *cards, *hot;
	const char *mix, *name, *label, *csv, *icsv, *outcomes;
	unsigned port, count, first, stan, think_ms, timeout_ms, repeats;
	unsigned long bench;
	enum iso_profile profile;
	enum iso_framing framing;
	enum lgs_arrivals arrivals;
	uint64_t amount, seed;
	char currency[4];
	double rate, duration, warmup;
	bool closed, seeded;
	int verbose, quiet;
};

enum phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

/* The run: options, engine, schedule and counts. */
struct run {
	struct opts o;
	struct event_base *base;
	lgt_engine *eng;
	struct lgs_mix mix;
	struct lgc_set cards;
	struct lgs_rng rng;
	struct lgs_sched sched;
	enum phase phase;
	unsigned started, settled, ready, failed, failures_shown;
	uint64_t t0, t_measure, t_end, t_giveup;
	struct event *arrival, *tick, *think_all, *sigint, *sigterm;
	struct event **think;   /* closed loop with think time: one per terminal */
	unsigned second;
	struct lgr_run out;     /* the measured window */
	struct lgr_counts ic;   /* this second */
	struct lgh ilat;
	FILE *icsv;
	FILE *outcomes;         /* --outcomes */
	bool outcomes_failed;
	char label[96];
	int signals;
};

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (loadgen --help)\n");
	va_end(ap);
	return 2;
}

static bool number(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!tlf_digits(s, 1, 12) || *end || errno || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool real(const char *s, double min, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

/* Terminal i's DE 41 from the pattern: text, one %d, %Nd or %0Nd, text.
 * Expanded here rather than by printf: the pattern is the user's. */
static bool term_name(const char *pat, unsigned long i, char out[9])
{
	char buf[64];
	size_t n = 0;
	bool done = false;
	for (const char *p = pat; *p; p++) {
		if (*p != '%') {
			if (n + 1 >= sizeof buf)
				return false;
			buf[n++] = *p;
			continue;
		}
		if (done)
			return false;
		p++;
		bool zero = *p == '0';
		if (zero)
			p++;
		unsigned width = 0;
		while (*p >= '0' && *p <= '9' && width < 20)
			width = width * 10 + (unsigned)(*p++ - '0');
		if (*p != 'd')
			return false;
		char num[24];
		int k = snprintf(num, sizeof num, "%lu", i);
		for (unsigned w = (unsigned)k; w < width && n + 1 < sizeof buf; w++)
			buf[n++] = zero ? '0' : ' ';
		if (n + (size_t)k >= sizeof buf)
			return false;
		memcpy(buf + n, num, (size_t)k);
		n += (size_t)k;
		done = true;
	}
	if (!done || n < 1 || n > 8)
		return false;
	memcpy(out, buf, n);
	out[n] = '\0';
	return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.host = "127.0.0.1", .pattern = "ATM%05d", .acquirer = "00000000001",
	                   .mcc = "6011", .pin = "1234", .expiry = "3011", .cards = LOADGEN_CARDS,
	                   .mix = "withdraw=70,balance=10,purchase=15,reversal=5", .name = "loadgen",
	                   .port = 8583, .count = 1, .first = 1, .timeout_ms = 5000, .repeats = 3,
	                   .profile = ISO_ASCII87, .framing = ISO_FRAME_BIN2, .arrivals = LGS_POISSON,
	                   .amount = 2000, .currency = "840", .duration = 10};
	bool cards_given = false;
	int c;
	while ((c = getopt_long(argc, argv, "vq", longopts, NULL)) != -1) {
		unsigned long v = 0;
		switch (c) {
		case O_HOST: o->host = optarg; break;
		case O_PORT:
			if (!number(optarg, 1, 65535, &v))
				return bad_usage("--port: 1 to 65535, not '%s'", optarg);
			o->port = (unsigned)v;
			break;
		case O_PROFILE:
			if (strcmp(optarg, "ascii87") && strcmp(optarg, "binary87"))
				return bad_usage("--profile: ascii87 or binary87, not '%s'", optarg);
			o->profile = strcmp(optarg, "ascii87") ? ISO_BINARY87 : ISO_ASCII87;
			break;
		case O_FRAMING:
			if (strcmp(optarg, "bin2") && strcmp(optarg, "ascii4"))
				return bad_usage("--framing: bin2 or ascii4, not '%s'", optarg);
			o->framing = strcmp(optarg, "bin2") ? ISO_FRAME_ASCII4 : ISO_FRAME_BIN2;
			break;
		case O_TERMINALS: o->pattern = optarg; break;
		case O_COUNT:
			if (!number(optarg, 1, 1000000, &v))
				return bad_usage("--count: 1 to 1000000, not '%s'", optarg);
			o->count = (unsigned)v;
			break;
		case O_FIRST:
			if (!number(optarg, 0, 99999999, &v))
				return bad_usage("--first: 0 to 99999999, not '%s'", optarg);
			o->first = (unsigned)v;
			break;
		case O_TMK: o->tmk_hex = optarg; break;
		case O_TMK_FILE: o->tmk_file = optarg; break;
		case O_ACQ:
			if (!tlf_digits(optarg, 1, 11))
				return bad_usage("--acquirer: 1 to 11 digits, not '%s'", optarg);
			o->acquirer = optarg;
			break;
		case O_MCC:
			if (!tlf_digits(optarg, 4, 4))
				return bad_usage("--mcc: 4 digits, not '%s'", optarg);
			o->mcc = optarg;
			break;
		case O_STAN:
			if (!number(optarg, 1, 999999, &v))
				return bad_usage("--stan: 1 to 999999, not '%s'", optarg);
			o->stan = (unsigned)v;
			break;
		case O_BENCH:
			if (!number(optarg, 1, LGC_BENCH_MAX, &v))
				return bad_usage("--cards-bench: 1 to 999999999, not '%s'", optarg);
			o->bench = v;
			break;
		case O_PIN: o->pin = optarg; break;
		case O_EXPIRY: o->expiry = optarg; break;
		case O_CARDS: o->cards = optarg; cards_given = true; break;
		case O_HOT: o->hot = optarg; break;
		case O_MIX: o->mix = optarg; break;
		case O_AMOUNT:
			if (tlf_amount_parse(optarg, &o->amount) != 0 || o->amount == 0)
				return bad_usage("--amount: major units with two decimals above 0, not '%s'", optarg);
			break;
		case O_CURRENCY:
			if (tlf_currency_code(optarg, o->currency) != 0)
				return bad_usage("--currency: USD or KHR, not '%s'", optarg);
			break;
		case O_RATE:
			if (!real(optarg, 0.001, 1e6, &o->rate))
				return bad_usage("--rate: transactions per second, 0.001 to 1000000, not '%s'", optarg);
			break;
		case O_ARRIVALS:
			if (strcmp(optarg, "poisson") && strcmp(optarg, "even"))
				return bad_usage("--arrivals: poisson or even, not '%s'", optarg);
			o->arrivals = strcmp(optarg, "even") ? LGS_POISSON : LGS_EVEN;
			break;
		case O_CLOSED: o->closed = true; break;
		case O_THINK:
			if (!number(optarg, 0, 3600000, &v))
				return bad_usage("--think: milliseconds, not '%s'", optarg);
			o->think_ms = (unsigned)v;
			break;
		case O_DURATION:
			if (!real(optarg, 0.1, 86400, &o->duration))
				return bad_usage("--duration: seconds, 0.1 to 86400, not '%s'", optarg);
			break;
		case O_WARMUP:
			if (!real(optarg, 0, 3600, &o->warmup))
				return bad_usage("--warmup: seconds, 0 to 3600, not '%s'", optarg);
			break;
		case O_TIMEOUT:
			if (!number(optarg, 1, 600000, &v))
				return bad_usage("--timeout: milliseconds, 1 to 600000, not '%s'", optarg);
			o->timeout_ms = (unsigned)v;
			break;
		case O_REPEATS:
			if (!number(optarg, 0, 100, &v))
				return bad_usage("--repeats: 0 to 100, not '%s'", optarg);
			o->repeats = (unsigned)v;
			break;
		case O_SEED:
			if (!number(optarg, 0, 999999999999ul, &v))
				return bad_usage("--seed: a number, not '%s'", optarg);
			o->seed = v;
			o->seeded = true;
			break;
		case O_NAME: o->name = optarg; break;
		case O_LABEL: o->label = optarg; break;
		case O_CSV: o->csv = optarg; break;
		case O_ICSV: o->icsv = optarg; break;
		case O_OUTCOMES: o->outcomes = optarg; break;
		case 'v': o->verbose++; break;
		case 'q': o->quiet = 1; break;
		case O_HELP: fputs(usage_text, stdout); exit(0);
		default: return bad_usage("bad option");
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (o->closed == (o->rate > 0))
		return bad_usage("give either --rate TPS (open loop) or --closed");
	if (!o->tmk_hex == !o->tmk_file)
		return bad_usage("give either --tmk HEX or --tmk-file FILE");
	if (o->bench && cards_given)
		return bad_usage("--cards-bench and --cards exclude each other");
	char probe[9];
	if (!term_name(o->pattern, (unsigned long)o->first + o->count - 1, probe))
		return bad_usage("--terminals: '%s' needs one %%d (e.g. ATM%%05d) and must give 1 to 8 characters"
		                 " for every terminal", o->pattern);
	return 0;
}

/* ---- keys ------------------------------------------------------------------ */

struct tmk_entry {
	char tid[9];
	uint8_t key[24];
	size_t len;
};

struct tmk_table {
	struct tmk_entry *e;
	size_t n, cap;
	const char *path;
	char why[160];
};

static int tmk_line(char *line, unsigned ln, void *arg)
{
	struct tmk_table *t = arg;
	char id[64], hex[64], extra[2];
	if (sscanf(line, "%63s %63s %1s", id, hex, extra) != 2 || strlen(id) > 8) {
		snprintf(t->why, sizeof t->why, "%s:%u: want TERMINAL-ID HEX-KEY", t->path, ln);
		return -1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tmk_entry *e = realloc(t->e, cap * sizeof *e);
		if (e == NULL) {
			snprintf(t->why, sizeof t->why, "out of memory");
			return -1;
		}
		t->e = e;
		t->cap = cap;
	}
	struct tmk_entry *e = &t->e[t->n];
	int n = pc_hex_decode(hex, strlen(hex), e->key, sizeof e->key);
	pc_wipe(hex, sizeof hex);
	if (n != 16 && n != 24) {
		snprintf(t->why, sizeof t->why, "%s:%u: the key of %s is not 32 or 48 hex", t->path, ln, id);
		return -1;
	}
	strcpy(e->tid, id);
	e->len = (size_t)n;
	t->n++;
	return 0;
}

static int tmk_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tmk_entry *)a)->tid, ((const struct tmk_entry *)b)->tid);
}

static void tmk_free(struct tmk_table *t)
{
	if (t->e)
		pc_wipe(t->e, t->cap * sizeof *t->e);
	free(t->e);
}

/* Defines every terminal: name, TMK, first STAN. */
static int define_terminals(struct run *r)
{
	const struct opts *o = &r->o;
	struct tmk_table tab = {.path = o->tmk_file};
	uint8_t shared[24];
	size_t shared_len = 0;
	char why[160];
	int rc = 0;
	if (o->tmk_file) {
		char *text = cf_read_file(o->tmk_file, why, sizeof why);
		if (text == NULL) {
			fprintf(stderr, "loadgen: %s\n", why);
			return 2;
		}
		int k = cf_each_line(text, tmk_line, &tab);
		pc_wipe(text, strlen(text));
		free(text);
		if (k != 0) {
			fprintf(stderr, "loadgen: %s\n", tab.why[0] ? tab.why : "out of memory");
			tmk_free(&tab);
			return 2;
		}
		qsort(tab.e, tab.n, sizeof *tab.e, tmk_cmp);
	} else {
		int n = pc_hex_decode(o->tmk_hex, strlen(o->tmk_hex), shared, sizeof shared);
		if (n != 16 && n != 24) {
			fprintf(stderr, "loadgen: --tmk: 32 or 48 hex digits\n");
			return 2;
		}
		shared_len = (size_t)n;
	}
	for (unsigned i = 0; i < o->count && rc == 0; i++) {
		struct tmk_entry key;
		term_name(o->pattern, (unsigned long)o->first + i, key.tid);
		const uint8_t *tmk = shared;
		size_t len = shared_len;
		if (o->tmk_file) {
			const struct tmk_entry *e = bsearch(&key, tab.e, tab.n, sizeof *tab.e, tmk_cmp);
			if (e == NULL) {
				fprintf(stderr, "loadgen: %s: no key for terminal %s\n", o->tmk_file, key.tid);
				rc = 2;
				break;
			}
			tmk = e->key;
			len = e->len;
		}
		if (lgt_define(r->eng, i, key.tid, tmk, len, o->stan, why, sizeof why) != 0) {
			fprintf(stderr, "loadgen: %s\n", why);
			rc = 2;
		}
	}
	pc_wipe(shared, sizeof shared);
	tmk_free(&tab);
	return rc;
}

/* ---- the run ----------------------------------------------------------------- */

static void finish(struct run *r)
{
	if (r->phase == PH_DONE)
		return;
	r->phase = PH_DONE;
	event_base_loopbreak(r->base);
}

static void check_drained(struct run *r)
{
	if (r->phase == PH_DRAIN && (lgt_busy(r->eng) == 0 || lgt_now_ns() >= r->t_giveup))
		finish(r);
}

static bool measured(const struct run *r, uint64_t intended)
{
	return intended >= r->t_measure && intended < r->t_end;
}

/* Sends terminal i a request from the mix, intended at `when`. */
static void fire(struct run *r, unsigned i, uint64_t when)
{
	bool in = measured(r, when);
	if (in)
		r->out.c.offered++;
	if (lgt_state_of(r->eng, i) != LGT_READY) {
		r->ic.skipped++;
		if (in)
			r->out.c.skipped++;
		return;
	}
	enum lgs_op op = lgs_mix_pick(&r->mix, &r->rng);
	struct tl_card card;
	const char *pin;
	lgc_pick(&r->cards, &r->rng, &card, &pin);
	enum lgs_op sent;
	int rc = lgt_send(r->eng, i, op, &card, pin, r->o.amount, when, &sent);
	pc_wipe(&card, sizeof card);
	if (rc == LGT_SEND_ERROR) {
		r->ic.send_errors++;
		if (in)
			r->out.c.send_errors++;
		return;
	}
	/* A reversal with nothing to reverse goes out as a withdrawal. */
	bool fallback = op != sent;
	lgr_count_sent(&r->ic, sent, fallback);
	if (in) {
		lgr_count_sent(&r->out.c, sent, fallback);
		if (!r->o.closed)
			lgh_record(&r->out.lag, (lgt_now_ns() - when) / 1000);
	}
}

static void on_result(unsigned term, const struct lgt_result *res, void *arg)
{
	struct run *r = arg;
	(void)term;
	lgr_count_result(&r->ic, res);
	bool answered = res->outcome == LGT_ANSWERED || res->outcome == LGT_MACFAIL;
	uint64_t us = (res->done_ns - res->intended_ns) / 1000;
	if (answered)
		lgh_record(&r->ilat, us);
	if (measured(r, res->intended_ns)) {
		lgr_count_result(&r->out.c, res);
		if (answered)
			lgh_record(&r->out.lat, us);
	}
	check_drained(r);
}

/* One line of --outcomes (docs/loadgen.md "Outcomes"): never a PAN. */
static void on_final(unsigned term, const struct lgt_final *f, void *arg)
{
	struct run *r = arg;
	(void)term;
	if (r->outcomes == NULL)
		return;
	const struct tlq_req *q = f->req;
	bool rev = f->op == LGS_REVERSAL;
	char card[24], sends[12] = "";
	lgc_label(&r->cards, q->pan, card, sizeof card);
	if (rev)
		snprintf(sends, sizeof sends, "%u", f->sends);
	if (fprintf(r->outcomes, "%s,%s,%s,%s,%s,%llu,%s,%s,%s,%s,%s,%s,%s,%s\n", f->tid, q->stan, q->de7,
	            q->rrn, lgs_op_name(f->op), (unsigned long long)q->amount, f->rc, f->approval, card,
	            rev ? lgs_op_name(f->reversed) : "", rev ? q->orig_stan : "", rev ? q->orig_de7 : "",
	            rev ? (f->acked ? "yes" : "no") : "", sends) < 0)
		r->outcomes_failed = true;
}

static void closed_next(struct run *r, unsigned i)
{
	uint64_t now = lgt_now_ns();
	if (r->phase != PH_WARMUP && r->phase != PH_MEASURE)
		return;
	if (now >= r->t_end)
		return;
	fire(r, i, now);
}

static void on_think(evutil_socket_t fd, short what, void *arg);

static void on_ready(unsigned term, void *arg)
{
	struct run *r = arg;
	if (r->phase == PH_SETUP) {
		r->ready++;
		r->settled++;
		return;
	}
	if (r->o.closed) {
		if (r->o.think_ms && r->think) {
			struct timeval tv = {.tv_sec = r->o.think_ms / 1000, .tv_usec = (r->o.think_ms % 1000) * 1000};
			evtimer_add(r->think[term], &tv);
		} else {
			closed_next(r, term);
		}
	}
	check_drained(r);
}

static void on_failed(unsigned term, const char *why, void *arg)
{
	struct run *r = arg;
	char tid[9];
	if (r->failures_shown++ < 5 && term_name(r->o.pattern, (unsigned long)r->o.first + term, tid))
		fprintf(stderr, "loadgen: terminal %s: %s\n", tid, why);
	else if (r->failures_shown == 6)
		fprintf(stderr, "loadgen: (further set-up failures are counted, not shown)\n");
	if (r->phase == PH_SETUP) {
		r->failed++;
		r->settled++;
	}
}

struct think_arg {
	struct run *r;
	unsigned i;
};

static void on_think(evutil_socket_t fd, short what, void *arg)
{
	const struct think_arg *a = arg;
	(void)fd;
	(void)what;
	closed_next(a->r, a->i);
}

static void arm_arrival(struct run *r)
{
	uint64_t next = lgs_sched_peek(&r->sched), now = lgt_now_ns();
	if (next >= r->t_end)
		return;
	uint64_t d = next > now ? next - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(d / 1000000000u), .tv_usec = (suseconds_t)(d % 1000000000u / 1000u)};
	evtimer_add(r->arrival, &tv);
}

/* Every arrival whose time has come, however late the timer fired: a
 * late one keeps its intended time, so loadgen's own delay is measured
 * rather than hidden (coordinated omission, docs/loadgen.md). */
static void on_arrival(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	if (r->phase != PH_WARMUP && r->phase != PH_MEASURE)
		return;
	uint64_t now = lgt_now_ns();
	/* At most ARRIVALS_PER_WAKE at a time, so that answers are read
	 * between them when loadgen falls behind (STYLE.md 8). */
	for (unsigned k = 0; k < ARRIVALS_PER_WAKE && lgs_sched_peek(&r->sched) <= now &&
	                     lgs_sched_peek(&r->sched) < r->t_end; k++) {
		unsigned i;
		uint64_t when = lgs_sched_next(&r->sched, &r->rng, &i);
		fire(r, i, when);
		now = lgt_now_ns();
	}
	arm_arrival(r);
}

/* The phase an interval belongs to, by its start. */
static const char *interval_phase(const struct run *r, unsigned second)
{
	uint64_t start = r->t0 + (uint64_t)(second - 1) * 1000000000u;
	return start < r->t_measure ? "warmup" : start < r->t_end ? "measure" : "drain";
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	uint64_t now = lgt_now_ns();
	r->second++;
	if (r->icsv)
		lgr_interval_row(r->icsv, r->label, r->second, interval_phase(r, r->second), &r->ic, &r->ilat);
	memset(&r->ic, 0, sizeof r->ic);
	lgh_reset(&r->ilat);
	/* Every second, so that what the terminals saw survives whatever
	 * happens to the switch (or to loadgen) next. */
	if (r->outcomes && fflush(r->outcomes) != 0)
		r->outcomes_failed = true;
	if (r->phase == PH_WARMUP && now >= r->t_measure)
		r->phase = PH_MEASURE;
	if ((r->phase == PH_WARMUP || r->phase == PH_MEASURE) && now >= r->t_end)
		r->phase = PH_DRAIN;
	check_drained(r);
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	if (r->phase == PH_WARMUP || r->phase == PH_MEASURE)
		r->phase = PH_DRAIN;
	check_drained(r);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)what;
	if (++r->signals > 1 || r->phase == PH_SETUP) {
		fprintf(stderr, "loadgen: signal %d: stopping now\n", (int)fd);
		finish(r);
		return;
	}
	fprintf(stderr, "loadgen: signal %d: no new requests, waiting for the ones in flight\n", (int)fd);
	uint64_t now = lgt_now_ns();
	if (now < r->t_end) {
		r->t_end = now;
		r->out.duration_s = now > r->t_measure ? (double)(now - r->t_measure) / 1e9 : 0;
		r->t_giveup = now + (uint64_t)r->o.timeout_ms * 1000000u * (r->o.repeats + 2) + 2000000000u;
	}
	r->phase = PH_DRAIN;
	check_drained(r);
}

/* Raises the open-files limit as far as allowed; false when the terminals
 * do not fit. */
static bool raise_nofile(unsigned terminals, int verbose)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return true;
	rlim_t need = (rlim_t)terminals + 64, was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	if (verbose && rl.rlim_cur != was)
		fprintf(stderr, "loadgen: open files limit raised from %llu to %llu\n", (unsigned long long)was,
		        (unsigned long long)rl.rlim_cur);
	if (rl.rlim_cur >= need)
		return true;
	fprintf(stderr,
	        "loadgen: %u terminals need about %llu open files; the limit is %llu (hard limit %llu):"
	        " raise it (ulimit -n) or use fewer terminals\n",
	        terminals, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
	        (unsigned long long)rl.rlim_max);
	return false;
}

/* Waits for the next second of the wall clock. The switch's duplicate key
 * is DE 32, 41, 11 and 7 (to the second); a terminal here sends hundreds of
 * messages a second, so a run started right after another could give a
 * STAN the last one used in the same second. Starting in a second of its
 * own, every DE 7 of this run is later than all of the previous one's. */
static void next_second(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct timespec d = {0, 1000000000L - ts.tv_nsec};
	while (nanosleep(&d, &d) != 0 && errno == EINTR)
		;
}

/* Starts terminals until SETUP_WINDOW are being set up, and runs the
 * loop until every one is ready or failed. */
static void setup(struct run *r)
{
	while (r->settled < r->o.count) {
		while (r->started < r->o.count && r->started - r->settled < SETUP_WINDOW)
			lgt_start(r->eng, r->started++);
		event_base_loop(r->base, EVLOOP_ONCE);
		if (r->phase == PH_DONE)
			return;
	}
}

static int load_cards(struct run *r)
{
	char why[256];
	const struct opts *o = &r->o;
	int rc = o->bench ? lgc_open_bench(&r->cards, o->bench, o->pin, o->expiry, why, sizeof why)
	                  : lgc_open_file(&r->cards, o->cards, why, sizeof why);
	if (rc == 0 && o->hot)
		rc = lgc_set_hot(&r->cards, o->hot, why, sizeof why);
	if (rc != 0) {
		fprintf(stderr, "loadgen: %s\n", why);
		return 2;
	}
	return 0;
}

static int run_load(struct run *r)
{
	const struct opts *o = &r->o;
	r->t0 = lgt_now_ns();
	r->t_measure = r->t0 + (uint64_t)(o->warmup * 1e9);
	r->t_end = r->t_measure + (uint64_t)(o->duration * 1e9);
	r->t_giveup = r->t_end + (uint64_t)o->timeout_ms * 1000000u * (o->repeats + 2) + 2000000000u;
	r->phase = o->warmup > 0 ? PH_WARMUP : PH_MEASURE;
	struct timeval one = {1, 0};
	r->tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
	struct event *end = evtimer_new(r->base, on_end, r);
	uint64_t total = r->t_end - r->t0;
	struct timeval tv_end = {.tv_sec = (time_t)(total / 1000000000u),
	                         .tv_usec = (suseconds_t)(total % 1000000000u / 1000u)};
	struct think_arg *targs = NULL;
	if (r->tick == NULL || end == NULL) {
		if (end)
			event_free(end);
		return 1;
	}
	event_add(r->tick, &one);
	evtimer_add(end, &tv_end);
	if (o->closed) {
		if (o->think_ms) {
			r->think = calloc(o->count, sizeof *r->think);
			targs = calloc(o->count, sizeof *targs);
			for (unsigned i = 0; r->think && targs && i < o->count; i++) {
				targs[i] = (struct think_arg){r, i};
				r->think[i] = evtimer_new(r->base, on_think, &targs[i]);
			}
		}
		for (unsigned i = 0; i < o->count; i++)
			if (lgt_state_of(r->eng, i) == LGT_READY)
				closed_next(r, i);
	} else {
		lgs_sched_init(&r->sched, o->arrivals, o->rate, o->count, r->t0);
		r->arrival = evtimer_new(r->base, on_arrival, r);
		if (r->arrival == NULL)
			return 1;
		arm_arrival(r);
	}
	while (r->phase != PH_DONE)
		event_base_loop(r->base, EVLOOP_ONCE);
	if (r->icsv && r->ic.sent + r->ic.answered + r->ic.timeouts > 0)
		lgr_interval_row(r->icsv, r->label, r->second + 1, interval_phase(r, r->second + 1), &r->ic,
		                 &r->ilat);
	r->out.unfinished = lgt_busy(r->eng);
	if (r->out.unfinished)
		lgt_report_pending(r->eng);
	if (r->think) {
		for (unsigned i = 0; i < o->count; i++)
			if (r->think[i])
				event_free(r->think[i]);
		free(r->think);
	}
	free(targs);
	event_free(end);
	return 0;
}

/* Frees what the run holds; every field may still be unset. */
static void cleanup(struct run *r)
{
	if (r->icsv)
		fclose(r->icsv);
	if (r->outcomes)
		fclose(r->outcomes);
	lgt_free(r->eng);
	if (r->sigint)
		event_free(r->sigint);
	if (r->sigterm)
		event_free(r->sigterm);
	if (r->tick)
		event_free(r->tick);
	if (r->arrival)
		event_free(r->arrival);
	if (r->base)
		event_base_free(r->base);
	lgc_close(&r->cards);
}

/* Sets up the terminals and runs the load; the exit status. */
static int start(struct run *r)
{
	struct opts *o = &r->o;
	char why[256];
	int rc;
	if (lgs_mix_parse(o->mix, &r->mix, why, sizeof why) != 0) {
		fprintf(stderr, "loadgen: %s\n", why);
		return 2;
	}
	if ((rc = load_cards(r)) != 0)
		return rc;
	if (!raise_nofile(o->count, o->verbose))
		return 2;
	if (!o->seeded)
		o->seed = ((uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid()) % 1000000000000ull;
	if (o->stan == 0)
		o->stan = tlq_first_stan_now();
	lgs_seed(&r->rng, o->seed);
	signal(SIGPIPE, SIG_IGN);

	struct event_config *ec = event_config_new();
	if (ec)
		event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	r->base = ec ? event_base_new_with_config(ec) : NULL;
	if (ec)
		event_config_free(ec);
	if (r->base == NULL) {
		fprintf(stderr, "loadgen: cannot create the event loop\n");
		return 1;
	}
	struct lgt_config tc = {.host = o->host, .port = o->port, .profile = o->profile,
	                        .framing = o->framing, .timeout_ms = o->timeout_ms,
	                        .repeats = o->repeats, .backoff_ms = 1000, .acquirer = o->acquirer,
	                        .mcc = o->mcc, .currency = o->currency, .seed = o->seed,
	                        .verbose = o->verbose};
	struct lgt_hooks hooks = {on_ready, on_result, on_failed, on_final};
	r->eng = lgt_new(r->base, &tc, o->count, &hooks, r, why, sizeof why);
	if (r->eng == NULL) {
		fprintf(stderr, "loadgen: %s\n", why);
		return 2;
	}
	if ((rc = define_terminals(r)) != 0)
		return rc;
	r->sigint = evsignal_new(r->base, SIGINT, on_signal, r);
	r->sigterm = evsignal_new(r->base, SIGTERM, on_signal, r);
	if (r->sigint == NULL || r->sigterm == NULL)
		return 1;
	event_add(r->sigint, NULL);
	event_add(r->sigterm, NULL);
	if (o->icsv && (r->icsv = fopen(o->icsv, "a")) == NULL) {
		fprintf(stderr, "loadgen: %s: cannot open for appending\n", o->icsv);
		return 2;
	}
	if (o->outcomes && (r->outcomes = fopen(o->outcomes, "a")) == NULL) {
		fprintf(stderr, "loadgen: %s: cannot open for appending\n", o->outcomes);
		return 2;
	}
	if (r->outcomes) {
		fseek(r->outcomes, 0, SEEK_END);
		if (ftell(r->outcomes) == 0)
			fputs("terminal,stan,de7,rrn,kind,amount,rc,approval,card,reverses,orig_stan,orig_de7,"
			      "acked,sends\n", r->outcomes);
	}

	next_second();
	uint64_t t_setup = lgt_now_ns();
	setup(r);
	if (o->verbose)
		fprintf(stderr, "loadgen: %u of %u terminals set up in %.2f s\n", r->ready, o->count,
		        (double)(lgt_now_ns() - t_setup) / 1e9);
	if (r->ready == 0) {
		fprintf(stderr, "loadgen: no terminal could be set up (connect, sign-on, key change)\n");
		return 3;
	}
	if (r->phase == PH_DONE)
		return 1;
	if (o->label)
		snprintf(r->label, sizeof r->label, "%s", o->label);
	else if (o->closed)
		snprintf(r->label, sizeof r->label, "closed-%u", o->count);
	else
		snprintf(r->label, sizeof r->label, "open-%g", o->rate);
	if (r->icsv) {
		fseek(r->icsv, 0, SEEK_END);
		if (ftell(r->icsv) == 0)
			lgr_interval_header(r->icsv);
	}
	r->out = (struct lgr_run){.name = o->name, .label = r->label, .closed = o->closed,
	                          .rate = o->rate, .arrivals = o->arrivals == LGS_EVEN ? "even" : "poisson",
	                          .think_ms = o->think_ms, .terminals = o->count, .ready = r->ready,
	                          .profile = o->profile == ISO_BINARY87 ? "binary87" : "ascii87",
	                          .duration_s = o->duration, .warmup_s = o->warmup, .seed = o->seed};
	if (run_load(r) != 0) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	r->out.ev = *lgt_counters_of(r->eng);
	if (!o->quiet)
		lgr_print_table(stdout, &r->out);
	lgr_print_bench(stdout, &r->out);
	if (o->csv && lgr_csv_append(o->csv, &r->out, why, sizeof why) != 0) {
		fprintf(stderr, "loadgen: %s\n", why);
		return 1;
	}
	if (r->outcomes && (fflush(r->outcomes) != 0 || r->outcomes_failed)) {
		fprintf(stderr, "loadgen: %s: cannot write\n", o->outcomes);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct run run;
	int rc = parse(argc, argv, &run.o);
	if (rc == 0)
		rc = start(&run);
	cleanup(&run);
	return rc;
}
