/* atm-sim's interactive mode (atm_ui.h). */
#include "atm_ui.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atm_run.h"
#include "receipt.h"
#include "screen.h"
#include "tlresult.h"

enum au_state {
	AU_WELCOME,        /* no card: choose one, cardless cash, or shut down */
	AU_PIN,            /* a card is in: PIN entry */
	AU_MENU,           /* choose a transaction */
	AU_MORE,           /* after a transaction: another one, or finish */
	AU_EJECT,          /* the card comes out, or is retained */
	AU_CLOSED,         /* shut down, or the input ended */
	AU_OUT_OF_SERVICE, /* the switch cannot be reached */
	AU_NSTATES,
};

static const char *const state_names[AU_NSTATES] = {
	"WELCOME", "PIN", "MENU", "MORE", "EJECT", "CLOSED", "OUT_OF_SERVICE",
};

#define BIT(s) (1u << (s))

/* The changes a session may make; any state may close (end of input). */
static const unsigned allowed[AU_NSTATES] = {
	[AU_WELCOME] = BIT(AU_PIN) | BIT(AU_WELCOME) | BIT(AU_OUT_OF_SERVICE),
	[AU_PIN] = BIT(AU_MENU) | BIT(AU_EJECT),
	[AU_MENU] = BIT(AU_MORE) | BIT(AU_MENU) | BIT(AU_PIN) | BIT(AU_EJECT) | BIT(AU_OUT_OF_SERVICE),
	[AU_MORE] = BIT(AU_MENU) | BIT(AU_EJECT),
	[AU_EJECT] = BIT(AU_WELCOME),
	[AU_CLOSED] = 0,
	[AU_OUT_OF_SERVICE] = 0,
};

struct sess {
	tl_term *t;
	struct au_opts *o;
	struct scr scr;
	enum au_state state;
	const struct cf_card *card; /* the card in the reader; NULL in WELCOME */
	char pin[13];               /* as typed; wiped when the card comes out */
	bool retain;                /* the switch said the card must be kept */
};

static const char *state_name(enum au_state st)
{
	return (unsigned)st < AU_NSTATES ? state_names[st] : "?";
}

static void set_state(struct sess *s, enum au_state to)
{
	if (to != AU_CLOSED && ((unsigned)to >= AU_NSTATES || !(allowed[s->state] & BIT(to)))) {
		/* A bug in this file, not an input: say so and stop cleanly. */
		fprintf(stderr, "atm-sim: bad state change %s -> %s\n", state_name(s->state),
		        state_name(to));
		to = AU_CLOSED;
	}
	if (s->o->trace && to != s->state)
		fprintf(stderr, "atm-sim: state %s -> %s\n", state_name(s->state), state_name(to));
	s->state = to;
}

/* ---- the link ------------------------------------------------------------ */

/* Connects, signs on and, with a TMK, changes keys. Returns 0, 1 (the
 * switch refused the sign-on) or 3 (no connection). */
static int link_up(struct sess *s)
{
	FILE *out = s->o->out;
	if (tl_connect(s->t) != 0) {
		fprintf(out, "Cannot reach the switch: %s\n", tl_reason(s->t));
		return 3;
	}
	struct tl_answer a;
	int rc = tl_network(s->t, TL_NM_SIGNON, &a);
	if (rc != 0 || strcmp(a.rc, "00") != 0) {
		fprintf(out, "Sign-on refused: %s\n", rc ? tl_reason(s->t) : rcp_reason(a.rc)->en);
		return 1;
	}
	if (!tl_has_tmk(s->t)) {
		fprintf(out, "No TMK (--tmk-file): no key change, transactions go without a PIN block.\n");
		return 0;
	}
	rc = tl_key_change(s->t, &a);
	if (rc != 0 || strcmp(a.rc, "00") != 0)
		fprintf(out, "Key change failed (%s): transactions go without a PIN block.\n",
		        rc ? tl_reason(s->t) : a.rc);
	return 0;
}

