/* atm-sim's script language (atm_script.h). */
#include "atm_script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paycrypto.h"
#include "tlfield.h"

/* Which options a step takes. */
enum {
	OPT_EXPECT = 1 << 0,
	OPT_CARD = 1 << 1, /* currency, pin, account, entry */
	OPT_DISPENSED = 1 << 2,
	OPT_AMOUNTS = 1 << 3, /* fee, ledger, avail */
	OPT_CURRENCY = 1 << 4,
};

static const struct opdef {
	const char *name;
	enum as_op op;
	unsigned opts;
	int args; /* positional arguments; -1: raw hex, any number */
} ops[] = {
	{"signon", AS_SIGNON, OPT_EXPECT, 0},
	{"signoff", AS_SIGNOFF, OPT_EXPECT, 0},
	{"echo", AS_ECHO, OPT_EXPECT, 0},
	{"keychange", AS_KEYCHANGE, OPT_EXPECT, 0},
	{"withdraw", AS_WITHDRAW, OPT_EXPECT | OPT_CARD | OPT_AMOUNTS, 2},
	{"balance", AS_BALANCE, OPT_EXPECT | OPT_CARD | OPT_AMOUNTS, 1},
	{"pinchange", AS_PINCHANGE, OPT_EXPECT | OPT_CARD | OPT_AMOUNTS, 2},
	{"cardless", AS_CARDLESS, OPT_EXPECT | OPT_CURRENCY | OPT_AMOUNTS, 3},
	{"repeat", AS_REPEAT, OPT_EXPECT | OPT_AMOUNTS, 0},
	{"duplicate-mismatch", AS_DUP_MISMATCH, OPT_EXPECT | OPT_AMOUNTS, 0},
	{"reverse", AS_REVERSE, OPT_EXPECT | OPT_DISPENSED | OPT_AMOUNTS, 0},
	{"sleep", AS_SLEEP, 0, 1},
	{"raw", AS_RAW, 0, -1},
	{"expect-close", AS_EXPECT_CLOSE, 0, 0},
	{"reconnect", AS_RECONNECT, 0, 0},
};

#define NOPS (sizeof ops / sizeof ops[0])

const char *as_op_name(enum as_op op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

static const char *const outcome_words[] = {"timeout", "macfail", "closed", "keyfail", "error"};

bool as_outcome_valid(const char *s)
{
	if (strlen(s) == 2 && isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[1]))
		return true;
	for (size_t i = 0; i < sizeof outcome_words / sizeof outcome_words[0]; i++)
		if (strcmp(s, outcome_words[i]) == 0)
			return true;
	return false;
}

struct ctx {
	const char *origin;
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
	return AS_ERR_SYNTAX;
}

static int parse_amount(struct ctx *c, const char *what, const char *s, uint64_t *v)
{
	int rc = tlf_amount_parse(s, v);
	if (rc == TLF_ERR_RANGE)
		return bad(c, "%s %s is too large", what, s);
	if (rc != 0)
		return bad(c, "%s \"%s\": want major units with two decimals, e.g. 20.00", what, s);
	return 0;
}

/* fee=[-]AMOUNT; ledger=, avail=[CUR][-]AMOUNT (the form the result line
 * prints, so that a line can be copied into an expectation). */
static int parse_expected_amount(struct ctx *c, const char *k, const char *v, bool currency,
                                 struct as_amount *a)
{
	const char *p = v;
	if (currency && isalpha((unsigned char)p[0])) {
		char alpha[4] = "";
		memcpy(alpha, p, strnlen(p, 3));
		if (tlf_currency_code(alpha, a->currency) != 0)
			return bad(c, "%s=%s: want USD or KHR before the amount, or none", k, v);
		p += 3;
	}
	bool neg = *p == '-';
	uint64_t minor;
	int rc = tlf_amount_parse(p + neg, &minor);
	if (rc == TLF_ERR_RANGE)
		return bad(c, "%s=%s: too large", k, v);
	if (rc != 0)
		return bad(c, "%s=%s: want %s[-]AMOUNT with two decimals, e.g. %s=%s20.00", k, v,
		           currency ? "[USD|KHR]" : "", k, currency ? "USD" : "");
	a->set = true;
	a->minor = neg ? -(int64_t)minor : (int64_t)minor;
	return 0;
}

int as_amount_format(const struct as_amount *a, char *out, size_t cap)
{
	char amt[32];
	tlf_amount_format((uint64_t)(a->minor < 0 ? -a->minor : a->minor), amt, sizeof amt);
	const char *alpha = a->currency[0] ? tlf_currency_alpha(a->currency) : NULL;
	return snprintf(out, cap, "%s%s%s", alpha ? alpha : a->currency, a->minor < 0 ? "-" : "", amt);
}

