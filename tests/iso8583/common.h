/* Helpers shared by the iso8583 unit tests. None of them calls the code
 * under test to produce an expected value: byte layouts come from t_spec()
 * strings written by hand, bitmaps from t_header(), samples from a parser
 * of the N=value files written here. */
#ifndef T_ISO8583_COMMON_H
#define T_ISO8583_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "iso8583.h"

#define T_MSG_MAX 65536

/* Bytes from a hand-written layout: hex digit pairs (blanks ignored) and
 * 'text' in single quotes copied byte for byte. Fails the test on a
 * malformed spec or overflow. Returns the number of bytes. */
size_t t_spec(const char *spec, uint8_t *out, size_t cap);

/* The MTI and bitmap(s) of a message holding exactly the data elements in
 * des[0..n), laid out by hand for the profile (ascii87: 4 digits and
 * upper-case hex; binary87: 2 BCD bytes and raw bitmaps). Returns length. */
size_t t_header(enum iso_profile prof, const char *mti, const unsigned *des, size_t n,
                uint8_t *out);

/* Bytes to upper-case hex text, NUL-terminated. */
void t_hex(const uint8_t *p, size_t n, char *out);

/* True when needle[0..nl) occurs in hay[0..hl). */
int t_contains(const void *hay, size_t hl, const void *needle, size_t nl);

#define T_MAX_SAMPLES 16

struct t_sample {
	char name[128];
	char mti[4];
	/* Logical values; b fields already converted from hex to bytes. */
	const uint8_t *val[ISO_MAX_DE + 1];
	size_t len[ISO_MAX_DE + 1];
	uint8_t store[8192];
	size_t used;
};

/* Every message of every tests/iso8583/samples/ *.txt file, in name order.
 * Static storage; returns the count (at least one, or the test fails). */
size_t t_samples(const struct t_sample **out);

/* Build a message from a sample through iso_set (values are not copied). */
void t_sample_msg(const struct t_sample *s, struct iso_msg *m);

extern const char *const t_prof_name[2];

#endif
