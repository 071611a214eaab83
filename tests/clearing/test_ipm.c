/* Mastercard IPM reader and writer (switch/clearing/clr_ipm.c): the golden
 * files of tests/clearing/golden (made by make_ipm_golden.py from the
 * published layout) read field by field and written byte for byte; random
 * round trips; every prefix; corruption at every message boundary; trailer,
 * header, layout and blocking faults. IPM_BENCH=N in the environment times
 * writing and reading N records (default 20000). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- helpers */

struct buf {
	uint8_t *p;
	size_t len;
};

static struct buf load(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CLR_GOLDEN_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct buf b = {NULL, 0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? cap * 2 : 4096;
			b.p = realloc(b.p, cap);
			assert_non_null(b.p);
		}
		size_t k = fread(b.p + b.len, 1, cap - b.len, f);
		if (k == 0)
			break;
		b.len += k;
	}
	fclose(f);
	return b;
}

static struct buf copy(const struct buf *src, size_t len)
{
	struct buf b = {malloc(len ? len : 1), len};
	assert_non_null(b.p);
	memcpy(b.p, src->p, len < src->len ? len : src->len);
	return b;
}

struct got {
	struct clr_record *r;
	size_t n, cap;
	int stop_at;   /* return 7 from the callback at this record (1-based), 0: never */
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
	return g->stop_at && (int)g->n == g->stop_at ? 7 : 0;
}

static int ignore(void *arg, const struct clr_record *r)
{
	(void)arg;
	(void)r;
	return 0;
}

/* Read b; expect a structural error at offset, record, with why in its reason. */
static void expect_fail(const struct buf *b, uint64_t offset, uint32_t record, const char *why)
{
	struct clr_file_info info;
	struct clr_error err;
	memset(&err, 0, sizeof err);
	int rc = clr_ipm_read(b->p, b->len, &info, ignore, NULL, &err);
	if (rc != -1 || err.offset != offset || err.record != record || (why && !strstr(err.reason, why)))
		fail_msg("want -1 at offset %llu record %u (%s); got %d at offset %llu record %u: %s",
		         (unsigned long long)offset, record, why ? why : "-", rc, (unsigned long long)err.offset,
		         err.record, err.reason);
	assert_true(err.reason[0] != '\0');
}

/* An in-memory output file. */
struct mem {
	char *p;
	size_t len;
	FILE *f;
};

static FILE *mem_open(struct mem *m)
{
	m->p = NULL;
	m->len = 0;
	m->f = open_memstream(&m->p, &m->len);
	assert_non_null(m->f);
	return m->f;
}

static struct buf mem_close(struct mem *m)
{
	fclose(m->f);
	return (struct buf){(uint8_t *)m->p, m->len};
}

/* Write records through clr_writer into memory. */
static struct buf write_file(const struct clr_record *r, size_t n, bool blocked, const char *file_id)
{
	struct mem m;
	FILE *f = mem_open(&m);
	struct clr_file_info info;
	memset(&info, 0, sizeof info);
	info.scheme = CLR_MASTERCARD;
	info.ebcdic = true;
	info.blocked = blocked;
	snprintf(info.file_id, sizeof info.file_id, "%s", file_id);
	struct clr_writer *w = clr_writer_open(f, &info);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++)
		if (clr_writer_add(w, &r[i]) != 0)
			fail_msg("record %zu: %s", i, clr_writer_error(w));
	assert_int_equal(clr_writer_close(w), 0);
	return mem_close(&m);
}

/* The RDW offsets of the messages of an unblocked file, header first. */
static size_t boundaries(const struct buf *b, size_t *at, size_t cap)
{
	size_t n = 0, o = 0;
	while (o + 4 <= b->len) {
		size_t len = (size_t)b->p[o] << 24 | (size_t)b->p[o + 1] << 16 | (size_t)b->p[o + 2] << 8 | b->p[o + 3];
		if (len == 0)
			break;
		assert_true(n < cap);
		at[n++] = o;
		o += 4 + len;
	}
	return n;
}

/* Offset in a blocked file of byte l of its unblocked stream. */
static size_t blk(size_t l)
{
	return l + 2 * (l / 1012);
}

static size_t find(const struct buf *b, const char *ascii, size_t from)
{
	uint8_t e[64];
	size_t n = strlen(ascii);
	for (size_t i = 0; i < n; i++)
		e[i] = clr_a2e[(uint8_t)ascii[i]];
	for (size_t o = from; o + n <= b->len; o++)
		if (memcmp(b->p + o, e, n) == 0)
			return o;
	fail_msg("'%s' not found", ascii);
	return 0;
}

/* --------------------------------------------------------- golden files */

#define FILE_ID "0022503140000001234500042"

