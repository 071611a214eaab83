/* Receipts in English and Khmer, response codes in plain words (receipt.h). */
#include "receipt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* WIRE.md "Response codes (DE 39) the switch uses", then what a terminal
 * meets without an answer. The Khmer says what the English says, in the
 * words Cambodian banks print on receipts. */
static const struct {
	const char *code;
	struct rcp_text t;
} reasons[] = {
	{"00", {"Approved", "បានអនុម័ត"}},
	{"03", {"Invalid merchant or terminal", "ពាណិជ្ជករ ឬម៉ាស៊ីនមិនត្រឹមត្រូវ"}},
	{"05", {"Not approved by your bank", "ធនាគារមិនអនុម័តប្រតិបត្តិការនេះ"}},
	{"12", {"Invalid transaction", "ប្រតិបត្តិការមិនត្រឹមត្រូវ"}},
	{"13", {"Invalid amount", "ចំនួនទឹកប្រាក់មិនត្រឹមត្រូវ"}},
	{"14", {"Invalid card number", "លេខកាតមិនត្រឹមត្រូវ"}},
	{"25", {"Original transaction not found", "រកមិនឃើញប្រតិបត្តិការដើម"}},
	{"30", {"Message format error", "ទម្រង់សារមិនត្រឹមត្រូវ"}},
	{"41", {"Card reported lost: please contact your bank",
	        "កាតត្រូវបានរាយការណ៍ថាបាត់ សូមទាក់ទងធនាគាររបស់អ្នក"}},
	{"43", {"Card reported stolen: please contact your bank",
	        "កាតត្រូវបានរាយការណ៍ថាត្រូវបានលួច សូមទាក់ទងធនាគាររបស់អ្នក"}},
	{"51", {"Insufficient funds", "ប្រាក់មិនគ្រប់គ្រាន់"}},
	{"54", {"Expired card", "កាតផុតកំណត់"}},
	{"55", {"Incorrect PIN", "លេខសម្ងាត់មិនត្រឹមត្រូវ"}},
	{"57", {"Transaction not permitted on this card",
	        "ប្រតិបត្តិការនេះមិនត្រូវបានអនុញ្ញាតសម្រាប់កាតនេះទេ"}},
	{"58", {"Transaction not permitted at this terminal",
	        "ប្រតិបត្តិការនេះមិនត្រូវបានអនុញ្ញាតនៅម៉ាស៊ីននេះទេ"}},
	{"61", {"Daily amount limit exceeded", "លើសដែនកំណត់ទឹកប្រាក់ប្រចាំថ្ងៃ"}},
	{"62", {"Restricted card (blocked or not active)",
	        "កាតត្រូវបានរឹតត្បិត (បានបិទ ឬមិនទាន់ដំណើរការ)"}},
	{"63", {"Security check failed", "ការត្រួតពិនិត្យសុវត្ថិភាពមិនជោគជ័យ"}},
	{"65", {"Daily number of transactions exceeded", "លើសចំនួនប្រតិបត្តិការប្រចាំថ្ងៃ"}},
	{"75", {"Too many incorrect PIN tries", "បញ្ចូលលេខសម្ងាត់ខុសលើសចំនួនកំណត់"}},
	{"91", {"Bank temporarily unavailable", "ប្រព័ន្ធធនាគារមិនដំណើរការជាបណ្ដោះអាសន្ន"}},
	{"94", {"Duplicate transaction", "ប្រតិបត្តិការស្ទួន"}},
	{"95", {"Batch totals do not agree", "ចំនួនសរុបមិនត្រូវគ្នា"}},
	{"96", {"System error", "ប្រព័ន្ធមានបញ្ហា"}},
	{"timeout", {"No answer from the bank", "គ្មានចម្លើយពីធនាគារ"}},
	{"macfail", {"The answer failed the security check",
	             "ចម្លើយមិនឆ្លងកាត់ការត្រួតពិនិត្យសុវត្ថិភាព"}},
	{"closed", {"Connection to the bank lost", "ការតភ្ជាប់ទៅធនាគារត្រូវបានកាត់ផ្ដាច់"}},
	{"keyfail", {"Key exchange failed", "ការផ្លាស់ប្ដូរសោមិនជោគជ័យ"}},
	{"error", {"Terminal error", "ម៉ាស៊ីនមានបញ្ហា"}},
};

