/*
 * The EMV BER-TLV walker (EMV 4.3 Book 3 Annex B): tag forms, length forms,
 * templates, padding, and truncation at every length. Tag numbers are real
 * EMV tags: 9F26 application cryptogram, 9F27 cryptogram information data,
 * 5F2A transaction currency code, 9A transaction date, 5A PAN, 70 and 77
 * templates, DF8129 (three-byte, EMV contactless Book C-2 outcome).
 */
#include "common.h"

#include <string.h>

struct want_tlv {
	uint32_t tag;
	bool constructed;
	size_t offset, voff, len;
};

struct tcase {
	const char *bytes;
	int n;                   /* objects expected before the end or the error */
	struct want_tlv t[4];
	int end;                 /* 0 clean end, ISO_ERR_TLV */
	size_t errpos;           /* it->pos on error */
};

static const struct tcase tcases[] = {
    /* empty, padding only */
    {"", 0, {{0}}, 0, 0},
    {"00 00 00", 0, {{0}}, 0, 0},
    /* one-byte tag */
    {"9A 03 26 11 23", 1, {{0x9a, false, 0, 2, 3}}, 0, 0},
    /* two-byte tags, padding between and after */
    {"9F 27 01 80 00 00 5F 2A 02 01 16 00",
     2,
     {{0x9f27, false, 0, 3, 1}, {0x5f2a, false, 6, 9, 2}},
     0,
     0},
    /* three-byte tag */
    {"DF 81 29 02 AB CD", 1, {{0xdf8129, false, 0, 4, 2}}, 0, 0},
    /* four-byte tag: the limit */
    {"DF 81 81 01 01 00", 1, {{0xdf818101, false, 0, 5, 1}}, 0, 0},
    /* five-byte tag refused at its fifth byte */
    {"DF 81 81 81 01 01 00", 0, {{0}}, ISO_ERR_TLV, 4},
    /* zero length */
    {"9F 27 00 9A 00", 2, {{0x9f27, false, 0, 3, 0}, {0x9a, false, 3, 5, 0}}, 0, 0},
    /* long forms: 81 xx, 82 xx xx, 83 xx xx xx (value bytes follow) */
    {"9F 26 81 01 AA", 1, {{0x9f26, false, 0, 4, 1}}, 0, 0},
    {"9F 26 82 00 01 AA", 1, {{0x9f26, false, 0, 5, 1}}, 0, 0},
    {"9F 26 83 00 00 01 AA", 1, {{0x9f26, false, 0, 6, 1}}, 0, 0},
    /* indefinite (80) and 84+ refused at the length byte */
    {"9F 26 80 AA 00 00", 0, {{0}}, ISO_ERR_TLV, 2},
    {"9F 26 84 00 00 00 01 AA", 0, {{0}}, ISO_ERR_TLV, 2},
    {"9F 27 01 80 9F 26 FF", 1, {{0x9f27, false, 0, 3, 1}}, ISO_ERR_TLV, 6},
    /* long form cut short */
    {"9F 26 82 00", 0, {{0}}, ISO_ERR_TLV, 2},
    /* value past the end */
    {"9F 27 02 80", 0, {{0}}, ISO_ERR_TLV, 3},
    {"9F 26 81 09 00 00 00 00 00 00 00 00", 0, {{0}}, ISO_ERR_TLV, 4},
    {"9F 26 83 FF FF FF 00", 0, {{0}}, ISO_ERR_TLV, 6},
    /* truncated tag / missing length */
    {"9F", 0, {{0}}, ISO_ERR_TLV, 1},
    {"DF 81", 0, {{0}}, ISO_ERR_TLV, 2},
    {"9A", 0, {{0}}, ISO_ERR_TLV, 1},
    {"9A 01 01 9F 27", 1, {{0x9a, false, 0, 2, 1}}, ISO_ERR_TLV, 5},
    /* templates are constructed (bit 6 of the first tag byte) */
    {"70 07 5A 05 47 61 73 90 01", 1, {{0x70, true, 0, 2, 7}}, 0, 0},
    {"77 04 9F 27 01 80 9F 36 02 00 41",
     2,
     {{0x77, true, 0, 2, 4}, {0x9f36, false, 6, 9, 2}},
     0,
     0},
};

