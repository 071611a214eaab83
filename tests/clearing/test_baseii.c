/* test_baseii.c: the Visa BASE II reader and writer (clr_baseii.c).
 *
 * Golden files from golden/make_baseii_golden.py (built field by field from
 * the published layouts, not from the C code) are read and every field of
 * every record checked; the writer must make the ASCII and EBCDIC ones byte
 * for byte. Then: random records round trip, every prefix of every golden
 * file fails cleanly, corruption at every record boundary fails with the
 * exact offset and record number, trailer and structure faults, and the
 * speed of 100,000 records (BASEII_BENCH_N=1000000 for the 1M figure). */
#include "clr.h"
#include "clr_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- helpers ---- */

struct buf {
	uint8_t *p;
	size_t len;
};

static struct buf load(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CLR_GOLDEN_DIR, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf b = {NULL, 0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? cap * 2 : 4096;
			b.p = realloc(b.p, cap);
			assert_non_null(b.p);
		}
		size_t n = fread(b.p + b.len, 1, cap - b.len, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	return b;
}

static struct buf copy(const uint8_t *p, size_t len)
{
	struct buf b = {malloc(len ? len : 1), len};
	assert_non_null(b.p);
	memcpy(b.p, p, len);
	return b;
}

/* Records the reader hands over. */
struct got {
	struct clr_record *r;
	size_t n, cap;
	size_t stop_at;           /* return 7 on this record (1-based); 0: never */
};

static int collect(void *arg, const struct clr_record *r)
{
	struct got *g = arg;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->r = realloc(g->r, g->cap * sizeof *g->r);
		assert_non_null(g->r);
	}
	g->r[g->n++] = *r;
	return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static int read_all(const struct buf *b, struct clr_file_info *info, struct got *g, struct clr_error *err)
{
	memset(err, 0, sizeof *err);
	g->n = 0;
	return clr_baseii_read(b->p, b->len, info, collect, g, err);
}

/* Write records through the public writer into memory. */
static struct buf write_all(const struct clr_file_info *info, const struct clr_record *r, size_t n)
{
	struct buf b = {NULL, 0};
	FILE *f = open_memstream((char **)&b.p, &b.len);
	assert_non_null(f);
	struct clr_writer *w = clr_writer_open(f, info);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++) {
		int rc = clr_writer_add(w, &r[i]);
		if (rc)
			fail_msg("record %zu: %s", i, clr_writer_error(w));
	}
	assert_int_equal(clr_writer_close(w), 0);
	assert_int_equal(fclose(f), 0);
	return b;
}

/* Every field; seq and offset only when the caller knows them. */
static void assert_record(const struct clr_record *want, const struct clr_record *got, bool where)
{
	if (where) {
		assert_int_equal(got->seq, want->seq);
		assert_int_equal(got->offset, want->offset);
	}
	assert_int_equal(got->kind, want->kind);
	assert_string_equal(got->mti, want->mti);
	assert_string_equal(got->func, want->func);
	assert_string_equal(got->proc, want->proc);
	assert_string_equal(got->pan, want->pan);
	assert_int_equal(got->amount, want->amount);
	assert_int_equal(got->currency, want->currency);
	assert_int_equal(got->bill_amount, want->bill_amount);
	assert_int_equal(got->bill_currency, want->bill_currency);
	assert_string_equal(got->txn_date, want->txn_date);
	assert_string_equal(got->approval, want->approval);
	assert_string_equal(got->arn, want->arn);
	assert_string_equal(got->acquirer_id, want->acquirer_id);
	assert_string_equal(got->terminal_id, want->terminal_id);
	assert_string_equal(got->merchant_id, want->merchant_id);
	assert_string_equal(got->merchant_name, want->merchant_name);
	assert_string_equal(got->merchant_city, want->merchant_city);
	assert_string_equal(got->merchant_country, want->merchant_country);
	assert_string_equal(got->mcc, want->mcc);
	assert_string_equal(got->reason, want->reason);
	assert_int_equal(got->reversal, want->reversal);
}

/* ---- the golden files ---- */

#define PAN16 "4111111111111111"
#define PAN13 "4222222222222"
#define PAN19 "4000123412341234560"
#define PAN17 "40005678567856780"

/* baseii-ascii/-ebcdic/-crlf.ctf, as make_baseii_golden.py builds them.
 * offset holds the record's TCR index; the test multiplies by the stride. */
