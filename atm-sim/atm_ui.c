/* atm-sim's interactive mode (atm_ui.h). */
#include "atm_ui.h"

#include <string.h>
#include <time.h>

#include "receipt.h"
#include "screen.h"
#include "termui.h"

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
	struct tu_out tu;            /* screen, receipts, trace */
	enum au_state state;
	const struct cf_card *card; /* the card in the reader; NULL in WELCOME */
	char pin[13];               /* as typed; wiped when the card comes out */
	bool retain;                /* the switch said the card must be kept */
};

static void set_state(struct sess *s, enum au_state to)
{
	s->state = (enum au_state)tu_state_change(&s->tu, state_names, allowed, AU_NSTATES, s->state,
	                                          to, AU_CLOSED);
}

/* Before a transaction: the link, or out of service. */
static bool link_ready(struct sess *s)
{
	if (tu_link_ready(s->t, &s->tu))
		return true;
	set_state(s, AU_OUT_OF_SERVICE);
	return false;
}

/* ---- receipts -------------------------------------------------------------- */

static void receipt_init(const struct sess *s, struct rcp_receipt *r, enum rcp_txn txn)
{
	memset(r, 0, sizeof *r);
	r->txn = txn;
	r->bank = s->o->ui.bank;
	r->terminal_id = s->o->ui.terminal_id;
	r->location = s->o->ui.location;
	r->when = time(NULL);
	r->pan = s->card ? s->card->card.pan : NULL;
}

static void money_item(struct rcp_receipt *r, const char *en, const char *km, const char *cur,
                       uint64_t v)
{
	char m[48];
	rcp_money(cur, v, m, sizeof m);
	rcp_add_item(r, en, km, m);
}

/* ---- screens --------------------------------------------------------------- */

static void cardless(struct sess *s);

static void welcome(struct sess *s)
{
	const struct cf_set *cs = s->o->ui.cards;
	scr_screen(&s->scr, "WELCOME  សូមស្វាគមន៍\nInsert your card  សូមបញ្ចូលកាតរបស់អ្នក");
	tu_card_list(s->o->ui.out, cs);
	fprintf(s->o->ui.out, "  c  Cardless withdrawal  ដកប្រាក់ដោយគ្មានកាត\n"
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
		const struct cf_card *c = tu_card_pick(cs, in);
		if (c) {
			s->card = c;
			s->retain = false;
			set_state(s, AU_PIN);
			return;
		}
		fprintf(s->o->ui.out, "No such card: type its number or name.\n");
	}
}

static void pin_entry(struct sess *s)
{
	scr_screen(&s->scr, "ENTER YOUR PIN  សូមបញ្ចូលលេខសម្ងាត់\n(Enter alone: cancel and return the card)");
	if (!scr_secret_digits(&s->scr, "PIN: ", 4, 12, s->pin, sizeof s->pin)) {
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
		fprintf(s->o->ui.out, "  %d  %s\n", i + 1, m);
	}
	fprintf(s->o->ui.out, "  5  Other amount  ចំនួនផ្សេងទៀត\n  0  Cancel  បោះបង់\n");
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
	fprintf(s->o->ui.out, "This ATM cannot pay %s: amounts in multiples of %s, at most %u notes.\n"
	                   "ម៉ាស៊ីននេះមិនអាចចេញប្រាក់ចំនួននេះបានទេ។\n",
	        m, small, s->o->cassettes.max_notes);
	return false;
}

static void reversal_item(struct sess *s, struct rcp_receipt *r, uint64_t dispensed)
{
	struct tl_answer rev;
	int rc = tl_reverse(s->t, dispensed, s->o->reversal_repeats, &rev);
	tu_reversal_item(s->t, &s->tu, rc, &rev, r);
}

/* The receipt of a withdrawal (card or cardless) after its answer: pay
 * out, or reverse what the ATM cannot trust or could not pay. The
 * balances of an answer partly reversed are no longer true: they are left
 * off the receipt. */
