/*
 * Whole messages laid out by hand from WIRE.md's profile table, which
 * follows jPOS ISO87APackager (ascii87: IFA_NUMERIC, IFA_LLNUM, IF_CHAR,
 * IFA_BINARY, IFA_AMOUNT, 16 hex characters per bitmap) and ISO87BPackager
 * (binary87: IFB_NUMERIC left-padded, IFB_LLNUM right-padded with '=' as
 * nibble D, BCD LL/LLL prefixes, IFB_AMOUNT, IFB_BINARY, raw bitmaps).
 * Every byte below was written from those rules, not from codec output.
 */
#include "common.h"

#include <string.h>

/* 0800 sign-on: DE 7, 11, 70 (DE 70 needs the secondary bitmap).
 * Primary bitmap: bit 1 (0x80) + bit 7 (0x02) = 82; bit 11 = 20.
 * Secondary: bit 70 is the 6th bit of byte 9 = 04. */
static const char *const g0800[2] = {
    "'0800' '8220000000000000' '0400000000000000' '1123093015' '000001' '001'",
    "08 00 | 82 20 00 00 00 00 00 00 | 04 00 00 00 00 00 00 00 | 11 23 09 30 15 | 00 00 01 | 00 01",
};

/* The ATM sample (samples/atm_withdrawal.txt). Bitmap: DE 2 3 4 7 -> 72,
 * 11-14 -> 3C, 18 22 -> 44, 25 32 -> 81, 35 37 -> 28, 41-43 -> E0,
 * 49 52 -> 90. DE 43 is 39 characters in the sample: one space added. */
static const char *const gatm[2] = {
    "'0200' '723C448128E09000' '16' '4761739001010010' '011000' '000000010000'"
    "'1123093015' '000123' '163015' '1123' '2812' '6011' '021' '02' '06' '123456'"
    "'34' '4761739001010010=28121011234567890' '632809000123' 'ATM00001'"
    "'BANKATM00000001' 'CENTRAL MARKET BRANCH  PHNOM PENH    KH ' '840'"
    "'04128A3C5D6E7F80'",
    "02 00 | 72 3C 44 81 28 E0 90 00 | 16 47 61 73 90 01 01 00 10 | 01 10 00 |"
    "00 00 00 01 00 00 | 11 23 09 30 15 | 00 01 23 | 16 30 15 | 11 23 | 28 12 |"
    "60 11 | 00 21 | 02 | 06 12 34 56 |"
    "34 47 61 73 90 01 01 00 10 D2 81 21 01 12 34 56 78 90 |"
    "'632809000123' 'ATM00001' 'BANKATM00000001'"
    "'CENTRAL MARKET BRANCH  PHNOM PENH    KH ' '840' | 04 12 8A 3C 5D 6E 7F 80",
};

/* DE 55 of the POS sample: 9F26(8) 9F27(1) 9F10(18) 9F37(4) 9F36(2) 95(5)
 * 9A(3) 9C(1) 9F02(6) 5F2A(2) 82(2) 9F1A(2) = 86 bytes, 172 hex chars. */
#define POS55                                                                              \
	"9F2608C2B9A1D3E4F506079F2701809F10120110A00003220000000000000000000000FF9F3704A1B2C3D4" \
	"9F36020041950500000080009A032611239C01009F02060000041000005F2A020116820239009F1A020116"

/* The POS sample. Bitmap as the ATM one plus DE 23 (byte 3: 46) and
 * DE 55 (byte 7: 92). */
static const char *const gpos[2] = {
    "'0200' '723C468128E09200' '16' '5413330089010608' '000000' '000004100000'"
    "'1123101502' '000456' '171502' '1123' '2712' '5411' '051' '001' '00' '06' '123456'"
    "'34' '5413330089010608=27122011234500000' '632810000456' 'POS00042'"
    "'MERCH0000000042' 'LUCKY SUPERMARKET      PHNOM PENH    KH ' '116'"
    "'A1B2C3D4E5F60718' '172' '" POS55 "'",
    "02 00 | 72 3C 46 81 28 E0 92 00 | 16 54 13 33 00 89 01 06 08 | 00 00 00 |"
    "00 00 04 10 00 00 | 11 23 10 15 02 | 00 04 56 | 17 15 02 | 11 23 | 27 12 |"
    "54 11 | 00 51 | 00 01 | 00 | 06 12 34 56 |"
    "34 54 13 33 00 89 01 06 08 D2 71 22 01 12 34 50 00 00 |"
    "'632810000456' 'POS00042' 'MERCH0000000042'"
    "'LUCKY SUPERMARKET      PHNOM PENH    KH ' '116' | A1 B2 C3 D4 E5 F6 07 18 |"
    "00 86 " POS55,
};

static const struct t_sample *find_sample(const char *prefix)
{
	const struct t_sample *s;
	size_t n = t_samples(&s);
	for (size_t i = 0; i < n; i++)
		if (strncmp(s[i].name, prefix, strlen(prefix)) == 0)
			return &s[i];
	fail_msg("no sample %s", prefix);
	return NULL;
}

