/* Running an atm-sim script (atm_run.h). */
#include "atm_run.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "tlconn.h"
#include "tlresult.h"

/* How one step ended: the result line, and the answer its amount
 * expectations are checked against. */
struct result {
	struct tlr_line l;
	bool answered;     /* ans holds the switch's answer to the step */
	struct tl_answer ans;
};

/* The outcome of a message step from termlink's return code and answer. */
static void judge(tl_term *t, int rc, const struct tl_answer *a, struct result *r)
{
	tlr_judge(&r->l, rc, a, tl_reason(t));
	r->answered = rc == 0;
	r->ans = *a;
}

/* A real ATM that cannot trust the outcome of a withdrawal (no answer, or
 * an approval whose MAC fails) dispenses nothing and reverses it. */
static void reverse_unsure(tl_term *t, const struct ar_opts *o, struct result *r)
{
	struct tl_answer rev;
	int rc = tl_reverse(t, 0, o->reversal_repeats, &rev);
	tlr_reversal(&r->l, rc, &rev, tl_reason(t));
}

static void do_card_step(tl_term *t, const struct as_step *st, const struct ar_opts *o,
                         struct result *r)
{
	struct tl_fin f = {.card = &st->card->card, .amount = st->amount};
	char masked[24];
	iso_mask_pan(st->card->card.pan, strlen(st->card->card.pan), masked, sizeof masked);
	tlr_add(&r->l, " %s", masked);
	snprintf(f.proc, sizeof f.proc, "%s%s00", st->op == AS_WITHDRAW ? "01" : "31", st->account);
	memcpy(f.currency, st->currency, sizeof f.currency);
	memcpy(f.entry, st->entry, sizeof f.entry);
	if (!st->no_pin && !tl_has_tpk(t))
		tlr_add(&r->l, " pin=none(no-TPK)"); /* before a key change: let the switch judge it */
	else if (!st->no_pin)
		f.pin = st->pin[0] ? st->pin : st->card->pin;
	if (st->op == AS_WITHDRAW) {
		char amt[32];
		tlf_amount_format(st->amount, amt, sizeof amt);
		tlr_add(&r->l, " amount=%s%s", tlf_currency_alpha(st->currency), amt);
	}
	struct tl_answer a;
	int rc = tl_financial(t, &f, &a);
	judge(t, rc, &a, r);
	if (st->op == AS_WITHDRAW && tl_unsure(rc, &a))
		reverse_unsure(t, o, r);
}

/* PIN change (92) and cardless cash (93): the ATM's own services. A
 * cardless withdrawal it cannot trust is reversed like a card's. */
static void do_service_step(tl_term *t, const struct as_step *st, const struct ar_opts *o,
                            struct result *r)
{
	struct tl_answer a;
	int rc;
	if (st->op == AS_PINCHANGE) {
		char masked[24];
		iso_mask_pan(st->card->card.pan, strlen(st->card->card.pan), masked, sizeof masked);
		tlr_add(&r->l, " %s", masked);
		rc = tl_pin_change(t, &st->card->card, st->pin[0] ? st->pin : st->card->pin, st->new_pin, &a);
		judge(t, rc, &a, r);
		return;
	}
	char amt[32];
	tlf_amount_format(st->amount, amt, sizeof amt);
	tlr_add(&r->l, " ref=%s amount=%s%s", st->reference, tlf_currency_alpha(st->currency), amt);
	rc = tl_cardless(t, st->reference, st->code, st->amount, st->currency, &a);
	judge(t, rc, &a, r);
	if (tl_unsure(rc, &a))
		reverse_unsure(t, o, r);
}