/* The seven records of make_ipm_golden.py, as the reader must return them;
 * seq and offset are those of ipm-records.ipm. */
static const struct clr_record golden[7] = {
	{.seq = 2, .offset = 70, .kind = CLR_PRESENTMENT, .mti = "1240", .func = "200", .proc = "000000",
	 .pan = "5413330089020011", .amount = 12345, .currency = 978, .bill_amount = 13580, .bill_currency = 840,
	 .txn_date = "20250312", .approval = "A1B2C3", .arn = "05413345071000000000011", .acquirer_id = "012345",
	 .terminal_id = "TERM0001", .merchant_id = "MERCHANT0000001", .merchant_name = "ACME GROCERY",
	 .merchant_city = "BERLIN", .merchant_country = "DEU", .mcc = "5411"},
	{.seq = 3, .offset = 276, .kind = CLR_PRESENTMENT, .mti = "1240", .func = "200", .proc = "010000",
	 .pan = "5555555555554444", .amount = 20000, .currency = 826, .txn_date = "20250313",
	 .approval = "654321", .arn = "05413345072000000000028", .acquirer_id = "012345", .terminal_id = "ATM00042",
	 .merchant_id = "ATMOPERATOR0042", .merchant_name = "HIGH ST ATM", .merchant_city = "LONDON",
	 .merchant_country = "GBR", .mcc = "6011"},
	{.seq = 4, .offset = 466, .kind = CLR_CREDIT, .mti = "1240", .func = "200", .proc = "200000",
	 .pan = "5413330089020011", .amount = 2599, .currency = 978, .txn_date = "20250311",
	 .arn = "05413345072000000000036", .acquirer_id = "012345", .terminal_id = "POS00007",
	 .merchant_id = "SHOEPALACE00007", .merchant_name = "SHOE PALACE", .merchant_city = "PARIS",
	 .merchant_country = "FRA", .mcc = "5651"},
	{.seq = 5, .offset = 649, .kind = CLR_REPRESENTMENT, .mti = "1240", .func = "205", .proc = "000000",
	 .pan = "5413330089020011", .amount = 4500, .currency = 978, .txn_date = "20250301", .approval = "XYZ789",
	 .arn = "05413345062000000000046", .acquirer_id = "012345", .merchant_id = "CAFECENTRAL0001",
	 .merchant_name = "CAFE CENTRAL", .merchant_city = "VIENNA", .merchant_country = "AUT", .mcc = "5812",
	 .reason = "2713"},
	{.seq = 6, .offset = 836, .kind = CLR_PRESENTMENT_REVERSAL, .mti = "1240", .func = "200", .proc = "000000",
	 .pan = "5200828282828210", .amount = 999, .currency = 840, .txn_date = "20250312", .approval = "777001",
	 .arn = "05413345072000000000051", .acquirer_id = "012345", .merchant_id = "ONLINESTORE0001",
	 .merchant_name = "ONLINE STORE", .merchant_city = "NEW YORK", .merchant_country = "USA", .mcc = "5999",
	 .reversal = true},
	{.seq = 7, .offset = 1038, .kind = CLR_CHARGEBACK, .mti = "1442", .func = "450", .proc = "000000",
	 .pan = "5413330089020011", .amount = 12345, .currency = 978, .txn_date = "20250220", .approval = "A1B2C3",
	 .arn = "05413345051000000000064", .acquirer_id = "012345", .terminal_id = "TERM0001",
	 .merchant_id = "MERCHANT0000001", .merchant_name = "ACME GROCERY", .merchant_city = "BERLIN",
	 .merchant_country = "DEU", .mcc = "5411", .reason = "4837"},
	{.seq = 8, .offset = 1233, .kind = CLR_FEE, .mti = "1740", .func = "700", .proc = "190000",
	 .pan = "5413330089020011", .amount = 1500, .currency = 978, .txn_date = "20250314", .acquirer_id = "012345",
	 .reason = "7600"},
};

static void assert_record(const struct clr_record *want, const struct clr_record *got)
{
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->offset, want->offset);
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

/* Read a golden file; check the file info and every field of every record.
 * sample: the file with the 1644/696 addendum after the first record. */
