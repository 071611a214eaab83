/* pos-sim's script language (pos_script.h). */
#include "pos_script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paycrypto.h"
#include "tlfield.h"
#include "tlresult.h"

/* Which options a step takes. */
enum {
	OPT_EXPECT = 1 << 0,
	OPT_CURRENCY = 1 << 1,
	OPT_ENTRY = 1 << 2,
	OPT_PIN = 1 << 3,
	OPT_CNP = 1 << 4, /* cvv2=, recurring */
	OPT_SALE = OPT_EXPECT | OPT_CURRENCY | OPT_ENTRY | OPT_PIN | OPT_CNP,
};

static const struct opdef {
	const char *name;
	enum ps_op op;
	unsigned opts;
	int args;           /* positional arguments */
	const char *argname[3];
} ops[] = {
	{"signon", PS_SIGNON, OPT_EXPECT, 0, {0}},
	{"signoff", PS_SIGNOFF, OPT_EXPECT, 0, {0}},
	{"echo", PS_ECHO, OPT_EXPECT, 0, {0}},
	{"keychange", PS_KEYCHANGE, OPT_EXPECT, 0, {0}},
	{"purchase", PS_PURCHASE, OPT_SALE, 2, {"card", "amount"}},
	{"cashback", PS_CASHBACK, OPT_EXPECT | OPT_CURRENCY | OPT_ENTRY | OPT_PIN, 3,
	 {"card", "amount", "cash-back amount"}},
	{"preauth", PS_PREAUTH, OPT_SALE, 2, {"card", "amount"}},
	{"refund", PS_REFUND, OPT_EXPECT | OPT_CURRENCY | OPT_ENTRY, 2, {"card", "amount"}},
	{"complete", PS_COMPLETE, OPT_EXPECT, 1, {"amount"}},
	{"void", PS_VOID, OPT_EXPECT, 0, {0}},
	{"batch", PS_BATCH, OPT_EXPECT | OPT_CURRENCY, 0, {0}},
	{"repeat", PS_REPEAT, OPT_EXPECT, 0, {0}},
	{"sleep", PS_SLEEP, 0, 1, {"milliseconds"}},
	{"reconnect", PS_RECONNECT, 0, 0, {0}},
};

#define NOPS (sizeof ops / sizeof ops[0])

/* Entry modes: DE 22, DE 25, whether the card is at the terminal. */
static const struct entrydef {
	const char *name, *de22, *de25;
	bool present;
} entries[] = {
	{"chip", "051", "00", true},
	{"stripe", "021", "00", true},
	{"contactless", "071", "00", true},
	{"manual", "012", "00", false},
	{"ecom", "812", "59", false},
	{"cof", "102", "00", false},
};