static const struct clr_record basic_want[] = {
	{.seq = 2, .offset = 1, .kind = CLR_PRESENTMENT, .mti = "05", .proc = "000000", .pan = PAN16,
	 .amount = 11500, .currency = 978, .bill_amount = 12550, .bill_currency = 840,
	 .txn_date = "20240229", .approval = "A1B2C3", .arn = "74123454060123456789012",
	 .acquirer_id = "10054321", .terminal_id = "TERM0001", .merchant_id = "MERCHANT0000001",
	 .merchant_name = "ACME HARDWARE", .merchant_city = "SPRINGFIELD", .merchant_country = "US",
	 .mcc = "5251"},
	{.seq = 3, .offset = 3, .kind = CLR_PRESENTMENT, .mti = "07", .proc = "010000", .pan = PAN19,
	 .amount = 20000, .currency = 978, .bill_amount = 20000, .bill_currency = 978,
	 .txn_date = "20231231", .approval = "654321", .arn = "74123453660000000000234",
	 .acquirer_id = "10054321", .merchant_name = "FIRST BANK ATM 12", .merchant_city = "BERLIN",
	 .merchant_country = "DE", .mcc = "6011"},
	{.seq = 4, .offset = 4, .kind = CLR_CREDIT, .mti = "06", .proc = "200000", .pan = PAN13,
	 .amount = 4999, .currency = 840, .bill_amount = 4999, .bill_currency = 840,
	 .txn_date = "20240301", .arn = "74123454061000000000345", .acquirer_id = "10054321",
	 .merchant_name = "BOOKS & MORE", .merchant_city = "PORTLAND", .merchant_country = "US",
	 .mcc = "5942"},
	{.seq = 5, .offset = 5, .kind = CLR_PRESENTMENT_REVERSAL, .mti = "25", .proc = "000000",
	 .pan = PAN16, .amount = 11500, .currency = 978, .bill_amount = 12550, .bill_currency = 840,
	 .txn_date = "20240229", .approval = "A1B2C3", .arn = "74123454060123456789012",
	 .acquirer_id = "10054321", .merchant_name = "ACME HARDWARE", .merchant_city = "SPRINGFIELD",
	 .merchant_country = "US", .mcc = "5251", .reason = "00", .reversal = true},
	{.seq = 6, .offset = 6, .kind = CLR_CREDIT_REVERSAL, .mti = "26", .proc = "200000", .pan = PAN13,
	 .amount = 4999, .currency = 840, .bill_amount = 4999, .bill_currency = 840,
	 .txn_date = "20240301", .arn = "74123454061000000000345", .acquirer_id = "10054321",
	 .merchant_name = "BOOKS & MORE", .merchant_city = "PORTLAND", .merchant_country = "US",
	 .mcc = "5942", .reversal = true},
};
#define NBASIC (sizeof basic_want / sizeof basic_want[0])

/* The basic file's 9 TCRs: the TCR group each belongs to, and where a
 * numeric field to spoil sits (1-based; 0: none read in that TCR). */
static const uint32_t basic_group[9] = {1, 2, 2, 3, 4, 5, 6, 7, 8};
static const unsigned basic_numeric[9] = {9, 77, 0, 77, 77, 77, 77, 102, 102};

/* A golden file read: its info, and every field of every record. */
struct golden {
	const char *name;
	size_t stride;            /* 168, or 169/170 with line ends */
	size_t tcrs;
	bool ebcdic;
	const char *file_id;
	uint32_t messages;
	int64_t total;
	const struct clr_record *want;   /* offset: the TCR index */
	size_t n;
};

static void check_golden(const struct golden *gf)
{
	struct buf b = load(gf->name);
	struct clr_file_info info;
	struct clr_error err;
	struct got g = {0};
	int rc = read_all(&b, &info, &g, &err);
	if (rc)
		fail_msg("%s: offset %llu record %u: %s", gf->name, (unsigned long long)err.offset,
		         err.record, err.reason);
	assert_int_equal(b.len, gf->tcrs * gf->stride);
	assert_int_equal(info.scheme, CLR_VISA);
	assert_int_equal(info.ebcdic, gf->ebcdic);
	assert_false(info.blocked);
	assert_string_equal(info.file_id, gf->file_id);
	assert_string_equal(info.business_day, "20240301");
	assert_int_equal(info.records, gf->n);
	assert_int_equal(info.messages, gf->messages);
	assert_int_equal(info.amount_total, gf->total);
	assert_int_equal(g.n, gf->n);
	for (size_t i = 0; i < gf->n; i++) {
		struct clr_record want = gf->want[i];
		want.offset *= gf->stride;
		assert_record(&want, &g.r[i], true);
	}
	/* The same through detection and dispatch. */
	assert_int_equal(clr_detect(b.p, b.len), CLR_VISA);
	assert_int_equal(clr_read(b.p, b.len, &info, collect, &g, &err), 0);
	assert_int_equal(g.n, 2 * gf->n);
	free(g.r);
	free(b.p);
}

static void check_basic(const char *name, size_t stride, bool ebcdic)
{
	struct golden gf = {name, stride, 9, ebcdic, "412345-24061-007", 8, 52998, basic_want, NBASIC};
	check_golden(&gf);
}

static void test_golden_ascii(void **state)
{
	(void)state;
	check_basic("baseii-ascii.ctf", 168, false);
}

static void test_golden_ebcdic(void **state)
{
	(void)state;
	check_basic("baseii-ebcdic.ctf", 168, true);
}

static void test_golden_crlf(void **state)
{
	(void)state;
	check_basic("baseii-crlf.ctf", 170, false);
}

/* The writer, given the golden records and file info, makes the golden
 * file byte for byte (it makes no line ends, so not the CR LF one). */