static void check_golden(enum iso_profile prof, const struct iso_msg *m, const char *spec)
{
	static uint8_t want[4096], got[4096];
	static struct iso_msg d;
	static char a[1024], b[1024];
	size_t wl = t_spec(spec, want, sizeof want), gl = 0;
	struct iso_error e;
	assert_int_equal(iso_pack(prof, m, got, sizeof got, &gl, &e), 0);
	if (gl != wl || memcmp(got, want, wl) != 0) {
		size_t i = 0;
		while (i < gl && i < wl && got[i] == want[i])
			i++;
		fail_msg("%s: %zu bytes, want %zu; first difference at byte %zu", t_prof_name[prof], gl,
		         wl, i);
	}
	/* and the layout decodes back to the same logical values */
	assert_int_equal(iso_unpack(prof, want, wl, &d, &e), 0);
	assert_memory_equal(d.mti, m->mti, 4);
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		assert_int_equal(iso_has(&d, de), iso_has(m, de));
		if (!iso_has(m, de) || de == 43)
			continue;
		int la = iso_get(&d, de, a, sizeof a), lb = iso_get(m, de, b, sizeof b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
	}
}

static void t_0800(void **state)
{
	(void)state;
	static struct iso_msg m;
	iso_init(&m, "0800");
	assert_int_equal(iso_set_str(&m, 7, "1123093015"), 0);
	assert_int_equal(iso_set_str(&m, 11, "000001"), 0);
	assert_int_equal(iso_set_num(&m, 70, 1), 0);
	check_golden(ISO_ASCII87, &m, g0800[0]);
	check_golden(ISO_BINARY87, &m, g0800[1]);
}

static void t_atm_0200(void **state)
{
	(void)state;
	static struct iso_msg m;
	t_sample_msg(find_sample("atm_withdrawal"), &m);
	check_golden(ISO_ASCII87, &m, gatm[0]);
	check_golden(ISO_BINARY87, &m, gatm[1]);
}

static void t_pos_0200(void **state)
{
	(void)state;
	static struct iso_msg m;
	t_sample_msg(find_sample("pos_purchase"), &m);
	check_golden(ISO_ASCII87, &m, gpos[0]);
	check_golden(ISO_BINARY87, &m, gpos[1]);
}

/* Each golden layout, decoded and re-encoded in its own profile, is
 * reproduced byte for byte; converted, it is the other profile's layout. */
static void t_golden_round_trip(void **state)
{
	(void)state;
	static const char *const *all[] = {g0800, gatm, gpos};
	static uint8_t in[4096], other[4096], out[4096];
	static struct iso_msg m;
	for (size_t i = 0; i < 3; i++) {
		for (int prof = 0; prof < 2; prof++) {
			size_t il = t_spec(all[i][prof], in, sizeof in), ol = 0;
			size_t xl = t_spec(all[i][1 - prof], other, sizeof other);
			assert_int_equal(iso_unpack((enum iso_profile)prof, in, il, &m, NULL), 0);
			assert_int_equal(iso_pack((enum iso_profile)prof, &m, out, sizeof out, &ol, NULL), 0);
			assert_int_equal(ol, il);
			assert_memory_equal(out, in, il);
			assert_int_equal(iso_pack((enum iso_profile)(1 - prof), &m, out, sizeof out, &ol, NULL),
			                 0);
			assert_int_equal(ol, xl);
			assert_memory_equal(out, other, xl);
		}
	}
}

/* Lower-case hex in bitmaps and b fields is accepted and re-emitted in
 * upper case (WIRE.md). */
static void t_lowercase_hex(void **state)
{
	(void)state;
	static uint8_t in[4096], want[4096], out[4096];
	static struct iso_msg m;
	const char *lower =
	    "'0200' '723c448128e09000' '16' '4761739001010010' '011000' '000000010000'"
	    "'1123093015' '000123' '163015' '1123' '2812' '6011' '021' '02' '06' '123456'"
	    "'34' '4761739001010010=28121011234567890' '632809000123' 'ATM00001'"
	    "'BANKATM00000001' 'CENTRAL MARKET BRANCH  PHNOM PENH    KH ' '840'"
	    "'04128a3c5d6e7f80'";
	size_t il = t_spec(lower, in, sizeof in), wl = t_spec(gatm[0], want, sizeof want), ol;
	assert_int_equal(iso_unpack(ISO_ASCII87, in, il, &m, NULL), 0);
	assert_true(iso_has(&m, 52));
	char pin[9];
	assert_int_equal(iso_get(&m, 52, pin, sizeof pin), 8);
	assert_memory_equal(pin, "\x04\x12\x8a\x3c\x5d\x6e\x7f\x80", 8);
	assert_int_equal(iso_pack(ISO_ASCII87, &m, out, sizeof out, &ol, NULL), 0);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);

	/* lower-case DE 55 */
	const char *l55 = "'0200' '0000000000000200' '008' '9f270180'";
	const char *u55 = "'0200' '0000000000000200' '008' '9F270180'";
	il = t_spec(l55, in, sizeof in);
	wl = t_spec(u55, want, sizeof want);
	assert_int_equal(iso_unpack(ISO_ASCII87, in, il, &m, NULL), 0);
	assert_int_equal(iso_pack(ISO_ASCII87, &m, out, sizeof out, &ol, NULL), 0);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
	assert_int_equal(iso_pack(ISO_BINARY87, &m, out, sizeof out, &ol, NULL), 0);
	wl = t_spec("02 00 00 00 00 00 00 00 02 00 00 04 9F 27 01 80", want, sizeof want);
	assert_int_equal(ol, wl);
	assert_memory_equal(out, want, wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_0800),
	    cmocka_unit_test(t_atm_0200),
	    cmocka_unit_test(t_pos_0200),
	    cmocka_unit_test(t_golden_round_trip),
	    cmocka_unit_test(t_lowercase_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
