/* tlfield: the terminal's field values (track 2, DE 48 key tags, DE 54,
 * DE 28, DE 90, DE 95, amounts). Table-driven where there are many cases. */
#include "simtest.h"
#include "tlfield.h"

static void t_amounts(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		uint64_t v;
	} c[] = {
		{"20.00", 0, 2000}, {"0.01", 0, 1}, {"40000.00", 0, 4000000},
		{"9999999999.99", 0, 999999999999ull}, {"10000000000.00", TLF_ERR_RANGE, 0},
		{"20", TLF_ERR_FORMAT, 0}, {"20.0", TLF_ERR_FORMAT, 0}, {"20.000", TLF_ERR_FORMAT, 0},
		{".50", TLF_ERR_FORMAT, 0}, {"-1.00", TLF_ERR_FORMAT, 0}, {"1,00", TLF_ERR_FORMAT, 0},
		{"1.0a", TLF_ERR_FORMAT, 0}, {"", TLF_ERR_FORMAT, 0},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		uint64_t v = 0;
		assert_int_equal(tlf_amount_parse(c[i].in, &v), c[i].rc);
		if (c[i].rc == 0)
			assert_int_equal(v, c[i].v);
	}
	char out[32];
	tlf_amount_format(4000001, out, sizeof out);
	assert_string_equal(out, "40000.01");
	tlf_amount_format(5, out, sizeof out);
	assert_string_equal(out, "0.05");

	char cur[4];
	assert_int_equal(tlf_currency_code("USD", cur), 0);
	assert_string_equal(cur, "840");
	assert_int_equal(tlf_currency_code("khr", cur), 0);
	assert_string_equal(cur, "116");
	assert_int_equal(tlf_currency_code("116", cur), 0);
	assert_int_equal(tlf_currency_code("EUR", cur), TLF_ERR_FORMAT);
	assert_string_equal(tlf_currency_alpha("840"), "USD");
	assert_null(tlf_currency_alpha("978"));
}