static void check_writer(const char *name, bool ebcdic)
{
	struct buf want = load(name);
	struct clr_file_info info = {.scheme = CLR_VISA, .ebcdic = ebcdic, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	struct buf got = write_all(&info, basic_want, NBASIC);
	assert_int_equal(got.len, want.len);
	for (size_t i = 0; i < want.len; i++)
		if (got.p[i] != want.p[i])
			fail_msg("%s: byte %zu (TCR %zu position %zu) is 0x%02x, golden has 0x%02x", name, i,
			         i / 168, i % 168 + 1, got.p[i], want.p[i]);
	free(got.p);
	free(want.p);
}

static void test_writer_ascii(void **state)
{
	(void)state;
	check_writer("baseii-ascii.ctf", false);
}

static void test_writer_ebcdic(void **state)
{
	(void)state;
	check_writer("baseii-ebcdic.ctf", true);
}

/* The writer keeps the file info's counts as it goes. */
static void test_writer_info(void **state)
{
	(void)state;
	struct clr_file_info info = {.scheme = CLR_VISA, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	struct clr_writer *w = clr_writer_open(f, &info);
	assert_non_null(w);
	assert_int_equal(w->info.messages, 1);
	for (size_t i = 0; i < NBASIC; i++)
		assert_int_equal(clr_writer_add(w, &basic_want[i]), 0);
	assert_int_equal(w->info.records, NBASIC);
	assert_int_equal(w->info.messages, 1 + NBASIC);
	assert_int_equal(w->info.amount_total, 52998);
	assert_int_equal(clr_baseii_w_trailer(w), 0);
	assert_null(w->fmt);
	assert_int_equal(w->info.messages, 8);
	free(w);
	fclose(f);
	free(p);
}

/* baseii-mixed.ctf: LF line ends, two batches, filled-in fields, TCR 5,
 * fee, chargeback, representment, skipped TC 46 and TC 33. */
static void test_golden_mixed(void **state)
{
	(void)state;
	static const struct clr_record want[] = {
		{.seq = 2, .offset = 1, .kind = CLR_PRESENTMENT, .mti = "05", .proc = "000000", .pan = PAN17,
		 .amount = 2599, .currency = 840, .bill_amount = 2599, .bill_currency = 840,
		 .txn_date = "20240224", .approval = "0A1B2C", .arn = "74123454055000000000456",
		 .acquirer_id = "10099999", .terminal_id = "T0000042", .merchant_id = "CAFEROMA0000001",
		 .merchant_name = "CAFE ROMA", .merchant_city = "PORTLAND", .merchant_country = "US",
		 .mcc = "5814"},
		{.seq = 5, .offset = 6, .kind = CLR_FEE, .mti = "10", .proc = "190000", .pan = PAN16,
		 .amount = 500, .currency = 840, .bill_amount = 500, .bill_currency = 840,
		 .txn_date = "20240215", .acquirer_id = "400000", .merchant_country = "US", .reason = "0240"},
		{.seq = 6, .offset = 7, .kind = CLR_CHARGEBACK, .mti = "15", .proc = "000000", .pan = PAN16,
		 .amount = 7500, .currency = 840, .bill_amount = 7500, .bill_currency = 840,
		 .txn_date = "20240209", .approval = "112233", .arn = "74123454040000000000567",
		 .acquirer_id = "10054321", .merchant_name = "GADGET STORE", .merchant_city = "SEATTLE",
		 .merchant_country = "US", .mcc = "5732", .reason = "30"},
		{.seq = 7, .offset = 8, .kind = CLR_REPRESENTMENT, .mti = "05", .proc = "000000", .pan = PAN13,
		 .amount = 13800, .currency = 826, .bill_amount = 15000, .bill_currency = 840,
		 .txn_date = "20240120", .approval = "998877", .arn = "74123454020000000000678",
		 .acquirer_id = "10054321", .merchant_name = "LONDON HOTEL", .merchant_city = "LONDON",
		 .merchant_country = "GB", .mcc = "7011"},
	};
	struct golden gf = {"baseii-mixed.ctf", 169, 13, false, "412345-24061-008", 10,
	                    2599 + 500 + 7500 + 13800, want, 4};
	check_golden(&gf);
}

/* ---- round trip ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

/* Printable text of up to max characters, not ending in a space (the
 * reader drops trailing spaces). */
static void rnd_text(char *dst, size_t max)
{
	size_t n = (size_t)rnd(max + 1);
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(0x20 + rnd(0x5f));
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void rnd_digits(char *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)('0' + rnd(10));
	dst[n] = '\0';
}

/* The kinds BASE II carries, as the reader gives them back. */
static const struct {
	enum clr_kind kind;
	const char *mti, *proc;
	bool reversal;
} kinds[] = {
	{CLR_PRESENTMENT, "05", "000000", false}, {CLR_PRESENTMENT, "07", "010000", false},
	{CLR_CREDIT, "06", "200000", false}, {CLR_PRESENTMENT_REVERSAL, "25", "000000", true},
	{CLR_PRESENTMENT_REVERSAL, "27", "010000", true}, {CLR_CREDIT_REVERSAL, "26", "200000", true},
	{CLR_REPRESENTMENT, "05", "000000", false}, {CLR_REPRESENTMENT, "07", "010000", false},
	{CLR_CHARGEBACK, "15", "000000", false}, {CLR_CHARGEBACK, "16", "200000", false},
	{CLR_CHARGEBACK, "17", "010000", false}, {CLR_CHARGEBACK, "35", "000000", true},
	{CLR_CHARGEBACK, "36", "200000", true}, {CLR_CHARGEBACK, "37", "010000", true},
	{CLR_FEE, "10", "190000", false}, {CLR_FEE, "20", "290000", false},
};

/* A date up to a year before 2024-03-01 (the business day). */
static void rnd_date(char out[9])
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 2024, m = 3, d = 1;
	for (uint64_t back = rnd(366); back > 0; back--) {
		if (--d == 0) {
			if (--m == 0) {
				m = 12;
				y--;
			}
			d = mdays[m - 1] - (m == 2 && y != 2024);
		}
	}
	char tmp[40];
	snprintf(tmp, sizeof tmp, "%04d%02d%02d", y, m, d);
	memcpy(out, tmp, 9);
}

static void rnd_record(struct clr_record *r)
{
	memset(r, 0, sizeof *r);
	size_t k = (size_t)rnd(sizeof kinds / sizeof kinds[0]);
	bool fee = kinds[k].kind == CLR_FEE;
	r->kind = kinds[k].kind;
	strcpy(r->mti, kinds[k].mti);
	strcpy(r->proc, kinds[k].proc);
	r->reversal = kinds[k].reversal;
	size_t n = fee && rnd(4) == 0 ? 0 : 12 + (size_t)rnd(8);
	do
		rnd_digits(r->pan, n);
	while (n == 19 && memcmp(r->pan + 16, "000", 3) == 0);
	/* Now and then the 12-digit maximum, mostly less: the file's totals
	 * must stay within the trailer's 15 digits. */
	uint64_t max = rnd(10) ? 100000000u : 1000000000000u;
	r->amount = (int64_t)rnd(max);
	r->currency = (uint16_t)rnd(1000);
	r->bill_amount = (int64_t)rnd(max);
	r->bill_currency = (uint16_t)rnd(1000);
	if (!fee || rnd(3))
		rnd_date(r->txn_date);
	rnd_text(r->merchant_country, 3);
	if (fee) {
		rnd_text(r->acquirer_id, 6);
		rnd_text(r->reason, 4);
		return;
	}
	rnd_text(r->approval, 6);
	rnd_digits(r->arn, rnd(2) ? 23 : 0);
	rnd_text(r->acquirer_id, 8);
	if (rnd(2)) {
		rnd_text(r->terminal_id, 8);
		rnd_text(r->merchant_id, 15);
	}
	rnd_text(r->merchant_name, 25);
	rnd_text(r->merchant_city, 13);
	rnd_text(r->mcc, 4);
	rnd_text(r->reason, 2);
}

static void round_trip(bool ebcdic)
{
	enum { N = 3000 };
	struct clr_record *in = calloc(N, sizeof *in);
	assert_non_null(in);
	for (size_t i = 0; i < N; i++)
		rnd_record(&in[i]);
	struct clr_file_info info = {.scheme = CLR_VISA, .ebcdic = ebcdic, .file_id = "400050-24061-123",
	                             .business_day = "20240301"};
	struct buf b = write_all(&info, in, N);
	struct clr_file_info back;
	struct clr_error err;
	struct got g = {0};
	int rc = read_all(&b, &back, &g, &err);
	if (rc)
		fail_msg("offset %llu record %u: %s", (unsigned long long)err.offset, err.record, err.reason);
	assert_int_equal(back.ebcdic, ebcdic);
	assert_string_equal(back.file_id, info.file_id);
	assert_string_equal(back.business_day, info.business_day);
	assert_int_equal(back.records, N);
	assert_int_equal(back.messages, N + 3);
	assert_int_equal(g.n, N);
	int64_t total = 0;
	uint64_t tcr = 1;
	for (size_t i = 0; i < N; i++) {
		in[i].seq = (uint32_t)(i + 2);
		in[i].offset = tcr * 168;
		tcr += in[i].terminal_id[0] || in[i].merchant_id[0] ? 2 : 1;
		total += in[i].amount;
		assert_record(&in[i], &g.r[i], true);
	}
	assert_int_equal(back.amount_total, total);
	assert_int_equal(b.len, (tcr + 2) * 168);
	free(g.r);
	free(b.p);
	free(in);
}

static void test_round_trip_ascii(void **state)
{
	(void)state;
	round_trip(false);
}

static void test_round_trip_ebcdic(void **state)
{
	(void)state;
	round_trip(true);
}

/* ---- faults ---- */

struct fault {
	int rc;
	struct clr_error err;
	size_t calls;
};

static struct fault read_fault(const struct buf *b)
{
	struct fault f;
	struct clr_file_info info;
	struct got g = {0};
	f.rc = read_all(b, &info, &g, &f.err);
	f.calls = g.n;
	free(g.r);
	return f;
}

static void expect(const struct buf *b, uint64_t offset, uint32_t record, const char *reason)
{
	struct fault f = read_fault(b);
	if (f.rc != -1 || f.err.offset != offset || f.err.record != record ||
	    (reason && !strstr(f.err.reason, reason)))
		fail_msg("want -1 at offset %llu record %u (\"%s\"), got %d at offset %llu record %u: %s",
		         (unsigned long long)offset, record, reason ? reason : "", f.rc,
		         (unsigned long long)f.err.offset, f.err.record, f.err.reason);
}

/* Every prefix of every golden file: -1 with an offset inside it, never
 * a crash, never success (STYLE.md 1). */
static void test_prefixes(void **state)
{
	(void)state;
	static const char *names[] = {"baseii-ascii.ctf", "baseii-ebcdic.ctf", "baseii-crlf.ctf",
	                              "baseii-mixed.ctf"};
	for (size_t k = 0; k < 4; k++) {
		struct buf b = load(names[k]);
		size_t eol = b.p[b.len - 1] != '\n' ? 0 : b.p[b.len - 2] == '\r' ? 2 : 1;
		for (size_t n = 0; n < b.len; n++) {
			if (eol && n == b.len - eol)
				continue; /* read below */
			/* A copy of exactly n bytes, so that ASan sees any read past it. */
			struct buf p = copy(b.p, n);
			struct fault f = read_fault(&p);
			if (f.rc != -1 || f.err.offset > n)
				fail_msg("%s prefix %zu: rc %d offset %llu", names[k], n, f.rc,
				         (unsigned long long)f.err.offset);
			free(p.p);
		}
		/* The one prefix that reads: a line-ended file without the last
		 * record's line end. */
		if (eol) {
			struct buf p = copy(b.p, b.len - eol);
			assert_int_equal(read_fault(&p).rc, 0);
			free(p.p);
		}
		free(b.p);
	}
}

/* Cut, a spoilt TC and a non-digit in a numeric field at every record
 * boundary of the three forms of the basic file. */
static void corrupt_all(const char *name, size_t stride, uint8_t bad)
{
	struct buf g = load(name);
	for (size_t i = 0; i < 9; i++) {
		size_t at = i * stride;
		struct buf b = copy(g.p, at);
		expect(&b, at, i ? basic_group[i - 1] + 1 : 1, NULL);
		free(b.p);

		b = copy(g.p, g.len);
		b.p[at] = bad;
		expect(&b, at, basic_group[i], NULL);
		free(b.p);

		if (basic_numeric[i]) {
			b = copy(g.p, g.len);
			b.p[at + basic_numeric[i] - 1] = bad;
			expect(&b, at + basic_numeric[i] - 1, basic_group[i], "is not numeric");
			free(b.p);
		}
	}
	free(g.p);
}

static void test_corrupt_ascii(void **state)
{
	(void)state;
	corrupt_all("baseii-ascii.ctf", 168, 'X');
}

static void test_corrupt_ebcdic(void **state)
{
	(void)state;
	corrupt_all("baseii-ebcdic.ctf", 168, 0xe7); /* 'X' */
}

static void test_corrupt_crlf(void **state)
{
	(void)state;
	corrupt_all("baseii-crlf.ctf", 170, 'X');
}

static void put_field(struct buf *b, size_t tcr, unsigned pos, const char *v)
{
	memcpy(b->p + tcr * 168 + pos - 1, v, strlen(v));
}

static void expect_exact(const struct buf *b, uint64_t offset, uint32_t record, const char *reason)
{
	struct fault f = read_fault(b);
	assert_int_equal(f.rc, -1);
	assert_string_equal(f.err.reason, reason);
	assert_int_equal(f.err.offset, offset);
	assert_int_equal(f.err.record, record);
}

/* One field of the basic ASCII file overwritten, and the whole reason,
 * offset and record number the read must fail with. */
static const struct edit_case {
	size_t tcr;
	unsigned pos;
	const char *value;
	uint64_t offset;
	uint32_t record;
	const char *reason;
} edits[] = {
	/* Trailers that disagree with the file. */
	{8, 31, "000000000006", 8 * 168 + 30, 8, "TC 92 says 6 monetary transactions, the file has 5"},
	{8, 102, "000000000052999", 8 * 168 + 101, 8,
	 "TC 92 says source amount total 52999, the file has 52998"},
	{8, 16, "000000000055097", 8 * 168 + 15, 8,
	 "TC 92 says destination amount total 55097, the file has 55098"},
	{8, 49, "000000000010", 8 * 168 + 48, 8, "TC 92 says 10 TCRs, the file has 9"},
	{8, 75, "000000007", 8 * 168 + 74, 8, "TC 92 says 7 transactions, the file has 8"},
	{8, 43, "000002", 8 * 168 + 42, 8, "TC 92 says 2 batches, the file has 1"},
	{8, 75, "00000000x", 8 * 168 + 74, 8,
	 "TC 92: transactions (positions 75-83) is not numeric"},
	{7, 102, "000000000052990", 7 * 168 + 101, 7,
	 "TC 91 (batch 1) says source amount total 52990, the batch has 52998"},
	{7, 31, "000000000004", 7 * 168 + 30, 7,
	 "TC 91 (batch 1) says 4 monetary transactions, the batch has 5"},
	{7, 49, "000000000006", 7 * 168 + 48, 7, "TC 91 (batch 1) says 6 TCRs, the batch has 7"},
	/* TCR numbers and transaction codes. */
	{7, 4, "1", 7 * 168 + 3, 6,
	 "TC 91 (batch trailer) has TCR sequence number 1: a trailer is one TCR 0"},
	{2, 4, "a", 2 * 168 + 3, 2, "TC 05: TCR sequence number (position 4) is not 0-9 or A-Z"},
	{4, 1, "99", 4 * 168, 4, "unknown transaction code 99"},
	{2, 1, "08", 2 * 168, 2, "unknown transaction code 08"},
	/* Numeric fields and dates. */
	{1, 9, "4111 111", 168 + 4, 2, "TC 05 TCR 0: account number (positions 5-20) is not numeric"},
	{3, 21, "12x", 3 * 168 + 20, 3,
	 "TC 07 TCR 0: account number extension (positions 21-23) is not numeric"},
	{3, 74, "84O", 3 * 168 + 73, 3,
	 "TC 07 TCR 0: destination currency code (positions 74-76) is not numeric"},
	{1, 58, "0230", 168 + 57, 2,
	 "TC 05 TCR 0: purchase date (MMDD) 0230 is not a date in the year up to the processing "
	 "date 20240301"},
	{0, 9, "24367", 8, 1, "TC 90: processing date 24367 is not a day of its year"},
	{0, 3, "41234 ", 2, 1, "TC 90: processing BIN (positions 3-8) is not numeric"},
};

static void test_edits(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		const struct edit_case *c = &edits[i];
		struct buf b = load("baseii-ascii.ctf");
		memcpy(b.p + c->tcr * 168 + c->pos - 1, c->value, strlen(c->value));
		struct fault f = read_fault(&b);
		if (f.rc != -1 || f.err.offset != c->offset || f.err.record != c->record ||
		    strcmp(f.err.reason, c->reason))
			fail_msg("edit %zu: want offset %llu record %u \"%s\", got %d offset %llu record %u \"%s\"",
			         i, (unsigned long long)c->offset, c->record, c->reason, f.rc,
			         (unsigned long long)f.err.offset, f.err.record, f.err.reason);
		free(b.p);
	}
}

