/* pos-sim's interactive mode (pos_ui.h). */
#include "pos_ui.h"

#include <string.h>
#include <time.h>

#include "receipt.h"
#include "screen.h"
#include "termui.h"

/* Where the transaction being keyed in stands. */
enum pu_state {
	PU_READY,          /* the menu */
	PU_CARD,           /* waiting for the card */
	PU_AMOUNT,         /* the cashier keys the amounts */
	PU_PIN,            /* the customer types the PIN */
	PU_ONLINE,         /* sent to the switch */
	PU_PRINT,          /* the receipts come out */
	PU_CLOSED,         /* quit, or the input ended */
	PU_OUT_OF_SERVICE, /* the switch cannot be reached */
	PU_NSTATES,
};

static const char *const state_names[PU_NSTATES] = {
	"READY", "CARD", "AMOUNT", "PIN", "ONLINE", "PRINT", "CLOSED", "OUT_OF_SERVICE",
};

#define BIT(s) (1u << (s))

/* The changes a transaction may make; any state may close (end of input),
 * the early ones go back to READY on a cancel. */
static const unsigned allowed[PU_NSTATES] = {
	[PU_READY] = BIT(PU_CARD) | BIT(PU_AMOUNT) | BIT(PU_ONLINE) | BIT(PU_OUT_OF_SERVICE),
	[PU_CARD] = BIT(PU_AMOUNT) | BIT(PU_READY),
	[PU_AMOUNT] = BIT(PU_PIN) | BIT(PU_ONLINE) | BIT(PU_READY) | BIT(PU_OUT_OF_SERVICE),
	[PU_PIN] = BIT(PU_ONLINE) | BIT(PU_READY) | BIT(PU_OUT_OF_SERVICE),
	[PU_ONLINE] = BIT(PU_PRINT) | BIT(PU_READY),
	[PU_PRINT] = BIT(PU_READY),
	[PU_CLOSED] = 0,
	[PU_OUT_OF_SERVICE] = 0,
};

/* The menu, in its order (1..). */
enum pu_txn {
	PU_PIN_PURCHASE = 1,
	PU_SIGNATURE,
	PU_CONTACTLESS,
	PU_CASHBACK,
	PU_PREAUTH,
	PU_COMPLETE,
	PU_REFUND,
	PU_VOID,
	PU_CNP,
	PU_RECURRING,
	PU_BATCH,
	PU_NTXN,
};

static const struct {
	const char *en;
	enum rcp_txn rcp;
	const char *how_km; /* after the transaction's Khmer name */
} menu_items[PU_NTXN] = {
	[PU_PIN_PURCHASE] = {"Purchase, chip and PIN", RCP_PURCHASE, " (លេខសម្ងាត់)"},
	[PU_SIGNATURE] = {"Purchase, signature", RCP_PURCHASE, " (ហត្ថលេខា)"},
	[PU_CONTACTLESS] = {"Purchase, contactless", RCP_PURCHASE, " (ប៉ះកាត)"},
	[PU_CASHBACK] = {"Purchase with cash-back", RCP_CASHBACK, ""},
	[PU_PREAUTH] = {"Pre-authorisation", RCP_PREAUTH, ""},
	[PU_COMPLETE] = {"Completion of the last pre-auth.", RCP_COMPLETION, ""},
	[PU_REFUND] = {"Refund", RCP_REFUND, ""},
	[PU_VOID] = {"Void the last purchase", RCP_VOID, ""},
	[PU_CNP] = {"Card not present (CVV2)", RCP_CNP, ""},
	[PU_RECURRING] = {"Recurring payment", RCP_RECURRING, ""},
	[PU_BATCH] = {"Batch close (end of day)", RCP_BATCH, ""},
};

/* An approval the terminal may follow up (completion, void): what its
 * receipts show. */
struct last {
	const struct cf_card *card; /* NULL: none */
	uint64_t amount;
	char currency[4];
};

struct sess {
	tl_term *t;
	pt_term *p;
	const struct pu_opts *o;
	struct scr scr;
	struct tu_out tu;
	enum pu_state state;
	struct last preauth, sale;
};

static void set_state(struct sess *s, enum pu_state to)
{
	s->state = (enum pu_state)tu_state_change(&s->tu, state_names, allowed, PU_NSTATES, s->state,
	                                          to, PU_CLOSED);
}

/* What an answer read from the keyboard gave. */
enum ask { ASK_OK, ASK_CANCEL, ASK_END };

/* Ends a transaction that was not sent: back to the menu, or closed at
 * the end of input. */
static void drop(struct sess *s, enum ask why)
{
	if (why == ASK_END) {
		set_state(s, PU_CLOSED);
		return;
	}
	fprintf(s->o->ui.out, "Cancelled.  បានបោះបង់។\n");
	set_state(s, PU_READY);
}