/* Before a transaction: a lost connection is made again once. */
static bool link_ready(struct sess *s)
{
	if (tl_connected(s->t))
		return true;
	fprintf(s->o->out, "Reconnecting to the switch...\n");
	if (link_up(s) == 0)
		return true;
	set_state(s, AU_OUT_OF_SERVICE);
	return false;
}

/* The outcome word of a termlink call (tlresult.h), and its result line
 * on stderr when tracing. */
static void judge(struct sess *s, const char *what, int rc, const struct tl_answer *a,
                  char outcome[12])
{
	struct tlr_line l = {.len = 0};
	tlr_judge(&l, rc, a, tl_reason(s->t));
	memcpy(outcome, l.outcome, sizeof l.outcome);
	if (s->o->trace)
		fprintf(stderr, "atm-sim: %-10s%s\n", what, l.text);
}

static bool approved(int rc, const struct tl_answer *a)
{
	return rc == 0 && strcmp(a->rc, "00") == 0 && a->mac != TL_MAC_BAD && a->mac != TL_MAC_MISSING;
}

/* DE 37 of the last answer ("" when none). */
static void answer_rrn(const tl_term *t, char rrn[13])
{
	const struct iso_msg *m = tl_last_answer(t);
	rrn[0] = '\0';
	if (m && iso_has(m, 37) && iso_get(m, 37, rrn, 13) < 0)
		rrn[0] = '\0';
}

/* ---- receipts -------------------------------------------------------------- */

static void receipt_init(const struct sess *s, struct rcp_receipt *r, enum rcp_txn txn)
{
	memset(r, 0, sizeof *r);
	r->txn = txn;
	r->bank = s->o->bank;
	r->terminal_id = s->o->terminal_id;
	r->location = s->o->location;
	r->when = time(NULL);
	r->pan = s->card ? s->card->card.pan : NULL;
}

static void receipt_print(struct sess *s, const struct rcp_receipt *r)
{
	char buf[8192];
	if (rcp_format(r, buf, sizeof buf) != 0)
		fprintf(stderr, "atm-sim: receipt cut short\n");
	fprintf(s->o->out, "\n%s", buf);
	fflush(s->o->out);
	if (s->o->receipts) {
		fprintf(s->o->receipts, "%s\n", buf);
		fflush(s->o->receipts);
	}
}

static void money_item(struct rcp_receipt *r, const char *en, const char *km, const char *cur,
                       uint64_t v)
{
	char m[48];
	rcp_money(cur, v, m, sizeof m);
	rcp_add_item(r, en, km, m);
}

/* ---- screens --------------------------------------------------------------- */

/* Reads and checks a PIN-like secret of min..max digits; "" means cancel.
 * False at the end of input. */
static bool read_digits_secret(struct sess *s, const char *prompt, size_t min, size_t max,
                               char *buf, size_t cap)
{
	for (;;) {
		if (!scr_secret(&s->scr, prompt, buf, cap))
			return false;
		if (buf[0] == '\0' || tlf_digits(buf, min, max))
			return true;
		fprintf(s->o->out, "Please type %zu to %zu digits (Enter: cancel).\n", min, max);
	}
}

static const char *card_name(const struct cf_card *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", c->names);
	char *comma = strchr(buf, ',');
	if (comma)
		*comma = '\0';
	return buf;
}

static void cardless(struct sess *s);

static void welcome(struct sess *s)
{
	const struct cf_set *cs = s->o->cards;
	scr_screen(&s->scr, "WELCOME  សូមស្វាគមន៍\nInsert your card  សូមបញ្ចូលកាតរបស់អ្នក");
	for (size_t i = 0; i < cs->n; i++) {
		char masked[24], name[64];
		rcp_mask_pan(cs->cards[i].card.pan, masked, sizeof masked);
		fprintf(s->o->out, " %2zu  %-19s %s\n", i + 1, masked,
		        card_name(&cs->cards[i], name, sizeof name));
	}
	fprintf(s->o->out, "  c  Cardless withdrawal  ដកប្រាក់ដោយគ្មានកាត\n"
	                   "  q  Shut the ATM down\n");
	for (;;) {
		char in[64];
		if (!scr_line(&s->scr, "Card: ", in, sizeof in)) {
			set_state(s, AU_CLOSED);
			return;
		}
		if (strcmp(in, "q") == 0) {
			set_state(s, AU_CLOSED);
			return;
		}
		if (strcmp(in, "c") == 0) {
			cardless(s); /* stays in WELCOME unless the input ended */
			return;
		}
		char *end;
		unsigned long n = strtoul(in, &end, 10);
		const struct cf_card *c = NULL;
		if (in[0] && *end == '\0' && n >= 1 && n <= cs->n)
			c = &cs->cards[n - 1];
		else if (in[0])
			c = cf_find(cs, in);
		if (c) {
			s->card = c;
			s->retain = false;
			set_state(s, AU_PIN);
			return;
		}
		fprintf(s->o->out, "No such card: type its number or name.\n");
	}
}

