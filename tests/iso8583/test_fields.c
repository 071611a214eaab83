/*
 * Every data element format at its boundaries, in both profiles.
 *
 * The field table below is copied from FIELDS.md (DE 35 as z, DE 55 as b
 * LLL per WIRE.md); wire bytes come either from hand-written layouts or from
 * spec_wire(), a second, deliberately naive encoder written from WIRE.md's
 * profile table. Error offsets are relative to the start of the field.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

#define A ISO_ASCII87
#define B ISO_BINARY87
#define END ((size_t)-1) /* error offset: the end of the message */

/* ---- FIELDS.md ------------------------------------------------------------ */

struct spec {
	char t;      /* n, a (ans), b, z, x (x+n) */
	uint8_t lt;  /* 0 fixed, 2 LL, 3 LLL */
	uint16_t max;
};

static struct spec S(unsigned de)
{
	static const struct {
		unsigned from, to;
		struct spec s;
	} rows[] = {
	    {2, 2, {'n', 2, 19}},     {3, 3, {'n', 0, 6}},      {4, 6, {'n', 0, 12}},
	    {7, 7, {'n', 0, 10}},     {8, 10, {'n', 0, 8}},     {11, 12, {'n', 0, 6}},
	    {13, 18, {'n', 0, 4}},    {19, 24, {'n', 0, 3}},    {25, 26, {'n', 0, 2}},
	    {27, 27, {'n', 0, 1}},    {28, 31, {'x', 0, 8}},    {32, 33, {'n', 2, 11}},
	    {34, 34, {'a', 2, 28}},   {35, 35, {'z', 2, 37}},   {36, 36, {'a', 3, 104}},
	    {37, 37, {'a', 0, 12}},   {38, 38, {'a', 0, 6}},    {39, 39, {'a', 0, 2}},
	    {40, 40, {'a', 0, 3}},    {41, 41, {'a', 0, 8}},    {42, 42, {'a', 0, 15}},
	    {43, 43, {'a', 0, 40}},   {44, 44, {'a', 2, 25}},   {45, 45, {'a', 2, 76}},
	    {46, 48, {'a', 3, 999}},  {49, 51, {'a', 0, 3}},    {52, 52, {'b', 0, 8}},
	    {53, 53, {'n', 0, 16}},   {54, 54, {'a', 3, 120}},  {55, 55, {'b', 3, 999}},
	    {56, 63, {'a', 3, 999}},  {64, 64, {'b', 0, 8}},    {66, 66, {'n', 0, 1}},
	    {67, 67, {'n', 0, 2}},    {68, 70, {'n', 0, 3}},    {71, 72, {'n', 0, 4}},
	    {73, 73, {'n', 0, 6}},    {74, 81, {'n', 0, 10}},   {82, 85, {'n', 0, 12}},
	    {86, 89, {'n', 0, 16}},   {90, 90, {'n', 0, 42}},   {91, 91, {'a', 0, 1}},
	    {92, 92, {'a', 0, 2}},    {93, 93, {'a', 0, 6}},    {94, 94, {'a', 0, 7}},
	    {95, 95, {'a', 0, 42}},   {96, 96, {'b', 0, 16}},   {97, 97, {'x', 0, 16}},
	    {98, 98, {'a', 0, 25}},   {99, 100, {'n', 2, 11}},  {101, 101, {'a', 2, 17}},
	    {102, 103, {'a', 2, 28}}, {104, 104, {'a', 3, 100}}, {105, 127, {'a', 3, 999}},
	    {128, 128, {'b', 0, 8}},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (de >= rows[i].from && de <= rows[i].to)
			return rows[i].s;
	fail_msg("no spec for DE %u", de);
	return (struct spec){0, 0, 0};
}

/* Longest value a profile can carry: DE 55 in ascii87 is limited by its
 * 3-digit prefix counting hex characters (998 -> 499 bytes). */
static size_t prof_max(enum iso_profile prof, unsigned de)
{
	struct spec s = S(de);
	if (s.t == 'b' && s.lt != 0 && prof == A)
		return 499;
	return s.max + (s.t == 'x');
}

static void t_field_defs(void **state)
{
	(void)state;
	static const uint8_t types[] = {['n'] = ISO_T_N, ['a'] = ISO_T_ANS, ['b'] = ISO_T_B,
	                                ['z'] = ISO_T_Z, ['x'] = ISO_T_XN};
	static const uint8_t lts[] = {ISO_FIXED, 0, ISO_LLVAR, ISO_LLLVAR};
	for (unsigned de = 2; de <= 128; de++) {
		if (de == 65)
			continue;
		const struct iso_field_def *d = iso_field_def(de);
		struct spec s = S(de);
		assert_non_null(d);
		if (d->type != types[(unsigned char)s.t] || d->lentype != lts[s.lt] || d->max != s.max)
			fail_msg("DE %u: definition differs from FIELDS.md", de);
		assert_non_null(d->name);
	}
	assert_null(iso_field_def(0));
	assert_null(iso_field_def(1));
	assert_null(iso_field_def(65));
	assert_null(iso_field_def(129));
	assert_null(iso_field_def(1000));
}

/* ---- the naive encoder ---------------------------------------------------- */

static unsigned nib_of(char c)
{
	return c == '=' ? 0xd : (unsigned)(c - '0');
}

/* The wire form of logical value v[0..n) (bytes for b) per WIRE.md. */
static size_t spec_wire(enum iso_profile prof, unsigned de, const uint8_t *v, size_t n,
                        uint8_t *out)
{
	struct spec s = S(de);
	size_t k = 0;
	size_t count = (s.t == 'b' && prof == A) ? 2 * n : n; /* what the prefix counts */
	if (s.lt != 0) {
		if (prof == A) {
			if (s.lt == 3)
				out[k++] = (uint8_t)('0' + count / 100);
			out[k++] = (uint8_t)('0' + count / 10 % 10);
			out[k++] = (uint8_t)('0' + count % 10);
		} else {
			if (s.lt == 3)
				out[k++] = (uint8_t)((count / 1000 % 10) << 4 | count / 100 % 10);
			out[k++] = (uint8_t)((count / 10 % 10) << 4 | count % 10);
		}
	}
	if (prof == A || s.t == 'a') {
		if (s.t == 'b') {
			t_hex(v, n, (char *)out + k);
			return k + 2 * n;
		}
		memcpy(out + k, v, n);
		return k + n;
	}
	if (s.t == 'b') {
		memcpy(out + k, v, n);
		return k + n;
	}
	const char *d = (const char *)v;
	size_t digits = n;
	if (s.t == 'x') {
		out[k++] = v[0];
		d++;
		digits--;
	}
	bool lead = (s.lt == 0) && (digits & 1); /* fixed: leading pad nibble */
	size_t nb = (digits + 1) / 2;
	memset(out + k, 0, nb);
	for (size_t i = 0; i < digits; i++) {
		size_t pos = i + lead;
		out[k + pos / 2] |= (uint8_t)((pos & 1) ? nib_of(d[i]) : nib_of(d[i]) << 4);
	}
	return k + nb;
}

/* A value of `n` units that exercises the field's whole alphabet. */
static void sample_value(unsigned de, size_t n, uint8_t *v)
{
	struct spec s = S(de);
	for (size_t i = 0; i < n; i++) {
		switch (s.t) {
		case 'a': v[i] = (uint8_t)(0x20 + (i * 7 + de) % 95); break;
		case 'b': v[i] = (uint8_t)(i * 37 + de); break;
		case 'z': v[i] = (uint8_t)(i == 16 ? '=' : '0' + (i + de) % 10); break;
		default: v[i] = (uint8_t)('0' + (i * 3 + de) % 10); break;
		}
	}
	if (s.t == 'x' && n > 0)
		v[0] = (de & 1) ? 'C' : 'D';
}

/* header + field; returns total length, *fstart the field's offset */
static size_t one_field_msg(enum iso_profile prof, unsigned de, const uint8_t *wire, size_t wl,
                            uint8_t *msg, size_t *fstart)
{
	size_t h = t_header(prof, "0200", &de, 1, msg);
	memcpy(msg + h, wire, wl);
	*fstart = h;
	return h + wl;
}

/* Decode msg, check the value, re-encode it; encode the value from
 * scratch through iso_set and compare with msg. */
static void check_good(enum iso_profile prof, unsigned de, const uint8_t *val, size_t vl,
                       const uint8_t *msg, size_t ml, const char *what)
{
	static struct iso_msg m, m2;
	static uint8_t out[T_MSG_MAX];
	static char got[2048];
	struct iso_error e = {0, 0, 0};
	size_t ol = 0;
	int rc = iso_unpack(prof, msg, ml, &m, &e);
	if (rc != 0)
		fail_msg("%s %s DE %u: decode: %s (DE %u at %zu)", what, t_prof_name[prof], de,
		         iso_strerror(rc), e.de, e.offset);
	assert_true(iso_has(&m, de));
	for (unsigned o = 2; o <= 128; o++)
		if (o != de && iso_has(&m, o))
			fail_msg("%s: DE %u present", what, o);
	assert_int_equal(iso_get(&m, de, got, sizeof got), (int)vl);
	if (memcmp(got, val, vl) != 0 || got[vl] != '\0')
		fail_msg("%s %s DE %u: value differs", what, t_prof_name[prof], de);
	assert_int_equal(m.f[de].len, vl);
	for (size_t i = 0; i < vl; i++)
		assert_int_equal(iso_view_at(&m.f[de], i), val[i]);

	assert_int_equal(iso_pack(prof, &m, out, sizeof out, &ol, &e), 0);
	assert_int_equal(ol, ml);
	assert_memory_equal(out, msg, ml);

	iso_init(&m2, "0200");
	assert_int_equal(iso_set(&m2, de, val, vl), 0);
	assert_int_equal(iso_pack(prof, &m2, out, sizeof out, &ol, &e), 0);
	if (ol != ml || memcmp(out, msg, ml) != 0)
		fail_msg("%s %s DE %u: encoding differs from the spec layout", what,
		         t_prof_name[prof], de);
}

static void check_err(enum iso_profile prof, const uint8_t *msg, size_t ml, int code,
                      unsigned de, size_t off, const char *what)
{
	static struct iso_msg m;
	struct iso_error e = {0, 0, 12345};
	int rc = iso_unpack(prof, msg, ml, &m, &e);
	if (off == END)
		off = ml;
	if (rc != code || e.code != code || e.de != de || e.offset != off)
		fail_msg("%s %s: got %d (%s) DE %u at %zu, want %d (%s) DE %u at %zu", what,
		         t_prof_name[prof], rc, iso_strerror(rc), e.de, e.offset, code,
		         iso_strerror(code), de, off);
	/* err may be NULL */
	assert_int_equal(iso_unpack(prof, msg, ml, &m, NULL), code);
}

/* ---- every field at max, empty, max + 1, truncated, trailing ------------- */

static void t_every_field_boundaries(void **state)
{
	(void)state;
	static uint8_t val[1100], wire[2400], msg[2500];
	char what[64];
	for (int prof = A; prof <= B; prof++) {
		for (unsigned de = 2; de <= 128; de++) {
			if (de == 65)
				continue;
			struct spec s = S(de);
			size_t max = prof_max((enum iso_profile)prof, de), fs;
			size_t wl, ml;

			/* maximum */
			snprintf(what, sizeof what, "max DE %u", de);
			sample_value(de, max, val);
			wl = spec_wire((enum iso_profile)prof, de, val, max, wire);
			ml = one_field_msg((enum iso_profile)prof, de, wire, wl, msg, &fs);
			check_good((enum iso_profile)prof, de, val, max, msg, ml, what);

			/* one byte short: the bitmap promises bytes that are missing */
			snprintf(what, sizeof what, "short DE %u", de);
			check_err((enum iso_profile)prof, msg, ml - 1, ISO_ERR_TRUNCATED, de, END, what);
			/* only the header */
			check_err((enum iso_profile)prof, msg, fs, ISO_ERR_TRUNCATED, de, END, what);
			/* one byte more */
			snprintf(what, sizeof what, "trailing DE %u", de);
			msg[ml] = (uint8_t)'0';
			check_err((enum iso_profile)prof, msg, ml + 1, ISO_ERR_TRAILING, 0, ml, what);

			if (s.lt == 0) {
				/* fixed: every shorter value fills (n, ans) or is refused (b, x+n) */
				continue;
			}
			/* empty */
			snprintf(what, sizeof what, "empty DE %u", de);
			wl = spec_wire((enum iso_profile)prof, de, val, 0, wire);
			assert_int_equal(wl, prof == A ? s.lt : (s.lt == 3 ? 2 : 1));
			ml = one_field_msg((enum iso_profile)prof, de, wire, wl, msg, &fs);
			check_good((enum iso_profile)prof, de, val, 0, msg, ml, what);

			/* maximum + 1 in the prefix, when the prefix can say it */
			snprintf(what, sizeof what, "max+1 DE %u", de);
			sample_value(de, max + 1, val);
			if (s.t == 'b' && prof == A) {
				/* 999 hex characters: odd */
				memcpy(wire, "999", 3);
				memset(wire + 3, 'A', 999);
				ml = one_field_msg(A, de, wire, 1002, msg, &fs);
				check_err(A, msg, ml, ISO_ERR_BAD_LENGTH, de, fs, what);
			} else if (max + 1 <= (s.lt == 2 ? 99u : prof == A ? 999u : 9999u)) {
				wl = spec_wire((enum iso_profile)prof, de, val, max + 1, wire);
				ml = one_field_msg((enum iso_profile)prof, de, wire, wl, msg, &fs);
				check_err((enum iso_profile)prof, msg, ml, ISO_ERR_TOO_LONG, de, fs, what);
				/* and the same length with no value bytes at all */
				ml = one_field_msg((enum iso_profile)prof, de, wire,
				                   prof == A ? s.lt : (s.lt == 3 ? 2 : 1), msg, &fs);
				check_err((enum iso_profile)prof, msg, ml, ISO_ERR_TOO_LONG, de, fs, what);
			}
			/* prefix cut in the middle */
			wl = spec_wire((enum iso_profile)prof, de, val, 1, wire);
			ml = one_field_msg((enum iso_profile)prof, de, wire, 1, msg, &fs);
			if (prof == A || s.lt == 3) {
				snprintf(what, sizeof what, "half prefix DE %u", de);
				check_err((enum iso_profile)prof, msg, ml, ISO_ERR_TRUNCATED, de, END, what);
			}
		}
	}
}

/* ---- hand-written layouts --------------------------------------------------- */

struct good {
	unsigned de;
	const char *val; /* logical value; hex of the bytes for b fields */
	const char *wire[2];
};

static const struct good goods[] = {
    /* n fixed: ascii digits / packed BCD, odd length with a leading 0 nibble */
    {3, "011000", {"'011000'", "01 10 00"}},
    {22, "021", {"'021'", "00 21"}},
    {27, "5", {"'5'", "05"}},
    {53, "0000000000000001", {"'0000000000000001'", "00 00 00 00 00 00 00 01"}},
    {66, "1", {"'1'", "01"}},
    {70, "301", {"'301'", "03 01"}},
    {90, "020000012311230930150000012345600000000000",
     {"'020000012311230930150000012345600000000000'",
      "02 00 00 01 23 11 23 09 30 15 00 00 01 23 45 60 00 00 00 00 00"}},
    /* n LL: prefix counts digits; odd count has a trailing 0 nibble */
    {2, "4761739001010010123", {"'19' '4761739001010010123'", "19 47 61 73 90 01 01 00 10 12 30"}},
    {2, "5413330089010608", {"'16' '5413330089010608'", "16 54 13 33 00 89 01 06 08"}},
    {2, "", {"'00'", "00"}},
    {32, "12345", {"'05' '12345'", "05 12 34 50"}},
    {32, "12345678901", {"'11' '12345678901'", "11 12 34 56 78 90 10"}},
    {100, "123", {"'03' '123'", "03 12 30"}},
    /* ans */
    {41, "ATM00001", {"'ATM00001'", "'ATM00001'"}},
    {39, "00", {"'00'", "'00'"}},
    {91, "A", {"'A'", "41"}},
    {44, "", {"'00'", "00"}},
    {44, "= ~", {"'03' '= ~'", "03 3D 20 7E"}},
    {48, "ABC", {"'003' 'ABC'", "00 03 'ABC'"}},
    {48, "", {"'000'", "00 00"}},
    {36, "0123456789", {"'010' '0123456789'", "00 10 '0123456789'"}},
    /* b fixed: hex text / raw */
    {52, "04128A3C5D6E7F80", {"'04128A3C5D6E7F80'", "04 12 8A 3C 5D 6E 7F 80"}},
    {64, "0000000000000000", {"'0000000000000000'", "00 00 00 00 00 00 00 00"}},
    {96, "00112233445566778899AABBCCDDEEFF",
     {"'00112233445566778899AABBCCDDEEFF'",
      "00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF"}},
    {128, "FFFFFFFFFFFFFFFF", {"'FFFFFFFFFFFFFFFF'", "FF FF FF FF FF FF FF FF"}},
    /* z: '=' travels as nibble D; odd count padded by a trailing 0 */
    {35, "4761739001010010=28121011234567890",
     {"'34' '4761739001010010=28121011234567890'",
      "34 47 61 73 90 01 01 00 10 D2 81 21 01 12 34 56 78 90"}},
    {35, "4761739001010010=2812101123456789",
     {"'33' '4761739001010010=2812101123456789'",
      "33 47 61 73 90 01 01 00 10 D2 81 21 01 12 34 56 78 90"}},
    {35, "=", {"'01' '='", "01 D0"}},
    {35, "", {"'00'", "00"}},
    /* x+n: sign character, then digits */
    {28, "C00000150", {"'C00000150'", "43 00 00 01 50"}},
    {31, "D00000000", {"'D00000000'", "44 00 00 00 00"}},
    {97, "C0000000000012345", {"'C0000000000012345'", "43 00 00 00 00 00 01 23 45"}},
    /* DE 55: LLL counting hex characters / bytes */
    {55, "9F270180", {"'008' '9F270180'", "00 04 9F 27 01 80"}},
    {55, "", {"'000'", "00 00"}},
};

static bool is_b(unsigned de)
{
	return S(de).t == 'b';
}

static size_t logical(unsigned de, const char *val, uint8_t *out)
{
	if (is_b(de))
		return t_spec(val, out, 1024);
	memcpy(out, val, strlen(val));
	return strlen(val);
}

static void t_layouts(void **state)
{
	(void)state;
	uint8_t wire[256], msg[512], val[256];
	char what[64];
	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		for (int prof = A; prof <= B; prof++) {
			size_t fs, vl = logical(goods[i].de, goods[i].val, val);
			size_t wl = t_spec(goods[i].wire[prof], wire, sizeof wire);
			size_t ml = one_field_msg((enum iso_profile)prof, goods[i].de, wire, wl, msg, &fs);
			snprintf(what, sizeof what, "layout row %zu", i);
			check_good((enum iso_profile)prof, goods[i].de, val, vl, msg, ml, what);
		}
	}
}