const char *ps_op_name(enum ps_op op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

bool ps_op_sends(enum ps_op op)
{
	return op != PS_SLEEP && op != PS_RECONNECT;
}

struct ctx {
	const char *origin;
	const struct cf_set *cards;
	struct ps_script *out;
	size_t room;
	unsigned line;
	char *why;
	size_t cap;
};

static int bad(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct ctx *c, const char *fmt, ...)
{
	int n = snprintf(c->why, c->cap, "%s:%u: ", c->origin, c->line);
	if (n >= 0 && (size_t)n < c->cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why + n, c->cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return PS_ERR_SYNTAX;
}

static int amount(struct ctx *c, const char *what, const char *s, uint64_t *v)
{
	int rc = tlf_amount_parse(s, v);
	if (rc == TLF_ERR_RANGE)
		return bad(c, "%s %s is too large", what, s);
	if (rc != 0)
		return bad(c, "%s \"%s\": want major units with two decimals, e.g. 20.00", what, s);
	if (*v == 0)
		return bad(c, "%s must not be zero", what);
	return 0;
}

static int set_entry(struct ctx *c, struct ps_step *st, const char *v)
{
	for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
		if (strcmp(v, entries[i].name) == 0) {
			strcpy(st->entry, entries[i].de22);
			strcpy(st->cond, entries[i].de25);
			st->card_present = entries[i].present;
			return 0;
		}
	}
	return bad(c, "entry=%s: want chip, stripe, contactless, manual, ecom or cof", v);
}

/* One option: key=value, or the word "recurring". */
static int option(struct ctx *c, const struct opdef *d, struct ps_step *st, char *tok,
                  bool *entry_given)
{
	if (strcmp(tok, "recurring") == 0 && (d->opts & OPT_CNP)) {
		st->recurring = true;
		return 0;
	}
	char *eq = strchr(tok, '=');
	if (eq == NULL)
		return bad(c, "%s: unexpected argument \"%s\"", d->name, tok);
	*eq = '\0';
	const char *k = tok, *v = eq + 1;
	if (strcmp(k, "expect") == 0 && (d->opts & OPT_EXPECT)) {
		if (!tlr_outcome_valid(v) || strlen(v) >= sizeof st->expect)
			return bad(c, "expect=%s: want a 2-character response code or timeout, macfail, "
			              "closed, keyfail, error", v);
		strcpy(st->expect, v);
	} else if (strcmp(k, "currency") == 0 && (d->opts & OPT_CURRENCY)) {
		if (tlf_currency_code(v, st->currency) != 0)
			return bad(c, "currency=%s: want USD, KHR, 840 or 116", v);
	} else if (strcmp(k, "entry") == 0 && (d->opts & OPT_ENTRY)) {
		*entry_given = true;
		return set_entry(c, st, v);
	} else if (strcmp(k, "pin") == 0 && (d->opts & OPT_PIN)) {
		if (strcmp(v, "card") != 0 && pc_pin_check(v) != 0)
			return bad(c, "pin=%s: want 4 to 12 digits or card", v);
		st->pin = true;
		strcpy(st->pin_value, strcmp(v, "card") == 0 ? "" : v);
	} else if (strcmp(k, "cvv2") == 0 && (d->opts & OPT_CNP)) {
		if (!tlf_digits(v, 3, 3))
			return bad(c, "cvv2=%s: want 3 digits", v);
		strcpy(st->cvv2, v);
	} else {
		return bad(c, "%s does not take %s=", d->name, k);
	}
	return 0;
}

/* Positional arguments: card, amounts, milliseconds. */
static int positional(struct ctx *c, const struct opdef *d, struct ps_step *st, char **arg)
{
	int i = 0, rc = 0;
	if (d->op == PS_SLEEP) {
		char *end;
		unsigned long ms = strtoul(arg[0], &end, 10);
		if (!isdigit((unsigned char)arg[0][0]) || *end || ms > 3600000)
			return bad(c, "sleep \"%s\": want milliseconds, 0 to 3600000", arg[0]);
		st->ms = (unsigned)ms;
		return 0;
	}
	if (d->args >= 2) {
		st->card = cf_find(c->cards, arg[i]);
		if (st->card == NULL)
			return bad(c, "%s: unknown card \"%s\"", d->name, arg[i]);
		i++;
	}
	if (d->args >= 1)
		rc = amount(c, "amount", arg[i++], &st->amount);
	if (rc == 0 && d->args == 3) {
		rc = amount(c, "cash-back amount", arg[i], &st->cashback);
		if (rc == 0 && st->amount + st->cashback > 999999999999ull)
			rc = bad(c, "cashback: the total is over 12 digits");
	}
	return rc;
}

/* Rules between options, once the whole line is read. */
static int coherent(struct ctx *c, const struct opdef *d, struct ps_step *st, bool entry_given)
{
	if (st->recurring && !entry_given)
		set_entry(c, st, "cof"); /* a recurring charge is card-on-file */
	if (st->pin && (strcmp(st->entry, "812") == 0 || strcmp(st->entry, "102") == 0))
		return bad(c, "%s: pin= needs a PIN pad: not with entry=ecom or cof", d->name);
	if (d->op == PS_CASHBACK && !st->card_present)
		return bad(c, "cashback: needs the card at the terminal (entry chip, stripe or contactless)");
	return 0;
}

static int parse_step(char *line, unsigned ln, void *arg)
{
	struct ctx *c = arg;
	c->line = ln;
	struct ps_script *out = c->out;
	if (out->n == c->room) {
		size_t nr = c->room ? c->room * 2 : 32;
		struct ps_step *ns = realloc(out->steps, nr * sizeof *ns);
		if (ns == NULL)
			return PS_ERR_NOMEM;
		out->steps = ns;
		c->room = nr;
	}
	struct ps_step *st = &out->steps[out->n];
	memset(st, 0, sizeof *st);
	st->line = ln;
	char *tok[16];
	int n = 0;
	for (char *s = strtok(line, " \t\r"); s; s = strtok(NULL, " \t\r")) {
		if (n == 16)
			return bad(c, "too many words");
		tok[n++] = s;
	}
	const struct opdef *d = NULL;
	for (size_t i = 0; i < NOPS && d == NULL; i++)
		if (strcmp(tok[0], ops[i].name) == 0)
			d = &ops[i];
	if (d == NULL)
		return bad(c, "unknown step \"%s\"", tok[0]);
	st->op = d->op;
	strcpy(st->currency, "840");
	set_entry(c, st, "chip");
	int nargs = 0;
	while (1 + nargs < n && nargs < d->args && strchr(tok[1 + nargs], '=') == NULL &&
	       strcmp(tok[1 + nargs], "recurring") != 0)
		nargs++;
	if (nargs < d->args)
		return bad(c, "%s: missing %s", d->name, d->argname[nargs]);
	int rc = positional(c, d, st, tok + 1);
	bool entry_given = false;
	for (int i = 1 + nargs; rc == 0 && i < n; i++)
		rc = option(c, d, st, tok[i], &entry_given);
	if (rc == 0)
		rc = coherent(c, d, st, entry_given);
	if (rc == 0)
		out->n++;
	return rc;
}

int ps_parse(const char *text, const char *origin, const struct cf_set *cards,
             struct ps_script *out, char *why, size_t cap)
{
	struct ctx c = {.origin = origin, .cards = cards, .out = out, .why = why, .cap = cap};
	out->steps = NULL;
	out->n = 0;
	why[0] = '\0';
	int rc = cf_each_line(text, parse_step, &c);
	if (rc == 0)
		return 0;
	if (rc != PS_ERR_SYNTAX) {
		snprintf(why, cap, "%s:%u: out of memory", origin, c.line);
		rc = PS_ERR_NOMEM;
	}
	/* the step being parsed may hold a PIN or CVV2 already */
	if (out->n < c.room)
		pc_wipe(&out->steps[out->n], sizeof out->steps[0]);
	ps_free(out);
	return rc;
}

void ps_free(struct ps_script *s)
{
	if (s->steps)
		pc_wipe(s->steps, s->n * sizeof s->steps[0]);
	free(s->steps);
	s->steps = NULL;
	s->n = 0;
}
