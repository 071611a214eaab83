/* Helpers shared by the simulator tests (cmocka). */
#ifndef SIMTEST_H
#define SIMTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "paycrypto.h"

/* Decodes hex that the test knows to be good. */
static inline size_t st_hex(const char *h, uint8_t *out, size_t cap)
{
	int n = pc_hex_decode(h, strlen(h), out, cap);
	assert_true(n >= 0);
	return (size_t)n;
}

/* A TDES key from hex. */
static inline pc_key st_key(const char *h)
{
	uint8_t b[24];
	pc_key k;
	size_t n = st_hex(h, b, sizeof b);
	assert_int_equal(pc_key_set(&k, PC_ALG_TDES, b, n), 0);
	return k;
}

static inline void st_assert_hex(const uint8_t *got, size_t n, const char *want)
{
	char s[2 * 600 + 1];
	assert_true(n <= 600);
	pc_hex_encode(got, n, s);
	assert_string_equal(s, want);
}

#endif