/* Values shorter than a fixed field: n zero-filled on the left, ans
 * space-filled on the right (encode only; decoding gives the full width). */
static const struct good fills[] = {
    {3, "11", {"'000011'", "00 00 11"}},
    {4, "100", {"'000000000100'", "00 00 00 00 01 00"}},
    {22, "5", {"'005'", "00 05"}},
    {70, "1", {"'001'", "00 01"}},
    {90, "7", {"'000000000000000000000000000000000000000007'",
               "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 07"}},
    {41, "ATM", {"'ATM     '", "'ATM     '"}},
    {39, "0", {"'0 '", "'0 '"}},
    {43, "CENTRAL MARKET BRANCH  PHNOM PENH    KH",
     {"'CENTRAL MARKET BRANCH  PHNOM PENH    KH '", "'CENTRAL MARKET BRANCH  PHNOM PENH    KH '"}},
};

static void t_fixed_fill(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t wire[256], msg[512], out[512];
	size_t ol;
	for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
		for (int prof = A; prof <= B; prof++) {
			size_t fs, wl = t_spec(fills[i].wire[prof], wire, sizeof wire);
			size_t ml = one_field_msg((enum iso_profile)prof, fills[i].de, wire, wl, msg, &fs);
			iso_init(&m, "0200");
			assert_int_equal(iso_set_str(&m, fills[i].de, fills[i].val), 0);
			assert_int_equal(iso_pack((enum iso_profile)prof, &m, out, sizeof out, &ol, NULL), 0);
			if (ol != ml || memcmp(out, msg, ml) != 0)
				fail_msg("fill row %zu %s", i, t_prof_name[prof]);
		}
	}
}

