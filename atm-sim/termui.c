/* The interactive modes' common steps (termui.h). */
#include "termui.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tlresult.h"

int tu_open(struct tu_opts *ui, struct cf_set *cards, const struct tlcli *c)
{
	char why[512];
	*ui = (struct tu_opts){.in = stdin, .out = stdout, .cards = cards,
	                       .terminal_id = c->tl.terminal_id, .location = c->tl.location,
	                       .bank = c->bank, .trace = c->verbose > 0};
	if (cf_load(c->cards, cards, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s\n", c->prog, why);
		return 2;
	}
	if (c->receipts && (ui->receipts = fopen(c->receipts, "a")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", c->prog, c->receipts, strerror(errno));
		cf_free(cards);
		return 2;
	}
	return 0;
}

void tu_close(struct tu_opts *ui, struct cf_set *cards)
{
	if (ui->receipts)
		fclose(ui->receipts);
	ui->receipts = NULL;
	cf_free(cards);
}

unsigned tu_state_change(const struct tu_out *o, const char *const names[], const unsigned allowed[],
                         unsigned n, unsigned from, unsigned to, unsigned closed)
{
	const char *f = from < n ? names[from] : "?", *t = to < n ? names[to] : "?";
	if (to != closed && (from >= n || to >= n || !(allowed[from] & (1u << to)))) {
		fprintf(stderr, "%s: bad state change %s -> %s\n", o->prog, f, t);
		to = closed;
		t = names[closed];
	}
	if (o->trace && to != from)
		fprintf(stderr, "%s: state %s -> %s\n", o->prog, f, t);
	return to;
}

int tu_link_up(tl_term *t, const struct tu_out *o)
{
	if (tl_connect(t) != 0) {
		fprintf(o->screen, "Cannot reach the switch: %s\n", tl_reason(t));
		return 3;
	}
	struct tl_answer a;
	int rc = tl_network(t, TL_NM_SIGNON, &a);
	if (rc != 0 || strcmp(a.rc, "00") != 0) {
		fprintf(o->screen, "Sign-on refused: %s\n", rc ? tl_reason(t) : rcp_reason(a.rc)->en);
		return 1;
	}
	if (!tl_has_tmk(t)) {
		fprintf(o->screen, "No TMK (--tmk-file): no key change, no PIN block under a TPK.\n");
		return 0;
	}
	rc = tl_key_change(t, &a);
	if (rc != 0 || strcmp(a.rc, "00") != 0)
		fprintf(o->screen, "Key change failed (%s): no PIN block under a TPK.\n",
		        rc ? tl_reason(t) : a.rc);
	return 0;
}

bool tu_link_ready(tl_term *t, const struct tu_out *o)
{
	if (tl_connected(t))
		return true;
	fprintf(o->screen, "Reconnecting to the switch...\n");
	return tu_link_up(t, o) == 0;
}

int tu_start(tl_term *t, const struct tu_opts *ui, const char *prog, struct scr *scr,
             struct tu_out *out)
{
	*out = (struct tu_out){.prog = prog, .screen = ui->out, .receipts = ui->receipts,
	                       .trace = ui->trace};
	scr_init(scr, ui->in, ui->out);
	fprintf(ui->out, "%s %s: connecting...\n", prog, ui->terminal_id);
	return tu_link_up(t, out);
}

int tu_link_down(tl_term *t, const struct tu_out *o, bool out_of_service, const char *bye)
{
	if (out_of_service) {
		fprintf(o->screen, "\nOUT OF SERVICE  ម៉ាស៊ីនមិនដំណើរការ\n");
		return 1;
	}
	if (tl_connected(t)) {
		struct tl_answer a;
		tl_network(t, TL_NM_SIGNOFF, &a);
	}
	fprintf(o->screen, "%s\n", bye);
	return 0;
}

void tu_judge(tl_term *t, const struct tu_out *o, const char *what, int rc,
              const struct tl_answer *a, char outcome[12])
{
	struct tlr_line l = {.len = 0};
	tlr_judge(&l, rc, a, tl_reason(t));
	memcpy(outcome, l.outcome, sizeof l.outcome);
	if (o->trace)
		fprintf(stderr, "%s: %-10s%s\n", o->prog, what, l.text);
}

bool tu_approved(int rc, const struct tl_answer *a)
{
	return rc == 0 && strcmp(a->rc, "00") == 0 && !tl_mac_failed(a);
}

void tu_receipt_answer(tl_term *t, const struct tu_out *o, const char *what, int rc,
                       const struct tl_answer *a, struct rcp_receipt *r, char outcome[12],
                       char rrn[13])
{
	tu_judge(t, o, what, rc, a, outcome);
	const struct iso_msg *m = tl_last_answer(t);
	rrn[0] = '\0';
	if (m && iso_has(m, 37) && iso_get(m, 37, rrn, 13) < 0)
		rrn[0] = '\0';
	r->outcome = outcome;
	r->ans = a;
	r->rrn = rrn;
}

void tu_reversal_item(tl_term *t, const struct tu_out *o, int rc, const struct tl_answer *rev,
                      struct rcp_receipt *r)
{
	char what[40];
	if (rc == 0 && !tl_mac_failed(rev))
		snprintf(what, sizeof what, "%s answered %s", rev->sent_mti, rev->rc[0] ? rev->rc : "-");
	else if (rc == 0 || rc == TL_ERR_TIMEOUT)
		snprintf(what, sizeof what, "unacknowledged (%u sent)", rev->sends);
	else
		snprintf(what, sizeof what, "not sent");
	char outcome[12];
	tu_judge(t, o, "reversal", rc, rev, outcome);
	rcp_add_item(r, "Reversal", "ការបង្វិលប្រាក់វិញ", what);
}

void tu_print(const struct tu_out *o, const struct rcp_receipt *r)
{
	char buf[8192];
	if (rcp_format(r, buf, sizeof buf) != 0)
		fprintf(stderr, "%s: receipt cut short\n", o->prog);
	fprintf(o->screen, "\n%s", buf);
	fflush(o->screen);
	if (o->receipts) {
		fprintf(o->receipts, "%s\n", buf);
		fflush(o->receipts);
	}
}

void tu_card_list(FILE *out, const struct cf_set *cards)
{
	for (size_t i = 0; i < cards->n; i++) {
		char masked[24], name[64];
		rcp_mask_pan(cards->cards[i].card.pan, masked, sizeof masked);
		snprintf(name, sizeof name, "%s", cards->cards[i].names);
		name[strcspn(name, ",")] = '\0';
		fprintf(out, " %2zu  %-19s %s\n", i + 1, masked, name);
	}
}

const struct cf_card *tu_card_pick(const struct cf_set *cards, const char *typed)
{
	char *end;
	unsigned long n = strtoul(typed, &end, 10);
	if (typed[0] >= '0' && typed[0] <= '9' && *end == '\0')
		return n >= 1 && n <= cards->n ? &cards->cards[n - 1] : NULL;
	return typed[0] ? cf_find(cards, typed) : NULL;
}