static bool link_ready(struct sess *s)
{
	if (tu_link_ready(s->t, &s->tu))
		return true;
	set_state(s, PU_OUT_OF_SERVICE);
	return false;
}

static enum ask ask_card(struct sess *s, const struct cf_card **card)
{
	fprintf(s->o->ui.out, "Insert, tap or key the card  សូមបញ្ចូល ឬប៉ះកាត\n");
	tu_card_list(s->o->ui.out, s->o->ui.cards);
	for (;;) {
		char in[64];
		if (!scr_line(&s->scr, "Card (Enter: cancel): ", in, sizeof in))
			return ASK_END;
		if (in[0] == '\0')
			return ASK_CANCEL;
		*card = tu_card_pick(s->o->ui.cards, in);
		if (*card)
			return ASK_OK;
		fprintf(s->o->ui.out, "No such card: type its number or name.\n");
	}
}

static enum ask ask_amount(struct sess *s, const char *what, uint64_t *v)
{
	char prompt[80];
	snprintf(prompt, sizeof prompt, "%s in %s (Enter: cancel): ", what,
	         tlf_currency_alpha(s->o->currency));
	if (!scr_amount(&s->scr, prompt, v))
		return ASK_END;
	return *v ? ASK_OK : ASK_CANCEL;
}

static enum ask ask_secret(struct sess *s, const char *prompt, size_t min, size_t max, char *buf,
                           size_t cap)
{
	if (!scr_secret_digits(&s->scr, prompt, min, max, buf, cap))
		return ASK_END;
	return buf[0] ? ASK_OK : ASK_CANCEL;
}

static void receipt_init(const struct sess *s, struct rcp_receipt *r, enum rcp_txn txn,
                         const struct cf_card *card, uint64_t amount, const char *currency)
{
	memset(r, 0, sizeof *r);
	r->txn = txn;
	r->bank = s->o->ui.bank;
	r->terminal_id = s->o->ui.terminal_id;
	r->merchant_id = s->o->merchant_id;
	r->location = s->o->ui.location;
	r->when = time(NULL);
	r->pan = card ? card->card.pan : NULL;
	r->has_amount = amount > 0;
	r->amount = amount;
	memcpy(r->currency, currency, 4);
}

/* The merchant's copy, then the customer's. */
static void print_copies(struct sess *s, struct rcp_receipt *r)
{
	set_state(s, PU_PRINT);
	r->copy = RCP_COPY_MERCHANT;
	tu_print(&s->tu, r);
	r->copy = RCP_COPY_CUSTOMER;
	tu_print(&s->tu, r);
	set_state(s, PU_READY);
}

/* The answer to a sale, a completion or a void, on the receipts; a call
 * that sent nothing (no original, a bad card) only says why. */
static bool answered(struct sess *s, const char *what, int rc, const struct tl_answer *a,
                     struct rcp_receipt *r, char outcome[12], char rrn[13])
{
	tu_receipt_answer(s->t, &s->tu, what, rc, a, r, outcome, rrn);
	if (!a->sent_mti[0]) {
		fprintf(s->o->ui.out, "Not sent: %s\n", pt_reason(s->p));
		set_state(s, PU_READY);
		return false;
	}
	return true;
}

/* How the card is read and the cardholder verified for each sale. */
static void sale_entry(enum pu_txn k, struct pt_sale *ps)
{
	const char *entry = k == PU_CONTACTLESS ? "071" : k == PU_CNP ? "812"
	                    : k == PU_RECURRING ? "102" : "051";
	memcpy(ps->entry, entry, 4);
	memcpy(ps->cond, k == PU_CNP ? "59" : "00", 3);
	ps->card_present = k != PU_CNP && k != PU_RECURRING;
	ps->recurring = k == PU_RECURRING;
	ps->kind = k == PU_CASHBACK ? PT_CASHBACK : k == PU_PREAUTH ? PT_PREAUTH
	           : k == PU_REFUND ? PT_REFUND : PT_PURCHASE;
}

/* Whether the sale asks for the PIN (a pre-authorisation lets the
 * customer choose). */
static enum ask wants_pin(struct sess *s, enum pu_txn k, uint64_t amount, bool *pin)
{
	*pin = k == PU_PIN_PURCHASE || k == PU_CASHBACK ||
	       (k == PU_CONTACTLESS && amount > s->o->cvm_limit);
	if (k != PU_PREAUTH)
		return ASK_OK;
	int c;
	if (!scr_choose(&s->scr, "Verification: 1 PIN  2 signature: ", 1, 2, &c))
		return ASK_END;
	*pin = c == 1;
	return ASK_OK;
}

static void remember(struct last *l, const struct cf_card *card, uint64_t amount,
                     const char *currency)
{
	l->card = card;
	l->amount = amount;
	memcpy(l->currency, currency, 4);
}

