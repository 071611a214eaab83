/* A POS terminal's transactions (pos_txn.h). */
#include "pos_txn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum req_kind { R_NONE, R_SALE, R_COMPLETION, R_VOID, R_REVERSAL };

/* A request as the terminal remembers it, to repeat it or follow it up. */
struct req {
	enum req_kind kind;
	enum pt_kind sale;           /* R_SALE: which */
	char mti[5];                 /* as first sent */
	struct tl_stamp st;
	char pan[20], expiry[5], track2[38];
	char proc[7], currency[4], entry[4], cond[3];
	uint64_t amount;             /* DE 4 */
	uint64_t cashback;           /* DE 54 when not 0 */
	bool has_pin;
	uint8_t pin_block[8];
	char de48[160];              /* private tags; may hold a CVV2: wiped with the request */
	size_t de48len;
	char ksn[25];
	char approval[7];            /* sales: the answer's DE 38, trusted or not; follow-ups: the original's */
	char orig_mti[5], orig_stan[7], orig_de7[11];
	bool approved;               /* counted already */
};

#define NCUR 4

struct pt_term {
	tl_term *t;
	pp_pad *pad;
	struct req last;     /* for pt_repeat */
	struct req preauth;  /* for pt_complete */
	struct req sale;     /* for pt_void */
	struct {
		char currency[4];
		struct pt_totals t;
	} totals[NCUR];
	char reason[256];
};