/* Edits the reader takes: a TC 91 batch number is not checked; with the
 * processing date 31 December 2024 (a leap year) a purchase on 1231 is that
 * day, not the year before. */
static void test_edits_accepted(void **state)
{
	(void)state;
	struct buf b = load("baseii-ascii.ctf");
	memcpy(b.p + 7 * 168 + 42, "000042", 6);
	assert_int_equal(read_fault(&b).rc, 0);
	memcpy(b.p + 8, "24366", 5);
	struct clr_file_info info;
	struct clr_error err;
	struct got got = {0};
	assert_int_equal(read_all(&b, &info, &got, &err), 0);
	assert_string_equal(info.business_day, "20241231");
	assert_string_equal(got.r[1].txn_date, "20241231");
	assert_string_equal(got.r[0].txn_date, "20240229");
	free(got.r);
	free(b.p);
}

/* The basic ASCII file with a TCR removed or inserted: where the read
 * must fail and with what (part of the reason). */
static const struct splice_case {
	size_t at;                /* TCR index */
	int insert;               /* insert this golden TCR at 'at'; -1: remove TCR 'at'; -2: insert "\n" */
	uint64_t offset;
	uint32_t record;
	const char *reason;
} splices[] = {
	{0, -1, 0, 1, "does not start with a TC 90 file header"},
	{3, 0, 3 * 168, 3, "a second TC 90 file header: a file has one, at its start"},
	{8, -1, 8 * 168, 8, "the file ends without a TC 92 file trailer (after 7 TCR groups)"},
	{9, 1, 9 * 168, 9, "168 bytes after the TC 92 file trailer"},
	{9, -2, 9 * 168, 9, "1 byte after the TC 92 file trailer"},
	{7, -1, 7 * 168, 7, "TC 92: the 5 transactions before it are in no batch"},
	/* An orphan TCR 1: after the header, inside another TC's transaction,
	 * after a trailer; the same TCR 1 twice. */
	{1, 2, 168, 2, "TCR 1 of TC 05 (sales draft) without its TCR 0"},
	{4, 2, 4 * 168, 3, "TCR 1 of TC 05 (sales draft) inside a TC 07 (cash disbursement) "
	                   "transaction: further TCRs carry their TCR 0's TC"},
	{8, 2, 8 * 168, 8, "TCR 1 of TC 05 (sales draft) without its TCR 0"},
	{3, 2, 3 * 168 + 3, 2, "TCR 1 of TC 05 after its TCR 1: TCR sequence numbers rise within a "
	                       "transaction"},
};