/* A sale the POS cannot trust (no answer, or an approval whose MAC
 * fails) is not completed: it is reversed, and the receipts say so. */
static void reverse_sale(struct sess *s, enum pu_txn k, struct rcp_receipt *r)
{
	struct tl_answer rev;
	int rc = pt_reverse(s->p, &rev);
	tu_reversal_item(s->t, &s->tu, rc, &rev, r);
	static const struct rcp_text refund = {
		"The refund has been reversed: nothing is credited to the card.",
		"ការសងប្រាក់វិញត្រូវបានបង្វិលវិញ៖ មិនបញ្ចូលប្រាក់ទៅកាតទេ។"};
	static const struct rcp_text other = {
		"The transaction has been reversed: nothing is charged to the card.",
		"ប្រតិបត្តិការត្រូវបានបង្វិលវិញ៖ មិនគិតប្រាក់ពីកាតទេ។"};
	r->note = k == PU_REFUND ? refund : other;
}

static void sale(struct sess *s, enum pu_txn k)
{
	struct pt_sale ps = {.amount = 0};
	const struct cf_card *card = NULL;
	char pin[13] = "", cvv2[8] = "";
	bool want_pin = false;
	set_state(s, PU_CARD);
	enum ask st = ask_card(s, &card);
	if (st == ASK_OK) {
		set_state(s, PU_AMOUNT);
		st = ask_amount(s, "Amount", &ps.amount);
	}
	if (st == ASK_OK && k == PU_CASHBACK)
		st = ask_amount(s, "Cash-back", &ps.cashback);
	if (st == ASK_OK && k == PU_CNP)
		st = ask_secret(s, "CVV2 (3 digits): ", 3, 3, cvv2, sizeof cvv2);
	if (st == ASK_OK)
		st = wants_pin(s, k, ps.amount, &want_pin);
	if (st == ASK_OK && want_pin && !pt_dukpt(s->p) && !tl_has_tpk(s->t)) {
		fprintf(s->o->ui.out, "No PIN key (no key change, no DUKPT): sent without a PIN.\n");
		want_pin = false;
	}
	if (st == ASK_OK && want_pin) {
		set_state(s, PU_PIN);
		st = ask_secret(s, "Customer, your PIN (Enter: cancel): ", 4, 12, pin, sizeof pin);
	}
	if (st != ASK_OK || !link_ready(s)) {
		if (st != ASK_OK)
			drop(s, st);
		pc_wipe(pin, sizeof pin);
		pc_wipe(cvv2, sizeof cvv2);
		return;
	}
	set_state(s, PU_ONLINE);
	sale_entry(k, &ps);
	ps.card = &card->card;
	memcpy(ps.currency, s->o->currency, 4);
	ps.pin = want_pin ? pin : NULL;
	ps.cvv2 = cvv2;
	struct tl_answer a;
	int rc = pt_sale(s->p, &ps, &a);
	pc_wipe(pin, sizeof pin);
	pc_wipe(cvv2, sizeof cvv2);
	struct rcp_receipt r;
	char outcome[12], rrn[13];
	receipt_init(s, &r, menu_items[k].rcp, card, ps.amount + ps.cashback, s->o->currency);
	if (!answered(s, "sale", rc, &a, &r, outcome, rrn))
		return;
	r.cashback = ps.cashback;
	r.entry = ps.entry;
	r.cvm = want_pin ? RCP_CVM_PIN
	        : k == PU_CONTACTLESS ? RCP_CVM_NO_CVM
	        : k == PU_SIGNATURE || k == PU_PREAUTH ? RCP_CVM_SIGNATURE : RCP_CVM_NONE;
	if (tu_approved(rc, &a) && k == PU_PREAUTH)
		remember(&s->preauth, card, ps.amount, s->o->currency);
	else if (tu_approved(rc, &a) && k != PU_REFUND)
		remember(&s->sale, card, ps.amount + ps.cashback, s->o->currency);
	else if (tl_unsure(rc, &a))
		reverse_sale(s, k, &r);
	print_copies(s, &r);
}

static void complete(struct sess *s)
{
	if (s->preauth.card == NULL) {
		fprintf(s->o->ui.out, "No approved pre-authorisation to complete.\n");
		return;
	}
	char m[48];
	rcp_money(s->preauth.currency, s->preauth.amount, m, sizeof m);
	fprintf(s->o->ui.out, "Pre-authorised: %s\n", m);
	set_state(s, PU_AMOUNT);
	uint64_t amount;
	enum ask st = ask_amount(s, "Final amount", &amount);
	if (st != ASK_OK) {
		drop(s, st);
		return;
	}
	if (!link_ready(s))
		return;
	set_state(s, PU_ONLINE);
	struct tl_answer a;
	int rc = pt_complete(s->p, amount, &a);
	struct rcp_receipt r;
	char outcome[12], rrn[13];
	receipt_init(s, &r, RCP_COMPLETION, s->preauth.card, amount, s->preauth.currency);
	if (!answered(s, "complete", rc, &a, &r, outcome, rrn))
		return;
	if (tu_approved(rc, &a))
		s->preauth.card = NULL;
	print_copies(s, &r);
}