static void do_message_step(tl_term *t, const struct as_step *st, const struct ar_opts *o,
                            struct result *r)
{
	struct tl_answer a;
	int rc;
	memset(&a, 0, sizeof a);
	switch (st->op) {
	case AS_SIGNON:
		rc = tl_network(t, TL_NM_SIGNON, &a);
		break;
	case AS_SIGNOFF:
		rc = tl_network(t, TL_NM_SIGNOFF, &a);
		break;
	case AS_ECHO:
		rc = tl_network(t, TL_NM_ECHO, &a);
		break;
	case AS_KEYCHANGE:
		rc = tl_key_change(t, &a);
		if (rc == TL_ERR_NO_KEY)
			rc = TL_ERR_KEYS;
		break;
	case AS_REPEAT:
		rc = tl_repeat(t, &a);
		break;
	case AS_DUP_MISMATCH:
		/* Same STAN and DE 7, 1.00 more than the original. */
		rc = tl_resend_amount(t, tl_last_amount(t) + 100, &a);
		break;
	case AS_REVERSE:
		if (st->dispensed) {
			char amt[32];
			tlf_amount_format(st->dispensed, amt, sizeof amt);
			tlr_add(&r->l, " dispensed=%s", amt);
		}
		rc = tl_reverse(t, st->dispensed, o->reversal_repeats, &a);
		break;
	default:
		return;
	}
	judge(t, rc, &a, r);
	if (st->op == AS_KEYCHANGE && rc == 0 && strcmp(a.rc, "00") == 0)
		tlr_add(&r->l, " keys=new");
	if (st->op == AS_REVERSE && a.sends > 1)
		tlr_add(&r->l, " sends=%u", a.sends);
}

static void do_other_step(tl_term *t, const struct as_step *st, const struct ar_opts *o,
                          struct result *r)
{
	int64_t start = tlc_now_ms();
	int rc;
	switch (st->op) {
	case AS_SLEEP:
		tlc_sleep_ms(st->ms);
		tlr_set_outcome(&r->l, "ok");
		tlr_add(&r->l, " %ums", st->ms);
		return;
	case AS_RAW:
		rc = tl_send_raw(t, st->raw, st->rawlen);
		tlr_set_outcome(&r->l, rc == 0 ? "ok" : "closed");
		tlr_add(&r->l, " bytes=%zu%s", st->rawlen, rc == 0 ? "" : " rc=closed");
		return;
	case AS_EXPECT_CLOSE:
		rc = tl_wait_close(t, o->timeout_ms);
		tlr_set_outcome(&r->l, rc == 0 ? "closed" : rc == TL_ERR_CLOSED ? "error" : "open");
		if (rc == TL_ERR_CLOSED)
			tlr_add(&r->l, " error=\"not connected\"");
		else
			tlr_add(&r->l, " %s %ums", rc == 0 ? "closed" : "still-open",
			        (unsigned)(tlc_now_ms() - start));
		return;
	case AS_RECONNECT:
		rc = tl_connect(t);
		tlr_set_outcome(&r->l, rc == 0 ? "ok" : "error");
		if (rc == 0)
			tlr_add(&r->l, " connected %ums", (unsigned)(tlc_now_ms() - start));
		else
			tlr_add(&r->l, " error=\"%s\"", tl_reason(t));
		r->l.local_error = rc != 0;
		return;
	default:
		return;
	}
}

/* The answer's DE 28 fee, or DE 54 balance of amount type `type`, as an
 * as_amount (set false when the answer has none). */
static struct as_amount received(const struct result *r, const char *type)
{
	struct as_amount v = {.set = false};
	if (!r->answered)
		return v;
	if (type == NULL) {
		v.set = r->ans.has_fee;
		v.minor = r->ans.fee_sign == 'C' ? -(int64_t)r->ans.fee : (int64_t)r->ans.fee;
		return v;
	}
	for (int i = 0; i < r->ans.nbal; i++) {
		const struct tlf_balance *b = &r->ans.bal[i];
		if (strcmp(b->amount_type, type) == 0) {
			v.set = true;
			v.minor = b->sign == 'D' ? -(int64_t)b->amount : (int64_t)b->amount;
			memcpy(v.currency, b->currency, sizeof v.currency);
			return v;
		}
	}
	return v;
}

