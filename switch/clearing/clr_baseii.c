/* clr_baseii.c: Visa BASE II clearing files, fixed 168-byte transaction
 * component records (TCRs) in ASCII or EBCDIC, optionally one per line.
 * The reader checks the structure (framing, header, TCR order, trailer
 * counts and amounts) and hands each financial transaction to the caller;
 * the writer makes files the reader takes back. docs/clearing-baseii.md has
 * the layout as used here, its sources, and every choice made where the
 * published layouts leave room. Positions below are 1-based, as Visa's
 * tables print them. */
#include "clr_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define B2_LEN 168

/* Sums stop growing here: no 15-digit trailer total can reach it, so a
 * saturated sum still disagrees with the trailer, and cannot overflow. */
#define B2_SUM_CAP UINT64_C(1000000000000000000)

struct b2_field {
	uint8_t pos;              /* 1-based first position */
	uint8_t len;
	const char *name;
};

/* The fields the two money layouts share: draft data (TC 05-07, 15-17,
 * 25-27, 35-37) and fee collection / funds disbursement (TC 10, 20). */
struct b2_money {
	struct b2_field acct, ext, date, damt, dcur, samt, scur;
};

static const struct b2_money B2_DRAFT_MONEY = {
	{5, 16, "account number"},
	{21, 3, "account number extension"},
	{58, 4, "purchase date (MMDD)"},
	{62, 12, "destination amount"},
	{74, 3, "destination currency code"},
	{77, 12, "source amount"},
	{89, 3, "source currency code"},
};

static const struct b2_money B2_FEE_MONEY = {
	{28, 16, "account number"},
	{44, 3, "account number extension"},
	{24, 4, "event date (MMDD)"},
	{47, 12, "destination amount"},
	{59, 3, "destination currency code"},
	{62, 12, "source amount"},
	{74, 3, "source currency code"},
};

/* TC 90 file header: no TC qualifier or TCR sequence, the BIN follows the TC. */
static const struct b2_field H_BIN = {3, 6, "processing BIN"};
static const struct b2_field H_DATE = {9, 5, "processing date (YYDDD)"};
static const struct b2_field H_FILE = {77, 3, "outgoing file ID"};

/* Draft data TCR 0, besides the money fields. */
static const struct b2_field D_ARN = {27, 23, "acquirer reference number"};
static const struct b2_field D_BID = {50, 8, "acquirer's business ID"};
static const struct b2_field D_NAME = {92, 25, "merchant name"};
static const struct b2_field D_CITY = {117, 13, "merchant city"};
static const struct b2_field D_CTRY = {130, 3, "merchant country code"};
static const struct b2_field D_MCC = {133, 4, "merchant category code"};
static const struct b2_field D_USAGE = {147, 1, "usage code"};
static const struct b2_field D_REASON = {148, 2, "reason code"};
static const struct b2_field D_SETTLE = {150, 1, "settlement flag"};
static const struct b2_field D_AUTH = {152, 6, "authorization code"};
static const struct b2_field D_POSEM = {162, 2, "POS entry mode"};
static const struct b2_field D_CPD = {164, 4, "central processing date (YDDD)"};
static const struct b2_field D_REIMB = {168, 1, "reimbursement attribute"};

/* Draft data TCR 1. */
static const struct b2_field D1_CAID = {81, 15, "card acceptor ID"};
static const struct b2_field D1_TID = {96, 8, "terminal ID"};

/* Fee collection / funds disbursement TCR 0, besides the money fields. */
static const struct b2_field F_DBIN = {5, 6, "destination BIN"};
static const struct b2_field F_SBIN = {11, 6, "source BIN"};
static const struct b2_field F_REASON = {17, 4, "reason code"};
static const struct b2_field F_CTRY = {21, 3, "country code"};
static const struct b2_field F_SETTLE = {147, 1, "settlement flag"};
static const struct b2_field F_CPD = {164, 4, "central processing date (YDDD)"};
static const struct b2_field F_REIMB = {168, 1, "reimbursement attribute"};

/* TC 91 batch trailer and TC 92 file trailer (one layout). */
static const struct b2_field T_BIN = {5, 6, "BIN"};
static const struct b2_field T_DATE = {11, 5, "processing date (YYDDD)"};

/* What a batch or a file holds, as its trailer counts it. */
struct b2_totals {
	uint64_t money;           /* monetary transactions */
	uint64_t src, dst;        /* their source and destination amounts */
	uint64_t txns;            /* TCR groups, the trailer (and in a file the header) included */
	uint64_t tcrs;            /* TCRs, likewise */
	uint64_t batches;         /* TC 91s (file only) */
};

/* The trailer fields checked against what was read, in the order the
 * reader checks them (the first disagreement is the one reported). */
static const struct b2_check {
	struct b2_field f;
	size_t member;            /* offsetof(struct b2_totals, ...) */
	bool amount;
	bool file_only;           /* TC 92 only; in a TC 91 the field is the batch number */
} b2_checks[] = {
	{{31, 12, "monetary transactions"}, offsetof(struct b2_totals, money), false, false},
	{{102, 15, "source amount total"}, offsetof(struct b2_totals, src), true, false},
	{{16, 15, "destination amount total"}, offsetof(struct b2_totals, dst), true, false},
	{{75, 9, "transactions"}, offsetof(struct b2_totals, txns), false, false},
	{{49, 12, "TCRs"}, offsetof(struct b2_totals, tcrs), false, false},
	{{43, 6, "batches"}, offsetof(struct b2_totals, batches), false, true},
};