static void pin_entry(struct sess *s)
{
	scr_screen(&s->scr, "ENTER YOUR PIN  សូមបញ្ចូលលេខសម្ងាត់\n(Enter alone: cancel and return the card)");
	if (!read_digits_secret(s, "PIN: ", 4, 12, s->pin, sizeof s->pin)) {
		set_state(s, AU_CLOSED);
		return;
	}
	set_state(s, s->pin[0] ? AU_MENU : AU_EJECT);
}

/* The fast-cash screen of a currency: 4 amounts, another amount, cancel.
 * *amount 0: cancelled. False at the end of input. */
static bool choose_amount(struct sess *s, const char *currency, uint64_t *amount)
{
	static const uint64_t usd[] = {1000, 2000, 5000, 10000};
	static const uint64_t khr[] = {4000000, 10000000, 20000000, 40000000};
	const uint64_t *fast = strcmp(currency, "116") == 0 ? khr : usd;
	char title[128];
	snprintf(title, sizeof title, "WITHDRAW %s  %s", tlf_currency_alpha(currency),
	         strcmp(currency, "116") == 0 ? "ដកប្រាក់រៀល" : "ដកប្រាក់ដុល្លារ");
	scr_screen(&s->scr, title);
	for (int i = 0; i < 4; i++) {
		char m[48];
		rcp_money(currency, fast[i], m, sizeof m);
		fprintf(s->o->out, "  %d  %s\n", i + 1, m);
	}
	fprintf(s->o->out, "  5  Other amount  ចំនួនផ្សេងទៀត\n  0  Cancel  បោះបង់\n");
	int c;
	if (!scr_choose(&s->scr, "Choice: ", 0, 5, &c))
		return false;
	*amount = c >= 1 && c <= 4 ? fast[c - 1] : 0;
	if (c != 5)
		return true;
	char m[48], prompt[96];
	rcp_money(currency, cas_smallest(&s->o->cassettes, currency), m, sizeof m);
	snprintf(prompt, sizeof prompt, "Amount in %s (multiples of %s; Enter: cancel): ",
	         tlf_currency_alpha(currency), m);
	return scr_amount(&s->scr, prompt, amount);
}

/* Whether the cassettes can pay `amount`; says why not. */
static bool plan_cash(struct sess *s, const char *currency, uint64_t amount, unsigned take[CAS_MAX])
{
	if (cas_plan(&s->o->cassettes, currency, amount, take) == 0)
		return true;
	char m[48], small[48];
	rcp_money(currency, amount, m, sizeof m);
	rcp_money(currency, cas_smallest(&s->o->cassettes, currency), small, sizeof small);
	fprintf(s->o->out, "This ATM cannot pay %s: amounts in multiples of %s, at most %u notes.\n"
	                   "ម៉ាស៊ីននេះមិនអាចចេញប្រាក់ចំនួននេះបានទេ។\n",
	        m, small, s->o->cassettes.max_notes);
	return false;
}

