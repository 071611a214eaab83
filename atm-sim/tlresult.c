/* Result lines of the scripted simulators (tlresult.h). */
#include "tlresult.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

void tlr_add(struct tlr_line *l, const char *fmt, ...)
{
	if (l->len >= sizeof l->text)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len > sizeof l->text)
		l->len = sizeof l->text;
}

void tlr_set_outcome(struct tlr_line *l, const char *outcome)
{
	snprintf(l->outcome, sizeof l->outcome, "%s", outcome);
}

void tlr_amount(struct tlr_line *l, const char *key, const char *currency, char sign, uint64_t v)
{
	char amt[32];
	tlf_amount_format(v, amt, sizeof amt);
	const char *alpha = currency ? tlf_currency_alpha(currency) : NULL;
	tlr_add(l, " %s=%s%s%s", key, alpha ? alpha : currency ? currency : "", sign == 'D' ? "-" : "",
	        amt);
}

void tlr_pan(struct tlr_line *l, const char *pan)
{
	char masked[24];
	iso_mask_pan(pan, strlen(pan), masked, sizeof masked);
	tlr_add(l, " %s", masked);
}

/* DE 39, 38, 28 and 54 of an answer, and the latency. */
/* How an answer's MAC failed (tl_mac_failed): "missing" or "bad". */
static const char *mac_failure(const struct tl_answer *a)
{
	return a->mac == TL_MAC_MISSING ? "missing" : "bad";
}

static void answer_text(struct tlr_line *l, const struct tl_answer *a)
{
	tlr_add(l, " rc=%s", a->rc[0] ? a->rc : "none");
	if (a->approval[0])
		tlr_add(l, " auth=%s", a->approval);
	if (a->has_fee) {
		char amt[32];
		tlf_amount_format(a->fee, amt, sizeof amt);
		tlr_add(l, " fee=%c%s", a->fee_sign, amt);
	}
	if (a->nbal < 0)
		tlr_add(l, " balances=malformed");
	for (int i = 0; i < a->nbal; i++) {
		const struct tlf_balance *b = &a->bal[i];
		char key[16];
		if (strcmp(b->amount_type, "01") == 0)
			strcpy(key, "ledger");
		else if (strcmp(b->amount_type, "02") == 0)
			strcpy(key, "avail");
		else
			snprintf(key, sizeof key, "bal%s", b->amount_type);
		tlr_amount(l, key, b->currency, b->sign, b->amount);
	}
	if (tl_mac_failed(a))
		tlr_add(l, " mac=%s", mac_failure(a));
	if (!a->rc[0])
		tlr_add(l, " reason=\"answer without DE 39\"");
	tlr_add(l, " %ums", a->latency_ms);
}

void tlr_judge(struct tlr_line *l, int rc, const struct tl_answer *a, const char *reason)
{
	if (a->sent_mti[0])
		tlr_add(l, " %s", a->sent_mti);
	switch (rc) {
	case 0:
		if (tl_mac_failed(a))
			tlr_set_outcome(l, "macfail");
		else
			tlr_set_outcome(l, a->rc[0] ? a->rc : "error");
		answer_text(l, a);
		break;
	case TL_ERR_TIMEOUT:
		tlr_set_outcome(l, "timeout");
		tlr_add(l, " rc=timeout");
		break;
	case TL_ERR_CLOSED:
	case TL_ERR_IO:
	case TL_ERR_FRAME:
		tlr_set_outcome(l, "closed");
		tlr_add(l, " rc=closed reason=\"%s\"", reason);
		break;
	case TL_ERR_KEYS:
		tlr_set_outcome(l, "keyfail");
		tlr_add(l, " rc=%s keys=refused reason=\"%s\"", a->rc[0] ? a->rc : "none", reason);
		break;
	default:
		tlr_set_outcome(l, "error");
		l->local_error = true;
		tlr_add(l, " error=\"%s\"", reason);
		break;
	}
	if (a->skipped)
		tlr_add(l, " skipped=%u", a->skipped);
}

void tlr_reversal(struct tlr_line *l, int rc, const struct tl_answer *rev, const char *reason)
{
	if (rc == 0 && tl_mac_failed(rev))
		tlr_add(l, " reversal=unacknowledged mac=%s sends=%u", mac_failure(rev), rev->sends);
	else if (rc == 0)
		tlr_add(l, " reversal=%s/%s sends=%u", rev->sent_mti, rev->rc[0] ? rev->rc : "none",
		        rev->sends);
	else if (rc == TL_ERR_TIMEOUT)
		tlr_add(l, " reversal=unacknowledged sends=%u", rev->sends);
	else
		tlr_add(l, " reversal=failed reason=\"%s\"", reason);
}

bool tlr_outcome_valid(const char *s)
{
	static const char *const words[] = {"timeout", "macfail", "closed", "keyfail", "error"};
	if (strlen(s) == 2 && isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[1]))
		return true;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

bool tlr_step_done(struct tlr_summary *s, unsigned line, const char *name,
                   struct tlr_line *l, const char *expect)
{
	bool want = expect && expect[0];
	bool ok = want ? strcmp(expect, l->outcome) == 0 : !l->local_error;
	if (want)
		tlr_add(l, " expect=%s %s", expect, ok ? "ok" : "FAIL");
	fprintf(s->out, "L%-4u %-18s%s\n", line, name, l->text);
	fflush(s->out);
	s->steps++;
	if (!ok) {
		if (s->nfail < TLR_MAX_FAILURES)
			snprintf(s->failures[s->nfail++], sizeof s->failures[0], "FAILED L%u %s: %s%s, got %s",
			         line, name, want ? "expected " : "", want ? expect : "local error",
			         l->outcome);
		s->failed++;
	}
	return ok;
}

void tlr_summary_print(const struct tlr_summary *s)
{
	for (size_t i = 0; i < s->nfail; i++)
		fprintf(s->out, "%s\n", s->failures[i]);
	fprintf(s->out, "summary: %u steps, %u failed\n", s->steps, s->failed);
}