static void check_golden(const char *name, bool blocked, bool sample)
{
	/* RDW offsets in the unblocked stream of ipm-sample.ipm's seven records */
	static const uint64_t sample_at[7] = {70, 337, 527, 710, 897, 1099, 1294};
	struct buf b = load(name);
	struct got g = {0};
	struct clr_file_info info;
	struct clr_error err;
	int rc = clr_ipm_read(b.p, b.len, &info, collect, &g, &err);
	if (rc != 0)
		fail_msg("%s: %d at %llu record %u: %s", name, rc, (unsigned long long)err.offset, err.record, err.reason);
	assert_int_equal(info.scheme, CLR_MASTERCARD);
	assert_true(info.ebcdic);
	assert_int_equal(info.blocked, blocked);
	assert_string_equal(info.file_id, FILE_ID);
	assert_string_equal(info.business_day, "20250314");
	assert_int_equal(info.records, 7);
	assert_int_equal(info.messages, sample ? 10 : 9);
	assert_int_equal(info.amount_total, 12345 + 20000 + 2599 + 4500 + 999 + 12345 + 1500);
	assert_int_equal(g.n, 7);
	for (size_t i = 0; i < 7; i++) {
		struct clr_record want = golden[i];
		uint64_t l = sample ? sample_at[i] : want.offset;
		want.seq += sample && i > 0;
		want.offset = blocked ? blk(l) : l;
		assert_record(&want, &g.r[i]);
	}
	free(g.r);
	free(b.p);
}

static void test_golden_read(void **state)
{
	(void)state;
	check_golden("ipm-records.ipm", false, false);
	check_golden("ipm-records-blocked.ipm", true, false);
	check_golden("ipm-sample.ipm", false, true);
	check_golden("ipm-sample-blocked.ipm", true, true);
}

static void test_golden_write(void **state)
{
	(void)state;
	for (int blocked = 0; blocked < 2; blocked++) {
		struct buf want = load(blocked ? "ipm-records-blocked.ipm" : "ipm-records.ipm");
		struct buf got = write_file(golden, 7, blocked, FILE_ID);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.p, want.p, want.len);
		free(got.p);
		free(want.p);
	}
}

/* Without a file ID the writer builds one from the business day. */
static void test_writer_file_id(void **state)
{
	(void)state;
	struct mem m;
	struct clr_file_info info = {.scheme = CLR_MASTERCARD, .business_day = "20250601"};
	struct clr_writer *w = clr_writer_open(mem_open(&m), &info);
	assert_non_null(w);
	assert_int_equal(clr_writer_add(w, &golden[0]), 0);
	assert_int_equal(clr_writer_close(w), 0);
	struct buf b = mem_close(&m);
	struct clr_file_info got;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(b.p, b.len, &got, ignore, NULL, &err), 0);
	assert_string_equal(got.business_day, "20250601");
	assert_int_equal(strlen(got.file_id), 25);
	assert_memory_equal(got.file_id, "002250601", 9);
	assert_false(got.blocked);
	free(b.p);

	/* neither: refused */
	struct clr_file_info none = {.scheme = CLR_MASTERCARD};
	assert_null(clr_writer_open(mem_open(&m), &none));
	b = mem_close(&m);
	free(b.p);
}

/* Records the reader would refuse or read back differently are refused,
 * with a reason, and the writer goes on. */
static void test_writer_refuses(void **state)
{
	(void)state;
	struct clr_record bad[8];
	for (size_t i = 0; i < 8; i++)
		bad[i] = golden[0];
	strcpy(bad[0].proc, "200000");                /* presentment with a credit's DE 3 */
	bad[1].kind = CLR_CREDIT;                     /* credit with a purchase's DE 3 */
	bad[2].arn[0] = '\0';                         /* 1240 without DE 31 */
	bad[3].currency = 0;
	bad[4].amount = -1;
	strcpy(bad[5].merchant_name, "A\\B");
	bad[6].kind = CLR_REPRESENTMENT;
	strcpy(bad[6].func, "200");
	bad[7].reversal = true;                       /* kind says not a reversal */
	struct mem m;
	struct clr_file_info info = {.scheme = CLR_MASTERCARD, .file_id = FILE_ID};
	struct clr_writer *w = clr_writer_open(mem_open(&m), &info);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(clr_writer_add(w, &bad[i]), -1);
		assert_true(clr_writer_error(w)[0] != '\0');
	}
	assert_int_equal(clr_writer_add(w, &golden[1]), 0);
	assert_int_equal(clr_writer_close(w), 0);
	struct buf b = mem_close(&m);
	struct got g = {0};
	struct clr_file_info got;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(b.p, b.len, &got, collect, &g, &err), 0);
	assert_int_equal(got.records, 1);
	assert_int_equal(got.messages, 3);
	assert_string_equal(g.r[0].arn, golden[1].arn);
	free(g.r);
	free(b.p);
}

/* PDS 0301 has 16 digits: amounts summing past them cannot be written. */
static void test_writer_checksum_limit(void **state)
{
	(void)state;
	struct clr_record r = golden[0];
	r.amount = 999999999999;
	struct mem m;
	struct clr_file_info info = {.scheme = CLR_MASTERCARD, .file_id = FILE_ID};
	struct clr_writer *w = clr_writer_open(mem_open(&m), &info);
	for (int i = 0; i < 10001; i++)
		assert_int_equal(clr_writer_add(w, &r), 0);
	assert_int_equal(clr_writer_close(w), -1);
	struct buf b = mem_close(&m);
	free(b.p);
}