static void test_splices(void **state)
{
	(void)state;
	struct buf g = load("baseii-ascii.ctf");
	for (size_t i = 0; i < sizeof splices / sizeof splices[0]; i++) {
		const struct splice_case *c = &splices[i];
		size_t cut = c->at * 168, add = c->insert == -1 ? 0 : c->insert == -2 ? 1 : 168;
		size_t drop = c->insert == -1 ? 168 : 0;
		struct buf b = copy(g.p, g.len + add - drop);
		memcpy(b.p + cut + add, g.p + cut + drop, g.len - cut - drop);
		if (c->insert >= 0)
			memcpy(b.p + cut, g.p + (size_t)c->insert * 168, 168);
		else if (c->insert == -2)
			b.p[cut] = '\n';
		expect(&b, c->offset, c->record, c->reason);
		free(b.p);
	}
	/* A lone TC 05, no header. */
	struct buf b = copy(g.p + 168, 168);
	expect(&b, 0, 1, "does not start with a TC 90 file header");
	free(b.p);
	free(g.p);
}

static void test_framing(void **state)
{
	(void)state;
	/* A CR LF file with one LF alone. */
	struct buf g = load("baseii-crlf.ctf");
	struct buf b = copy(g.p, g.len - 1);
	memcpy(b.p + 3 * 170 + 168, g.p + 3 * 170 + 169, g.len - (3 * 170 + 169));
	expect(&b, 3 * 170 + 168, 3, "not followed by the line end the first one has");
	free(b.p);

	/* A short line in the LF file: its TCR 1 one byte short. */
	struct buf m = load("baseii-mixed.ctf");
	b = copy(m.p, m.len - 1);
	memcpy(b.p + 2 * 169 + 167, m.p + 2 * 169 + 168, m.len - (2 * 169 + 168));
	expect_exact(&b, 2 * 169, 2, "a line break after 167 bytes: the TCR is shorter than 168");
	free(b.p);

	/* A short line for a header in a file that is otherwise fixed-length. */
	struct buf a = load("baseii-ascii.ctf");
	b = copy(a.p, a.len);
	b.p[99] = '\n';
	expect_exact(&b, 0, 1, "a line break after 99 bytes: the TCR is shorter than 168");
	free(b.p);

	/* A truncated last record. */
	b = copy(a.p, a.len - 10);
	expect_exact(&b, 8 * 168, 8, "the last TCR is 158 bytes, shorter than 168");
	free(b.p);

	/* Not BASE II at all. */
	b = copy((const uint8_t *)"hello", 5);
	expect(&b, 0, 1, "not a Visa BASE II file");
	assert_int_equal(clr_detect(b.p, b.len), CLR_SCHEME_UNKNOWN);
	free(b.p);

	/* Sequence numbers may skip (TCR 0, 1, 5) and the mixed file's TC 33
	 * carries TCR 0 and 1: swapping its sale's TCR 1 and TCR 5 is out of order. */
	b = copy(m.p, m.len);
	memcpy(b.p + 2 * 169, m.p + 3 * 169, 168);
	memcpy(b.p + 3 * 169, m.p + 2 * 169, 168);
	expect_exact(&b, 3 * 169 + 3, 2, "TCR 1 of TC 05 after its TCR 5: TCR sequence numbers rise "
	                                 "within a transaction");
	free(b.p);

	free(a.p);
	free(m.p);
	free(g.p);
}