/* key=value options of a step. */
static int parse_option(struct ctx *c, const struct opdef *d, struct as_step *st, char *tok)
{
	char *eq = strchr(tok, '=');
	if (eq == NULL)
		return bad(c, "%s: unexpected argument \"%s\"", d->name, tok);
	*eq = '\0';
	const char *k = tok, *v = eq + 1;
	if (strcmp(k, "expect") == 0 && (d->opts & OPT_EXPECT)) {
		if (!as_outcome_valid(v) || strlen(v) >= sizeof st->expect)
			return bad(c, "expect=%s: want a 2-character response code or timeout, macfail, "
			              "closed, keyfail, error", v);
		strcpy(st->expect, v);
	} else if (strcmp(k, "currency") == 0 && (d->opts & (OPT_CARD | OPT_CURRENCY))) {
		if (tlf_currency_code(v, st->currency) != 0)
			return bad(c, "currency=%s: want USD, KHR, 840 or 116", v);
	} else if (strcmp(k, "pin") == 0 && (d->opts & OPT_CARD)) {
		if (strcmp(v, "none") == 0) {
			st->no_pin = true;
		} else if (pc_pin_check(v) != 0) {
			return bad(c, "pin=%s: want 4 to 12 digits or none", v);
		} else {
			strcpy(st->pin, v);
		}
	} else if (strcmp(k, "account") == 0 && (d->opts & OPT_CARD)) {
		static const char *const names[] = {"default", "savings", "current"};
		static const char *const codes[] = {"00", "10", "20"};
		size_t i = 0;
		while (i < 3 && strcmp(v, names[i]) != 0)
			i++;
		if (i == 3)
			return bad(c, "account=%s: want default, savings or current", v);
		strcpy(st->account, codes[i]);
	} else if (strcmp(k, "entry") == 0 && (d->opts & OPT_CARD)) {
		if (strcmp(v, "mag") == 0)
			strcpy(st->entry, "021");
		else if (strcmp(v, "chip") == 0)
			strcpy(st->entry, "051");
		else
			return bad(c, "entry=%s: want mag or chip", v);
	} else if (strcmp(k, "dispensed") == 0 && (d->opts & OPT_DISPENSED)) {
		return parse_amount(c, "dispensed", v, &st->dispensed);
	} else if (strcmp(k, "fee") == 0 && (d->opts & OPT_AMOUNTS)) {
		return parse_expected_amount(c, k, v, false, &st->fee);
	} else if (strcmp(k, "ledger") == 0 && (d->opts & OPT_AMOUNTS)) {
		return parse_expected_amount(c, k, v, true, &st->ledger);
	} else if (strcmp(k, "avail") == 0 && (d->opts & OPT_AMOUNTS)) {
		return parse_expected_amount(c, k, v, true, &st->avail);
	} else {
		return bad(c, "%s does not take %s=", d->name, k);
	}
	return 0;
}

static int parse_raw(struct ctx *c, struct as_step *st, char **tok, int ntok)
{
	char hex[2 * AS_RAW_MAX + 1];
	size_t n = 0;
	for (int i = 0; i < ntok; i++) {
		size_t l = strlen(tok[i]);
		if (l > sizeof hex - 1 - n)
			return bad(c, "raw: more than %d bytes", AS_RAW_MAX);
		memcpy(hex + n, tok[i], l);
		n += l;
	}
	if (n == 0)
		return bad(c, "raw: want hex bytes");
	st->raw = malloc(n / 2 + 1);
	if (st->raw == NULL)
		return AS_ERR_NOMEM;
	int b = pc_hex_decode(hex, n, st->raw, n / 2 + 1);
	if (b < 0)
		return bad(c, "raw: not an even number of hex digits");
	st->rawlen = (size_t)b;
	return 0;
}