/* ---- decode errors ------------------------------------------------------------ */

struct bad {
	int prof;
	unsigned de;
	const char *wire;
	int code;
	size_t off; /* from the start of the field, or END */
};

static const struct bad bads[] = {
    /* n fixed */
    {A, 3, "'01a000'", ISO_ERR_NOT_DIGIT, 2},
    {A, 3, "'01 000'", ISO_ERR_NOT_DIGIT, 2},
    {A, 3, "'0110'", ISO_ERR_TRUNCATED, END},
    {A, 90, "'02000001231123093015000001234560000000000/'", ISO_ERR_NOT_DIGIT, 41},
    {B, 3, "01 1A 00", ISO_ERR_NOT_DIGIT, 1},
    {B, 3, "A1 10 00", ISO_ERR_NOT_DIGIT, 0},
    {B, 3, "01 10", ISO_ERR_TRUNCATED, END},
    {B, 22, "10 21", ISO_ERR_BAD_PAD, 0},
    {B, 22, "F0 21", ISO_ERR_BAD_PAD, 0},
    {B, 22, "00 2F", ISO_ERR_NOT_DIGIT, 1},
    {B, 27, "15", ISO_ERR_BAD_PAD, 0},
    {B, 70, "00 0D", ISO_ERR_NOT_DIGIT, 1}, /* no '=' outside z */
    /* n LL */
    {A, 2, "'20' '47617390010100101234'", ISO_ERR_TOO_LONG, 0},
    {A, 2, "'1a'", ISO_ERR_NOT_DIGIT, 1},
    {A, 2, "'a1'", ISO_ERR_NOT_DIGIT, 0},
    {A, 2, "'1'", ISO_ERR_TRUNCATED, END},
    {A, 2, "'05' '1234'", ISO_ERR_TRUNCATED, END},
    {A, 2, "'16' '476173900101=010'", ISO_ERR_NOT_DIGIT, 14},
    {A, 32, "'03' '1 3'", ISO_ERR_NOT_DIGIT, 3},
    {B, 2, "20", ISO_ERR_TOO_LONG, 0},
    {B, 2, "99", ISO_ERR_TOO_LONG, 0},
    {B, 2, "1A", ISO_ERR_NOT_DIGIT, 0},
    {B, 2, "A1", ISO_ERR_NOT_DIGIT, 0},
    {B, 2, "05 12 34", ISO_ERR_TRUNCATED, END},
    {B, 2, "03 12 34", ISO_ERR_BAD_PAD, 2},
    {B, 2, "04 12 D4", ISO_ERR_NOT_DIGIT, 2},
    {B, 32, "06 12 3F 56", ISO_ERR_NOT_DIGIT, 2},
    {B, 32, "", ISO_ERR_TRUNCATED, END},
    /* ans */
    {A, 41, "'ATM' 01 '0001'", ISO_ERR_BAD_CHAR, 3},
    {A, 41, "'ATM0000' 7F", ISO_ERR_BAD_CHAR, 7},
    {A, 41, "80 'TM00001'", ISO_ERR_BAD_CHAR, 0},
    {A, 41, "'ATM0000'", ISO_ERR_TRUNCATED, END},
    {A, 48, "'003' 'A' 0A 'B'", ISO_ERR_BAD_CHAR, 4},
    {A, 48, "'0a3'", ISO_ERR_NOT_DIGIT, 1},
    {A, 48, "'00'", ISO_ERR_TRUNCATED, END},
    {A, 36, "'105'", ISO_ERR_TOO_LONG, 0},
    {A, 44, "'26'", ISO_ERR_TOO_LONG, 0},
    {B, 41, "'ATM' 00 '0001'", ISO_ERR_BAD_CHAR, 3},
    {B, 36, "01 05", ISO_ERR_TOO_LONG, 0},
    {B, 48, "0A 03", ISO_ERR_NOT_DIGIT, 0},
    {B, 48, "00 3A", ISO_ERR_NOT_DIGIT, 1},
    {B, 48, "00 03 'A' 0A 'B'", ISO_ERR_BAD_CHAR, 3},
    {B, 48, "00", ISO_ERR_TRUNCATED, END},
    /* b fixed */
    {A, 52, "'04128A3C5D6E7F8G'", ISO_ERR_BAD_HEX, 15},
    {A, 52, "'04128A3C5D6E7F8'", ISO_ERR_TRUNCATED, END},
    {A, 64, "'0412 8A3C5D6E7F8'", ISO_ERR_BAD_HEX, 4},
    {A, 128, "'x412000000000000'", ISO_ERR_BAD_HEX, 0},
    {B, 52, "04 12 8A 3C 5D 6E 7F", ISO_ERR_TRUNCATED, END},
    {B, 96, "00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE", ISO_ERR_TRUNCATED, END},
    /* z */
    {A, 35, "'05' '47=1A'", ISO_ERR_BAD_CHAR, 6},
    {A, 35, "'04' '47D1'", ISO_ERR_BAD_CHAR, 4},
    {A, 35, "'38'", ISO_ERR_TOO_LONG, 0},
    {B, 35, "05 47 D1 2E", ISO_ERR_BAD_PAD, 3},
    {B, 35, "04 47 E1", ISO_ERR_BAD_CHAR, 2},
    {B, 35, "04 4F D1", ISO_ERR_BAD_CHAR, 1},
    {B, 35, "38", ISO_ERR_TOO_LONG, 0},
    {B, 35, "34 47 61 73 90 01 01 00 10 D2 81 21 01 12 34 56 78", ISO_ERR_TRUNCATED, END},
    /* x+n */
    {A, 28, "'X00000150'", ISO_ERR_BAD_SIGN, 0},
    {A, 28, "'c00000150'", ISO_ERR_BAD_SIGN, 0},
    {A, 28, "'+00000150'", ISO_ERR_BAD_SIGN, 0},
    {A, 28, "'C0000015A'", ISO_ERR_NOT_DIGIT, 8},
    {A, 28, "'C-0000150'", ISO_ERR_NOT_DIGIT, 1},
    {A, 28, "'C0000'", ISO_ERR_TRUNCATED, END},
    {A, 97, "'Z0000000000012345'", ISO_ERR_BAD_SIGN, 0},
    {B, 28, "58 00 00 01 50", ISO_ERR_BAD_SIGN, 0},
    {B, 28, "00 00 00 01 50", ISO_ERR_BAD_SIGN, 0},
    {B, 28, "43 00 00 01 5A", ISO_ERR_NOT_DIGIT, 4},
    {B, 28, "43 00 00", ISO_ERR_TRUNCATED, END},
    {B, 97, "44 00 00 00 00 00 01 23 4F", ISO_ERR_NOT_DIGIT, 8},
    /* DE 55 */
    {A, 55, "'007' '9F27018'", ISO_ERR_BAD_LENGTH, 0},
    {A, 55, "'004' '9F2G'", ISO_ERR_BAD_HEX, 6},
    {A, 55, "'008' '9F27'", ISO_ERR_TRUNCATED, END},
    {B, 55, "10 00", ISO_ERR_TOO_LONG, 0},
    {B, 55, "0A 00", ISO_ERR_NOT_DIGIT, 0},
    {B, 55, "00 05 9F 27 01 80", ISO_ERR_TRUNCATED, END},
};

