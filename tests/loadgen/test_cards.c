/* lg_cards: the Luhn digit, the bench cards' PANs (the same rule as
 * schema/bench/switch.sql), card files and the hot card. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg_cards.h"

/* Whether a full PAN passes the Luhn check. */
static int luhn_ok(const char *pan)
{
	char body[20];
	size_t n = strlen(pan);
	memcpy(body, pan, n - 1);
	body[n - 1] = '\0';
	return lgc_luhn(body) == pan[n - 1];
}

static void t_luhn(void **state)
{
	(void)state;
	/* The demo bank's cards (schema/demo/demo.sql computes them in SQL)
	 * and well-known test numbers. */
	static const char *const good[] = {"4539100000001107", "4539100000001123", "5274100000005500",
	                                   "6212800000008809", "4111111111111111", "79927398713"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(luhn_ok(good[i]));
	assert_false(luhn_ok("4539100000001108"));
	assert_int_equal(lgc_luhn(""), '0');
}

static void t_bench_pan(void **state)
{
	(void)state;
	char pan[20];
	lgc_bench_pan(1, pan);
	assert_string_equal(pan, "4539190000000019");
	lgc_bench_pan(100000, pan);
	assert_int_equal(strlen(pan), 16);
	assert_memory_equal(pan, LGC_BENCH_BIN "000100000", 15);
	lgc_bench_pan(LGC_BENCH_MAX, pan);
	assert_memory_equal(pan, LGC_BENCH_BIN "999999999", 15);
	for (unsigned long i = 1; i < 100000; i += 997) {
		lgc_bench_pan(i, pan);
		assert_true(luhn_ok(pan));
		char want[16];
		snprintf(want, sizeof want, "%s%09lu", LGC_BENCH_BIN, i);
		assert_memory_equal(pan, want, 15);
	}
}

static void t_bench_set(void **state)
{
	(void)state;
	struct lgc_set s;
	char why[128];
	struct lgs_rng r;
	lgs_seed(&r, 3);
	assert_int_equal(lgc_open_bench(&s, 0, "1234", "3011", why, sizeof why), -1);
	assert_int_equal(lgc_open_bench(&s, 10, "12", "3011", why, sizeof why), -1);
	assert_int_equal(lgc_open_bench(&s, 10, "1234", "30", why, sizeof why), -1);
	assert_int_equal(lgc_open_bench(&s, 10, "1234", "3011", why, sizeof why), 0);
	unsigned seen[11] = {0};
	for (int i = 0; i < 2000; i++) {
		struct tl_card c;
		const char *pin;
		lgc_pick(&s, &r, &c, &pin);
		assert_string_equal(pin, "1234");
		assert_string_equal(c.expiry, "3011");
		assert_string_equal(c.service, "201");
		unsigned long k = strtoul(c.pan + 6, NULL, 10) / 10;
		assert_true(k >= 1 && k <= 10);
		seen[k]++;
	}
	for (int k = 1; k <= 10; k++)
		assert_true(seen[k] > 100);
	assert_int_equal(lgc_set_hot(&s, "11", why, sizeof why), -1);
	assert_int_equal(lgc_set_hot(&s, "x", why, sizeof why), -1);
	assert_int_equal(lgc_set_hot(&s, "7", why, sizeof why), 0);
	char want[20];
	lgc_bench_pan(7, want);
	for (int i = 0; i < 10; i++) {
		struct tl_card c;
		const char *pin;
		lgc_pick(&s, &r, &c, &pin);
		assert_string_equal(c.pan, want);
	}
	lgc_close(&s);
}

static void t_file_set(void **state)
{
	(void)state;
	struct lgc_set s;
	char why[256];
	struct lgs_rng r;
	lgs_seed(&r, 4);
	assert_int_equal(lgc_open_file(&s, "/nonexistent/cards.txt", why, sizeof why), -1);
	assert_int_equal(lgc_open_file(&s, DEMO_CARDS, why, sizeof why), 0);
	assert_int_equal(lgc_set_hot(&s, "no-such-card", why, sizeof why), -1);
	assert_int_equal(lgc_set_hot(&s, "visa-classic", why, sizeof why), 0);
	for (int i = 0; i < 10; i++) {
		struct tl_card c;
		const char *pin;
		lgc_pick(&s, &r, &c, &pin);
		assert_string_equal(c.pan, "4539100000001107");
		assert_string_equal(pin, "1234");
	}
	lgc_close(&s);
}

/* Output names a bench card by its number, anything else masked. */
static void t_label(void **state)
{
	(void)state;
	struct lgc_set s;
	char why[128], pan[20], out[24];
	assert_int_equal(lgc_open_bench(&s, 2000, "1234", "3011", why, sizeof why), 0);
	lgc_bench_pan(1999, pan);
	lgc_label(&s, pan, out, sizeof out);
	assert_string_equal(out, "1999");
	lgc_bench_pan(2001, pan); /* not one of this run's cards */
	lgc_label(&s, pan, out, sizeof out);
	assert_string_equal(out, "453919******0017");
	pan[15] = pan[15] == '9' ? '0' : (char)(pan[15] + 1); /* bad check digit */
	lgc_label(&s, pan, out, sizeof out);
	assert_int_equal(strncmp(out, "453919******", 12), 0);
	lgc_label(&s, "4539100000001107", out, sizeof out);
	assert_string_equal(out, "453910******1107");
	lgc_close(&s);
	assert_int_equal(lgc_open_file(&s, DEMO_CARDS, why, sizeof why), 0);
	lgc_bench_pan(7, pan);
	lgc_label(&s, pan, out, sizeof out);
	assert_string_equal(out, "453919******0076");
	lgc_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_luhn),
		cmocka_unit_test(t_bench_pan),
		cmocka_unit_test(t_bench_set),
		cmocka_unit_test(t_file_set),
		cmocka_unit_test(t_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
