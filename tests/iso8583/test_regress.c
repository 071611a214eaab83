/*
 * One test per bug fixed in iso8583/, named after the bug.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

/* iso_set_num zero-filled fixed fields in a 20-byte stack buffer, writing
 * before its start for DE 90 (n 42). */
static void t_bug_set_num_de90_stack_overflow(void **state)
{
	(void)state;
	static struct iso_msg m;
	char got[64];
	iso_init(&m, "0420");
	assert_int_equal(iso_set_num(&m, 90, 200000123u), 0);
	assert_int_equal(iso_get(&m, 90, got, sizeof got), 42);
	assert_string_equal(got, "000000000000000000000000000000000200000123");
	assert_int_equal(iso_set_num(&m, 90, UINT64_MAX), 0);
	assert_int_equal(iso_get(&m, 90, got, sizeof got), 42);
	assert_string_equal(got, "000000000000000000000018446744073709551615");
}

/* The printer hex-dumped an EMV template nested deeper than its recursion
 * limit, showing the PAN in a 5A (or a 57) inside it. */
static void t_bug_print_deep_template_leaks_pan(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t v[128];
	char out[1024];
	size_t n = t_spec("70 18 70 16 70 14 70 12 70 10 70 0E 70 0C 70 0A 5A 08 4761739001010010",
	                  v, sizeof v);
	assert_int_equal(n, 26);
	iso_init(&m, "0200");
	assert_int_equal(iso_set(&m, 55, v, n), 0);
	iso_format_value(&m, 55, out, sizeof out);
	assert_null(strstr(out, "4761739001010010"));
	assert_null(strstr(out, "7390010"));
	assert_null(strstr(out, "5A084761"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_bug_set_num_de90_stack_overflow),
	    cmocka_unit_test(t_bug_print_deep_template_leaks_pan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