/* ----------------------------------------------------------- round trip */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

static void rnd_str(char *dst, size_t max, const char *alphabet, bool may_be_empty)
{
	size_t n = rnd(max + 1);
	if (!may_be_empty && n == 0)
		n = 1;
	size_t k = strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[rnd(k)];
	dst[n] = '\0';
	while (n > 0 && dst[n - 1] == ' ')   /* the reader trims trailing spaces */
		dst[--n] = '\0';
	if (!may_be_empty && n == 0)
		dst[n++] = alphabet[0], dst[n] = '\0';
}

static void rnd_digits(char *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)('0' + rnd(10));
	dst[n] = '\0';
}

static const char TEXT[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-&'/";

static void rnd_record(struct clr_record *r)
{
	static const enum clr_kind kinds[] = {CLR_PRESENTMENT, CLR_REPRESENTMENT, CLR_CREDIT,
	                                      CLR_PRESENTMENT_REVERSAL, CLR_CREDIT_REVERSAL, CLR_CHARGEBACK, CLR_FEE};
	memset(r, 0, sizeof *r);
	r->kind = kinds[rnd(7)];
	bool credit = r->kind == CLR_CREDIT || r->kind == CLR_CREDIT_REVERSAL;
	r->reversal = r->kind == CLR_PRESENTMENT_REVERSAL || r->kind == CLR_CREDIT_REVERSAL ||
	              ((r->kind == CLR_REPRESENTMENT || r->kind == CLR_FEE) && rnd(4) == 0);
	switch (r->kind) {
	case CLR_REPRESENTMENT: strcpy(r->func, rnd(2) ? "205" : "282"); strcpy(r->mti, "1240"); break;
	case CLR_CHARGEBACK: strcpy(r->func, rnd(2) ? "450" : "453"); strcpy(r->mti, "1442"); break;
	case CLR_FEE: strcpy(r->func, rnd(2) ? "700" : "780"); strcpy(r->mti, "1740"); break;
	default: strcpy(r->func, "200"); strcpy(r->mti, "1240"); break;
	}
	rnd_digits(r->proc, 6);
	if (credit)
		memcpy(r->proc, "20", 2);
	else if (r->proc[0] == '2' && r->proc[1] == '0')
		r->proc[0] = '0';
	if (r->kind != CLR_FEE || rnd(2))
		rnd_digits(r->pan, 12 + rnd(8));
	r->amount = (int64_t)rnd(1000000000000ull);
	r->currency = (uint16_t)(1 + rnd(999));
	if (rnd(2)) {
		r->bill_amount = (int64_t)rnd(1000000000000ull);
		r->bill_currency = (uint16_t)(1 + rnd(999));
	}
	if (rnd(4)) {
		rnd_digits(r->txn_date, 8);
		memcpy(r->txn_date, "20", 2);
	}
	rnd_str(r->approval, 6, TEXT, true);
	if (r->kind != CLR_FEE || rnd(2))
		rnd_digits(r->arn, 23);
	rnd_digits(r->acquirer_id, rnd(12));
	rnd_str(r->terminal_id, 8, TEXT, true);
	rnd_str(r->merchant_id, 15, TEXT, true);
	if (rnd(4)) {
		rnd_str(r->merchant_name, 25, TEXT, false);
		rnd_str(r->merchant_city, 13, TEXT, true);
		rnd_str(r->merchant_country, 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", true);
	}
	if (rnd(2))
		rnd_digits(r->mcc, 4);
	if (rnd(2))
		rnd_digits(r->reason, 4);
}

static void roundtrip(size_t n, bool blocked)
{
	struct clr_record *recs = calloc(n, sizeof *recs);
	assert_non_null(recs);
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		rnd_record(&recs[i]);
		total += recs[i].amount;
	}
	struct buf b = write_file(recs, n, blocked, FILE_ID);
	struct got g = {0};
	struct clr_file_info info;
	struct clr_error err;
	int rc = clr_ipm_read(b.p, b.len, &info, collect, &g, &err);
	if (rc != 0)
		fail_msg("%d at %llu record %u: %s", rc, (unsigned long long)err.offset, err.record, err.reason);
	assert_int_equal(info.blocked, blocked);
	assert_int_equal(info.records, n);
	assert_int_equal(info.messages, n + 2);
	assert_int_equal(info.amount_total, total);
	assert_int_equal(g.n, n);
	for (size_t i = 0; i < n; i++) {
		recs[i].seq = (uint32_t)i + 2;
		recs[i].offset = g.r[i].offset;
		assert_true(i == 0 || g.r[i].offset > g.r[i - 1].offset);
		assert_record(&recs[i], &g.r[i]);
	}
	free(g.r);
	free(b.p);
	free(recs);
}

static void test_roundtrip(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		roundtrip(1 + rnd(300), false);
		roundtrip(1 + rnd(300), true);
	}
	roundtrip(0, false);
	roundtrip(0, true);
}