static void t_decode_errors(void **state)
{
	(void)state;
	uint8_t wire[256], msg[512];
	char what[64];
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		size_t fs, wl = t_spec(b->wire, wire, sizeof wire);
		size_t ml = one_field_msg((enum iso_profile)b->prof, b->de, wire, wl, msg, &fs);
		snprintf(what, sizeof what, "bad row %zu (DE %u)", i, b->de);
		check_err((enum iso_profile)b->prof, msg, ml, b->code, b->de,
		          b->off == END ? END : fs + b->off, what);
	}
}

/* ---- MTI, bitmaps, whole-message errors -------------------------------------- */

struct whole {
	int prof;
	const char *msg;
	int code;
	unsigned de;
	size_t off;
};

static const struct whole wholes[] = {
    {A, "", ISO_ERR_TRUNCATED, 0, 0},
    {A, "'020'", ISO_ERR_TRUNCATED, 0, 3},
    {A, "'0200'", ISO_ERR_TRUNCATED, 1, 4},
    {A, "'0200' '000000000000000'", ISO_ERR_TRUNCATED, 1, 19},
    {A, "'0900' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'0000' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'1200' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'02A0' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'0260' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'0206' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'020 ' '0000000000000000'", ISO_ERR_MTI, 0, 0},
    {A, "'0800' 'G000000000000000'", ISO_ERR_BITMAP, 1, 4},
    {A, "'0800' '00000000000000g0'", ISO_ERR_BITMAP, 1, 18},
    {A, "'0800' '000000000000000 '", ISO_ERR_BITMAP, 1, 19},
    {A, "'0800' '8000000000000000'", ISO_ERR_TRUNCATED, 1, 20},
    {A, "'0800' '8000000000000000' '00000000'", ISO_ERR_TRUNCATED, 1, 28},
    {A, "'0800' '8000000000000000' '000000000000000Z'", ISO_ERR_BITMAP, 1, 35},
    {A, "'0800' '8000000000000000' '8000000000000000'", ISO_ERR_BITMAP, 1, 20},
    {A, "'0800' '0020000000000000'", ISO_ERR_TRUNCATED, 11, 20},
    {A, "'0800' '0020000000000000' '000001' 'X'", ISO_ERR_TRAILING, 0, 26},
    {A, "'0800' '0000000000000000' 00", ISO_ERR_TRAILING, 0, 20},
    {A, "'0800' '8000000000000000' '0000000000000001' '7'", ISO_ERR_TRUNCATED, 128, 37},
    {B, "", ISO_ERR_TRUNCATED, 0, 0},
    {B, "02", ISO_ERR_TRUNCATED, 0, 1},
    {B, "02 00", ISO_ERR_TRUNCATED, 1, 2},
    {B, "09 00 00 00 00 00 00 00 00 00", ISO_ERR_MTI, 0, 0},
    {B, "0A 00 00 00 00 00 00 00 00 00", ISO_ERR_MTI, 0, 0},
    {B, "02 0F 00 00 00 00 00 00 00 00", ISO_ERR_MTI, 0, 0},
    {B, "12 00 00 00 00 00 00 00 00 00", ISO_ERR_MTI, 0, 0},
    {B, "'02' 00 00 00 00 00 00 00 00", ISO_ERR_MTI, 0, 0}, /* ASCII MTI on a binary link */
    {B, "08 00 80 00 00 00 00 00 00 00", ISO_ERR_TRUNCATED, 1, 10},
    {B, "08 00 80 00 00 00 00 00 00 00 00 00 00", ISO_ERR_TRUNCATED, 1, 13},
    {B, "08 00 80 00 00 00 00 00 00 00 80 00 00 00 00 00 00 00", ISO_ERR_BITMAP, 1, 10},
    {B, "08 00 00 20 00 00 00 00 00 00", ISO_ERR_TRUNCATED, 11, 10},
    {B, "08 00 00 20 00 00 00 00 00 00 00 00 01 FF", ISO_ERR_TRAILING, 0, 13},
};