/* Compares the step's amount expectations with the answer: appends
 * " fee=5.00 ..." to `want` and the received values to `got`. Returns
 * whether all held. */
static bool amounts_ok(const struct as_step *st, const struct result *r, char *want, size_t wcap,
                       char *got, size_t gcap)
{
	static const struct {
		const char *key, *type, *none;
		size_t off;
	} items[] = {
		{"fee", NULL, "(no DE 28)", offsetof(struct as_step, fee)},
		{"ledger", "01", "(not in DE 54)", offsetof(struct as_step, ledger)},
		{"avail", "02", "(not in DE 54)", offsetof(struct as_step, avail)},
	};
	bool ok = true;
	size_t wn = strlen(want), gn = strlen(got);
	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
		const struct as_amount *e = (const void *)((const char *)st + items[i].off);
		if (!e->set)
			continue;
		struct as_amount v = received(r, items[i].type);
		char ebuf[40], vbuf[40];
		as_amount_format(e, ebuf, sizeof ebuf);
		struct as_amount shown = v;
		if (!e->currency[0])
			shown.currency[0] = '\0'; /* compare and show like the expectation */
		as_amount_format(&shown, vbuf, sizeof vbuf);
		bool match = v.set && v.minor == e->minor &&
		             (!e->currency[0] || strcmp(e->currency, v.currency) == 0);
		ok = ok && match;
		if (wn < wcap)
			wn += (size_t)snprintf(want + wn, wcap - wn, " %s=%s", items[i].key, ebuf);
		if (gn < gcap)
			gn += (size_t)snprintf(got + gn, gcap - gn, " %s=%s", items[i].key,
			                       v.set ? vbuf : items[i].none);
	}
	return ok;
}

int ar_run(tl_term *t, const struct as_script *s, const struct ar_opts *o)
{
	int failed = 0;
	char failures[32][400];
	size_t nfail = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct as_step *st = &s->steps[i];
		struct result r = {.answered = false};
		if (st->op == AS_WITHDRAW || st->op == AS_BALANCE)
			do_card_step(t, st, o, &r);
		else if (st->op == AS_PINCHANGE || st->op == AS_CARDLESS)
			do_service_step(t, st, o, &r);
		else if (st->op <= AS_REVERSE)
			do_message_step(t, st, o, &r);
		else
			do_other_step(t, st, o, &r);
		const char *want = st->expect[0] ? st->expect : st->op == AS_EXPECT_CLOSE ? "closed" : NULL;
		bool ok = want ? strcmp(want, r.l.outcome) == 0 : !r.l.local_error;
		char wamt[160] = "", gamt[200] = "";
		if (!amounts_ok(st, &r, wamt, sizeof wamt, gamt, sizeof gamt))
			ok = false;
		if (st->expect[0] || wamt[0])
			tlr_add(&r.l, " expect%s%s%s %s", st->expect[0] ? "=" : "", st->expect, wamt,
			        ok ? "ok" : "FAIL");
		fprintf(o->out, "L%-4u %-18s%s\n", st->line, as_op_name(st->op), r.l.text);
		fflush(o->out);
		if (!ok) {
			char wall[200];
			snprintf(wall, sizeof wall, "%s%s", want ? want : "", wamt + (!want && wamt[0]));
			if (nfail < sizeof failures / sizeof failures[0])
				snprintf(failures[nfail++], sizeof failures[0], "FAILED L%u %s: %s%s, got %s%s",
				         st->line, as_op_name(st->op), wall[0] ? "expected " : "",
				         wall[0] ? wall : "local error", r.l.outcome, gamt);
			failed++;
		}
	}
	for (size_t i = 0; i < nfail; i++)
		fprintf(o->out, "%s\n", failures[i]);
	fprintf(o->out, "summary: %zu steps, %d failed\n", s->n, failed);
	return failed;
}