/* The callback's non-zero return stops the read and is returned. */
static void test_callback_stops(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");
	struct got g = {.stop_at = 3};
	struct clr_file_info info;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(b.p, b.len, &info, collect, &g, &err), 7);
	assert_int_equal(g.n, 3);
	free(g.r);
	free(b.p);
}

/* ------------------------------------------------------------ structure */

/* Every prefix of the file is a partial input: only the whole file (with or
 * without its closing RDW of 0) reads; every other fails inside the prefix. */
static void test_every_prefix(void **state)
{
	(void)state;
	const char *names[] = {"ipm-sample.ipm", "ipm-sample-blocked.ipm"};
	for (size_t f = 0; f < 2; f++) {
		struct buf b = load(names[f]);
		for (size_t len = 0; len < b.len; len++) {
			struct clr_file_info info;
			struct clr_error err;
			int rc = clr_ipm_read(b.p, len, &info, ignore, NULL, &err);
			if (f == 0 && len == b.len - 4) {
				assert_int_equal(rc, 0);
				continue;
			}
			if (rc != -1 || err.offset > len)
				fail_msg("%s prefix %zu: %d at %llu: %s", names[f], len, rc, (unsigned long long)err.offset,
				         err.reason);
		}
		free(b.p);
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* At every message boundary k (RDW offset at[k], message k + 1): truncate,
 * break the RDW, break the MTI. Each fails there, naming that message. */
static void test_boundaries(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");
	size_t at[16];
	size_t n = boundaries(&b, at, 16);
	assert_int_equal(n, 10);
	for (size_t k = 0; k < n; k++) {
		uint32_t rec = (uint32_t)k + 1;
		uint32_t len = (uint32_t)b.p[at[k]] << 24 | (uint32_t)b.p[at[k] + 1] << 16 |
		               (uint32_t)b.p[at[k] + 2] << 8 | b.p[at[k] + 3];

		struct buf t = copy(&b, at[k]);
		expect_fail(&t, at[k], rec, k ? "without a file trailer" : "empty");
		free(t.p);

		static const uint32_t rdws[] = {0, 1, 11, 0xffffffffu, 0x40404040u, 9000};
		for (size_t i = 0; i < sizeof rdws / sizeof rdws[0]; i++) {
			t = copy(&b, b.len);
			put32(t.p + at[k], rdws[i]);
			expect_fail(&t, at[k], rec, NULL);
			free(t.p);
		}
		for (int d = -1; d <= 1; d += 2) {
			t = copy(&b, b.len);
			put32(t.p + at[k], (uint32_t)((int64_t)len + d));
			expect_fail(&t, at[k], rec, "RDW");
			free(t.p);
		}

		static const char *const mtis[] = {"\x00\xf2\xf4\xf0", "\xf1\xf1\xf0\xf0", "\xf1\x62\xf4\xf4"};
		for (size_t i = 0; i < 3; i++) {
			t = copy(&b, b.len);
			memcpy(t.p + at[k] + 4, mtis[i], 4);
			expect_fail(&t, at[k], rec, "MTI");
			free(t.p);
		}
	}
	free(b.p);
}

/* The same in the blocked file, where the RDW offsets skip the pad bytes. */
static void test_boundaries_blocked(void **state)
{
	(void)state;
	struct buf u = load("ipm-sample.ipm");
	struct buf b = load("ipm-sample-blocked.ipm");
	size_t at[16];
	size_t n = boundaries(&u, at, 16);
	for (size_t k = 0; k < n; k++) {
		uint32_t rec = (uint32_t)k + 1;
		struct buf t = copy(&b, b.len);
		for (size_t i = 0; i < 4; i++)
			t.p[blk(at[k] + i)] = 0xff;
		expect_fail(&t, blk(at[k]), rec, "RDW");
		free(t.p);
		t = copy(&b, b.len);
		t.p[blk(at[k] + 4)] = 0x00;
		expect_fail(&t, blk(at[k]), rec, "MTI");
		free(t.p);
	}
	/* cut after the first block: the message that crosses into the second
	 * (at 897, the 7th) runs past the end */
	struct buf t = copy(&b, 1014);
	expect_fail(&t, 897, 7, "only 111 remain");
	free(t.p);
	free(b.p);
	free(u.p);
}

static void test_trailer(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");
	const size_t trailer = 1392;

	struct buf t = copy(&b, b.len);
	size_t o = find(&t, "0306008", trailer);
	t.p[o + 7 + 7] = clr_a2e['9'];   /* 00000010 -> 00000019 */
	expect_fail(&t, trailer, 10, "trailer PDS 0306 says 19 messages, file has 10");
	free(t.p);

	t = copy(&b, b.len);
	o = find(&t, "0301016", trailer);
	t.p[o + 7 + 15] = clr_a2e['9'];  /* 54288 -> 54289 */
	expect_fail(&t, trailer, 10, "trailer PDS 0301 says DE 4 amounts sum to 54289, file's sum to 54288");
	free(t.p);

	t = copy(&b, b.len);
	o = find(&t, "0306008", trailer);
	t.p[o + 8] = clr_a2e['X'];
	expect_fail(&t, o + 7, 10, "PDS 0306 is not 8 digits");
	free(t.p);

	t = copy(&b, b.len);
	o = find(&t, "0105025", trailer);
	t.p[o + 7 + 24] = clr_a2e['3'];
	expect_fail(&t, o + 7, 10, "differs from the header");
	free(t.p);

	/* the trailer without its RDW of 0 is fine; a 1240 after it is not */
	t = copy(&b, b.len - 4);
	struct clr_file_info info;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, ignore, NULL, &err), 0);
	free(t.p);
	t = copy(&b, b.len + 206);
	memcpy(t.p + b.len - 4, b.p + 70, 206);
	memset(t.p + b.len + 202, 0, 4);
	expect_fail(&t, b.len - 4, 11, "a message (MTI 1240) after the trailer");
	free(t.p);
	/* after the RDW of 0 only 0x40 padding */
	t = copy(&b, b.len + 3);
	memcpy(t.p + b.len, "\x40\x40\x40", 3);
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, ignore, NULL, &err), 0);
	t.p[b.len + 1] = 0x00;
	expect_fail(&t, b.len + 1, 11, "after the trailer");
	free(t.p);
	free(b.p);
}