static void t_whole_errors(void **state)
{
	(void)state;
	uint8_t msg[512];
	char what[64];
	for (size_t i = 0; i < sizeof wholes / sizeof wholes[0]; i++) {
		size_t ml = t_spec(wholes[i].msg, msg, sizeof msg);
		snprintf(what, sizeof what, "message row %zu", i);
		check_err((enum iso_profile)wholes[i].prof, msg, ml, wholes[i].code, wholes[i].de,
		          wholes[i].off, what);
	}
}

/* A bitmap with no data elements at all is a valid (if useless) message. */
static void t_empty_bitmap(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t msg[32], out[32];
	size_t ol;
	for (int prof = A; prof <= B; prof++) {
		size_t ml = t_spec(prof == A ? "'0800' '0000000000000000'" : "08 00 00 00 00 00 00 00 00 00",
		                   msg, sizeof msg);
		assert_int_equal(iso_unpack((enum iso_profile)prof, msg, ml, &m, NULL), 0);
		assert_memory_equal(m.mti, "0800", 4);
		for (unsigned de = 1; de <= 128; de++)
			assert_false(iso_has(&m, de));
		assert_int_equal(iso_pack((enum iso_profile)prof, &m, out, sizeof out, &ol, NULL), 0);
		assert_int_equal(ol, ml);
		assert_memory_equal(out, msg, ml);
	}
}

