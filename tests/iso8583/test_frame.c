/*
 * Framing (WIRE.md "Framing"): 2-byte big-endian or 4-digit ASCII length.
 * iso_frame_peek is fed every prefix of every framed sample and must only
 * ever ask for more until the whole frame is there.
 */
#include "common.h"

#include <string.h>

#define MAX 4096

static size_t frame(enum iso_framing kind, const uint8_t *msg, size_t ml, uint8_t *out)
{
	/* headers written by hand: BIN2 big-endian, ASCII4 decimal */
	size_t h = 0;
	if (kind == ISO_FRAME_BIN2) {
		out[0] = (uint8_t)(ml >> 8);
		out[1] = (uint8_t)(ml & 0xff);
		h = 2;
	} else {
		out[0] = (uint8_t)('0' + ml / 1000);
		out[1] = (uint8_t)('0' + ml / 100 % 10);
		out[2] = (uint8_t)('0' + ml / 10 % 10);
		out[3] = (uint8_t)('0' + ml % 10);
		h = 4;
	}
	memcpy(out + h, msg, ml);
	return h + ml;
}

static void t_prefixes_and_back_to_back(void **state)
{
	(void)state;
	static struct iso_msg m;
	static uint8_t enc[4096], buf[3][8192];
	const struct t_sample *s;
	size_t n = t_samples(&s);
	static const enum iso_framing kinds[] = {ISO_FRAME_BIN2, ISO_FRAME_ASCII4};
	for (size_t i = 0; i < n; i++) {
		t_sample_msg(&s[i], &m);
		for (int p = 0; p < 2; p++) {
			size_t el;
			assert_int_equal(iso_pack((enum iso_profile)p, &m, enc, sizeof enc, &el, NULL), 0);
			for (size_t k = 0; k < 2; k++) {
				size_t fl = frame(kinds[k], enc, el, buf[0]), hdr = 99, ml = 99;
				size_t h = kinds[k] == ISO_FRAME_BIN2 ? 2 : 4;
				for (size_t len = 0; len < fl; len++) {
					/* the prefix at the very end of a buffer: ASan
					 * catches a read past `len` */
					uint8_t *at = buf[1] + sizeof buf[1] - len;
					memcpy(at, buf[0], len);
					int rc = iso_frame_peek(kinds[k], MAX, at, len, &hdr, &ml);
					if (rc != 0)
						fail_msg("%s %s framing %zu: prefix %zu/%zu gave %d", s[i].name,
						         t_prof_name[p], k, len, fl, rc);
				}
				assert_int_equal(iso_frame_peek(kinds[k], MAX, buf[0], fl, &hdr, &ml), 1);
				assert_int_equal(hdr, h);
				assert_int_equal(ml, el);
				assert_int_equal(iso_unpack((enum iso_profile)p, buf[0] + hdr, ml, &m, NULL), 0);
				t_sample_msg(&s[i], &m);

				/* two messages back to back, then part of a third */
				memcpy(buf[2], buf[0], fl);
				memcpy(buf[2] + fl, buf[0], fl);
				memcpy(buf[2] + 2 * fl, buf[0], 3);
				size_t total = 2 * fl + 3, pos = 0;
				for (int j = 0; j < 2; j++) {
					assert_int_equal(
					    iso_frame_peek(kinds[k], MAX, buf[2] + pos, total - pos, &hdr, &ml), 1);
					assert_int_equal(ml, el);
					assert_memory_equal(buf[2] + pos + hdr, enc, el);
					pos += hdr + ml;
				}
				assert_int_equal(iso_frame_peek(kinds[k], MAX, buf[2] + pos, total - pos, &hdr, &ml),
				                 0);
			}
		}
	}
}

struct fcase {
	enum iso_framing kind;
	size_t max;
	const char *bytes;
	int want;
	size_t msglen;
};