static void reversal_item(struct sess *s, struct rcp_receipt *r, uint64_t dispensed)
{
	struct tl_answer rev;
	int rc = tl_reverse(s->t, dispensed, s->o->reversal_repeats, &rev);
	char what[40];
	if (rc == 0)
		snprintf(what, sizeof what, "%s answered %s", rev.sent_mti, rev.rc[0] ? rev.rc : "-");
	else if (rc == TL_ERR_TIMEOUT)
		snprintf(what, sizeof what, "unacknowledged (%u sent)", rev.sends);
	else
		snprintf(what, sizeof what, "not sent");
	char outcome[12];
	judge(s, "reversal", rc, &rev, outcome);
	rcp_add_item(r, "Reversal", "ការបង្វិលប្រាក់វិញ", what);
}

/* After the answer to a withdrawal (card or cardless): pay out, or reverse
 * what the ATM cannot trust or could not pay. The balances of an answer
 * partly reversed are no longer true: they are left off the receipt. */
static void cash_out(struct sess *s, struct rcp_receipt *r, int rc, struct tl_answer *a,
                     const unsigned take[CAS_MAX])
{
	if (ar_unsure(rc, a)) {
		reversal_item(s, r, 0);
		r->note = (struct rcp_text){"No cash was paid out; the withdrawal has been cancelled.",
		                            "មិនមានប្រាក់ចេញទេ ការដកប្រាក់ត្រូវបានលុបចោល។"};
		return;
	}
	if (!approved(rc, a))
		return;
	uint64_t paid = cas_dispense(&s->o->cassettes, take);
	money_item(r, "Dispensed", "ប្រាក់ដែលបានចេញ", r->currency, paid);
	if (paid < r->amount) {
		reversal_item(s, r, paid);
		a->nbal = 0;
		r->note = (struct rcp_text){
			"Only part was paid out; the rest is returned.",
			"ម៉ាស៊ីនមិនអាចចេញប្រាក់គ្រប់ចំនួនបានទេ ប្រាក់ដែលនៅសល់នឹងត្រូវបង្វិលចូលគណនីវិញ។"};
	} else {
		r->note = (struct rcp_text){"Please take your cash.", "សូមយកប្រាក់របស់អ្នក។"};
	}
}

/* What follows a card transaction's answer. */
static void after(struct sess *s, const char *outcome)
{
	if (strcmp(outcome, "41") == 0 || strcmp(outcome, "43") == 0 || strcmp(outcome, "75") == 0) {
		s->retain = true;
		set_state(s, AU_EJECT);
		return;
	}
	if (strcmp(outcome, "55") == 0) {
		int c;
		fprintf(s->o->out, "\nIncorrect PIN  លេខសម្ងាត់មិនត្រឹមត្រូវ\n"
		                   "  1  Type the PIN again  បញ្ចូលលេខសម្ងាត់ម្ដងទៀត\n"
		                   "  0  Finish  បញ្ចប់\n");
		if (!scr_choose(&s->scr, "Choice: ", 0, 1, &c))
			set_state(s, AU_CLOSED);
		else
			set_state(s, c == 1 ? AU_PIN : AU_EJECT);
		return;
	}
	set_state(s, AU_MORE);
}

static void withdraw(struct sess *s, const char *currency)
{
	uint64_t amount;
	unsigned take[CAS_MAX];
	if (!choose_amount(s, currency, &amount)) {
		set_state(s, AU_CLOSED);
		return;
	}
	if (amount == 0 || !plan_cash(s, currency, amount, take)) {
		set_state(s, AU_MENU);
		return;
	}
	if (!link_ready(s))
		return;
	struct tl_fin f = {.card = &s->card->card, .pin = tl_has_tpk(s->t) ? s->pin : NULL,
	                   .amount = amount, .proc = "010000", .entry = "051"};
	memcpy(f.currency, currency, 4);
	struct tl_answer a;
	int rc = tl_financial(s->t, &f, &a);
	char outcome[12], rrn[13];
	judge(s, "withdraw", rc, &a, outcome);
	answer_rrn(s->t, rrn);
	struct rcp_receipt r;
	receipt_init(s, &r, RCP_WITHDRAWAL);
	memcpy(r.currency, currency, 4);
	r.has_amount = true;
	r.amount = amount;
	r.outcome = outcome;
	r.ans = &a;
	r.rrn = rrn;
	cash_out(s, &r, rc, &a, take);
	receipt_print(s, &r);
	after(s, outcome);
}

