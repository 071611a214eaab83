/*
 * Building messages: iso_set and friends, iso_get/iso_get_num, iso_unset,
 * iso_set_view, and iso_pack's refusal of every buffer too small.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

struct setcase {
	unsigned de;
	const char *val;
	size_t len; /* 0: strlen(val) unless `empty` */
	int empty;
	int want;
};

static const struct setcase sets[] = {
    /* no such data element */
    {0, "1", 0, 0, ISO_ERR_NO_FIELD},
    {1, "1", 0, 0, ISO_ERR_NO_FIELD},
    {65, "1", 0, 0, ISO_ERR_NO_FIELD},
    {129, "1", 0, 0, ISO_ERR_NO_FIELD},
    /* n fixed */
    {3, "011000", 0, 0, 0},
    {3, "1", 0, 0, 0},
    {3, "0110001", 0, 0, ISO_ERR_TOO_LONG},
    {3, "", 0, 1, ISO_ERR_BAD_LENGTH},
    {3, "01a000", 0, 0, ISO_ERR_NOT_DIGIT},
    {3, "01=000", 0, 0, ISO_ERR_NOT_DIGIT},
    {3, " 11000", 0, 0, ISO_ERR_NOT_DIGIT},
    {90, "020000012311230930150000012345600000000000", 0, 0, 0},
    {90, "0200000123112309301500000123456000000000000", 0, 0, ISO_ERR_TOO_LONG},
    /* n variable */
    {2, "4761739001010010", 0, 0, 0},
    {2, "4761739001010010123", 0, 0, 0},
    {2, "47617390010100101234", 0, 0, ISO_ERR_TOO_LONG},
    {2, "", 0, 1, 0},
    {2, "4761739001010=10", 0, 0, ISO_ERR_NOT_DIGIT},
    {32, "12345678901", 0, 0, 0},
    {32, "123456789012", 0, 0, ISO_ERR_TOO_LONG},
    /* z: digits and '=' only */
    {35, "4761739001010010=28121011234567890", 0, 0, 0},
    {35, "4761739001010010D28121011234567890", 0, 0, ISO_ERR_BAD_CHAR},
    {35, "4761739001010010=2812101123456789012345", 0, 0, ISO_ERR_TOO_LONG},
    {35, "=", 0, 0, 0},
    {35, "", 0, 1, 0},
    /* ans */
    {41, "ATM00001", 0, 0, 0},
    {41, "ATM000012", 0, 0, ISO_ERR_TOO_LONG},
    {41, "ATM\t0001", 0, 0, ISO_ERR_BAD_CHAR},
    {41, "ATM\x7f", 0, 0, ISO_ERR_BAD_CHAR},
    {41, "ATM\xc3\xa9", 0, 0, ISO_ERR_BAD_CHAR},
    {41, "", 0, 1, ISO_ERR_BAD_LENGTH},
    {48, "", 0, 1, 0},
    {48, "a=b ~!", 0, 0, 0},
    {48, "a\nb", 0, 0, ISO_ERR_BAD_CHAR},
    /* b fixed: exactly the size */
    {52, "\x04\x12\x8a\x3c\x5d\x6e\x7f\x80", 8, 0, 0},
    {52, "\x00\x12\x8a\x3c\x5d\x6e\x7f\x80", 8, 0, 0},
    {52, "\x04\x12\x8a\x3c\x5d\x6e\x7f", 7, 0, ISO_ERR_BAD_LENGTH},
    {52, "\x04\x12\x8a\x3c\x5d\x6e\x7f\x80\x00", 9, 0, ISO_ERR_TOO_LONG},
    {96, "0123456789abcdef", 16, 0, 0},
    {96, "0123456789abcde", 15, 0, ISO_ERR_BAD_LENGTH},
    /* x+n: sign and every digit */
    {28, "C00000150", 0, 0, 0},
    {28, "D00000150", 0, 0, 0},
    {28, "C0000015", 0, 0, ISO_ERR_BAD_LENGTH},
    {28, "C000001500", 0, 0, ISO_ERR_TOO_LONG},
    {28, "X00000150", 0, 0, ISO_ERR_BAD_SIGN},
    {28, "c00000150", 0, 0, ISO_ERR_BAD_SIGN},
    {28, "000000150", 0, 0, ISO_ERR_BAD_SIGN},
    {28, "C0000015A", 0, 0, ISO_ERR_NOT_DIGIT},
    {28, "", 0, 1, ISO_ERR_BAD_LENGTH},
    {97, "D0000000000012345", 0, 0, 0},
    {97, "D000000000012345", 0, 0, ISO_ERR_BAD_LENGTH},
};