static const struct fcase fcases[] = {
    {ISO_FRAME_BIN2, MAX, "", 0, 0},
    {ISO_FRAME_BIN2, MAX, "00", 0, 0},
    {ISO_FRAME_BIN2, MAX, "00 00", ISO_ERR_FRAME_ZERO, 0},
    {ISO_FRAME_BIN2, MAX, "00 00 AA", ISO_ERR_FRAME_ZERO, 0},
    {ISO_FRAME_BIN2, MAX, "00 01", 0, 0},
    {ISO_FRAME_BIN2, MAX, "00 01 AA", 1, 1},
    {ISO_FRAME_BIN2, MAX, "00 01 AA BB", 1, 1},
    {ISO_FRAME_BIN2, MAX, "01 00 AA", 0, 0},
    {ISO_FRAME_BIN2, MAX, "10 00", 0, 0},         /* 4096: the maximum itself */
    {ISO_FRAME_BIN2, MAX, "10 01", ISO_ERR_FRAME_LONG, 0},
    {ISO_FRAME_BIN2, MAX, "FF FF", ISO_ERR_FRAME_LONG, 0},
    {ISO_FRAME_BIN2, 65535, "FF FF", 0, 0},
    {ISO_FRAME_BIN2, 1, "00 02 AA BB", ISO_ERR_FRAME_LONG, 0},
    {ISO_FRAME_ASCII4, MAX, "", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'0'", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'000'", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'0000'", ISO_ERR_FRAME_ZERO, 0},
    {ISO_FRAME_ASCII4, MAX, "'0001'", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'0001X'", 1, 1},
    {ISO_FRAME_ASCII4, MAX, "'0002X'", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'4096'", 0, 0},
    {ISO_FRAME_ASCII4, MAX, "'4097'", ISO_ERR_FRAME_LONG, 0},
    {ISO_FRAME_ASCII4, MAX, "'9999'", ISO_ERR_FRAME_LONG, 0},
    {ISO_FRAME_ASCII4, 9999, "'9999'", 0, 0},
    /* a bad header byte is refused as soon as it arrives */
    {ISO_FRAME_ASCII4, MAX, "'A'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "00", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'0' 00", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'00 '", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'001/'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'001:'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "' 100'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'+100'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "'-001'", ISO_ERR_FRAME_DIGIT, 0},
    {ISO_FRAME_ASCII4, MAX, "00 45", ISO_ERR_FRAME_DIGIT, 0}, /* a BIN2 header on an ASCII4 link */
    /* unframed: the whole buffer */
    {ISO_FRAME_NONE, MAX, "", 0, 0},
    {ISO_FRAME_NONE, MAX, "AA", 1, 1},
    {ISO_FRAME_NONE, 2, "AA BB", 1, 2},
    {ISO_FRAME_NONE, 2, "AA BB CC", ISO_ERR_FRAME_LONG, 0},
};

static void t_frame_cases(void **state)
{
	(void)state;
	uint8_t b[64];
	for (size_t i = 0; i < sizeof fcases / sizeof fcases[0]; i++) {
		const struct fcase *c = &fcases[i];
		size_t n = t_spec(c->bytes, b, sizeof b), hdr = 77, ml = 77;
		int rc = iso_frame_peek(c->kind, c->max, b, n, &hdr, &ml);
		if (rc != c->want)
			fail_msg("frame row %zu: %d, want %d", i, rc, c->want);
		if (rc == 1) {
			assert_int_equal(hdr, iso_frame_hdrlen(c->kind));
			assert_int_equal(ml, c->msglen);
		} else {
			assert_int_equal(hdr, 77);
			assert_int_equal(ml, 77);
		}
	}
}

/* Every non-digit byte value at every header position. */
static void t_ascii4_every_bad_byte(void **state)
{
	(void)state;
	uint8_t b[4] = {'0', '0', '1', '0'};
	size_t hdr, ml;
	for (unsigned pos = 0; pos < 4; pos++) {
		for (unsigned c = 0; c < 256; c++) {
			uint8_t h[4];
			memcpy(h, b, 4);
			h[pos] = (uint8_t)c;
			int want = (c >= '0' && c <= '9') ? 0 : ISO_ERR_FRAME_DIGIT;
			/* zero length is the exception for all-zero headers */
			if (want == 0 && memcmp(h, "0000", 4) == 0)
				want = ISO_ERR_FRAME_ZERO;
			assert_int_equal(iso_frame_peek(ISO_FRAME_ASCII4, MAX, h, pos + 1, &hdr, &ml),
			                 pos + 1 < 4 ? (want == ISO_ERR_FRAME_DIGIT ? want : 0) : want);
		}
	}
}

static void t_frame_put(void **state)
{
	(void)state;
	uint8_t h[8];
	assert_int_equal(iso_frame_hdrlen(ISO_FRAME_NONE), 0);
	assert_int_equal(iso_frame_hdrlen(ISO_FRAME_BIN2), 2);
	assert_int_equal(iso_frame_hdrlen(ISO_FRAME_ASCII4), 4);

	assert_int_equal(iso_frame_put(ISO_FRAME_BIN2, 1, h), 2);
	assert_memory_equal(h, "\x00\x01", 2);
	assert_int_equal(iso_frame_put(ISO_FRAME_BIN2, 0x1234, h), 2);
	assert_memory_equal(h, "\x12\x34", 2);
	assert_int_equal(iso_frame_put(ISO_FRAME_BIN2, 0xffff, h), 2);
	assert_memory_equal(h, "\xff\xff", 2);
	assert_int_equal(iso_frame_put(ISO_FRAME_BIN2, 0x10000, h), ISO_ERR_FRAME_LONG);
	assert_int_equal(iso_frame_put(ISO_FRAME_BIN2, 0, h), ISO_ERR_FRAME_ZERO);

	assert_int_equal(iso_frame_put(ISO_FRAME_ASCII4, 1, h), 4);
	assert_memory_equal(h, "0001", 4);
	assert_int_equal(iso_frame_put(ISO_FRAME_ASCII4, 1234, h), 4);
	assert_memory_equal(h, "1234", 4);
	assert_int_equal(iso_frame_put(ISO_FRAME_ASCII4, 9999, h), 4);
	assert_memory_equal(h, "9999", 4);
	assert_int_equal(iso_frame_put(ISO_FRAME_ASCII4, 10000, h), ISO_ERR_FRAME_LONG);
	assert_int_equal(iso_frame_put(ISO_FRAME_ASCII4, 0, h), ISO_ERR_FRAME_ZERO);

	assert_int_equal(iso_frame_put(ISO_FRAME_NONE, 10, h), 0);

	/* put then peek agree for every length the header can carry */
	static uint8_t buf[4 + 0xffff];
	for (size_t n = 1; n <= 0xffff; n += (n < 300 ? 1 : 257)) {
		for (int k = 1; k <= 2; k++) {
			enum iso_framing kind = (enum iso_framing)k;
			int hl = iso_frame_put(kind, n, buf);
			if (kind == ISO_FRAME_ASCII4 && n > 9999) {
				assert_int_equal(hl, ISO_ERR_FRAME_LONG);
				continue;
			}
			assert_int_equal(hl, (int)iso_frame_hdrlen(kind));
			size_t hdr, ml;
			assert_int_equal(iso_frame_peek(kind, 0xffff, buf, (size_t)hl + n, &hdr, &ml), 1);
			assert_int_equal(ml, n);
			assert_int_equal(iso_frame_peek(kind, 0xffff, buf, (size_t)hl + n - 1, &hdr, &ml), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_prefixes_and_back_to_back),
	    cmocka_unit_test(t_frame_cases),
	    cmocka_unit_test(t_ascii4_every_bad_byte),
	    cmocka_unit_test(t_frame_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