static void t_walk(void **state)
{
	(void)state;
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
		const struct tcase *c = &tcases[i];
		size_t n = t_spec(c->bytes, buf, sizeof buf);
		/* at the very end of a buffer so a read past `n` is caught */
		static uint8_t space[128];
		uint8_t *b = space + sizeof space - n;
		memcpy(b, buf, n);
		struct iso_tlv_iter it;
		struct iso_tlv t;
		iso_tlv_begin(&it, b, n);
		int k = 0, rc;
		while ((rc = iso_tlv_next(&it, &t)) == 1) {
			if (k >= c->n)
				fail_msg("row %zu: extra object %X", i, (unsigned)t.tag);
			const struct want_tlv *w = &c->t[k++];
			if (t.tag != w->tag || t.constructed != w->constructed || t.offset != w->offset ||
			    t.val != b + w->voff || t.len != w->len)
				fail_msg("row %zu object %d: tag %X off %zu len %zu", i, k, (unsigned)t.tag,
				         t.offset, t.len);
		}
		assert_int_equal(k, c->n);
		if (rc != c->end)
			fail_msg("row %zu: end %d, want %d", i, rc, c->end);
		if (rc < 0)
			assert_int_equal(it.pos, c->errpos);
		else
			/* at the end, and stays there */
			assert_int_equal(iso_tlv_next(&it, &t), 0);
	}
}

/* Cut a valid DE 55 at every length: a cut at an object boundary walks
 * cleanly to its end, any other cut is an error, never a read past it. */
static void t_truncated_everywhere(void **state)
{
	(void)state;
	static uint8_t buf[512], space[512];
	/* the POS sample's DE 55 inside a 77 template, plus a long-form length */
	size_t n = t_spec("9F2608C2B9A1D3E4F50607 9F270180 9F10120110A00003220000000000000000000000FF"
	                  "77 0C 9F3704A1B2C3D4 9F36020041"
	                  "9F6E 81 04 20700000 5F2A020116",
	                  buf, sizeof buf);
	static const size_t bounds[] = {0, 11, 15, 36, 50, 58};
	for (size_t k = 0; k <= n; k++) {
		uint8_t *b = space + sizeof space - k;
		memcpy(b, buf, k);
		bool boundary = k == n;
		for (size_t j = 0; j < sizeof bounds / sizeof bounds[0]; j++)
			boundary |= bounds[j] == k;
		struct iso_tlv_iter it;
		struct iso_tlv t;
		int rc;
		iso_tlv_begin(&it, b, k);
		while ((rc = iso_tlv_next(&it, &t)) == 1)
			assert_true(t.val + t.len <= b + k);
		if (rc != (boundary ? 0 : ISO_ERR_TLV))
			fail_msg("cut at %zu of %zu: %d", k, n, rc);
		size_t bad = 999;
		assert_int_equal(iso_tlv_validate(b, k, 2, &bad), boundary ? 0 : ISO_ERR_TLV);
		if (!boundary)
			assert_true(bad <= k);
	}
	assert_int_equal(n, 63);
}

static void t_validate_depth(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t bad = 999;
	/* 70 { 77 { 9F27 01 80 } } */
	size_t n = t_spec("70 06 77 04 9F 27 01 80", b, sizeof b);
	assert_int_equal(iso_tlv_validate(b, n, 2, &bad), 0);
	assert_int_equal(iso_tlv_validate(b, n, 5, &bad), 0);
	assert_int_equal(iso_tlv_validate(b, n, 1, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 2); /* the inner template */
	assert_int_equal(iso_tlv_validate(b, n, 0, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 0);
	/* primitives need no depth */
	n = t_spec("9F 27 01 80 9A 03 26 11 23", b, sizeof b);
	assert_int_equal(iso_tlv_validate(b, n, 0, &bad), 0);
	/* an error inside a template is reported at its offset in the whole */
	n = t_spec("9A 03 26 11 23 70 04 9F 27 02 80 00", b, sizeof b);
	bad = 999;
	assert_int_equal(iso_tlv_validate(b, n, 1, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 10); /* the value of 9F27 at 10 runs past the template's end */
	n = t_spec("70 04 9F 26 80 00", b, sizeof b);
	assert_int_equal(iso_tlv_validate(b, n, 1, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 4); /* indefinite length inside */
	/* the template's own length past the end */
	n = t_spec("77 09 9F 27 01 80", b, sizeof b);
	assert_int_equal(iso_tlv_validate(b, n, 1, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 2);
	/* deep nesting within the depth allowed */
	n = t_spec("70 0A 70 08 70 06 70 04 9F 27 01 80", b, sizeof b);
	assert_int_equal(iso_tlv_validate(b, n, 4, &bad), 0);
	assert_int_equal(iso_tlv_validate(b, n, 3, &bad), ISO_ERR_TLV);
	assert_int_equal(bad, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_walk),
	    cmocka_unit_test(t_truncated_everywhere),
	    cmocka_unit_test(t_validate_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
