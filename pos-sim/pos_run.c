/* Running a pos-sim script (pos_run.h). */
#include "pos_run.h"

#include <string.h>
#include <time.h>

#include "tlconn.h"
#include "tlresult.h"

static void sale_step(tl_term *t, pt_term *p, const struct ps_step *st, struct tlr_line *l)
{
	static const enum pt_kind kinds[] = {
		[PS_PURCHASE] = PT_PURCHASE, [PS_CASHBACK] = PT_CASHBACK,
		[PS_PREAUTH] = PT_PREAUTH, [PS_REFUND] = PT_REFUND,
	};
	struct pt_sale s = {.kind = kinds[st->op], .card = &st->card->card, .amount = st->amount,
	                    .cashback = st->cashback, .card_present = st->card_present,
	                    .cvv2 = st->cvv2, .recurring = st->recurring};
	memcpy(s.currency, st->currency, sizeof s.currency);
	memcpy(s.entry, st->entry, sizeof s.entry);
	memcpy(s.cond, st->cond, sizeof s.cond);
	tlr_pan(l, st->card->card.pan);
	tlr_amount(l, "amount", st->currency, 'C', st->amount);
	if (st->cashback)
		tlr_amount(l, "cashback", st->currency, 'C', st->cashback);
	tlr_add(l, " entry=%s", st->entry);
	if (st->pin && !pt_dukpt(p) && !tl_has_tpk(t))
		tlr_add(l, " pin=none(no-TPK)"); /* before a key change: let the switch judge it */
	else if (st->pin)
		s.pin = st->pin_value[0] ? st->pin_value : st->card->pin;
	struct tl_answer a;
	int rc = pt_sale(p, &s, &a);
	if (s.pin && pt_dukpt(p))
		tlr_add(l, " pin=dukpt ksn=%s", a.sent_mti[0] ? pt_last_ksn(p) : "none");
	else if (s.pin)
		tlr_add(l, " pin=tpk");
	tlr_judge(l, rc, &a, pt_reason(p));
	/* A real POS that cannot trust the outcome (no answer, or an approval
	 * whose MAC fails) has not completed the sale: it reverses it. */
	if (tl_unsure(rc, &a)) {
		struct tl_answer rev;
		rc = pt_reverse(p, &rev);
		tlr_reversal(l, rc, &rev, pt_reason(p));
	}
}

/* " debits=N/AMOUNT ..." of the totals a batch sends. */
static void batch_text(const pt_term *p, const char *currency, struct tlr_line *l)
{
	struct pt_totals t;
	pt_totals(p, currency, &t);
	const struct {
		const char *name;
		uint64_t n, amount;
	} parts[] = {
		{"debits", t.debits, t.debits_amount},
		{"debit-reversals", t.debit_reversals, t.debit_reversals_amount},
		{"credits", t.credits, t.credits_amount},
		{"credit-reversals", t.credit_reversals, t.credit_reversals_amount},
	};
	tlr_add(l, " currency=%s", tlf_currency_alpha(currency));
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		char amt[32];
		tlf_amount_format(parts[i].amount, amt, sizeof amt);
		tlr_add(l, " %s=%llu/%s", parts[i].name, (unsigned long long)parts[i].n, amt);
	}
}

static void message_step(tl_term *t, pt_term *p, const struct ps_step *st, struct tlr_line *l)
{
	struct tl_answer a;
	memset(&a, 0, sizeof a);
	int rc;
	const char *reason = NULL;
	switch (st->op) {
	case PS_SIGNON: rc = tl_network(t, TL_NM_SIGNON, &a); break;
	case PS_SIGNOFF: rc = tl_network(t, TL_NM_SIGNOFF, &a); break;
	case PS_ECHO: rc = tl_network(t, TL_NM_ECHO, &a); break;
	case PS_KEYCHANGE:
		rc = tl_key_change(t, &a);
		if (rc == TL_ERR_NO_KEY)
			rc = TL_ERR_KEYS;
		break;
	case PS_COMPLETE:
		tlr_amount(l, "amount", NULL, 'C', st->amount);
		rc = pt_complete(p, st->amount, &a);
		reason = pt_reason(p);
		break;
	case PS_VOID:
		rc = pt_void(p, &a);
		reason = pt_reason(p);
		break;
	case PS_REPEAT:
		rc = pt_repeat(p, &a);
		reason = pt_reason(p);
		break;
	case PS_BATCH:
		batch_text(p, st->currency, l);
		rc = pt_batch(p, st->currency, &a);
		reason = pt_reason(p);
		break;
	default:
		return;
	}
	tlr_judge(l, rc, &a, reason ? reason : tl_reason(t));
	if (st->op == PS_KEYCHANGE && rc == 0 && strcmp(a.rc, "00") == 0)
		tlr_add(l, " keys=new");
	if (a.sends > 1) /* a completion, void or batch repeated for want of an answer */
		tlr_add(l, " sends=%u", a.sends);
}

int pr_run(tl_term *t, pt_term *p, const struct ps_script *s, FILE *out)
{
	struct tlr_summary sum = {.out = out};
	for (size_t i = 0; i < s->n; i++) {
		const struct ps_step *st = &s->steps[i];
		struct tlr_line l = {.len = 0};
		switch (st->op) {
		case PS_PURCHASE:
		case PS_CASHBACK:
		case PS_PREAUTH:
		case PS_REFUND:
			sale_step(t, p, st, &l);
			break;
		case PS_SLEEP:
			tlc_sleep_ms(st->ms);
			tlr_set_outcome(&l, "ok");
			tlr_add(&l, " %ums", st->ms);
			break;
		case PS_RECONNECT: {
			int64_t start = tlc_now_ms();
			int rc = tl_connect(t);
			tlr_set_outcome(&l, rc == 0 ? "ok" : "error");
			l.local_error = rc != 0;
			if (rc == 0)
				tlr_add(&l, " connected %ums", (unsigned)(tlc_now_ms() - start));
			else
				tlr_add(&l, " error=\"%s\"", tl_reason(t));
			break;
		}
		default:
			message_step(t, p, st, &l);
			break;
		}
		tlr_step_done(&sum, st->line, ps_op_name(st->op), &l, st->expect);
	}
	tlr_summary_print(&sum);
	return (int)sum.failed;
}