static void test_header(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");
	/* without the header: the first message is a 1240 */
	struct buf t = {malloc(b.len - 70), b.len - 70};
	memcpy(t.p, b.p + 70, t.len);
	expect_fail(&t, 0, 1, "does not start with a file header");
	free(t.p);
	/* a second header */
	t = copy(&b, b.len + 70);
	memmove(t.p + 140, t.p + 70, b.len - 70);
	memcpy(t.p + 70, b.p, 70);
	expect_fail(&t, 70, 2, "a second file header");
	free(t.p);
	/* header without PDS 0105: its tag made 0106 */
	t = copy(&b, b.len);
	t.p[find(&t, "0105025", 0) + 3] = clr_a2e['6'];
	expect_fail(&t, 0, 1, "no PDS 0105");
	free(t.p);
	/* starts with the RDW of 0 */
	t = copy(&b, 4);
	memset(t.p, 0, 4);
	expect_fail(&t, 0, 1, "no file header");
	free(t.p);
	free(b.p);
}

/* Faults inside messages, at the field's offset. The purchase (message 2)
 * is at 70: MTI 74, bitmaps 78, DE 2 at 94 (LL + 16 digits), DE 3 at 112,
 * DE 4 at 118. */
static void test_fields(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");

	struct buf t = copy(&b, b.len);
	t.p[4 + 4 + 1] |= 0x08;                       /* header: DE 13, not in the layout */
	expect_fail(&t, 24, 1, "DE 13 is in the bitmap but not in the IPM layout");
	free(t.p);

	t = copy(&b, b.len);
	t.p[70 + 4 + 4 + 15] |= 0x01;                 /* purchase: DE 128, not in the layout */
	expect_fail(&t, 70 + 4 + 202, 2, "DE 128");
	free(t.p);

	t = copy(&b, b.len);
	t.p[94] = 0xf2;                               /* DE 2 LL "16" -> "26" > 19 */
	expect_fail(&t, 94, 2, "DE 2 says 26 bytes, more than its maximum of 19");
	free(t.p);

	t = copy(&b, b.len);
	t.p[94] = clr_a2e['A'];
	expect_fail(&t, 94, 2, "DE 2's length prefix is not EBCDIC digits");
	free(t.p);

	t = copy(&b, b.len);
	t.p[118 + 5] = clr_a2e['A'];                  /* DE 4 */
	expect_fail(&t, 118, 2, "DE 4 has a non-digit");
	free(t.p);

	/* the fee (message 9, at 1294; DE 24 after RDW, MTI, bitmaps, DE 2, 3, 4
	 * and 12) as a 1240/200: no DE 31 */
	t = copy(&b, b.len);
	memcpy(t.p + 1294 + 4, "\xf1\xf2\xf4\xf0", 4);
	memcpy(t.p + 1294 + 24 + 18 + 6 + 12 + 12, "\xf2\xf0\xf0", 3);
	expect_fail(&t, 1294, 9, "1240 message has no DE 31 (acquirer reference data)");
	free(t.p);

	/* a 1240 with function code 123 (the ATM withdrawal, message 4 at 337,
	 * its DE 24 at 409) */
	t = copy(&b, b.len);
	memcpy(t.p + 409, "\xf1\xf2\xf3", 3);
	expect_fail(&t, 409, 4, "1240 with function code 123");
	free(t.p);

	/* DE 71 going backwards: the ATM withdrawal's 00000004 -> 00000001 */
	t = copy(&b, b.len);
	memcpy(t.p + 337 + 4 + 186 - 8, "\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf1", 8);
	expect_fail(&t, 337 + 4 + 186 - 8, 4, "DE 71");
	free(t.p);

	/* LL 00: the layout's lengths start at 1 */
	size_t name = find(&b, "ACME GROCERY", 70);
	t = copy(&b, b.len);
	memcpy(t.p + name - 2, "\xf0\xf0", 2);
	expect_fail(&t, name - 2, 2, "DE 43 has length 0");
	free(t.p);

	/* PDS: the reversal's (message 7 at 897) 0025 says 8 bytes, DE 48 has 7 after it */
	size_t o = find(&b, "0025007R", 897);
	t = copy(&b, b.len);
	t.p[o + 6] = clr_a2e['8'];
	expect_fail(&t, o, 7, "PDS 0025 says 8 bytes but only 7 remain");
	free(t.p);
	t = copy(&b, b.len);
	t.p[o + 2] = clr_a2e['x'];
	expect_fail(&t, o, 7, "not EBCDIC digits");
	free(t.p);
	t = copy(&b, b.len);
	t.p[o + 7] = clr_a2e['X'];
	expect_fail(&t, o + 7, 7, "neither R nor a space");
	free(t.p);
	/* a space there: not a reversal */
	t = copy(&b, b.len);
	t.p[o + 7] = 0x40;
	struct got g = {0};
	struct clr_file_info info;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, collect, &g, &err), 0);
	assert_int_equal(g.r[4].kind, CLR_PRESENTMENT);
	assert_false(g.r[4].reversal);
	free(g.r);
	free(t.p);
	free(b.p);
}