enum b2_layout {
	B2_UNKNOWN = 0,           /* a TC this reader does not know: structural error */
	B2_HEADER,
	B2_TRAILER,
	B2_DRAFT,                 /* financial, draft data layout */
	B2_FEE,                   /* financial, fee layout */
	B2_OTHER,                 /* non-financial: counted and skipped */
};

struct b2_tc {
	uint8_t layout;           /* enum b2_layout */
	uint8_t kind;             /* enum clr_kind (financial TCs) */
	bool reversal;
	bool usage;               /* usage code 2 makes it a representment */
	char proc[7];
	const char *name;
};

/* Indexed by TC. The non-financial ones are those an issuer's incoming
 * file is known to carry; anything else stops the read rather than being
 * skipped with money in it. */
static const struct b2_tc b2_tcs[100] = {
	[4] = {B2_OTHER, 0, false, false, "", "reclassification advice"},
	[5] = {B2_DRAFT, CLR_PRESENTMENT, false, true, "000000", "sales draft"},
	[6] = {B2_DRAFT, CLR_CREDIT, false, false, "200000", "credit voucher"},
	[7] = {B2_DRAFT, CLR_PRESENTMENT, false, true, "010000", "cash disbursement"},
	[10] = {B2_FEE, CLR_FEE, false, false, "190000", "fee collection"},
	[15] = {B2_DRAFT, CLR_CHARGEBACK, false, false, "000000", "sales draft chargeback"},
	[16] = {B2_DRAFT, CLR_CHARGEBACK, false, false, "200000", "credit voucher chargeback"},
	[17] = {B2_DRAFT, CLR_CHARGEBACK, false, false, "010000", "cash disbursement chargeback"},
	[20] = {B2_FEE, CLR_FEE, false, false, "290000", "funds disbursement"},
	[25] = {B2_DRAFT, CLR_PRESENTMENT_REVERSAL, true, false, "000000", "sales draft reversal"},
	[26] = {B2_DRAFT, CLR_CREDIT_REVERSAL, true, false, "200000", "credit voucher reversal"},
	[27] = {B2_DRAFT, CLR_PRESENTMENT_REVERSAL, true, false, "010000", "cash disbursement reversal"},
	[33] = {B2_OTHER, 0, false, false, "", "general delivery message"},
	[35] = {B2_DRAFT, CLR_CHARGEBACK, true, false, "000000", "sales draft chargeback reversal"},
	[36] = {B2_DRAFT, CLR_CHARGEBACK, true, false, "200000", "credit voucher chargeback reversal"},
	[37] = {B2_DRAFT, CLR_CHARGEBACK, true, false, "010000", "cash disbursement chargeback reversal"},
	[40] = {B2_OTHER, 0, false, false, "", "fraud advice"},
	[46] = {B2_OTHER, 0, false, false, "", "member settlement data"},
	[50] = {B2_OTHER, 0, false, false, "", "text message"},
	[51] = {B2_OTHER, 0, false, false, "", "request for original"},
	[52] = {B2_OTHER, 0, false, false, "", "request for copy"},
	[53] = {B2_OTHER, 0, false, false, "", "mailing confirmation"},
	[56] = {B2_OTHER, 0, false, false, "", "currency conversion rates"},
	[90] = {B2_HEADER, 0, false, false, "", "file header"},
	[91] = {B2_TRAILER, 0, false, false, "", "batch trailer"},
	[92] = {B2_TRAILER, 0, false, false, "", "file trailer"},
};

/* ---- small helpers shared by reader and writer ---- */

static const char *b2_at(const char *t, struct b2_field f)
{
	return t + f.pos - 1;
}

