/*
 * pos-sim: a POS terminal on the terminal link (docs/pos-sim.md).
 *
 * Scripted mode (--script FILE) runs a list of steps and exits 0 when every
 * expectation held, 1 when one failed, 2 for a bad command line, script,
 * card file, TMK or BDK file, 3 when the first connection cannot be made.
 * The interactive mode (no --script, or --interactive; pos_ui.h) exits 0
 * when the cashier quits, 1 out of service, 2 and 3 as above.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos_pinpad.h"
#include "pos_run.h"
#include "pos_script.h"
#include "pos_txn.h"
#include "pos_ui.h"
#include "termlink.h"
#include "tlcli.h"

#ifndef POS_SIM_CARDS
#define POS_SIM_CARDS "atm-sim/demo-cards.txt"
#endif

struct options {
	struct tlcli cli;
	enum pp_alg dukpt;     /* 0: PINs under the TPK */
	const char *bdk_file;
	const char *ksn;       /* NULL: the X9.24 test KSN of the algorithm */
	char currency[4];      /* interactive: the terminal's currency */
	uint64_t cvm_limit;    /* interactive: contactless PIN limit; 0: 50.00 USD / 200,000.00 KHR */
};

static void usage(FILE *f, const struct tlcli *c)
{
	fprintf(f, "usage: pos-sim [--script FILE | --interactive] [options]\n");
	tlcli_usage(f, c);
	fprintf(f,
	        "  --merchant ID       DE 42 (MER000000000001)\n"
	        "  --mcc N             DE 18, merchant category (5411)\n"
	        "  --dukpt tdes|aes    PIN entry with a DUKPT PIN pad instead of the TPK\n"
	        "  --bdk-file FILE     with --dukpt: 'TID tdes|aes HEX' lines (the PIN pad's\n"
	        "                      initial key is derived from the terminal's BDK)\n"
	        "  --ksn HEX           with --dukpt: the initial KSN, counter 0 (20 hex tdes,\n"
	        "                      24 hex aes; default the X9.24 test KSN)\n"
	        "  --currency USD|KHR  interactive: the terminal's currency (USD)\n"
	        "  --cvm-limit AMOUNT  interactive: contactless above this asks for the PIN\n"
	        "                      (50.00 USD, 200000.00 KHR)\n");
}

/* Returns 0, or the exit status for a bad command line. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_MERCHANT = TLCLI_OPT_END, O_MCC, O_DUKPT, O_BDK, O_KSN, O_CURRENCY, O_CVM };
	struct option lo[TLCLI_OPT_END - 256 + 10];
	size_t n = tlcli_longopts(lo, sizeof lo / sizeof lo[0] - 9);
	lo[n++] = (struct option){"merchant", 1, 0, O_MERCHANT};
	lo[n++] = (struct option){"mcc", 1, 0, O_MCC};
	lo[n++] = (struct option){"dukpt", 1, 0, O_DUKPT};
	lo[n++] = (struct option){"bdk-file", 1, 0, O_BDK};
	lo[n++] = (struct option){"ksn", 1, 0, O_KSN};
	lo[n++] = (struct option){"currency", 1, 0, O_CURRENCY};
	lo[n++] = (struct option){"cvm-limit", 1, 0, O_CVM};
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
		case O_MERCHANT: c->tl.merchant_id = optarg; break;
		case O_MCC: c->tl.mcc = optarg; break;
		case O_DUKPT:
			o->dukpt = pp_alg_parse(optarg);
			if (o->dukpt == 0)
				return tlcli_bad_usage(c, "--dukpt %s: want tdes or aes", optarg);
			break;
		case O_BDK: o->bdk_file = optarg; break;
		case O_KSN: o->ksn = optarg; break;
		case O_CURRENCY:
			if (tlf_currency_code(optarg, o->currency) != 0)
				return tlcli_bad_usage(c, "--currency %s: want USD or KHR", optarg);
			break;
		case O_CVM:
			if (tlf_amount_parse(optarg, &o->cvm_limit) != 0)
				return tlcli_bad_usage(c, "--cvm-limit %s: want an amount such as 50.00", optarg);
			break;
		case 'h': usage(stdout, c); exit(0);
		default: return tlcli_bad_usage(c, "bad option %s", argv[optind - 1]);
		}
	}
	if (o->dukpt == 0 && (o->bdk_file || o->ksn))
		return tlcli_bad_usage(c, "--bdk-file and --ksn go with --dukpt");
	if (o->dukpt && o->bdk_file == NULL)
		return tlcli_bad_usage(c, "--dukpt needs --bdk-file");
	if (c->script && (o->currency[0] || o->cvm_limit))
		return tlcli_bad_usage(c, "--currency and --cvm-limit go with the interactive mode");
	return tlcli_finish(c, argc, argv, optind);
}

/* The DUKPT PIN pad of the options (*pad stays NULL without --dukpt).
 * Returns 0 or 2 (printed). */