static const struct rcp_text fallback = {"Transaction declined", "ប្រតិបត្តិការត្រូវបានបដិសេធ"};

const struct rcp_text *rcp_fallback(void)
{
	return &fallback;
}

const struct rcp_text *rcp_reason(const char *code)
{
	for (size_t i = 0; code && i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(code, reasons[i].code) == 0)
			return &reasons[i].t;
	return &fallback;
}

const char *rcp_code_at(size_t i)
{
	return i < sizeof reasons / sizeof reasons[0] ? reasons[i].code : NULL;
}

static const struct rcp_text txn_names[RCP_TXN_COUNT] = {
	[RCP_WITHDRAWAL] = {"WITHDRAWAL", "ដកប្រាក់"},
	[RCP_BALANCE] = {"BALANCE INQUIRY", "សាកសួរសមតុល្យ"},
	[RCP_PIN_CHANGE] = {"PIN CHANGE", "ប្ដូរលេខសម្ងាត់"},
	[RCP_CARDLESS] = {"CARDLESS WITHDRAWAL", "ដកប្រាក់ដោយគ្មានកាត"},
	[RCP_PURCHASE] = {"PURCHASE", "ការទិញ"},
	[RCP_CASHBACK] = {"PURCHASE WITH CASH-BACK", "ការទិញ និងដកប្រាក់"},
	[RCP_PREAUTH] = {"PRE-AUTHORISATION", "ការអនុញ្ញាតជាមុន"},
	[RCP_COMPLETION] = {"COMPLETION", "ការបញ្ចប់ការអនុញ្ញាតជាមុន"},
	[RCP_REFUND] = {"REFUND", "ការសងប្រាក់វិញ"},
	[RCP_VOID] = {"VOID", "ការលុបចោល"},
	[RCP_CNP] = {"CARD NOT PRESENT", "ការទិញដោយមិនបង្ហាញកាត"},
	[RCP_RECURRING] = {"RECURRING PAYMENT", "ការទូទាត់ប្រចាំ"},
	[RCP_BATCH] = {"BATCH CLOSE", "ការបិទបញ្ជីប្រចាំថ្ងៃ"},
};

const struct rcp_text *rcp_txn_name(enum rcp_txn t)
{
	return (unsigned)t < RCP_TXN_COUNT ? &txn_names[t] : &fallback;
}

/* DE 22's first two digits: how the card was read. */
static const struct {
	const char *pos;
	struct rcp_text t;
} entries[] = {
	{"05", {"Chip", "ឈីប"}},
	{"02", {"Magnetic stripe", "ខ្សែម៉ាញេទិក"}},
	{"07", {"Contactless (tap)", "ប៉ះកាត"}},
	{"01", {"Key entered", "វាយបញ្ចូលលេខកាត"}},
	{"81", {"E-commerce", "ពាណិជ្ជកម្មអេឡិចត្រូនិក"}},
	{"10", {"Card on file", "កាតដែលបានរក្សាទុក"}},
};

int rcp_mask_pan(const char *pan, char *out, size_t cap)
{
	size_t n = pan ? strlen(pan) : 0;
	if (cap == 0)
		return (int)n;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		/* PCI DSS 3.4: at most the first 6 and the last 4; short PANs only
		 * the last 4, so that the two parts can never overlap. */
		bool show = i + 4 >= n || (n > 12 && i < 6);
		if (w + 1 < cap)
			out[w++] = show ? pan[i] : '*';
	}
	out[w] = '\0';
	return (int)n;
}