/* The EBCDIC golden file with each line end an EBCDIC or ASCII file may
 * have: every record reads, at offsets counting the line ends. */
static void test_ebcdic_line_ends(void **state)
{
	(void)state;
	static const struct {
		const char *eol;
		size_t len;
	} ends[] = {{"\x25", 1}, {"\x0d\x25", 2}, {"\x15", 1}, {"\r\n", 2}, {"\n", 1}};
	struct buf g = load("baseii-ebcdic.ctf");
	for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
		size_t stride = 168 + ends[k].len;
		struct buf b = copy(g.p, 9 * stride);
		for (size_t i = 0; i < 9; i++) {
			memcpy(b.p + i * stride, g.p + i * 168, 168);
			memcpy(b.p + i * stride + 168, ends[k].eol, ends[k].len);
		}
		struct clr_file_info info;
		struct clr_error err;
		struct got got = {0};
		assert_int_equal(read_all(&b, &info, &got, &err), 0);
		assert_int_equal(got.n, NBASIC);
		for (size_t i = 0; i < NBASIC; i++) {
			struct clr_record want = basic_want[i];
			want.offset *= stride;
			assert_record(&want, &got.r[i], true);
		}
		free(got.r);
		free(b.p);
	}
	free(g.p);
}

/* The callback's answer stops the read and is returned. */
static void test_callback_stops(void **state)
{
	(void)state;
	struct buf b = load("baseii-ascii.ctf");
	struct clr_file_info info;
	struct clr_error err;
	struct got g = {.stop_at = 2};
	assert_int_equal(read_all(&b, &info, &g, &err), 7);
	assert_int_equal(g.n, 2);
	assert_int_equal(info.records, 2);
	/* No callback: the file is only checked. */
	assert_int_equal(clr_baseii_read(b.p, b.len, &info, NULL, NULL, &err), 0);
	assert_int_equal(info.records, NBASIC);
	assert_int_equal(clr_baseii_read(b.p, b.len, NULL, NULL, NULL, NULL), 0);
	free(g.r);
	free(b.p);
}