static void balance(struct sess *s)
{
	if (!link_ready(s))
		return;
	struct tl_fin f = {.card = &s->card->card, .pin = tl_has_tpk(s->t) ? s->pin : NULL,
	                   .proc = "310000", .currency = "840", .entry = "051"};
	struct tl_answer a;
	int rc = tl_financial(s->t, &f, &a);
	char outcome[12], rrn[13];
	judge(s, "balance", rc, &a, outcome);
	answer_rrn(s->t, rrn);
	struct rcp_receipt r;
	receipt_init(s, &r, RCP_BALANCE);
	r.outcome = outcome;
	r.ans = &a;
	r.rrn = rrn;
	receipt_print(s, &r);
	after(s, outcome);
}

static void pin_change(struct sess *s)
{
	char p1[13], p2[13];
	scr_screen(&s->scr, "PIN CHANGE  ប្ដូរលេខសម្ងាត់");
	bool ok = read_digits_secret(s, "New PIN: ", 4, 12, p1, sizeof p1) &&
	          (p1[0] == '\0' || read_digits_secret(s, "New PIN again: ", 4, 12, p2, sizeof p2));
	if (!ok) {
		set_state(s, AU_CLOSED);
	} else if (p1[0] == '\0' || p2[0] == '\0') {
		set_state(s, AU_MENU);
	} else if (strcmp(p1, p2) != 0) {
		fprintf(s->o->out, "The two PINs differ; nothing was changed.\n"
		                   "លេខសម្ងាត់ទាំងពីរមិនដូចគ្នាទេ។\n");
		set_state(s, AU_MENU);
	} else if (link_ready(s)) {
		struct tl_answer a;
		int rc = tl_pin_change(s->t, &s->card->card, s->pin, p1, &a);
		char outcome[12], rrn[13];
		judge(s, "pinchange", rc, &a, outcome);
		answer_rrn(s->t, rrn);
		struct rcp_receipt r;
		receipt_init(s, &r, RCP_PIN_CHANGE);
		r.outcome = outcome;
		r.ans = &a;
		r.rrn = rrn;
		if (approved(rc, &a)) {
			memcpy(s->pin, p1, sizeof s->pin);
			r.note = (struct rcp_text){"Your PIN has been changed.",
			                           "លេខសម្ងាត់របស់អ្នកត្រូវបានប្ដូរ។"};
		}
		receipt_print(s, &r);
		after(s, outcome);
	}
	pc_wipe(p1, sizeof p1);
	pc_wipe(p2, sizeof p2);
}

/* Cash sent to a phone: the cash-account number, the 8-digit code, the
 * currency and the amount, no card (WELCOME -> WELCOME). */
static void cardless(struct sess *s)
{
	char ref[24], code[16];
	scr_screen(&s->scr, "CARDLESS WITHDRAWAL  ដកប្រាក់ដោយគ្មានកាត");
	for (;;) {
		if (!scr_line(&s->scr, "Cash-account number (Enter: cancel): ", ref, sizeof ref)) {
			set_state(s, AU_CLOSED);
			return;
		}
		if (ref[0] == '\0')
			return;
		if (tlf_digits(ref, 13, 16))
			break;
		fprintf(s->o->out, "The cash-account number has 13 to 16 digits.\n");
	}
	int cur;
	if (!read_digits_secret(s, "Code: ", 8, 8, code, sizeof code) ||
	    (code[0] && !scr_choose(&s->scr, "Currency: 1 USD  2 KHR: ", 1, 2, &cur))) {
		pc_wipe(code, sizeof code);
		set_state(s, AU_CLOSED);
		return;
	}
	const char *currency = code[0] && cur == 2 ? "116" : "840";
	uint64_t amount = 0;
	unsigned take[CAS_MAX];
	if (code[0] && !choose_amount(s, currency, &amount)) {
		set_state(s, AU_CLOSED);
	} else if (amount && plan_cash(s, currency, amount, take) && link_ready(s)) {
		struct tl_answer a;
		int rc = tl_cardless(s->t, ref, code, amount, currency, &a);
		char outcome[12], rrn[13];
		judge(s, "cardless", rc, &a, outcome);
		answer_rrn(s->t, rrn);
		struct rcp_receipt r;
		receipt_init(s, &r, RCP_CARDLESS);
		r.reference = ref;
		memcpy(r.currency, currency, 4);
		r.has_amount = true;
		r.amount = amount;
		r.outcome = outcome;
		r.ans = &a;
		r.rrn = rrn;
		cash_out(s, &r, rc, &a, take);
		receipt_print(s, &r);
	}
	pc_wipe(code, sizeof code);
}