int rcp_money(const char *currency, uint64_t minor, char *out, size_t cap)
{
	const char *alpha = tlf_currency_alpha(currency);
	char digits[24], grouped[40];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(minor / 100));
	size_t g = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[g++] = ',';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	return snprintf(out, cap, "%s %s.%02u", alpha ? alpha : currency, grouped,
	                (unsigned)(minor % 100));
}

/* The next code point of s (advancing *i), or -1 for a malformed byte
 * (skipped). */
static long next_cp(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0 || n > len - *i) {
		(*i)++;
		return -1;
	}
	long cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
	for (size_t k = 1; k < n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80) {
			(*i)++;
			return -1;
		}
		cp = (cp << 6) | (s[*i + k] & 0x3F);
	}
	static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		(*i)++;
		return -1;
	}
	*i += n;
	return cp;
}

bool rcp_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (next_cp((const unsigned char *)s, len, &i) < 0)
			return false;
	return true;
}

/* Zero-width code points as glibc's wcwidth has them: the Khmer
 * non-spacing marks (dependent vowels above and below, signs, the coeng)
 * and the Latin combining diacritics. */
static bool zero_width(long cp)
{
	return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x17B4 && cp <= 0x17B5) ||
	       (cp >= 0x17B7 && cp <= 0x17BD) || cp == 0x17C6 || (cp >= 0x17C9 && cp <= 0x17D3) ||
	       cp == 0x17DD || cp == 0x200B;
}

size_t rcp_width(const char *s)
{
	size_t w = 0, len = strlen(s);
	for (size_t i = 0; i < len;) {
		long cp = next_cp((const unsigned char *)s, len, &i);
		if (cp < 0 || !zero_width(cp))
			w++;
	}
	return w;
}

/* ---- the sticky writer -------------------------------------------------- */

struct wr {
	char *buf;
	size_t cap, len;
	bool full;
};

static void put(struct wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct wr *w, const char *fmt, ...)
{
	if (w->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->full = true;
		w->buf[w->len] = '\0'; /* nothing of the piece that did not fit */
		return;
	}
	w->len += (size_t)n;
}

static void spaces(struct wr *w, size_t n)
{
	put(w, "%*s", (int)n, "");
}

static void rule(struct wr *w, char c)
{
	char line[RCP_COLS + 1];
	memset(line, c, RCP_COLS);
	line[RCP_COLS] = '\0';
	put(w, "%s\n", line);
}

/* Text wrapped at its spaces into lines of RCP_COLS columns (a word wider
 * than that gets a line of its own). Khmer separates phrases, not words,
 * by spaces, so it breaks there too. */
static void para(struct wr *w, const char *text)
{
	char word[256];
	size_t col = 0;
	for (const char *p = text; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == 0)
			break;
		snprintf(word, sizeof word, "%.*s", (int)n, p);
		p += n;
		size_t ww = rcp_width(word);
		if (col > 0 && col + 1 + ww > RCP_COLS) {
			put(w, "\n");
			col = 0;
		}
		put(w, "%s%s", col ? " " : "", word);
		col += (col ? 1 : 0) + ww;
	}
	put(w, "\n");
}

static void center(struct wr *w, const char *s)
{
	size_t wd = rcp_width(s);
	if (wd > RCP_COLS) {
		para(w, s);
		return;
	}
	spaces(w, (RCP_COLS - wd) / 2);
	put(w, "%s\n", s);
}

/* "Label ស្លាក          value": the value right-aligned, on a line of its
 * own when the two do not fit on one. */
static void item(struct wr *w, const struct rcp_text *label, const char *value)
{
	char left[160];
	snprintf(left, sizeof left, "%s %s", label->en, label->km);
	size_t lw = rcp_width(left), vw = rcp_width(value);
	if (lw + 1 + vw <= RCP_COLS) {
		put(w, "%s", left);
		spaces(w, RCP_COLS - lw - vw);
		put(w, "%s\n", value);
	} else {
		put(w, "%s\n", left);
		spaces(w, vw < RCP_COLS ? RCP_COLS - vw : 0);
		put(w, "%s\n", value);
	}
}