/* Text outside printable ASCII reaches the caller as '?'. */
static void test_text_sanitised(void **state)
{
	(void)state;
	struct buf b = load("baseii-ascii.ctf");
	put_field(&b, 1, 92, "CAF\xc9\x01");
	struct clr_file_info info;
	struct clr_error err;
	struct got g = {0};
	assert_int_equal(read_all(&b, &info, &g, &err), 0);
	assert_string_equal(g.r[0].merchant_name, "CAF??HARDWARE");
	free(g.r);
	free(b.p);
}

static void test_writer_refuses(void **state)
{
	(void)state;
	struct clr_file_info info = {.scheme = CLR_VISA, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	static const char *bad_ids[] = {"", "412345-24062-007", "41234X-24061-007", "412345-24061-",
	                                "412345-24061-0071", "412345_24061"};
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		struct clr_file_info x = info;
		strcpy(x.file_id, bad_ids[i]);
		assert_null(clr_writer_open(f, &x));
	}
	struct clr_file_info x = info;
	strcpy(x.business_day, "20240230");
	assert_null(clr_writer_open(f, &x));
	strcpy(x.file_id, "412345-24061");
	strcpy(x.business_day, "20240301");
	struct clr_writer *w = clr_writer_open(f, &x);
	assert_non_null(w);

	struct clr_record r = basic_want[0];
	r.amount = 1000000000000;
	assert_int_equal(clr_writer_add(w, &r), -1);
	assert_non_null(strstr(clr_writer_error(w), "source amount"));
	r = basic_want[0];
	r.amount = -1;
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	strcpy(r.pan, "41111111111111x1");
	assert_int_equal(clr_writer_add(w, &r), -1);
	assert_null(strstr(clr_writer_error(w), "4111"));
	r = basic_want[0];
	strcpy(r.pan, "4111111111111111000");
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	strcpy(r.txn_date, "20230229");
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	strcpy(r.txn_date, "20240302");
	assert_int_equal(clr_writer_add(w, &r), -1);
	assert_non_null(strstr(clr_writer_error(w), "MMDD only"));
	r = basic_want[0];
	strcpy(r.txn_date, "20230301");
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	r.txn_date[0] = '\0';
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	strcpy(r.acquirer_id, "123456789");
	assert_int_equal(clr_writer_add(w, &r), -1);
	assert_string_equal(clr_writer_error(w), "BASE II: acquirer's business ID is 9 characters, the "
	                                         "field has 8");
	r = basic_want[0];
	strcpy(r.merchant_name, "TAB\tNAME");
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	r.kind = (enum clr_kind)99;
	assert_int_equal(clr_writer_add(w, &r), -1);
	r = basic_want[0];
	r.currency = 1000;
	assert_int_equal(clr_writer_add(w, &r), -1);

	/* A refused record writes nothing: the file goes on and reads back. */
	assert_int_equal(clr_writer_add(w, &basic_want[1]), 0);
	assert_int_equal(clr_writer_close(w), 0);
	fclose(f);
	struct buf b = {(uint8_t *)p, len};
	struct clr_file_info back;
	struct clr_error err;
	struct got g = {0};
	assert_int_equal(read_all(&b, &back, &g, &err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(back.file_id, "412345-24061");
	assert_record(&basic_want[1], &g.r[0], false);
	free(g.r);
	free(p);
}

/* Totals beyond the trailer's 15 digits: the close fails. */
static void test_writer_total_overflow(void **state)
{
	(void)state;
	struct clr_file_info info = {.scheme = CLR_VISA, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	struct clr_writer *w = clr_writer_open(f, &info);
	struct clr_record r = basic_want[2];
	r.amount = 999999999999;
	for (int i = 0; i < 1001; i++)
		assert_int_equal(clr_writer_add(w, &r), 0);
	assert_int_equal(clr_writer_close(w), -1);
	fclose(f);
	free(p);
}

/* No records: a header and a TC 92, no batch. */
static void test_writer_empty(void **state)
{
	(void)state;
	struct clr_file_info info = {.scheme = CLR_VISA, .ebcdic = true, .file_id = "412345-24001-1",
	                             .business_day = "20240101"};
	struct buf b = write_all(&info, NULL, 0);
	assert_int_equal(b.len, 2 * 168);
	struct clr_file_info back;
	struct clr_error err;
	struct got g = {0};
	assert_int_equal(read_all(&b, &back, &g, &err), 0);
	assert_int_equal(back.records, 0);
	assert_int_equal(back.messages, 2);
	assert_true(back.ebcdic);
	assert_string_equal(back.file_id, "412345-24001-1");
	free(b.p);
}

/* A write error: at the header, no writer; later, it is sticky. */
static void test_writer_io_error(void **state)
{
	(void)state;
	struct clr_file_info info = {.scheme = CLR_VISA, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	assert_null(clr_writer_open(f, &info));
	fclose(f);

	static char vbuf[1024];
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	setvbuf(f, vbuf, _IOFBF, sizeof vbuf);
	struct clr_writer *w = clr_writer_open(f, &info);
	assert_non_null(w);
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = clr_writer_add(w, &basic_want[2]);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(clr_writer_error(w), "write failed"));
	assert_int_equal(clr_writer_add(w, &basic_want[2]), -1);
	assert_int_equal(clr_writer_close(w), -1);
	fclose(f);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_only(void *arg, const struct clr_record *r)
{
	*(int64_t *)arg += r->amount;
	return 0;
}

/* Writing and reading many records (each a TCR 0 and a TCR 1) through a
 * temporary file: no per-record allocation, linear. */
static void test_speed(void **state)
{
	(void)state;
	const char *env = getenv("BASEII_BENCH_N");
	size_t n = env ? (size_t)strtoul(env, NULL, 10) : 100000;
	struct clr_record r = basic_want[0];
	struct clr_file_info info = {.scheme = CLR_VISA, .file_id = "412345-24061-007",
	                             .business_day = "20240301"};
	FILE *f = tmpfile();
	assert_non_null(f);
	double t0 = now();
	struct clr_writer *w = clr_writer_open(f, &info);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++) {
		r.amount = (int64_t)(i % 100000);
		assert_int_equal(clr_writer_add(w, &r), 0);
	}
	assert_int_equal(clr_writer_close(w), 0);
	double t1 = now();
	long len = ftell(f);
	assert_true(len > 0);
	uint8_t *p = malloc((size_t)len);
	assert_non_null(p);
	rewind(f);
	assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	struct clr_file_info back;
	struct clr_error err;
	int64_t sum = 0;
	double t2 = now();
	int rc = clr_baseii_read(p, (size_t)len, &back, count_only, &sum, &err);
	double t3 = now();
	if (rc)
		fail_msg("offset %llu record %u: %s", (unsigned long long)err.offset, err.record, err.reason);
	assert_int_equal(back.records, n);
	assert_int_equal(sum, back.amount_total);
	print_message("BASE II %zu records (%ld MB): write %.3f s, read %.3f s (%.0f records/s)\n", n,
	              len >> 20, t1 - t0, t3 - t2, (double)n / (t3 - t2));
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_ascii),
		cmocka_unit_test(test_golden_ebcdic),
		cmocka_unit_test(test_golden_crlf),
		cmocka_unit_test(test_golden_mixed),
		cmocka_unit_test(test_writer_ascii),
		cmocka_unit_test(test_writer_ebcdic),
		cmocka_unit_test(test_writer_info),
		cmocka_unit_test(test_round_trip_ascii),
		cmocka_unit_test(test_round_trip_ebcdic),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_corrupt_ascii),
		cmocka_unit_test(test_corrupt_ebcdic),
		cmocka_unit_test(test_corrupt_crlf),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_edits_accepted),
		cmocka_unit_test(test_splices),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_ebcdic_line_ends),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_text_sanitised),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_writer_total_overflow),
		cmocka_unit_test(test_writer_empty),
		cmocka_unit_test(test_writer_io_error),
		cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