static int pinpad(const struct options *o, pp_pad **pad)
{
	*pad = NULL;
	if (o->dukpt == 0)
		return 0;
	char why[300];
	uint8_t ksn[12];
	pc_key bdk;
	const char *ksn_hex = o->ksn ? o->ksn
	                      : o->dukpt == PP_TDES ? "FFFF9876543210E00000" : "123456789012345600000000";
	int rc = pp_parse_ksn(o->dukpt, ksn_hex, ksn, why, sizeof why);
	if (rc == 0)
		rc = pp_load_bdk(o->bdk_file, o->cli.tl.terminal_id, o->dukpt, &bdk, why, sizeof why);
	if (rc == 0) {
		*pad = pp_new(o->dukpt, &bdk, ksn, &rc);
		snprintf(why, sizeof why, "cannot load the PIN pad: %s", pp_strerror(rc));
	}
	pc_wipe(&bdk, sizeof bdk);
	if (*pad == NULL) {
		fprintf(stderr, "pos-sim: %s\n", why);
		return 2;
	}
	return 0;
}

static int run_script(const struct options *o, tl_term *t, pp_pad *pad)
{
	char why[512];
	struct cf_set cards;
	char *text;
	if (tlcli_load(&o->cli, &cards, &text) != 0)
		return 2;
	struct ps_script s = {0};
	pt_term *p = pt_new(t, pad);
	int rc = 2;
	if (p == NULL) {
		fprintf(stderr, "pos-sim: out of memory\n");
	} else if (ps_parse(text, o->cli.script, &cards, &s, why, sizeof why) != 0) {
		fprintf(stderr, "pos-sim: %s\n", why);
	} else if (tl_connect(t) != 0) {
		fprintf(stderr, "pos-sim: %s\n", tl_reason(t));
		rc = 3;
	} else {
		rc = pr_run(t, p, &s, stdout) ? 1 : 0;
	}
	pt_free(p);
	pc_wipe(text, strlen(text));
	free(text);
	ps_free(&s);
	cf_free(&cards);
	return rc;
}

static int run_interactive(const struct options *o, tl_term *t, pp_pad *pad)
{
	struct cf_set cards;
	struct pu_opts po = {.merchant_id = o->cli.tl.merchant_id, .currency = "840",
	                     .cvm_limit = o->cvm_limit};
	if (o->currency[0])
		memcpy(po.currency, o->currency, 4);
	if (po.cvm_limit == 0)
		po.cvm_limit = strcmp(po.currency, "116") == 0 ? 20000000 : 5000;
	if (tu_open(&po.ui, &cards, &o->cli) != 0)
		return 2;
	pt_term *p = pt_new(t, pad);
	int rc = 2;
	if (p == NULL)
		fprintf(stderr, "pos-sim: out of memory\n");
	else
		rc = pu_run(t, p, &po);
	pt_free(p);
	tu_close(&po.ui, &cards);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {
		.cli = {
			.prog = "pos-sim",
			.tl = {.host = "127.0.0.1", .port = 8583, .profile = ISO_ASCII87,
			       .framing = ISO_FRAME_BIN2, .timeout_ms = 5000, .terminal_id = "POS00001",
			       .acquirer_id = "00000000001", .mcc = "5411",
			       .merchant_id = "MER000000000001"},
			.cards = POS_SIM_CARDS,
		},
	};
	int rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	tl_term *t = tlcli_terminal(&o.cli);
	if (t == NULL)
		return 2;
	pp_pad *pad;
	rc = pinpad(&o, &pad);
	if (rc == 0)
		rc = o.cli.script ? run_script(&o, t, pad) : run_interactive(&o, t, pad);
	pp_free(pad);
	tl_free(t);
	return rc;
}