static void item_money(struct wr *w, const char *en, const char *km, const char *cur, char sign,
                       uint64_t v)
{
	char money[48];
	rcp_money(cur, v, money, sizeof money);
	if (sign == 'D') { /* "USD -10.00" */
		char *sp = strchr(money, ' ');
		if (sp && strlen(money) + 2 < sizeof money) {
			memmove(sp + 2, sp + 1, strlen(sp + 1) + 1);
			sp[1] = '-';
		}
	}
	item(w, &(struct rcp_text){en, km}, money);
}

static void header(struct wr *w, const struct rcp_receipt *r)
{
	rule(w, '=');
	center(w, r->bank ? r->bank : "OUR BANK");
	if (r->location)
		center(w, r->location);
	if (r->copy == RCP_COPY_CUSTOMER)
		center(w, "CUSTOMER COPY  ច្បាប់សម្រាប់អតិថិជន");
	else if (r->copy == RCP_COPY_MERCHANT)
		center(w, "MERCHANT COPY  ច្បាប់សម្រាប់ពាណិជ្ជករ");
	else
		center(w, "RECEIPT  បង្កាន់ដៃ");
	rule(w, '-');
	char when[32];
	struct tm tm;
	localtime_r(&r->when, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	item(w, &(struct rcp_text){"Date", "កាលបរិច្ឆេទ"}, when);
	if (r->terminal_id)
		item(w, &(struct rcp_text){"Terminal", "ម៉ាស៊ីន"}, r->terminal_id);
	if (r->merchant_id)
		item(w, &(struct rcp_text){"Merchant", "ពាណិជ្ជករ"}, r->merchant_id);
	if (r->pan) {
		char masked[24];
		rcp_mask_pan(r->pan, masked, sizeof masked);
		item(w, &(struct rcp_text){"Card", "លេខកាត"}, masked);
	}
	if (r->reference) {
		size_t n = strlen(r->reference);
		char last4[24];
		snprintf(last4, sizeof last4, "****%s", r->reference + (n > 4 ? n - 4 : 0));
		item(w, &(struct rcp_text){"Cash account", "លេខគណនីដកប្រាក់"}, last4);
	}
	for (size_t i = 0; r->entry && i < sizeof entries / sizeof entries[0]; i++) {
		if (strncmp(r->entry, entries[i].pos, 2) == 0) {
			char how[96];
			snprintf(how, sizeof how, "%s %s", entries[i].t.en, entries[i].t.km);
			item(w, &(struct rcp_text){"Entry", "របៀបបញ្ចូល"}, how);
		}
	}
	if (r->ans && r->ans->stan[0])
		item(w, &(struct rcp_text){"Trace no.", "លេខតាមដាន"}, r->ans->stan);
	if (r->rrn && r->rrn[0])
		item(w, &(struct rcp_text){"Reference", "លេខយោង"}, r->rrn);
}

static bool approved(const struct rcp_receipt *r)
{
	return r->outcome && strcmp(r->outcome, "00") == 0;
}

static void amounts(struct wr *w, const struct rcp_receipt *r)
{
	const struct rcp_text *name = rcp_txn_name(r->txn);
	rule(w, '-');
	put(w, "%s  %s\n", name->en, name->km);
	if (r->has_amount && r->cashback) {
		item_money(w, "Purchase", "ទំនិញ", r->currency, 'C', r->amount - r->cashback);
		item_money(w, "Cash-back", "ប្រាក់ដកជាសាច់ប្រាក់", r->currency, 'C', r->cashback);
		item_money(w, "Total", "សរុប", r->currency, 'C', r->amount);
	} else if (r->has_amount) {
		item_money(w, "Amount", "ចំនួនទឹកប្រាក់", r->currency, 'C', r->amount);
	}
	for (size_t i = 0; i < r->nitems && i < RCP_MAX_ITEMS; i++)
		item(w, &r->items[i].label, r->items[i].value);
	/* DE 28 and 54 only from an approval (switchd sends them on nothing
	 * else; an answer whose MAC failed is not one). */
	const struct tl_answer *a = r->ans;
	if (a == NULL || !approved(r))
		return;
	/* switchd charges the fee in the account's currency, that of DE 54. */
	const char *fee_cur = a->nbal > 0 ? a->bal[0].currency : r->currency[0] ? r->currency : "840";
	if (a->has_fee)
		item_money(w, "Fee", "កម្រៃសេវា", fee_cur, a->fee_sign == 'C' ? 'D' : 'C', a->fee);
	for (int i = 0; i < a->nbal; i++) {
		const struct tlf_balance *b = &a->bal[i];
		if (strcmp(b->amount_type, "01") == 0)
			item_money(w, "Ledger balance", "សមតុល្យក្នុងបញ្ជី", b->currency, b->sign, b->amount);
		else if (strcmp(b->amount_type, "02") == 0)
			item_money(w, "Available balance", "សមតុល្យអាចប្រើបាន", b->currency, b->sign,
			           b->amount);
	}
	if (a->approval[0])
		item(w, &(struct rcp_text){"Approval code", "លេខអនុម័ត"}, a->approval);
}

/* APPROVED, or DECLINED / NOT COMPLETED with the reason in both languages. */
static void verdict(struct wr *w, const struct rcp_receipt *r)
{
	rule(w, '-');
	if (r->outcome == NULL) {
		put(w, "NOT SENT  មិនបានផ្ញើ\n");
		return;
	}
	if (approved(r)) {
		put(w, "APPROVED  បានអនុម័ត\n");
		return;
	}
	bool is_code = strlen(r->outcome) == 2;
	const struct rcp_text *why = rcp_reason(r->outcome);
	char line[320];
	if (is_code) {
		put(w, "DECLINED  បានបដិសេធ\n");
		snprintf(line, sizeof line, "Reason: %s (%s)", why->en, r->outcome);
	} else {
		put(w, "NOT COMPLETED  មិនបានបញ្ចប់\n");
		snprintf(line, sizeof line, "Reason: %s", why->en);
	}
	para(w, line);
	snprintf(line, sizeof line, "មូលហេតុ៖ %s", why->km);
	para(w, line);
}

static void footer(struct wr *w, const struct rcp_receipt *r)
{
	if (r->cvm == RCP_CVM_PIN) {
		put(w, "PIN entered  បានបញ្ចូលលេខសម្ងាត់\n");
	} else if (r->cvm == RCP_CVM_NO_CVM) {
		put(w, "No signature required  មិនតម្រូវឱ្យមានហត្ថលេខា\n");
	} else if (r->cvm == RCP_CVM_SIGNATURE && r->copy == RCP_COPY_MERCHANT && approved(r)) {
		put(w, "\n\n");
		rule(w, '_');
		put(w, "Cardholder signature  ហត្ថលេខាម្ចាស់កាត\n");
	}
	if (r->note.en)
		para(w, r->note.en);
	if (r->note.km)
		para(w, r->note.km);
	rule(w, '-');
	center(w, "Thank you  សូមអរគុណ");
	rule(w, '=');
}

void rcp_add_item(struct rcp_receipt *r, const char *en, const char *km, const char *value)
{
	if (r->nitems >= RCP_MAX_ITEMS)
		return;
	struct rcp_item *it = &r->items[r->nitems++];
	it->label = (struct rcp_text){en, km};
	snprintf(it->value, sizeof it->value, "%s", value);
}

int rcp_format(const struct rcp_receipt *r, char *out, size_t cap)
{
	if (cap == 0)
		return RCP_ERR_NOSPACE;
	struct wr w = {.buf = out, .cap = cap};
	out[0] = '\0';
	header(&w, r);
	amounts(&w, r);
	verdict(&w, r);
	footer(&w, r);
	return w.full ? RCP_ERR_NOSPACE : 0;
}