static int fail(pt_term *p, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(pt_term *p, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
	return err;
}

pt_term *pt_new(tl_term *t, pp_pad *pad)
{
	pt_term *p = calloc(1, sizeof *p);
	if (p) {
		p->t = t;
		p->pad = pad;
	}
	return p;
}

void pt_free(pt_term *p)
{
	if (p == NULL)
		return;
	pc_wipe(p, sizeof *p);
	free(p);
}

const char *pt_reason(const pt_term *p)
{
	return p->reason;
}

bool pt_dukpt(const pt_term *p)
{
	return p->pad != NULL;
}

const char *pt_last_ksn(const pt_term *p)
{
	return p->last.ksn;
}

/* The slot of a currency's totals, or -1. */
static int totals_slot(const pt_term *p, const char *currency)
{
	for (int i = 0; i < NCUR; i++)
		if (strcmp(p->totals[i].currency, currency) == 0)
			return i;
	return -1;
}

/* The totals of a currency, taking a free slot for a new one (NULL when
 * none is left). */
static struct pt_totals *totals_of(pt_term *p, const char *currency)
{
	int i = totals_slot(p, currency);
	if (i < 0)
		i = totals_slot(p, "");
	if (i < 0)
		return NULL;
	memcpy(p->totals[i].currency, currency, 4);
	return &p->totals[i].t;
}

void pt_totals(const pt_term *p, const char *currency, struct pt_totals *out)
{
	int i = totals_slot(p, currency);
	if (i >= 0)
		*out = p->totals[i].t;
	else
		memset(out, 0, sizeof *out);
}

static int set_s(struct iso_msg *m, unsigned de, const char *s)
{
	return iso_set_copy(m, de, s, strlen(s));
}

/* The message of a remembered request, with the given MTI. */
static int build(const pt_term *p, const struct req *r, const char *mti, struct iso_msg *m)
{
	iso_init(m, mti);
	int rc = set_s(m, 2, r->pan) | set_s(m, 3, r->proc) | iso_set_num(m, 4, r->amount) |
	         set_s(m, 7, r->st.de7) | set_s(m, 11, r->st.stan) | set_s(m, 12, r->st.time12) |
	         set_s(m, 13, r->st.date13) | set_s(m, 14, r->expiry) | set_s(m, 22, r->entry) |
	         set_s(m, 25, r->cond) | set_s(m, 37, r->st.rrn) | set_s(m, 49, r->currency) |
	         tl_put_terminal(p->t, m);
	if (r->track2[0])
		rc |= set_s(m, 35, r->track2);
	if (r->kind != R_SALE && r->approval[0])
		rc |= set_s(m, 38, r->approval);
	if (r->de48len)
		rc |= iso_set_copy(m, 48, r->de48, r->de48len);
	if (r->has_pin)
		rc |= iso_set_copy(m, 52, r->pin_block, 8);
	if (r->cashback) {
		struct tlf_balance b = {"00", "40", "", 'C', r->cashback};
		char de54[21];
		memcpy(b.currency, r->currency, 4);
		rc |= tlf_amount_group(&b, de54) != 0 || set_s(m, 54, de54);
	}
	if (r->kind != R_SALE) {
		char acq[12], de90[43];
		rc |= iso_get(m, 32, acq, sizeof acq) < 0 ||
		      tlf_de90(r->orig_mti, r->orig_stan, r->orig_de7, acq, NULL, de90) != 0 ||
		      set_s(m, 90, de90);
	}
	return rc ? TL_ERR_ENCODE : 0;
}

static bool same_original(const struct req *follow_up, const struct req *orig)
{
	return orig->kind == R_SALE && strcmp(follow_up->orig_stan, orig->st.stan) == 0 &&
	       strcmp(follow_up->orig_de7, orig->st.de7) == 0;
}

/* The first approval of a request: what it does to the terminal's state
 * and to the batch totals. */
static void approved(pt_term *p, struct req *r, const struct tl_answer *a)
{
	if (r->approved)
		return;
	r->approved = true;
	struct pt_totals *t = totals_of(p, r->currency);
	struct pt_totals none;
	if (t == NULL)
		t = &none; /* more currencies than slots: not counted */
	switch (r->kind) {
	case R_SALE:
		snprintf(r->approval, sizeof r->approval, "%s", a->approval);
		if (r->sale == PT_PREAUTH) {
			p->preauth = *r;
		} else if (r->sale == PT_REFUND) {
			t->credits++;
			t->credits_amount += r->amount;
		} else {
			t->debits++;
			t->debits_amount += r->amount;
			p->sale = *r;
		}
		break;
	case R_COMPLETION:
		t->debits++;
		t->debits_amount += r->amount;
		if (same_original(r, &p->preauth))
			p->preauth.kind = R_NONE;
		break;
	case R_VOID:
		t->debit_reversals++;
		t->debit_reversals_amount += r->amount;
		if (same_original(r, &p->sale))
			p->sale.kind = R_NONE;
		break;
	case R_REVERSAL:
		/* Its original was never counted: the terminal did not see it
		 * approved (pt_reverse). */
		break;
	case R_NONE:
		break;
	}
}

/* Builds r's message with `mti` and exchanges it, MACed; without an
 * answer it is repeated up to `repeats` times (tl_exchange_repeat). */
static int send_req(pt_term *p, struct req *r, const char *mti, unsigned repeats,
                    struct tl_answer *a)
{
	struct iso_msg m;
	int rc = build(p, r, mti, &m);
	if (rc != 0)
		return fail(p, rc, "cannot build the %s request", mti);
	rc = tl_exchange_repeat(p->t, &m, repeats, a);
	pc_wipe(&m, sizeof m);
	if (rc != 0)
		return fail(p, rc, "%s", tl_reason(p->t));
	if (strcmp(a->rc, "00") == 0 && !tl_mac_failed(a))
		approved(p, r, a);
	else if (r->kind == R_SALE)
		snprintf(r->approval, sizeof r->approval, "%s", a->approval); /* for its reversal */
	return 0;
}

/* Makes r (stamped) the request to repeat, wiping the one before and r,
 * and sends it. A sale goes once (pt_reverse follows up one that gets no
 * answer); a completion, void or reversal must be acknowledged, and is
 * repeated (WIRE.md: 0221, 0401, 0421) until it is, TL_REPEATS times at
 * most. */
static int send_new(pt_term *p, struct req *r, struct tl_answer *a)
{
	pc_wipe(&p->last, sizeof p->last);
	p->last = *r;
	pc_wipe(r, sizeof *r);
	return send_req(p, &p->last, p->last.mti, p->last.kind == R_SALE ? 0 : TL_REPEATS, a);
}

static int add_tag(pt_term *p, struct req *r, const char *tag, const char *value)
{
	if (tlf_tag_put(r->de48, sizeof r->de48, &r->de48len, tag, value) != 0)
		return fail(p, TL_ERR_ARG, "DE 48 tag %s does not fit", tag);
	return 0;
}

/* The PIN block: under the TPK, or from the DUKPT PIN pad. */
static int pin_entry(pt_term *p, struct req *r, const char *pin)
{
	if (p->pad == NULL) {
		int rc = tl_tpk_pin_block(p->t, pin, r->pan, r->pin_block);
		if (rc == TL_ERR_NO_KEY)
			return fail(p, rc, "no TPK for the PIN block (key change first)");
		if (rc != 0)
			return fail(p, rc, "cannot build the PIN block");
		r->has_pin = true;
		return 0;
	}
	struct pp_entry e;
	int rc = pp_pin(p->pad, pin, r->pan, NULL, &e);
	if (rc != 0) {
		pc_wipe(&e, sizeof e);
		return fail(p, rc == PP_ERR_ARG ? TL_ERR_ARG : TL_ERR_CRYPTO, "DUKPT PIN entry: %s",
		            pp_strerror(rc));
	}
	memcpy(r->ksn, e.ksn, sizeof r->ksn);
	if (pp_alg_of(p->pad) == PP_TDES) {
		memcpy(r->pin_block, e.block, 8);
		r->has_pin = true;
		rc = add_tag(p, r, "KS", e.ksn);
	} else {
		char hex[33];
		pc_hex_encode(e.block, 16, hex);
		rc = add_tag(p, r, "P4", hex);
		if (rc == 0)
			rc = add_tag(p, r, "KS", e.ksn);
		pc_wipe(hex, sizeof hex);
	}
	pc_wipe(&e, sizeof e);
	return rc;
}

static int fill_sale(pt_term *p, const struct pt_sale *s, struct req *r)
{
	static const char *const procs[] = {"000000", "090000", "000000", "200000"};
	const struct tl_card *c = s->card;
	if (c == NULL || (unsigned)s->kind > PT_REFUND || !tlf_digits(s->currency, 3, 3) ||
	    !tlf_digits(s->entry, 3, 3) || !tlf_digits(s->cond, 2, 2) ||
	    s->amount > 999999999999ull || s->cashback > 999999999999ull - s->amount ||
	    (s->cashback && s->kind != PT_CASHBACK))
		return fail(p, TL_ERR_ARG, "bad sale");
	if (s->card_present &&
	    tlf_track2(c->pan, c->expiry, c->service, "0000000000000", r->track2, sizeof r->track2) < 0)
		return fail(p, TL_ERR_ARG, "bad card data (PAN, expiry or service code)");
	if (!tlf_digits(c->pan, 12, 19) || !tlf_digits(c->expiry, 4, 4))
		return fail(p, TL_ERR_ARG, "bad card data (PAN or expiry)");
	r->kind = R_SALE;
	r->sale = s->kind;
	strcpy(r->mti, s->kind == PT_PREAUTH ? "0100" : "0200");
	strcpy(r->pan, c->pan);
	strcpy(r->expiry, c->expiry);
	strcpy(r->proc, procs[s->kind]);
	strcpy(r->currency, s->currency);
	strcpy(r->entry, s->entry);
	strcpy(r->cond, s->cond);
	r->amount = s->amount + s->cashback;
	r->cashback = s->cashback;
	int rc = 0;
	if (s->cvv2 && s->cvv2[0])
		rc = add_tag(p, r, "C2", s->cvv2);
	if (rc == 0 && s->recurring)
		rc = add_tag(p, r, "RC", "1");
	if (rc == 0 && s->pin)
		rc = pin_entry(p, r, s->pin);
	return rc;
}

int pt_sale(pt_term *p, const struct pt_sale *s, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	struct req r;
	memset(&r, 0, sizeof r);
	int rc = fill_sale(p, s, &r);
	if (rc == 0) {
		tl_new_stamp(p->t, &r.st);
		return send_new(p, &r, a);
	}
	pc_wipe(&r, sizeof r);
	return rc;
}

/* A completion, void or reversal of `orig`: its card, codes and RRN, DE
 * 90 to it; no track 2, PIN block or DE 48 tags. */
static int follow_up(pt_term *p, enum req_kind kind, const struct req *orig, uint64_t amount,
                     struct tl_answer *a)
{
	struct req r = *orig;
	r.kind = kind;
	strcpy(r.mti, kind == R_COMPLETION ? "0220" : kind == R_VOID ? "0400" : "0420");
	strcpy(r.orig_mti, orig->mti);
	strcpy(r.orig_stan, orig->st.stan);
	strcpy(r.orig_de7, orig->st.de7);
	r.amount = amount;
	r.track2[0] = '\0';
	r.has_pin = false;
	r.de48len = 0;
	r.de48[0] = r.ksn[0] = '\0';
	r.approved = false;
	char rrn[13];
	strcpy(rrn, orig->st.rrn);
	tl_new_stamp(p->t, &r.st);
	strcpy(r.st.rrn, rrn); /* a follow-up carries its original's RRN */
	return send_new(p, &r, a);
}

int pt_complete(pt_term *p, uint64_t amount, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (p->preauth.kind != R_SALE)
		return fail(p, TL_ERR_NO_ORIGINAL, "no approved pre-authorisation to complete");
	if (amount == 0 || amount > 999999999999ull)
		return fail(p, TL_ERR_ARG, "bad completion amount");
	return follow_up(p, R_COMPLETION, &p->preauth, amount, a);
}

int pt_void(pt_term *p, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (p->sale.kind != R_SALE)
		return fail(p, TL_ERR_NO_ORIGINAL, "no approved purchase to void");
	return follow_up(p, R_VOID, &p->sale, p->sale.amount, a);
}

int pt_reverse(pt_term *p, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (p->last.kind != R_SALE || p->last.approved)
		return fail(p, TL_ERR_NO_ORIGINAL, "no unanswered sale to reverse");
	return follow_up(p, R_REVERSAL, &p->last, p->last.amount, a);
}

int pt_repeat(pt_term *p, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (p->last.kind == R_NONE)
		return fail(p, TL_ERR_NO_ORIGINAL, "nothing to repeat");
	char mti[5];
	memcpy(mti, p->last.mti, 5);
	mti[3] = '1';
	return send_req(p, &p->last, mti, 0, a);
}

int pt_batch(pt_term *p, const char *currency, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (!tlf_digits(currency, 3, 3))
		return fail(p, TL_ERR_ARG, "bad batch currency");
	struct pt_totals t;
	pt_totals(p, currency, &t);
	struct tl_stamp st;
	tl_new_stamp(p->t, &st);
	struct iso_msg m;
	iso_init(&m, "0500");
	int rc = set_s(&m, 7, st.de7) | set_s(&m, 11, st.stan) | set_s(&m, 12, st.time12) |
	         set_s(&m, 13, st.date13) | tl_put_terminal(p->t, &m) | set_s(&m, 50, currency) |
	         iso_set_num(&m, 74, t.credits) | iso_set_num(&m, 75, t.credit_reversals) |
	         iso_set_num(&m, 76, t.debits) | iso_set_num(&m, 77, t.debit_reversals) |
	         iso_set_num(&m, 86, t.credits_amount) |
	         iso_set_num(&m, 87, t.credit_reversals_amount) |
	         iso_set_num(&m, 88, t.debits_amount) |
	         iso_set_num(&m, 89, t.debit_reversals_amount);
	iso_unset(&m, 18); /* a reconciliation has no merchant type */
	if (rc != 0)
		return fail(p, TL_ERR_ENCODE, "cannot build the 0500 request");
	rc = tl_exchange_repeat(p->t, &m, TL_REPEATS, a);
	if (rc != 0)
		return fail(p, rc, "%s", tl_reason(p->t));
	if (strcmp(a->rc, "00") == 0 && !tl_mac_failed(a)) {
		int i = totals_slot(p, currency);
		if (i >= 0)
			memset(&p->totals[i].t, 0, sizeof p->totals[i].t);
	}
	return 0;
}