static void t_track2(void **state)
{
	(void)state;
	char t2[38];
	/* PAN '=' YYMM service code, then discretionary digits up to 37. */
	assert_int_equal(tlf_track2("4539100000001107", "3011", "201", "000123", t2, sizeof t2), 30);
	assert_string_equal(t2, "4539100000001107=3011201000123");
	assert_int_equal(tlf_track2("4539100000001107", "3011", "201", NULL, t2, sizeof t2), 24);
	assert_string_equal(t2, "4539100000001107=3011201");
	/* 19-digit PAN: the discretionary data is cut to fit 37 characters. */
	assert_int_equal(tlf_track2("6212800000008809123", "3011", "201", "12345678901234", t2, sizeof t2), 37);
	assert_string_equal(t2, "6212800000008809123=30112011234567890");
	static const char *const bad[][4] = {
		{"45391000000", "3011", "201", ""},   /* PAN of 11 digits */
		{"45391000000011070000", "3011", "201", ""},
		{"453910000000110X", "3011", "201", ""},
		{"4539100000001107", "3013", "201", ""}, /* month 13 */
		{"4539100000001107", "3000", "201", ""},
		{"4539100000001107", "301", "201", ""},
		{"4539100000001107", "3011", "20", ""},
		{"4539100000001107", "3011", "201", "12=4"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tlf_track2(bad[i][0], bad[i][1], bad[i][2], bad[i][3], t2, sizeof t2),
		                 TLF_ERR_FORMAT);
	assert_int_equal(tlf_track2("4539100000001107", "3011", "201", "", t2, 37), TLF_ERR_NOSPACE);
}

#define KP "KP032" "4230EF1CB26849551FD1B02B237AF9AE"
#define CP "CP006" "AD7614"
#define KA "KA032" "1FD1B02B237AF9AE1A4D672DCA6CB335"
#define CA "CA006" "7B8358"

static void t_keytags(void **state)
{
	(void)state;
	struct tlf_keytags kt;
	char tag[3];
	const char *good = KP CP KA CA;
	assert_int_equal(tlf_keytags_parse(good, strlen(good), &kt, tag), 0);
	assert_string_equal(kt.kp, "4230EF1CB26849551FD1B02B237AF9AE");
	assert_string_equal(kt.cp, "AD7614");
	assert_string_equal(kt.ka, "1FD1B02B237AF9AE1A4D672DCA6CB335");
	assert_string_equal(kt.ca, "7B8358");
	assert_string_equal(tag, "");
	/* Any order; an unknown tag is skipped. */
	const char *mixed = CA "ZZ003abc" KA CP KP;
	assert_int_equal(tlf_keytags_parse(mixed, strlen(mixed), &kt, tag), 0);
	assert_string_equal(kt.cp, "AD7614");

	static const struct {
		const char *in;
		int rc;
		const char *tag;
	} c[] = {
		{KP CP KA "CA006" "7B835", TLF_ERR_TRUNCATED, "CA"}, /* value cut short */
		{KP CP KA "CA00", TLF_ERR_TRUNCATED, "CA"},          /* length cut short */
		{KP CP KA "C", TLF_ERR_TRUNCATED, ""},
		{KP CP KA, TLF_ERR_MISSING, "CA"},
		{KP CP KA CA CP, TLF_ERR_DUPLICATE, "CP"},
		{KP CP KA "CA0X6" "7B8358", TLF_ERR_FORMAT, "CA"},
		{KP CP KA "CA006" "7B835G", TLF_ERR_FORMAT, "CA"},   /* not hex */
		{"KP030" "4230EF1CB26849551FD1B02B237AF9" CP KA CA, TLF_ERR_FORMAT, "KP"},
		{"", TLF_ERR_MISSING, "KP"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		assert_int_equal(tlf_keytags_parse(c[i].in, strlen(c[i].in), &kt, tag), c[i].rc);
		assert_string_equal(tag, c[i].tag);
	}
}

static void t_balances(void **state)
{
	(void)state;
	struct tlf_balance b[4];
	/* WIRE.md: account type 2, amount type 2, currency 3, C/D, amount 12. */
	const char *s = "1001840C000000498000" "1002840C000000497000" "2002116D000000001234";
	assert_int_equal(tlf_balances_parse(s, strlen(s), b, 4), 3);
	assert_string_equal(b[0].acct_type, "10");
	assert_string_equal(b[0].amount_type, "01");
	assert_string_equal(b[0].currency, "840");
	assert_int_equal(b[0].sign, 'C');
	assert_int_equal(b[0].amount, 498000);
	assert_string_equal(b[1].amount_type, "02");
	assert_int_equal(b[1].amount, 497000);
	assert_int_equal(b[2].sign, 'D');
	assert_string_equal(b[2].currency, "116");
	assert_int_equal(b[2].amount, 1234);
	assert_int_equal(tlf_balances_parse("", 0, b, 4), 0);
	assert_int_equal(tlf_balances_parse(s, strlen(s), b, 2), TLF_ERR_RANGE);
	static const char *const bad[] = {
		"1001840C00000049800",   /* 19 characters */
		"1001840X000000498000",  /* sign */
		"1001840C00000049800A",  /* amount */
		"10 1840C000000498000",  /* type */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tlf_balances_parse(bad[i], strlen(bad[i]), b, 4), TLF_ERR_FORMAT);
}

static void t_xn(void **state)
{
	(void)state;
	char sign;
	uint64_t v;
	assert_int_equal(tlf_xn_parse("D00000150", 9, &sign, &v), 0);
	assert_int_equal(sign, 'D');
	assert_int_equal(v, 150);
	assert_int_equal(tlf_xn_parse("C00000000", 9, &sign, &v), 0);
	assert_int_equal(tlf_xn_parse("00000150", 8, &sign, &v), TLF_ERR_FORMAT);
	assert_int_equal(tlf_xn_parse("D", 1, &sign, &v), TLF_ERR_FORMAT);
	assert_int_equal(tlf_xn_parse("D0000015x", 9, &sign, &v), TLF_ERR_FORMAT);
}

static void t_reversal_fields(void **state)
{
	(void)state;
	char out[43];
	/* ISO 8583:1987 DE 90: MTI, STAN, DE 7, acquirer 11, forwarder 11. */
	assert_int_equal(tlf_de90("0200", "000123", "1123131438", "00000000001", NULL, out), 0);
	assert_string_equal(out, "020000012311231314380000000000100000000000");
	assert_int_equal(tlf_de90("0200", "000123", "1123131438", "1", "12", out), 0);
	assert_string_equal(out, "020000012311231314380000000000100000000012");
	assert_int_equal(tlf_de90("0200", "123", "1123131438", "1", NULL, out), TLF_ERR_FORMAT);
	assert_int_equal(tlf_de90("0200", "000123", "1123131438", "123456789012", NULL, out), TLF_ERR_RANGE);
	/* DE 95: actual amount, settlement amount, two x+n 9 fees. */
	assert_int_equal(tlf_de95(1000, out), 0);
	assert_string_equal(out, "000000001000000000000000C00000000C00000000");
	assert_int_equal(strlen(out), 42);
	assert_int_equal(tlf_de95(1000000000000ull, out), TLF_ERR_RANGE);
	char rrn[13];
	tlf_rrn(2026, 327, 13, "476776", rrn);
	assert_string_equal(rrn, "632713476776");
	assert_true(tlf_digits("123", 1, 3));
	assert_false(tlf_digits("1234", 1, 3));
	assert_false(tlf_digits("12a", 1, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_amounts),   cmocka_unit_test(t_track2),
		cmocka_unit_test(t_keytags),   cmocka_unit_test(t_balances),
		cmocka_unit_test(t_xn),        cmocka_unit_test(t_reversal_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