static void t_set_table(void **state)
{
	(void)state;
	static struct iso_msg m;
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		const struct setcase *c = &sets[i];
		size_t len = c->len ? c->len : c->empty ? 0 : strlen(c->val);
		iso_init(&m, "0200");
		int rc = iso_set(&m, c->de, c->val, len);
		if (rc != c->want)
			fail_msg("row %zu DE %u: %d (%s), want %d (%s)", i, c->de, rc, iso_strerror(rc),
			         c->want, iso_strerror(c->want));
		/* a refused value leaves the element absent */
		assert_int_equal(iso_has(&m, c->de), rc == 0);
		/* the copying setter agrees */
		iso_init(&m, "0200");
		assert_int_equal(iso_set_copy(&m, c->de, c->val, len), c->want);
		assert_int_equal(m.scratch_used, c->want == 0 ? len : 0);
		if (c->len == 0 && !c->empty) {
			iso_init(&m, "0200");
			assert_int_equal(iso_set_str(&m, c->de, c->val), c->want);
		}
	}
}

static void t_set_does_not_copy(void **state)
{
	(void)state;
	static struct iso_msg m;
	char v[] = "000123", got[8];
	iso_init(&m, "0200");
	assert_int_equal(iso_set(&m, 11, v, 6), 0);
	v[5] = '4';
	assert_int_equal(iso_get(&m, 11, got, sizeof got), 6);
	assert_string_equal(got, "000124");
	/* iso_set_copy does */
	assert_int_equal(iso_set_copy(&m, 11, v, 6), 0);
	v[5] = '5';
	assert_int_equal(iso_get(&m, 11, got, sizeof got), 6);
	assert_string_equal(got, "000124");
}

static void t_set_copy_scratch(void **state)
{
	(void)state;
	static struct iso_msg m;
	static char big[ISO_SCRATCH + 1];
	memset(big, 'A', sizeof big);
	iso_init(&m, "0200");
	assert_int_equal(iso_set_copy(&m, 48, big, ISO_SCRATCH + 1), ISO_ERR_NOSPACE);
	assert_false(iso_has(&m, 48));
	assert_int_equal(iso_set_copy(&m, 48, big, ISO_SCRATCH - 6), 0);
	assert_int_equal(iso_set_copy(&m, 11, "000001", 6), 0);
	assert_int_equal(m.scratch_used, ISO_SCRATCH);
	assert_int_equal(iso_set_copy(&m, 39, "0", 1), ISO_ERR_NOSPACE);
	assert_int_equal(iso_set_num(&m, 4, 1), ISO_ERR_NOSPACE);
	assert_false(iso_has(&m, 39));
	/* iso_init starts over */
	iso_init(&m, "0200");
	assert_int_equal(m.scratch_used, 0);
	assert_int_equal(iso_set_copy(&m, 39, "00", 2), 0);
}