static void t_error_format(void **state)
{
	(void)state;
	char buf[128];
	struct iso_error e = {ISO_ERR_NOT_DIGIT, 35, 41};
	int n = iso_error_format(&e, buf, sizeof buf);
	assert_int_equal(n, (int)strlen(buf));
	assert_non_null(strstr(buf, "DE 35"));
	assert_non_null(strstr(buf, "41"));
	e = (struct iso_error){ISO_ERR_MTI, 0, 0};
	iso_error_format(&e, buf, sizeof buf);
	assert_non_null(strstr(buf, "MTI"));
	e = (struct iso_error){ISO_ERR_BITMAP, 1, 7};
	iso_error_format(&e, buf, sizeof buf);
	assert_non_null(strstr(buf, "bitmap"));
	/* every code has its own text */
	for (int c = ISO_ERR_TLV; c <= 0; c++) {
		assert_non_null(iso_strerror(c));
		for (int d = c + 1; d <= 0; d++)
			assert_string_not_equal(iso_strerror(c), iso_strerror(d));
	}
	assert_string_equal(iso_strerror(-999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_field_defs),
	    cmocka_unit_test(t_every_field_boundaries),
	    cmocka_unit_test(t_layouts),
	    cmocka_unit_test(t_fixed_fill),
	    cmocka_unit_test(t_decode_errors),
	    cmocka_unit_test(t_whole_errors),
	    cmocka_unit_test(t_empty_bitmap),
	    cmocka_unit_test(t_error_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