/* Text that is not printable ASCII reads as '?'; no callback, no info and
 * no error structure are all allowed. */
static void test_text_and_nulls(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample.ipm");
	size_t name = find(&b, "ACME GROCERY", 70);
	b.p[name + 2] = 0x00;                         /* EBCDIC NUL */
	b.p[name + 3] = 0x51;                         /* EBCDIC e-acute: Latin-1, not ASCII */
	struct got g = {0};
	struct clr_file_info info;
	struct clr_error err;
	assert_int_equal(clr_ipm_read(b.p, b.len, &info, collect, &g, &err), 0);
	assert_string_equal(g.r[0].merchant_name, "AC?? GROCERY");
	free(g.r);
	assert_int_equal(clr_ipm_read(b.p, b.len, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(clr_ipm_read(b.p, b.len - 10, NULL, NULL, NULL, NULL), -1);
	free(b.p);
}

static void test_blocking(void **state)
{
	(void)state;
	struct buf b = load("ipm-sample-blocked.ipm");
	struct clr_file_info info;
	struct clr_error err;

	struct buf t = copy(&b, b.len);
	t.p[1012] = 0x00;                             /* the first block's pad */
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, ignore, NULL, &err), -1);
	assert_non_null(strstr(err.reason, "the pad bytes at offset 1012 are 00 40"));
	free(t.p);

	t = copy(&b, b.len);
	t.p[2027] = 0x00;                             /* the last block's pad */
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, ignore, NULL, &err), -1);
	assert_non_null(strstr(err.reason, "the pad bytes at offset 2026 are 40 00"));
	free(t.p);

	t = copy(&b, b.len - 1);                      /* not a multiple of 1014 */
	assert_int_equal(clr_ipm_read(t.p, t.len, &info, ignore, NULL, &err), -1);
	assert_non_null(strstr(err.reason, "not a multiple of 1014"));
	free(t.p);

	/* blocked without its trailer: the end is the fill, not an RDW of 0x40404040 */
	struct buf u = load("ipm-sample.ipm");
	t = copy(&u, 2 * 1014);
	memset(t.p + 1392, 0x40, 2 * 1014 - 1392);   /* the stream cut before the trailer, filled */
	memmove(t.p + 1014, t.p + 1012, 1012);       /* then blocked */
	t.p[1012] = t.p[1013] = 0x40;
	expect_fail(&t, 1394, 10, "the file ends at offset 1394 without a file trailer");
	free(t.p);
	free(u.p);

	/* the fill of the last block must be 0x40 */
	t = copy(&b, b.len);
	t.p[2020] = 0x00;
	expect_fail(&t, 2020, 11, "after the trailer");
	free(t.p);
	free(b.p);
}