static void menu(struct sess *s)
{
	scr_screen(&s->scr, "CHOOSE A TRANSACTION  សូមជ្រើសរើសប្រតិបត្តិការ");
	fprintf(s->o->out, "  1  Withdraw USD            ដកប្រាក់ដុល្លារ\n"
	                   "  2  Withdraw KHR            ដកប្រាក់រៀល\n"
	                   "  3  Balance inquiry         សាកសួរសមតុល្យ\n"
	                   "  4  PIN change              ប្ដូរលេខសម្ងាត់\n"
	                   "  0  Finish, take the card   បញ្ចប់ និងយកកាតវិញ\n");
	int c;
	if (!scr_choose(&s->scr, "Choice: ", 0, 4, &c)) {
		set_state(s, AU_CLOSED);
		return;
	}
	switch (c) {
	case 1: withdraw(s, "840"); break;
	case 2: withdraw(s, "116"); break;
	case 3: balance(s); break;
	case 4: pin_change(s); break;
	default: set_state(s, AU_EJECT); break;
	}
}

static void more(struct sess *s)
{
	fprintf(s->o->out, "\n  1  Another transaction     ប្រតិបត្តិការផ្សេងទៀត\n"
	                   "  0  Finish, take the card   បញ្ចប់ និងយកកាតវិញ\n");
	int c;
	if (!scr_choose(&s->scr, "Choice: ", 0, 1, &c))
		set_state(s, AU_CLOSED);
	else
		set_state(s, c == 1 ? AU_MENU : AU_EJECT);
}

static void eject(struct sess *s)
{
	if (s->retain)
		fprintf(s->o->out, "\nYour card has been kept by the ATM. Please contact your bank.\n"
		                   "កាតរបស់អ្នកត្រូវបានម៉ាស៊ីនរក្សាទុក។ សូមទាក់ទងធនាគាររបស់អ្នក។\n");
	else
		fprintf(s->o->out, "\nPlease take your card.  សូមយកកាតរបស់អ្នក។\n");
	pc_wipe(s->pin, sizeof s->pin);
	s->card = NULL;
	set_state(s, AU_WELCOME);
}

int au_run(tl_term *t, struct au_opts *o)
{
	struct sess s = {.t = t, .o = o, .state = AU_WELCOME};
	scr_init(&s.scr, o->in, o->out);
	fprintf(o->out, "atm-sim %s: connecting...\n", o->terminal_id);
	int rc = link_up(&s);
	if (rc != 0)
		return rc;
	while (s.state != AU_CLOSED && s.state != AU_OUT_OF_SERVICE) {
		switch (s.state) {
		case AU_WELCOME: welcome(&s); break;
		case AU_PIN: pin_entry(&s); break;
		case AU_MENU: menu(&s); break;
		case AU_MORE: more(&s); break;
		case AU_EJECT: eject(&s); break;
		default: set_state(&s, AU_CLOSED); break;
		}
	}
	pc_wipe(s.pin, sizeof s.pin);
	if (s.state == AU_OUT_OF_SERVICE) {
		fprintf(o->out, "\nOUT OF SERVICE  ម៉ាស៊ីនមិនដំណើរការ\n");
		return 1;
	}
	if (tl_connected(t)) {
		struct tl_answer a;
		tl_network(t, TL_NM_SIGNOFF, &a);
	}
	fprintf(o->out, "ATM shut down.\n");
	return 0;
}