static int parse_args(struct ctx *c, const struct opdef *d, const struct cf_set *cards,
                      struct as_step *st, char **arg, int nargs)
{
	if (nargs < d->args)
		return bad(c, "%s: missing %s", d->name,
		           d->op == AS_SLEEP       ? "milliseconds"
		           : d->op == AS_CARDLESS  ? "reference, code or amount"
		           : d->op == AS_PINCHANGE ? (nargs == 0 ? "card" : "new PIN")
		           : nargs == 0            ? "card"
		                                   : "amount");
	if (d->op == AS_SLEEP) {
		char *end;
		unsigned long ms = strtoul(arg[0], &end, 10);
		if (!isdigit((unsigned char)arg[0][0]) || *end || ms > 3600000)
			return bad(c, "sleep \"%s\": want milliseconds, 0 to 3600000", arg[0]);
		st->ms = (unsigned)ms;
	}
	if (d->op == AS_PINCHANGE) {
		if (pc_pin_check(arg[1]) != 0)
			return bad(c, "pinchange: new PIN \"%s\": want 4 to 12 digits", arg[1]);
		strcpy(st->new_pin, arg[1]);
	}
	if (d->op == AS_CARDLESS) {
		if (!tlf_digits(arg[0], 13, 16))
			return bad(c, "cardless: reference \"%s\": want 13 to 16 digits", arg[0]);
		if (pc_pin_check(arg[1]) != 0)
			return bad(c, "cardless: code: want 4 to 12 digits");
		strcpy(st->reference, arg[0]);
		strcpy(st->code, arg[1]);
		int rc = parse_amount(c, "amount", arg[2], &st->amount);
		if (rc)
			return rc;
		if (st->amount == 0)
			return bad(c, "cardless: amount must not be zero");
	}
	if (d->op == AS_WITHDRAW || d->op == AS_BALANCE || d->op == AS_PINCHANGE) {
		st->card = cf_find(cards, arg[0]);
		if (st->card == NULL)
			return bad(c, "%s: unknown card \"%s\"", d->name, arg[0]);
	}
	if (d->op == AS_WITHDRAW) {
		int rc = parse_amount(c, "amount", arg[1], &st->amount);
		if (rc)
			return rc;
		if (st->amount == 0)
			return bad(c, "withdraw: amount must not be zero");
	}
	return 0;
}

static int parse_step(struct ctx *c, const struct cf_set *cards, char *line, struct as_step *st)
{
	char *tok[AS_RAW_MAX];
	int n = 0;
	for (char *s = strtok(line, " \t\r"); s && n < AS_RAW_MAX; s = strtok(NULL, " \t\r"))
		tok[n++] = s;
	const struct opdef *d = NULL;
	for (size_t i = 0; i < NOPS && d == NULL; i++)
		if (strcmp(tok[0], ops[i].name) == 0)
			d = &ops[i];
	if (d == NULL)
		return bad(c, "unknown step \"%s\"", tok[0]);
	st->op = d->op;
	strcpy(st->currency, "840");
	strcpy(st->account, "00");
	strcpy(st->entry, "021");
	if (d->args < 0)
		return parse_raw(c, st, tok + 1, n - 1);
	/* Positional arguments first, then key=value options. */
	int nargs = 0;
	while (1 + nargs < n && nargs < d->args && strchr(tok[1 + nargs], '=') == NULL)
		nargs++;
	int rc = parse_args(c, d, cards, st, tok + 1, nargs);
	for (int i = 1 + nargs; rc == 0 && i < n; i++)
		rc = parse_option(c, d, st, tok[i]);
	if (rc == 0 && d->op == AS_DUP_MISMATCH && st->expect[0] == '\0')
		strcpy(st->expect, "94"); /* the switch must refuse it */
	return rc;
}

int as_parse(const char *text, const char *origin, const struct cf_set *cards,
             struct as_script *out, char *why, size_t cap)
{
	struct ctx c = {origin, 0, why, cap};
	size_t room = 0;
	out->steps = NULL;
	out->n = 0;
	why[0] = '\0';
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		c.line++;
		char *line = malloc(len + 1);
		if (line == NULL) {
			as_free(out);
			return AS_ERR_NOMEM;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (line[strspn(line, " \t\r")] == '\0') {
			free(line);
			continue;
		}
		if (out->n == room) {
			size_t nr = room ? room * 2 : 32;
			struct as_step *ns = realloc(out->steps, nr * sizeof *ns);
			if (ns == NULL) {
				free(line);
				as_free(out);
				return AS_ERR_NOMEM;
			}
			out->steps = ns;
			room = nr;
		}
		struct as_step *st = &out->steps[out->n];
		memset(st, 0, sizeof *st);
		st->line = c.line;
		int rc = parse_step(&c, cards, line, st);
		free(line);
		out->n++; /* counted even when bad, so as_free releases its raw bytes */
		if (rc != 0) {
			if (rc == AS_ERR_NOMEM)
				snprintf(why, cap, "%s:%u: out of memory", origin, c.line);
			as_free(out);
			return rc;
		}
	}
	return 0;
}

void as_free(struct as_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->steps[i].raw);
	free(s->steps);
	s->steps = NULL;
	s->n = 0;
}