static void cash_receipt(struct sess *s, struct rcp_receipt *r, const char *what, int rc,
                         struct tl_answer *a, const char *currency, uint64_t amount,
                         const unsigned take[CAS_MAX], char outcome[12])
{
	char rrn[13];
	tu_receipt_answer(s->t, &s->tu, what, rc, a, r, outcome, rrn);
	memcpy(r->currency, currency, 4);
	r->has_amount = true;
	r->amount = amount;
	if (tl_unsure(rc, a)) {
		reversal_item(s, r, 0);
		r->note = (struct rcp_text){"No cash was paid out; the withdrawal has been cancelled.",
		                            "មិនមានប្រាក់ចេញទេ ការដកប្រាក់ត្រូវបានលុបចោល។"};
	} else if (tu_approved(rc, a)) {
		uint64_t paid = cas_dispense(&s->o->cassettes, take);
		money_item(r, "Dispensed", "ប្រាក់ដែលបានចេញ", currency, paid);
		if (paid < amount) {
			reversal_item(s, r, paid);
			a->nbal = 0;
			r->note = (struct rcp_text){
				"Only part was paid out; the rest is returned.",
				"ម៉ាស៊ីនមិនអាចចេញប្រាក់គ្រប់ចំនួនបានទេ ប្រាក់ដែលនៅសល់នឹងត្រូវបង្វិលចូលគណនីវិញ។"};
		} else {
			r->note = (struct rcp_text){"Please take your cash.", "សូមយកប្រាក់របស់អ្នក។"};
		}
	}
	tu_print(&s->tu, r);
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
		fprintf(s->o->ui.out, "\nIncorrect PIN  លេខសម្ងាត់មិនត្រឹមត្រូវ\n"
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
	char outcome[12];
	struct rcp_receipt r;
	receipt_init(s, &r, RCP_WITHDRAWAL);
	cash_receipt(s, &r, "withdraw", rc, &a, currency, amount, take, outcome);
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
	struct rcp_receipt r;
	receipt_init(s, &r, RCP_BALANCE);
	tu_receipt_answer(s->t, &s->tu, "balance", rc, &a, &r, outcome, rrn);
	tu_print(&s->tu, &r);
	after(s, outcome);
}

static void pin_change(struct sess *s)
{
	char p1[13], p2[13];
	scr_screen(&s->scr, "PIN CHANGE  ប្ដូរលេខសម្ងាត់");
	bool ok = scr_secret_digits(&s->scr, "New PIN: ", 4, 12, p1, sizeof p1) &&
	          (p1[0] == '\0' || scr_secret_digits(&s->scr, "New PIN again: ", 4, 12, p2, sizeof p2));
	if (!ok) {
		set_state(s, AU_CLOSED);
	} else if (p1[0] == '\0' || p2[0] == '\0') {
		set_state(s, AU_MENU);
	} else if (strcmp(p1, p2) != 0) {
		fprintf(s->o->ui.out, "The two PINs differ; nothing was changed.\n"
		                   "លេខសម្ងាត់ទាំងពីរមិនដូចគ្នាទេ។\n");
		set_state(s, AU_MENU);
	} else if (link_ready(s)) {
		struct tl_answer a;
		int rc = tl_pin_change(s->t, &s->card->card, s->pin, p1, &a);
		char outcome[12], rrn[13];
		struct rcp_receipt r;
		receipt_init(s, &r, RCP_PIN_CHANGE);
		tu_receipt_answer(s->t, &s->tu, "pinchange", rc, &a, &r, outcome, rrn);
		if (tu_approved(rc, &a)) {
			memcpy(s->pin, p1, sizeof s->pin);
			r.note = (struct rcp_text){"Your PIN has been changed.",
			                           "លេខសម្ងាត់របស់អ្នកត្រូវបានប្ដូរ។"};
		}
		tu_print(&s->tu, &r);
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
		if (!scr_line_private(&s->scr, "Cash-account number (Enter: cancel): ", ref, sizeof ref)) {
			set_state(s, AU_CLOSED);
			return;
		}
		if (ref[0] == '\0')
			return;
		if (tlf_digits(ref, 13, 16))
			break;
		fprintf(s->o->ui.out, "The cash-account number has 13 to 16 digits.\n");
	}
	int cur;
	if (!scr_secret_digits(&s->scr, "Code: ", 8, 8, code, sizeof code) ||
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
		char outcome[12];
		struct rcp_receipt r;
		receipt_init(s, &r, RCP_CARDLESS);
		r.reference = ref;
		cash_receipt(s, &r, "cardless", rc, &a, currency, amount, take, outcome);
	}
	pc_wipe(code, sizeof code);
}

static void menu(struct sess *s)
{
	scr_screen(&s->scr, "CHOOSE A TRANSACTION  សូមជ្រើសរើសប្រតិបត្តិការ");
	fprintf(s->o->ui.out, "  1  Withdraw USD            ដកប្រាក់ដុល្លារ\n"
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
	fprintf(s->o->ui.out, "\n  1  Another transaction     ប្រតិបត្តិការផ្សេងទៀត\n"
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
		fprintf(s->o->ui.out, "\nYour card has been kept by the ATM. Please contact your bank.\n"
		                   "កាតរបស់អ្នកត្រូវបានម៉ាស៊ីនរក្សាទុក។ សូមទាក់ទងធនាគាររបស់អ្នក។\n");
	else
		fprintf(s->o->ui.out, "\nPlease take your card.  សូមយកកាតរបស់អ្នក។\n");
	pc_wipe(s->pin, sizeof s->pin);
	s->card = NULL;
	set_state(s, AU_WELCOME);
}

int au_run(tl_term *t, struct au_opts *o)
{
	struct sess s = {.t = t, .o = o, .state = AU_WELCOME};
	int rc = tu_start(t, &o->ui, "atm-sim", &s.scr, &s.tu);
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
	return tu_link_down(t, &s.tu, s.state == AU_OUT_OF_SERVICE, "ATM shut down.");
}