static void t_set_num(void **state)
{
	(void)state;
	static struct iso_msg m;
	char got[64];
	uint64_t v;
	iso_init(&m, "0200");
	assert_int_equal(iso_set_num(&m, 4, 10000), 0);
	assert_int_equal(iso_get(&m, 4, got, sizeof got), 12);
	assert_string_equal(got, "000000010000");
	assert_int_equal(iso_set_num(&m, 4, 999999999999u), 0);
	assert_int_equal(iso_set_num(&m, 4, 1000000000000u), ISO_ERR_TOO_LONG);
	assert_int_equal(iso_get(&m, 4, got, sizeof got), 12);
	assert_string_equal(got, "999999999999");
	assert_int_equal(iso_set_num(&m, 27, 9), 0);
	assert_int_equal(iso_set_num(&m, 27, 10), ISO_ERR_TOO_LONG);
	assert_int_equal(iso_set_num(&m, 70, 1), 0);
	assert_int_equal(iso_get(&m, 70, got, sizeof got), 3);
	assert_string_equal(got, "001");
	/* variable: no leading zeros */
	assert_int_equal(iso_set_num(&m, 32, 123456), 0);
	assert_int_equal(iso_get(&m, 32, got, sizeof got), 6);
	assert_string_equal(got, "123456");
	assert_int_equal(iso_set_num(&m, 32, 0), 0);
	assert_int_equal(iso_get(&m, 32, got, sizeof got), 1);
	assert_string_equal(got, "0");
	assert_int_equal(iso_set_num(&m, 2, UINT64_MAX), ISO_ERR_TOO_LONG); /* 20 digits */
	assert_int_equal(iso_set_num(&m, 2, 9999999999999999999u), 0);
	assert_int_equal(iso_get_num(&m, 2, &v), 0);
	assert_true(v == 9999999999999999999u);
	/* not an n field */
	assert_int_equal(iso_set_num(&m, 41, 1), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_set_num(&m, 28, 1), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_set_num(&m, 35, 1), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_set_num(&m, 65, 1), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_set_num(&m, 1, 1), ISO_ERR_NO_FIELD);
}

static void t_get(void **state)
{
	(void)state;
	static struct iso_msg m;
	char got[32];
	uint64_t v = 77;
	iso_init(&m, "0200");
	assert_int_equal(iso_get(&m, 11, got, sizeof got), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_get(&m, 0, got, sizeof got), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_get(&m, 1, got, sizeof got), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_get(&m, 129, got, sizeof got), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_get_num(&m, 11, &v), ISO_ERR_NO_FIELD);
	assert_int_equal(v, 77);
	assert_int_equal(iso_set_str(&m, 11, "000123"), 0);
	/* the NUL needs room too */
	assert_int_equal(iso_get(&m, 11, got, 6), ISO_ERR_NOSPACE);
	assert_int_equal(iso_get(&m, 11, got, 0), ISO_ERR_NOSPACE);
	memset(got, 'x', sizeof got);
	assert_int_equal(iso_get(&m, 11, got, 7), 6);
	assert_memory_equal(got, "000123", 7);
	assert_int_equal(iso_get_num(&m, 11, &v), 0);
	assert_int_equal(v, 123);
	/* types */
	assert_int_equal(iso_set_str(&m, 41, "12345678"), 0);
	assert_int_equal(iso_get_num(&m, 41, &v), ISO_ERR_NOT_DIGIT);
	assert_int_equal(iso_set_str(&m, 28, "C00000150"), 0);
	assert_int_equal(iso_get_num(&m, 28, &v), ISO_ERR_NOT_DIGIT);
	assert_int_equal(iso_set_str(&m, 90, "020000012311230930150000012345600000000000"), 0);
	assert_int_equal(iso_get_num(&m, 90, &v), ISO_ERR_TOO_LONG);
	/* b fields give bytes */
	assert_int_equal(iso_set(&m, 52, "\x00\x01\x02\x03\xfc\xfd\xfe\xff", 8), 0);
	assert_int_equal(iso_get(&m, 52, got, sizeof got), 8);
	assert_memory_equal(got, "\x00\x01\x02\x03\xfc\xfd\xfe\xff", 8);
}