static bool b2_digits(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

static void b2_dec(char *dst, size_t n, uint64_t v)
{
	for (size_t i = n; i-- > 0; v /= 10)
		dst[i] = (char)('0' + v % 10);
}

static uint64_t b2_add(uint64_t sum, uint64_t v)
{
	return v >= B2_SUM_CAP - sum ? B2_SUM_CAP : sum + v;
}

/* clr_file_info.amount_total, saturating like the trailer sums. */
static void b2_add_amount(int64_t *total, int64_t v)
{
	*total = v >= (int64_t)B2_SUM_CAP - *total ? (int64_t)B2_SUM_CAP : *total + v;
}

static uint64_t *b2_total(struct b2_totals *t, size_t member)
{
	return (uint64_t *)((char *)t + member);
}

/* One more TCR group (transaction): a header or TC 92 counts in the file
 * only, anything else in its batch too. */
static void b2_count_group(struct b2_totals *batch, struct b2_totals *file, bool in_batch)
{
	file->txns++;
	file->tcrs++;
	if (in_batch) {
		batch->txns++;
		batch->tcrs++;
	}
}

static void b2_count_money(struct b2_totals *batch, struct b2_totals *file, uint64_t src, uint64_t dst)
{
	struct b2_totals *t[2] = {batch, file};
	for (int i = 0; i < 2; i++) {
		t[i]->money++;
		t[i]->src = b2_add(t[i]->src, src);
		t[i]->dst = b2_add(t[i]->dst, dst);
	}
}

/* ---- dates ---- */

struct b2_date {
	int y, m, d;
};

static int b2_mdays(int y, int m)
{
	static const uint8_t n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : n[m - 1];
}

static bool b2_valid(struct b2_date d)
{
	return d.m >= 1 && d.m <= 12 && d.d >= 1 && d.d <= b2_mdays(d.y, d.m);
}

/* YYDDD: years 2000-2099 (the two digits carry no century). */
static bool b2_from_yyddd(uint64_t v, struct b2_date *d)
{
	int doy = (int)(v % 1000);
	d->y = 2000 + (int)(v / 1000);
	for (d->m = 1; d->m <= 12 && doy > b2_mdays(d->y, d->m); d->m++)
		doy -= b2_mdays(d->y, d->m);
	d->d = doy;
	return doy >= 1 && d->m <= 12;
}

static void b2_to_yyddd(struct b2_date d, char out[5])
{
	int doy = d.d;
	for (int m = 1; m < d.m; m++)
		doy += b2_mdays(d.y, m);
	b2_dec(out, 2, (uint64_t)(d.y % 100));
	b2_dec(out + 2, 3, (uint64_t)doy);
}

/* BASE II dates a purchase by MMDD only: the year is the processing date's,
 * or the one before when MMDD falls after the processing date (nothing is
 * cleared before it happened). */
static bool b2_mmdd(struct b2_date proc, int m, int d, struct b2_date *out)
{
	out->y = m > proc.m || (m == proc.m && d > proc.d) ? proc.y - 1 : proc.y;
	out->m = m;
	out->d = d;
	return b2_valid(*out);
}

static void b2_yyyymmdd(struct b2_date d, char out[9])
{
	b2_dec(out, 4, (uint64_t)d.y);
	b2_dec(out + 4, 2, (uint64_t)d.m);
	b2_dec(out + 6, 2, (uint64_t)d.d);
	out[8] = '\0';
}

static bool b2_parse_yyyymmdd(const char *s, struct b2_date *d)
{
	uint64_t v;
	if (!b2_digits(s, 8, &v))
		return false;
	d->y = (int)(v / 10000);
	d->m = (int)(v / 100 % 100);
	d->d = (int)(v % 100);
	return b2_valid(*d);
}

/* ======================================================================
 * Reader
 * ====================================================================== */

enum b2_state {
	B2_START,                 /* the TC 90 header must come first */
	B2_BETWEEN,               /* after the header or a trailer */
	B2_IN_TXN,                /* a transaction's TCR 0 read (skipped or not): its further TCRs may follow */
	B2_END,                   /* TC 92 read: nothing may follow */
};

struct b2_reader {
	const uint8_t *buf;
	size_t len;
	bool ebcdic;
	uint8_t eol[2];           /* what ends each record, as found after the first */
	size_t eol_len;
	uint64_t off;             /* offset of the current TCR */
	char t[B2_LEN];           /* the current TCR as ASCII */
	uint32_t recno;           /* the record number its errors are reported under */
	enum b2_state state;
	uint32_t group;           /* TCR groups so far, the header being 1 */
	const struct b2_tc *tc;   /* the open group's TC */
	char last_seq;            /* its last TCR sequence number */
	bool emit;                /* it goes to the callback when it closes */
	struct clr_record rec;
	struct b2_totals batch, file;
	struct b2_date proc;
	struct clr_file_info *info;
	clr_record_fn fn;
	void *arg;
	struct clr_error *err;
};

/* The one place the reader's state changes. Closing a financial
 * transaction hands it to the callback, whose answer is returned. */
static int b2_enter(struct b2_reader *r, enum b2_state next)
{
	int rc = 0;
	if (r->state == B2_IN_TXN && r->emit) {
		r->emit = false;
		r->info->records++;
		b2_add_amount(&r->info->amount_total, r->rec.amount);
		if (r->fn)
			rc = r->fn(r->arg, &r->rec);
	}
	r->state = next;
	return rc;
}

/* The record number errors in the TCR just loaded are reported under: a
 * TCR numbered other than 0 after a transaction's TCR 0 belongs to that
 * transaction; anything else starts (or would start) the next group. */
static uint32_t b2_recno(const struct b2_reader *r)
{
	bool more = r->t[3] != '0' && !(r->t[0] == '9' && r->t[1] == '0');
	return r->state == B2_IN_TXN && more ? r->group : r->group + 1;
}

static int b2_fail(struct b2_reader *r, const char *what, struct b2_field f)
{
	return clr_fail(r->err, r->off + f.pos - 1, r->recno, "%s: %s (positions %u-%u) is not numeric",
	                what, f.name, f.pos, f.pos + f.len - 1);
}

/* "TC 05 TCR 1" for messages (the header has no TCR number). */
static const char *b2_what(const struct b2_reader *r, char buf[16])
{
	if (r->t[0] == '9' && r->t[1] == '0')
		return "TC 90";
	snprintf(buf, 16, "TC %c%c TCR %c", r->t[0], r->t[1], r->t[3]);
	return buf;
}

static int b2_num(struct b2_reader *r, struct b2_field f, uint64_t *v)
{
	char what[16];
	if (b2_digits(b2_at(r->t, f), f.len, v))
		return 0;
	return b2_fail(r, b2_what(r, what), f);
}

/* Text as clr_record keeps it: trailing spaces gone, and anything outside
 * printable ASCII (an EBCDIC national character, a control byte) as '?',
 * so that every string the caller sees is plain ASCII. */
static void b2_text(char *dst, size_t cap, const char *t, struct b2_field f)
{
	const char *s = b2_at(t, f);
	size_t n = f.len < cap ? f.len : cap - 1;
	while (n > 0 && s[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* Load the TCR at r->off into r->t as ASCII; *next is where the next one
 * starts. */
static int b2_frame(struct b2_reader *r, size_t *next)
{
	size_t avail = r->len - (size_t)r->off;
	const uint8_t *b = r->buf + r->off;
	if (avail < B2_LEN) {
		r->recno = r->group + 1;
		return clr_fail(r->err, r->off, r->recno,
		                "the last TCR is %zu bytes, shorter than 168", avail);
	}
	if (r->ebcdic) {
		for (size_t i = 0; i < B2_LEN; i++)
			r->t[i] = (char)clr_e2a[b[i]];
	} else {
		memcpy(r->t, b, B2_LEN);
	}
	r->recno = b2_recno(r);
	/* A line break inside the 168 bytes is a short line: say so rather than
	 * misread every record after it. EBCDIC has CR, LF (0x25) and NL (0x15);
	 * a file moved between systems may carry ASCII ones. */
	static const uint8_t breaks[2][4] = {{'\n', '\r', '\n', '\r'}, {0x0d, 0x25, 0x15, 0x0a}};
	const uint8_t *first = NULL;
	for (size_t i = 0; i < 4; i++) {
		const uint8_t *p = memchr(b, breaks[r->ebcdic][i], B2_LEN);
		if (p && (!first || p < first))
			first = p;
	}
	if (first)
		return clr_fail(r->err, r->off, r->recno,
		                "a line break after %td bytes: the TCR is shorter than 168", first - b);
	*next = (size_t)r->off + B2_LEN;
	if (r->eol_len == 0)
		return 0;
	size_t rest = avail - B2_LEN;
	if (rest >= r->eol_len && memcmp(b + B2_LEN, r->eol, r->eol_len) == 0)
		*next += r->eol_len;
	else if (rest != 0) /* only the last record may lack its line end */
		return clr_fail(r->err, r->off + B2_LEN, r->recno,
		                "the TCR is not followed by the line end the first one has "
		                "(or is longer than 168 bytes)");
	return 0;
}

static int b2_header(struct b2_reader *r)
{
	struct clr_file_info *info = r->info;
	uint64_t bin, date;
	int rc;
	if ((rc = b2_num(r, H_BIN, &bin)) || (rc = b2_num(r, H_DATE, &date)))
		return rc;
	if (!b2_from_yyddd(date, &r->proc))
		return clr_fail(r->err, r->off + H_DATE.pos - 1, 1,
		                "TC 90: processing date %.5s is not a day of its year", b2_at(r->t, H_DATE));
	b2_yyyymmdd(r->proc, info->business_day);
	char fid[4];
	b2_text(fid, sizeof fid, r->t, H_FILE);
	snprintf(info->file_id, sizeof info->file_id, "%.6s-%.5s%s%s", b2_at(r->t, H_BIN),
	         b2_at(r->t, H_DATE), fid[0] ? "-" : "", fid);
	r->group = 1;
	b2_count_group(&r->batch, &r->file, false);
	return b2_enter(r, B2_BETWEEN);
}

/* Account number and extension: the account number is left-justified and
 * space-filled; an extension of "000" or spaces means a PAN of 16 digits
 * or fewer, anything else carries the digits beyond the 16th. */
static int b2_pan(struct b2_reader *r, const struct b2_money *l, char pan[20])
{
	const char *a = b2_at(r->t, l->acct), *e = b2_at(r->t, l->ext);
	size_t na = l->acct.len, ne = l->ext.len;
	uint64_t v;
	char what[16];
	while (na > 0 && a[na - 1] == ' ')
		na--;
	while (ne > 0 && e[ne - 1] == ' ')
		ne--;
	if (!b2_digits(a, na, &v))
		return b2_fail(r, b2_what(r, what), l->acct);
	if (!b2_digits(e, ne, &v))
		return b2_fail(r, b2_what(r, what), l->ext);
	if (ne == 3 && memcmp(e, "000", 3) == 0)
		ne = 0;
	memcpy(pan, a, na);
	memcpy(pan + na, e, ne);
	pan[na + ne] = '\0';
	return 0;
}

/* The money fields both financial layouts share, into r->rec and the totals. */
static int b2_money(struct b2_reader *r, const struct b2_money *l, bool fee)
{
	struct clr_record *c = &r->rec;
	uint64_t damt, dcur, samt, scur, mmdd;
	int rc;
	if ((rc = b2_pan(r, l, c->pan)) || (rc = b2_num(r, l->date, &mmdd)) ||
	    (rc = b2_num(r, l->damt, &damt)) || (rc = b2_num(r, l->dcur, &dcur)) ||
	    (rc = b2_num(r, l->samt, &samt)) || (rc = b2_num(r, l->scur, &scur)))
		return rc;
	/* A fee need not be dated: its event date may be zero. */
	struct b2_date d;
	if (!(fee && mmdd == 0)) {
		if (!b2_mmdd(r->proc, (int)(mmdd / 100), (int)(mmdd % 100), &d))
			return clr_fail(r->err, r->off + l->date.pos - 1, r->recno,
			                "TC %.2s TCR 0: %s %.4s is not a date in the year up to the "
			                "processing date %s", r->t, l->date.name, b2_at(r->t, l->date),
			                r->info->business_day);
		b2_yyyymmdd(d, c->txn_date);
	}
	c->amount = (int64_t)samt;
	c->currency = (uint16_t)scur;
	c->bill_amount = (int64_t)damt;
	c->bill_currency = (uint16_t)dcur;
	b2_count_money(&r->batch, &r->file, samt, damt);
	return 0;
}

static int b2_draft(struct b2_reader *r, const struct b2_tc *d)
{
	struct clr_record *c = &r->rec;
	int rc = b2_money(r, &B2_DRAFT_MONEY, false);
	if (rc)
		return rc;
	if (d->usage && *b2_at(r->t, D_USAGE) == '2')
		c->kind = CLR_REPRESENTMENT;
	b2_text(c->arn, sizeof c->arn, r->t, D_ARN);
	b2_text(c->acquirer_id, sizeof c->acquirer_id, r->t, D_BID);
	b2_text(c->merchant_name, sizeof c->merchant_name, r->t, D_NAME);
	b2_text(c->merchant_city, sizeof c->merchant_city, r->t, D_CITY);
	b2_text(c->merchant_country, sizeof c->merchant_country, r->t, D_CTRY);
	b2_text(c->mcc, sizeof c->mcc, r->t, D_MCC);
	b2_text(c->reason, sizeof c->reason, r->t, D_REASON);
	b2_text(c->approval, sizeof c->approval, r->t, D_AUTH);
	return 0;
}

static int b2_fee(struct b2_reader *r)
{
	struct clr_record *c = &r->rec;
	int rc = b2_money(r, &B2_FEE_MONEY, true);
	if (rc)
		return rc;
	b2_text(c->acquirer_id, sizeof c->acquirer_id, r->t, F_SBIN);
	b2_text(c->merchant_country, sizeof c->merchant_country, r->t, F_CTRY);
	b2_text(c->reason, sizeof c->reason, r->t, F_REASON);
	return 0;
}

/* TC 91 or TC 92: its counts and amounts against what was read. */
static int b2_trailer(struct b2_reader *r, bool file)
{
	struct b2_totals *have = file ? &r->file : &r->batch;
	char what[40];
	if (file && r->batch.txns > 0)
		return clr_fail(r->err, r->off, r->recno,
		                "TC 92: the %" PRIu64 " transactions before it are in no batch "
		                "(no TC 91 batch trailer closes them)", r->batch.txns);
	if (!file)
		r->file.batches++;
	if (file)
		snprintf(what, sizeof what, "TC 92");
	else
		snprintf(what, sizeof what, "TC 91 (batch %" PRIu64 ")", r->file.batches);
	for (size_t i = 0; i < sizeof b2_checks / sizeof b2_checks[0]; i++) {
		const struct b2_check *k = &b2_checks[i];
		uint64_t said, is;
		if (k->file_only && !file)
			continue;
		if (!b2_digits(b2_at(r->t, k->f), k->f.len, &said))
			return b2_fail(r, what, k->f);
		is = *b2_total(have, k->member);
		if (said == is)
			continue;
		const char *scope = file ? "the file" : "the batch";
		if (k->amount)
			return clr_fail(r->err, r->off + k->f.pos - 1, r->recno,
			                "%s says %s %" PRIu64 ", %s has %" PRIu64, what, k->f.name, said, scope, is);
		return clr_fail(r->err, r->off + k->f.pos - 1, r->recno,
		                "%s says %" PRIu64 " %s, %s has %" PRIu64, what, said, k->f.name, scope, is);
	}
	if (!file)
		memset(&r->batch, 0, sizeof r->batch);
	return b2_enter(r, file ? B2_END : B2_BETWEEN);
}

/* A TCR numbered other than 0: it continues the open transaction, in order. */
static int b2_more(struct b2_reader *r, const struct b2_tc *d, char seq)
{
	uint32_t recno = r->recno;
	if (d->layout == B2_TRAILER)
		return clr_fail(r->err, r->off + 3, recno, "TC %.2s (%s) has TCR sequence number %c: "
		                "a trailer is one TCR 0", r->t, d->name, seq);
	if (r->state != B2_IN_TXN)
		return clr_fail(r->err, r->off, recno, "TCR %c of TC %.2s (%s) without its TCR 0",
		                seq, r->t, d->name);
	if (d != r->tc)
		return clr_fail(r->err, r->off, recno, "TCR %c of TC %.2s (%s) inside a TC %02d (%s) "
		                "transaction: further TCRs carry their TCR 0's TC", seq, r->t, d->name,
		                (int)(r->tc - b2_tcs), r->tc->name);
	if (seq <= r->last_seq)
		return clr_fail(r->err, r->off + 3, recno, "TCR %c of TC %.2s after its TCR %c: TCR "
		                "sequence numbers rise within a transaction", seq, r->t, r->last_seq);
	r->last_seq = seq;
	r->file.tcrs++;
	r->batch.tcrs++;
	if (r->emit && d->layout == B2_DRAFT && seq == '1') {
		b2_text(r->rec.merchant_id, sizeof r->rec.merchant_id, r->t, D1_CAID);
		b2_text(r->rec.terminal_id, sizeof r->rec.terminal_id, r->t, D1_TID);
	}
	return 0;
}

/* A TCR 0: it closes the open transaction and starts a group. */
static int b2_group(struct b2_reader *r, const struct b2_tc *d)
{
	int rc = b2_enter(r, B2_BETWEEN);
	if (rc)
		return rc;
	r->group++;
	bool file_trailer = d == &b2_tcs[92];
	b2_count_group(&r->batch, &r->file, !file_trailer);
	if (d->layout == B2_TRAILER)
		return b2_trailer(r, file_trailer);
	r->tc = d;
	r->last_seq = '0';
	if (d->layout == B2_OTHER)
		return b2_enter(r, B2_IN_TXN);
	struct clr_record *c = &r->rec;
	memset(c, 0, sizeof *c);
	c->seq = r->group;
	c->offset = r->off;
	c->kind = (enum clr_kind)d->kind;
	c->reversal = d->reversal;
	memcpy(c->mti, r->t, 2);
	memcpy(c->proc, d->proc, sizeof c->proc);
	rc = d->layout == B2_FEE ? b2_fee(r) : b2_draft(r, d);
	if (rc)
		return rc;
	rc = b2_enter(r, B2_IN_TXN);
	r->emit = true;
	return rc;
}

static int b2_tcr(struct b2_reader *r)
{
	const char *t = r->t;
	char seq = t[3];
	uint64_t tc;
	if (!b2_digits(t, 2, &tc)) {
		const uint8_t *b = r->buf + r->off;
		return clr_fail(r->err, r->off, r->recno,
		                "transaction code is not numeric (bytes 0x%02x 0x%02x)", b[0], b[1]);
	}
	if (r->state == B2_START) {
		if (tc != 90)
			return clr_fail(r->err, 0, 1, "the file does not start with a TC 90 file header "
			                "(its first TCR is TC %02" PRIu64 ")", tc);
		return b2_header(r);
	}
	const struct b2_tc *d = &b2_tcs[tc];
	if (d->layout == B2_UNKNOWN)
		return clr_fail(r->err, r->off, r->recno, "unknown transaction code %02" PRIu64, tc);
	if (d->layout == B2_HEADER)
		return clr_fail(r->err, r->off, r->recno,
		                "a second TC 90 file header: a file has one, at its start");
	if (!((seq >= '0' && seq <= '9') || (seq >= 'A' && seq <= 'Z')))
		return clr_fail(r->err, r->off + 3, r->recno,
		                "TC %.2s: TCR sequence number (position 4) is not 0-9 or A-Z", t);
	return seq == '0' ? b2_group(r, d) : b2_more(r, d, seq);
}

/* What ends each record, from what follows the first: nothing, or a line
 * end in the file's own code or in ASCII (a file moved between systems). */
static void b2_eol(struct b2_reader *r)
{
	static const struct {
		uint8_t b[2];
		uint8_t len;
		bool ebcdic;
	} ends[] = {
		{{'\r', '\n'}, 2, false}, {{'\n', 0}, 1, false},
		{{0x0d, 0x25}, 2, true}, {{0x25, 0}, 1, true}, {{0x15, 0}, 1, true},
	};
	size_t rest = r->len - B2_LEN;
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		if (ends[i].ebcdic && !r->ebcdic)
			continue;
		if (rest >= ends[i].len && memcmp(r->buf + B2_LEN, ends[i].b, ends[i].len) == 0) {
			memcpy(r->eol, ends[i].b, 2);
			r->eol_len = ends[i].len;
			return;
		}
	}
}

int clr_baseii_read(const uint8_t *buf, size_t len, struct clr_file_info *info,
                    clr_record_fn fn, void *arg, struct clr_error *err)
{
	struct clr_file_info scratch;
	struct b2_reader r = {.buf = buf, .len = len, .fn = fn, .arg = arg, .err = err};
	r.info = info ? info : &scratch;
	memset(r.info, 0, sizeof *r.info);
	r.info->scheme = CLR_VISA;
	if (len >= 2 && buf[0] == 0xf9 && buf[1] == 0xf0)
		r.ebcdic = true;
	else if (len < 2 || buf[0] != '9' || buf[1] != '0')
		return clr_fail(err, 0, 1, "not a Visa BASE II file: it does not start with a TC 90 "
		                "file header (\"90\" in ASCII or EBCDIC)");
	r.info->ebcdic = r.ebcdic;
	if (len >= B2_LEN)
		b2_eol(&r);
	size_t off = 0;
	while (off < len) {
		size_t next = len;
		if (r.state == B2_END)
			return clr_fail(err, off, r.group + 1, "%zu byte%s after the TC 92 file trailer",
			                len - off, len - off == 1 ? "" : "s");
		r.off = off;
		int rc = b2_frame(&r, &next);
		if (rc == 0)
			rc = b2_tcr(&r);
		if (rc)
			return rc;
		r.info->messages = r.group;
		off = next;
	}
	if (r.state != B2_END)
		return clr_fail(err, len, r.group + 1, "the file ends without a TC 92 file trailer "
		                "(after %" PRIu32 " TCR groups)", r.group);
	return 0;
}

/* ======================================================================
 * Writer: a TC 90 header, one batch (TC 91) of what was added, a TC 92.
 * Records are checked before anything is written, so a refused record
 * leaves the file as it was; a write error is sticky.
 * ====================================================================== */

struct b2_writer {
	bool failed;
	char bin[6];
	char yyddd[5];
	char fid[3];
	char cpd[4];              /* YDDD of the business day for each TCR 0 */
	struct b2_date day;
	struct b2_totals batch, file;
};

static int b2_werr(struct clr_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int b2_werr(struct clr_writer *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int b2_put(struct clr_writer *w, struct b2_writer *s, char *t)
{
	if (w->info.ebcdic)
		for (size_t i = 0; i < B2_LEN; i++)
			t[i] = (char)clr_a2e[(unsigned char)t[i]];
	if (fwrite(t, 1, B2_LEN, w->out) == B2_LEN)
		return 0;
	s->failed = true;
	return b2_werr(w, "BASE II: write failed: %s", strerror(errno));
}

static bool b2_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Left-justified, space-filled text, refused when it does not fit. cap is
 * the size of the clr_record array s is in: it may lack its NUL. */
#define B2_WTEXT(w, t, f, field) b2_wtext(w, t, f, field, sizeof(field))

static int b2_wtext(struct clr_writer *w, char *t, struct b2_field f, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		return b2_werr(w, "BASE II: %s is not NUL-terminated", f.name);
	if (n > f.len)
		return b2_werr(w, "BASE II: %s is %zu characters, the field has %u", f.name, n, f.len);
	if (!b2_printable(s, n))
		return b2_werr(w, "BASE II: %s has a character outside printable ASCII", f.name);
	memcpy(t + f.pos - 1, s, n);
	return 0;
}

/* Right-justified, zero-filled number, refused when it does not fit. */
static int b2_wnum(struct clr_writer *w, char *t, struct b2_field f, int64_t v)
{
	uint64_t max = 1;
	for (unsigned i = 0; i < f.len && max <= UINT64_MAX / 10; i++)
		max *= 10;
	if (v < 0 || (uint64_t)v >= max)
		return b2_werr(w, "BASE II: %s %" PRId64 " does not fit its %u digits", f.name, v, f.len);
	b2_dec(t + f.pos - 1, f.len, (uint64_t)v);
	return 0;
}

static int b2_wpan(struct clr_writer *w, char *t, const struct b2_money *l, const char pan[20])
{
	size_t n = strnlen(pan, 20);
	uint64_t v;
	if (n > 19 || !b2_digits(pan, n, &v))
		return b2_werr(w, "BASE II: the PAN must be at most 19 digits");
	/* The reader takes an extension of 000 as none (docs/clearing-baseii.md). */
	if (n == 19 && memcmp(pan + 16, "000", 3) == 0)
		return b2_werr(w, "BASE II: a 19-digit PAN ending in 000 reads back as 16 digits");
	size_t na = n < 16 ? n : 16;
	memcpy(t + l->acct.pos - 1, pan, na);
	if (n <= 16)
		memcpy(t + l->ext.pos - 1, "000", 3);
	else
		memcpy(t + l->ext.pos - 1, pan + 16, n - 16);
	return 0;
}

static int b2_wmoney(struct clr_writer *w, struct b2_writer *s, char *t, const struct b2_money *l,
                     const struct clr_record *r, bool fee)
{
	struct b2_date d, e;
	if (fee && !r->txn_date[0]) {
		memcpy(t + l->date.pos - 1, "0000", 4);
	} else {
		if (strnlen(r->txn_date, sizeof r->txn_date) != 8 || !b2_parse_yyyymmdd(r->txn_date, &d))
			return b2_werr(w, "BASE II: txn_date \"%.8s\" is not a YYYYMMDD date", r->txn_date);
		if (!b2_mmdd(s->day, d.m, d.d, &e) || e.y != d.y)
			return b2_werr(w, "BASE II: txn_date %s is not in the year up to the business day %s "
			               "(the file carries MMDD only)", r->txn_date, w->info.business_day);
		b2_dec(t + l->date.pos - 1, 2, (uint64_t)d.m);
		b2_dec(t + l->date.pos + 1, 2, (uint64_t)d.d);
	}
	if (b2_wpan(w, t, l, r->pan) || b2_wnum(w, t, l->damt, r->bill_amount) ||
	    b2_wnum(w, t, l->dcur, r->bill_currency) || b2_wnum(w, t, l->samt, r->amount) ||
	    b2_wnum(w, t, l->scur, r->currency))
		return -1;
	return 0;
}

/* The TC a record is written as: the inverse of the reader's b2_tcs. */
static int b2_tc_for(const struct clr_record *r)
{
	bool cash = strncmp(r->proc, "01", 2) == 0;
	switch (r->kind) {
	case CLR_PRESENTMENT:
	case CLR_REPRESENTMENT:
		return cash ? 7 : 5;
	case CLR_CREDIT:
		return 6;
	case CLR_PRESENTMENT_REVERSAL:
		return cash ? 27 : 25;
	case CLR_CREDIT_REVERSAL:
		return 26;
	case CLR_CHARGEBACK:
		return (r->reversal ? 20 : 0) + (cash ? 17 : strncmp(r->proc, "20", 2) == 0 ? 16 : 15);
	case CLR_FEE:
		return strncmp(r->proc, "29", 2) == 0 ? 20 : 10;
	}
	return -1;
}

static void b2_wstart(char *t, int tc, char seq)
{
	memset(t, ' ', B2_LEN);
	b2_dec(t, 2, (uint64_t)tc);
	t[2] = '0';
	t[3] = seq;
}

/* TCR 0 (and TCR 1 when there is a terminal or card acceptor ID) of a draft. */
static int b2_wdraft(struct clr_writer *w, struct b2_writer *s, const struct clr_record *r,
                     int tc, char t[2][B2_LEN], int *n)
{
	b2_wstart(t[0], tc, '0');
	if (b2_wmoney(w, s, t[0], &B2_DRAFT_MONEY, r, false) ||
	    B2_WTEXT(w, t[0], D_ARN, r->arn) || B2_WTEXT(w, t[0], D_BID, r->acquirer_id) ||
	    B2_WTEXT(w, t[0], D_NAME, r->merchant_name) || B2_WTEXT(w, t[0], D_CITY, r->merchant_city) ||
	    B2_WTEXT(w, t[0], D_CTRY, r->merchant_country) || B2_WTEXT(w, t[0], D_MCC, r->mcc) ||
	    B2_WTEXT(w, t[0], D_REASON, r->reason) || B2_WTEXT(w, t[0], D_AUTH, r->approval))
		return -1;
	t[0][D_USAGE.pos - 1] = r->kind == CLR_REPRESENTMENT ? '2' : '1';
	t[0][D_SETTLE.pos - 1] = '0';
	memcpy(t[0] + D_POSEM.pos - 1, "00", 2);
	memcpy(t[0] + D_CPD.pos - 1, s->cpd, 4);
	t[0][D_REIMB.pos - 1] = '0';
	*n = 1;
	if (!r->terminal_id[0] && !r->merchant_id[0])
		return 0;
	b2_wstart(t[1], tc, '1');
	if (B2_WTEXT(w, t[1], D1_CAID, r->merchant_id) || B2_WTEXT(w, t[1], D1_TID, r->terminal_id))
		return -1;
	*n = 2;
	return 0;
}

static int b2_wfee(struct clr_writer *w, struct b2_writer *s, const struct clr_record *r, int tc, char *t)
{
	b2_wstart(t, tc, '0');
	if (b2_wmoney(w, s, t, &B2_FEE_MONEY, r, true) || B2_WTEXT(w, t, F_SBIN, r->acquirer_id) ||
	    B2_WTEXT(w, t, F_REASON, r->reason) || B2_WTEXT(w, t, F_CTRY, r->merchant_country))
		return -1;
	memcpy(t + F_DBIN.pos - 1, s->bin, 6);
	t[F_SETTLE.pos - 1] = '0';
	memcpy(t + F_CPD.pos - 1, s->cpd, 4);
	t[F_REIMB.pos - 1] = '0';
	return 0;
}

int clr_baseii_w_header(struct clr_writer *w)
{
	const char *id = w->info.file_id;
	size_t n = strnlen(id, sizeof w->info.file_id);
	uint64_t v;
	struct b2_writer *s = calloc(1, sizeof *s);
	if (!s)
		return b2_werr(w, "BASE II: out of memory");
	w->fmt = s;
	if (strnlen(w->info.business_day, sizeof w->info.business_day) != 8 ||
	    !b2_parse_yyyymmdd(w->info.business_day, &s->day) || s->day.y < 2000 || s->day.y > 2099)
		return b2_werr(w, "BASE II: business_day \"%.8s\" is not a YYYYMMDD date in 2000-2099",
		               w->info.business_day);
	b2_to_yyddd(s->day, s->yyddd);
	/* file_id as the reader makes it: BIN-YYDDD, or BIN-YYDDD-ID with the
	 * header's outgoing file ID (1 to 3 characters). */
	if ((n != 12 && (n < 14 || n > 16)) || !b2_digits(id, 6, &v) || id[6] != '-' ||
	    memcmp(id + 7, s->yyddd, 5) != 0 || (n > 12 && id[12] != '-') || !b2_printable(id, n) ||
	    id[n - 1] == ' ')
		return b2_werr(w, "BASE II: file_id \"%s\" is not BIN-YYDDD or BIN-YYDDD-ID with the "
		               "business day's YYDDD (%.5s)", id, s->yyddd);
	memcpy(s->bin, id, 6);
	memset(s->fid, ' ', 3);
	if (n > 12)
		memcpy(s->fid, id + 13, n - 13);
	memcpy(s->cpd, s->yyddd + 1, 4);
	char t[B2_LEN];
	memset(t, ' ', B2_LEN);
	memcpy(t, "90", 2);
	memcpy(t + H_BIN.pos - 1, s->bin, 6);
	memcpy(t + H_DATE.pos - 1, s->yyddd, 5);
	memcpy(t + H_FILE.pos - 1, s->fid, 3);
	b2_count_group(&s->batch, &s->file, false);
	w->info.messages = 1;
	return b2_put(w, s, t);
}

int clr_baseii_w_record(struct clr_writer *w, const struct clr_record *r)
{
	struct b2_writer *s = w->fmt;
	char t[2][B2_LEN];
	int n = 1;
	if (!s || s->failed)
		return -1;
	int tc = b2_tc_for(r);
	if (tc < 0)
		return b2_werr(w, "BASE II: record kind %d has no transaction code", (int)r->kind);
	int rc = b2_tcs[tc].layout == B2_FEE ? b2_wfee(w, s, r, tc, t[0]) : b2_wdraft(w, s, r, tc, t, &n);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = b2_put(w, s, t[i]);
	if (rc)
		return -1;
	b2_count_group(&s->batch, &s->file, true);
	s->batch.tcrs += (uint64_t)n - 1;
	s->file.tcrs += (uint64_t)n - 1;
	b2_count_money(&s->batch, &s->file, (uint64_t)r->amount, (uint64_t)r->bill_amount);
	w->info.records++;
	w->info.messages++;
	b2_add_amount(&w->info.amount_total, r->amount);
	return 0;
}

static int b2_wtrailer(struct clr_writer *w, struct b2_writer *s, int tc, struct b2_totals *have)
{
	char t[B2_LEN];
	b2_wstart(t, tc, '0');
	memcpy(t + T_BIN.pos - 1, s->bin, 6);
	memcpy(t + T_DATE.pos - 1, s->yyddd, 5);
	for (size_t i = 0; i < sizeof b2_checks / sizeof b2_checks[0]; i++) {
		const struct b2_check *k = &b2_checks[i];
		/* In a TC 91 the batches field is the batch's number. */
		uint64_t v = k->file_only ? s->file.batches : *b2_total(have, k->member);
		if (b2_wnum(w, t, k->f, (int64_t)v))
			return -1;
	}
	w->info.messages++;
	return b2_put(w, s, t);
}

int clr_baseii_w_trailer(struct clr_writer *w)
{
	struct b2_writer *s = w->fmt;
	int rc = -1;
	if (s && !s->failed) {
		rc = 0;
		if (s->batch.txns > 0) {
			b2_count_group(&s->batch, &s->file, true);
			s->file.batches++;
			rc = b2_wtrailer(w, s, 91, &s->batch);
		}
		if (rc == 0) {
			b2_count_group(&s->batch, &s->file, false);
			rc = b2_wtrailer(w, s, 92, &s->file);
		}
	}
	free(s);
	w->fmt = NULL;
	return rc;
}