/* Block boundaries everywhere in messages: inside RDWs, at their first
 * byte. Every offset read back names an RDW followed by the record's MTI. */
static void test_blocked_edges(void **state)
{
	(void)state;
	unsigned split_rdw = 0, at_rdw = 0;
	for (int i = 0; i < 1000; i++) {
		struct clr_record r[8];
		for (size_t k = 0; k < 8; k++)
			rnd_record(&r[k]);
		struct buf b = write_file(r, 8, true, FILE_ID);
		struct got g = {0};
		struct clr_file_info info;
		struct clr_error err;
		int rc = clr_ipm_read(b.p, b.len, &info, collect, &g, &err);
		if (rc != 0)
			fail_msg("%d at %llu record %u: %s", rc, (unsigned long long)err.offset, err.record, err.reason);
		assert_int_equal(g.n, 8);
		for (size_t k = 0; k < 8; k++) {
			size_t l = (size_t)g.r[k].offset;
			l -= 2 * (l / 1014);
			split_rdw += l % 1012 > 1008;
			at_rdw += l % 1012 == 0;
			uint8_t mti[4], want[4];
			for (size_t j = 0; j < 4; j++) {
				mti[j] = b.p[blk(l + 4 + j)];
				want[j] = clr_a2e[(uint8_t)g.r[k].mti[j]];
			}
			assert_memory_equal(mti, want, 4);
		}
		free(g.r);
		free(b.p);
	}
	assert_true(split_rdw > 0);
	assert_true(at_rdw > 0);
}

static void test_detect(void **state)
{
	(void)state;
	const char *names[] = {"ipm-sample.ipm", "ipm-sample-blocked.ipm", "ipm-records.ipm",
	                       "ipm-records-blocked.ipm"};
	for (size_t i = 0; i < 4; i++) {
		struct buf b = load(names[i]);
		assert_int_equal(clr_detect(b.p, b.len), CLR_MASTERCARD);
		struct clr_file_info info;
		struct clr_error err;
		assert_int_equal(clr_read(b.p, b.len, &info, ignore, NULL, &err), 0);
		assert_int_equal(info.blocked, i % 2 == 1);
		free(b.p);
	}
	static const uint8_t junk[16] = "not an IPM file";
	assert_int_equal(clr_detect(junk, sizeof junk), CLR_SCHEME_UNKNOWN);
}

/* ---------------------------------------------------------------- bench */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bench(void **state)
{
	(void)state;
	const char *env = getenv("IPM_BENCH");
	size_t n = env ? (size_t)strtoull(env, NULL, 10) : 20000;
	struct clr_record r[64];
	for (size_t i = 0; i < 64; i++) {
		rnd_record(&r[i]);
		r[i].amount %= 1000000;   /* PDS 0301 holds 16 digits */
	}
	for (int blocked = 0; blocked < 2; blocked++) {
		/* to a real (temporary) file: open_memstream's growth would dominate */
		FILE *f = tmpfile();
		assert_non_null(f);
		struct clr_file_info info = {.scheme = CLR_MASTERCARD, .file_id = FILE_ID, .blocked = blocked};
		double t0 = now();
		struct clr_writer *w = clr_writer_open(f, &info);
		for (size_t i = 0; i < n; i++)
			if (clr_writer_add(w, &r[i % 64]) != 0)
				fail_msg("%s", clr_writer_error(w));
		assert_int_equal(clr_writer_close(w), 0);
		double t1 = now();
		struct buf b = {malloc((size_t)ftell(f)), (size_t)ftell(f)};
		assert_non_null(b.p);
		rewind(f);
		assert_int_equal(fread(b.p, 1, b.len, f), b.len);
		fclose(f);
		struct clr_error err;
		double t2 = now();
		assert_int_equal(clr_ipm_read(b.p, b.len, &info, ignore, NULL, &err), 0);
		double t3 = now();
		assert_int_equal(info.records, n);
		print_message("IPM %s, %zu records, %zu bytes: write %.3f s, read %.3f s\n",
		              blocked ? "blocked" : "unblocked", n, b.len, t1 - t0, t3 - t2);
		free(b.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_read),
		cmocka_unit_test(test_golden_write),
		cmocka_unit_test(test_writer_file_id),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_writer_checksum_limit),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_boundaries_blocked),
		cmocka_unit_test(test_trailer),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_text_and_nulls),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_blocked_edges),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