/* iso_get_num reads the decoded wire form directly (BCD, odd lengths). */
static void t_get_num_decoded(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t msg[64];
	uint64_t v;
	/* DE 3 = 000001, DE 22 = 021, DE 32 = 12345 (odd, trailing pad) */
	size_t ml = t_spec("02 00 20 00 04 01 00 00 00 00 | 00 00 01 | 00 21 | 05 12 34 50", msg,
	                   sizeof msg);
	assert_int_equal(iso_unpack(ISO_BINARY87, msg, ml, &m, NULL), 0);
	assert_int_equal(iso_get_num(&m, 3, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(iso_get_num(&m, 22, &v), 0);
	assert_int_equal(v, 21);
	assert_int_equal(iso_get_num(&m, 32, &v), 0);
	assert_int_equal(v, 12345);
}

static void t_unset(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t out[256], want[256];
	size_t ol, wl;
	iso_init(&m, "0800");
	assert_int_equal(iso_set_str(&m, 11, "000001"), 0);
	assert_int_equal(iso_set_str(&m, 70, "301"), 0);
	assert_true(iso_has(&m, 70));
	assert_true(iso_has(&m, 1) || !iso_has(&m, 1)); /* bit 1 is the encoder's business */
	iso_unset(&m, 70);
	assert_false(iso_has(&m, 70));
	/* no DE above 64 left: no secondary bitmap */
	assert_int_equal(iso_pack(ISO_ASCII87, &m, out, sizeof out, &ol, NULL), 0);
	wl = t_spec("'0800' '0020000000000000' '000001'", want, sizeof want);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
	/* harmless on absent or impossible elements */
	iso_unset(&m, 70);
	iso_unset(&m, 0);
	iso_unset(&m, 1);
	iso_unset(&m, 65);
	iso_unset(&m, 129);
	iso_unset(&m, 100000);
	assert_true(iso_has(&m, 11));
	iso_unset(&m, 11);
	assert_false(iso_has(&m, 11));
	assert_int_equal(iso_get(&m, 11, (char *)out, sizeof out), ISO_ERR_NO_FIELD);
	/* re-set after unset */
	assert_int_equal(iso_set_str(&m, 11, "000002"), 0);
	assert_true(iso_has(&m, 11));
}

/* The encoder decides bit 1 and never sends bit 65, whatever the caller
 * left in the bitmap. */
static void t_bitmap_bits_by_encoder(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t out[256], want[256];
	size_t ol, wl;
	iso_init(&m, "0800");
	assert_int_equal(iso_set_str(&m, 11, "000001"), 0);
	m.bitmap[0] |= 0x80; /* bit 1 without any DE > 64 */
	m.bitmap[8] |= 0x80; /* bit 65 */
	assert_int_equal(iso_pack(ISO_BINARY87, &m, out, sizeof out, &ol, NULL), 0);
	wl = t_spec("08 00 00 20 00 00 00 00 00 00 00 00 01", want, sizeof want);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
	assert_int_equal(iso_set_str(&m, 128, "\x01\x02\x03\x04\x05\x06\x07\x08"), 0);
	assert_int_equal(iso_pack(ISO_BINARY87, &m, out, sizeof out, &ol, NULL), 0);
	wl = t_spec("08 00 80 20 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 01"
	            "01 02 03 04 05 06 07 08",
	            want, sizeof want);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
}

static void t_pack_mti(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t out[64];
	size_t ol = 99;
	struct iso_error e;
	static const char *const bad[] = {"0900", "1200", "02A0", "0260", "0206", "    ", "0000"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (int p = 0; p < 2; p++) {
			iso_init(&m, bad[i]);
			assert_int_equal(iso_set_str(&m, 11, "000001"), 0);
			assert_int_equal(iso_pack((enum iso_profile)p, &m, out, sizeof out, &ol, &e),
			                 ISO_ERR_MTI);
			assert_int_equal(e.code, ISO_ERR_MTI);
			assert_int_equal(e.de, 0);
			assert_int_equal(ol, 99);
		}
	}
	static const char *const good[] = {"0100", "0110", "0120", "0200", "0221", "0400",
	                                   "0421", "0500", "0800", "0810", "0805", "0840"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		iso_init(&m, good[i]);
		assert_int_equal(iso_pack(ISO_ASCII87, &m, out, sizeof out, &ol, NULL), 0);
	}
}

/* Every output size smaller than needed: ISO_ERR_NOSPACE, for each cap. */
static void nospace(enum iso_profile prof, const struct iso_msg *m, const char *name)
{
	static uint8_t full[T_MSG_MAX], out[T_MSG_MAX];
	size_t need, ol;
	assert_int_equal(iso_pack(prof, m, full, sizeof full, &need, NULL), 0);
	for (size_t cap = 0; cap < need; cap++) {
		struct iso_error e = {0, 0, 0};
		ol = 12345;
		/* the buffer ends exactly at cap, so ASan sees any write past it */
		uint8_t *o = out + sizeof out - cap;
		int rc = iso_pack(prof, m, o, cap, &ol, &e);
		if (rc != ISO_ERR_NOSPACE || e.code != ISO_ERR_NOSPACE || ol != 12345)
			fail_msg("%s %s cap %zu of %zu: %d", name, t_prof_name[prof], cap, need, rc);
	}
	assert_int_equal(iso_pack(prof, m, out, need, &ol, NULL), 0);
	assert_int_equal(ol, need);
	assert_memory_equal(out, full, need);
}

static void t_pack_nospace(void **state)
{
	(void)state;
	static struct iso_msg m;
	const struct t_sample *s;
	size_t n = t_samples(&s);
	for (size_t i = 0; i < n; i++) {
		t_sample_msg(&s[i], &m);
		nospace(ISO_ASCII87, &m, s[i].name);
		nospace(ISO_BINARY87, &m, s[i].name);
	}
	iso_init(&m, "0800");
	assert_int_equal(iso_set_str(&m, 7, "1123093015"), 0);
	assert_int_equal(iso_set_str(&m, 70, "001"), 0);
	assert_int_equal(iso_set_str(&m, 96, "0123456789ABCDEF"), 0);
	assert_int_equal(iso_set_str(&m, 97, "C0000000000012345"), 0);
	assert_int_equal(iso_set_str(&m, 28, "D00000150"), 0);
	nospace(ISO_ASCII87, &m, "0800");
	nospace(ISO_BINARY87, &m, "0800");
}

/* iso_set_view copies a field between messages, across profiles. */
static void t_set_view(void **state)
{
	(void)state;
	static struct iso_msg req, resp;
	static uint8_t in[1024], out[1024], want[1024];
	size_t il, ol, wl;
	const struct t_sample *s;
	t_samples(&s);
	t_sample_msg(&s[0], &req);
	assert_int_equal(iso_pack(ISO_BINARY87, &req, in, sizeof in, &il, NULL), 0);
	assert_int_equal(iso_unpack(ISO_BINARY87, in, il, &req, NULL), 0);
	iso_init(&resp, "0210");
	static const unsigned echo[] = {2, 3, 4, 7, 11, 32, 35, 41, 49, 52};
	for (size_t i = 0; i < sizeof echo / sizeof echo[0]; i++)
		assert_int_equal(iso_set_view(&resp, echo[i], &req.f[echo[i]]), 0);
	assert_int_equal(iso_set_view(&resp, 65, &req.f[2]), ISO_ERR_NO_FIELD);
	assert_int_equal(iso_set_view(&resp, 1, &req.f[2]), ISO_ERR_NO_FIELD);
	assert_false(iso_has(&resp, 65));
	assert_int_equal(iso_set_str(&resp, 39, "00"), 0);
	assert_int_equal(iso_pack(ISO_ASCII87, &resp, out, sizeof out, &ol, NULL), 0);
	/* the same response built from the sample's text values */
	static struct iso_msg ref;
	iso_init(&ref, "0210");
	for (size_t i = 0; i < sizeof echo / sizeof echo[0]; i++)
		assert_int_equal(iso_set(&ref, echo[i], s[0].val[echo[i]], s[0].len[echo[i]]), 0);
	assert_int_equal(iso_set_str(&ref, 39, "00"), 0);
	assert_int_equal(iso_pack(ISO_ASCII87, &ref, want, sizeof want, &wl, NULL), 0);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_set_table),
	    cmocka_unit_test(t_set_does_not_copy),
	    cmocka_unit_test(t_set_copy_scratch),
	    cmocka_unit_test(t_set_num),
	    cmocka_unit_test(t_get),
	    cmocka_unit_test(t_get_num_decoded),
	    cmocka_unit_test(t_unset),
	    cmocka_unit_test(t_bitmap_bits_by_encoder),
	    cmocka_unit_test(t_pack_mti),
	    cmocka_unit_test(t_pack_nospace),
	    cmocka_unit_test(t_set_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