static void void_last(struct sess *s)
{
	if (s->sale.card == NULL) {
		fprintf(s->o->ui.out, "No approved purchase to void.\n");
		return;
	}
	char m[48], masked[24];
	rcp_money(s->sale.currency, s->sale.amount, m, sizeof m);
	rcp_mask_pan(s->sale.card->card.pan, masked, sizeof masked);
	fprintf(s->o->ui.out, "Void %s on %s?\n", m, masked);
	int c;
	if (!scr_choose(&s->scr, "1 yes  0 no: ", 0, 1, &c)) {
		set_state(s, PU_CLOSED);
		return;
	}
	if (c == 0 || !link_ready(s))
		return;
	set_state(s, PU_ONLINE);
	struct tl_answer a;
	int rc = pt_void(s->p, &a);
	struct rcp_receipt r;
	char outcome[12], rrn[13];
	receipt_init(s, &r, RCP_VOID, s->sale.card, s->sale.amount, s->sale.currency);
	if (!answered(s, "void", rc, &a, &r, outcome, rrn))
		return;
	if (tu_approved(rc, &a))
		s->sale.card = NULL;
	print_copies(s, &r);
}

static void total_item(struct rcp_receipt *r, const char *en, const char *km, uint64_t n,
                       const char *currency, uint64_t amount)
{
	char m[48], v[64];
	rcp_money(currency, amount, m, sizeof m);
	snprintf(v, sizeof v, "%llu  %s", (unsigned long long)n, m);
	rcp_add_item(r, en, km, v);
}

/* End of day: the totals of the terminal's currency in a 0500. */
static void batch(struct sess *s)
{
	if (!link_ready(s))
		return;
	const char *cur = s->o->currency;
	struct pt_totals t;
	pt_totals(s->p, cur, &t); /* before: an approved batch starts a new one */
	set_state(s, PU_ONLINE);
	struct tl_answer a;
	int rc = pt_batch(s->p, cur, &a);
	struct rcp_receipt r;
	char outcome[12], rrn[13];
	receipt_init(s, &r, RCP_BATCH, NULL, 0, cur);
	if (!answered(s, "batch", rc, &a, &r, outcome, rrn))
		return;
	total_item(&r, "Sales", "ការលក់", t.debits, cur, t.debits_amount);
	total_item(&r, "Voids", "ការលុបចោល", t.debit_reversals, cur, t.debit_reversals_amount);
	total_item(&r, "Refunds", "ការសងប្រាក់វិញ", t.credits, cur, t.credits_amount);
	if (tu_approved(rc, &a))
		r.note = (struct rcp_text){"Totals agree with the bank.", "ចំនួនសរុបត្រូវគ្នានឹងធនាគារ។"};
	set_state(s, PU_PRINT);
	tu_print(&s->tu, &r);
	set_state(s, PU_READY);
}

static void menu(struct sess *s)
{
	char title[128];
	snprintf(title, sizeof title, "%s  %s  (%s)\nCHOOSE A TRANSACTION  សូមជ្រើសរើសប្រតិបត្តិការ",
	         s->o->ui.terminal_id, s->o->merchant_id ? s->o->merchant_id : "",
	         tlf_currency_alpha(s->o->currency));
	scr_screen(&s->scr, title);
	for (int i = 1; i < PU_NTXN; i++)
		fprintf(s->o->ui.out, " %2d  %-34s %s%s\n", i, menu_items[i].en,
		        rcp_txn_name(menu_items[i].rcp)->km, menu_items[i].how_km);
	fprintf(s->o->ui.out, "  0  Quit\n");
	int c;
	if (!scr_choose(&s->scr, "Choice: ", 0, PU_NTXN - 1, &c)) {
		set_state(s, PU_CLOSED);
		return;
	}
	switch (c) {
	case 0: set_state(s, PU_CLOSED); break;
	case PU_COMPLETE: complete(s); break;
	case PU_VOID: void_last(s); break;
	case PU_BATCH: batch(s); break;
	default: sale(s, (enum pu_txn)c); break;
	}
}

int pu_run(tl_term *t, pt_term *p, const struct pu_opts *o)
{
	struct sess s = {.t = t, .p = p, .o = o, .state = PU_READY};
	int rc = tu_start(t, &o->ui, "pos-sim", &s.scr, &s.tu);
	if (rc != 0)
		return rc;
	while (s.state == PU_READY)
		menu(&s);
	return tu_link_down(t, &s.tu, s.state == PU_OUT_OF_SERVICE, "POS closed.");
}
