/*
 * Round trips: encode -> decode -> encode reproduces the bytes in both
 * profiles; ascii87 -> binary87 -> ascii87 keeps every field's logical value
 * (iso_get), for the samples and for a message with every data element at
 * its maximum. Every proper prefix of a message is refused as truncated.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static uint8_t store[40000];

/* A value of the field's full length, cycling through its alphabet. */
static size_t max_value(unsigned de, enum iso_profile limit_for, uint8_t *v)
{
	const struct iso_field_def *d = iso_field_def(de);
	size_t n = d->max;
	if (d->type == ISO_T_XN)
		n++;
	/* DE 55 in ascii87: 999 hex characters at most, so 499 bytes (WIRE.md) */
	if (de == 55 && limit_for == ISO_ASCII87)
		n = 499;
	for (size_t i = 0; i < n; i++) {
		switch (d->type) {
		case ISO_T_ANS: v[i] = (uint8_t)(0x20 + (i + de) % 95); break;
		case ISO_T_B: v[i] = (uint8_t)(255 - (i * 7 + de) % 256); break;
		case ISO_T_Z: v[i] = (uint8_t)(i == 19 ? '=' : '0' + (i + de) % 10); break;
		default: v[i] = (uint8_t)('0' + (i * 7 + de) % 10); break;
		}
	}
	if (d->type == ISO_T_XN)
		v[0] = (de & 1) ? 'C' : 'D';
	return n;
}

static void build_full(struct iso_msg *m, const uint8_t **vals, size_t *lens)
{
	size_t used = 0;
	iso_init(m, "0220");
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		if (de == 65)
			continue;
		size_t n = max_value(de, ISO_ASCII87, store + used);
		assert_int_equal(iso_set(m, de, store + used, n), 0);
		vals[de] = store + used;
		lens[de] = n;
		used += n;
		assert_true(used < sizeof store);
	}
}

/* Compare every field of a decoded message with the expected values. */
static void same_values(const struct iso_msg *m, const uint8_t *const *vals, const size_t *lens,
                        const char *what)
{
	static char got[1024];
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		if (vals[de] == NULL) {
			if (iso_has(m, de))
				fail_msg("%s: DE %u present", what, de);
			continue;
		}
		int n = iso_get(m, de, got, sizeof got);
		if (n != (int)lens[de] || memcmp(got, vals[de], lens[de]) != 0)
			fail_msg("%s: DE %u differs (%d bytes, want %zu)", what, de, n, lens[de]);
	}
}

static void convert(enum iso_profile from, const uint8_t *in, size_t il, enum iso_profile to,
                    uint8_t *out, size_t *ol)
{
	static struct iso_msg m;
	struct iso_error e;
	int rc = iso_unpack(from, in, il, &m, &e);
	if (rc != 0)
		fail_msg("decode %s: %s DE %u at %zu", t_prof_name[from], iso_strerror(rc), e.de,
		         e.offset);
	assert_int_equal(iso_pack(to, &m, out, T_MSG_MAX, ol, &e), 0);
}

static void round_trip(const struct iso_msg *src, const uint8_t *const *vals, const size_t *lens,
                       const char *name)
{
	static uint8_t enc[2][T_MSG_MAX], re[T_MSG_MAX], x[T_MSG_MAX], back[T_MSG_MAX];
	static struct iso_msg m;
	char what[160];
	size_t el[2], rl, xl, bl;
	for (int p = 0; p < 2; p++) {
		enum iso_profile prof = (enum iso_profile)p, other = (enum iso_profile)(1 - p);
		assert_int_equal(iso_pack(prof, src, enc[p], T_MSG_MAX, &el[p], NULL), 0);
		/* decode -> same values; encode again -> same bytes */
		assert_int_equal(iso_unpack(prof, enc[p], el[p], &m, NULL), 0);
		snprintf(what, sizeof what, "%s %s decoded", name, t_prof_name[p]);
		same_values(&m, vals, lens, what);
		assert_int_equal(iso_pack(prof, &m, re, sizeof re, &rl, NULL), 0);
		assert_int_equal(rl, el[p]);
		assert_memory_equal(re, enc[p], rl);
		/* to the other profile: same values, and the same bytes as
		 * encoding the original there */
		convert(prof, enc[p], el[p], other, x, &xl);
		assert_int_equal(iso_unpack(other, x, xl, &m, NULL), 0);
		snprintf(what, sizeof what, "%s %s->%s", name, t_prof_name[p], t_prof_name[1 - p]);
		same_values(&m, vals, lens, what);
		if (p == 1) {
			assert_int_equal(xl, el[0]);
			assert_memory_equal(x, enc[0], xl);
		}
		/* and back */
		convert(other, x, xl, prof, back, &bl);
		assert_int_equal(bl, el[p]);
		assert_memory_equal(back, enc[p], bl);
	}
}

static void sample_vals(const struct t_sample *s, const uint8_t **vals, size_t *lens)
{
	for (unsigned de = 0; de <= ISO_MAX_DE; de++) {
		vals[de] = s->val[de];
		lens[de] = s->len[de];
	}
	/* fixed ans values shorter than the field come back space-filled */
	static uint8_t padded[ISO_MAX_DE + 1][64];
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		const struct iso_field_def *d = iso_field_def(de);
		if (vals[de] && d->lentype == ISO_FIXED && lens[de] < d->max) {
			assert_true(d->max <= 64);
			memset(padded[de], d->type == ISO_T_N ? '0' : ' ', d->max);
			if (d->type == ISO_T_N)
				memcpy(padded[de] + d->max - lens[de], vals[de], lens[de]);
			else
				memcpy(padded[de], vals[de], lens[de]);
			vals[de] = padded[de];
			lens[de] = d->max;
		}
	}
}

static void t_samples_round_trip(void **state)
{
	(void)state;
	static struct iso_msg m;
	const struct t_sample *s;
	const uint8_t *vals[ISO_MAX_DE + 1];
	size_t lens[ISO_MAX_DE + 1];
	size_t n = t_samples(&s);
	for (size_t i = 0; i < n; i++) {
		t_sample_msg(&s[i], &m);
		sample_vals(&s[i], vals, lens);
		round_trip(&m, vals, lens, s[i].name);
	}
}

static void t_all_fields_max(void **state)
{
	(void)state;
	static struct iso_msg m;
	const uint8_t *vals[ISO_MAX_DE + 1] = {0};
	size_t lens[ISO_MAX_DE + 1] = {0};
	build_full(&m, vals, lens);
	round_trip(&m, vals, lens, "all fields at max");
}

/* DE 55 of 500..999 bytes fits binary87 but not ascii87's 3-digit count of
 * hex characters: converting it must fail, not truncate. */
static void t_de55_too_long_for_ascii(void **state)
{
	(void)state;
	static struct iso_msg m, d;
	static uint8_t v[999], out[4096];
	size_t ol;
	struct iso_error e;
	memset(v, 0x9f, sizeof v);
	static const size_t sizes[] = {0, 1, 499, 500, 998, 999};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		iso_init(&m, "0200");
		assert_int_equal(iso_set(&m, 55, v, n), 0);
		assert_int_equal(iso_pack(ISO_BINARY87, &m, out, sizeof out, &ol, NULL), 0);
		assert_int_equal(ol, 2 + 8 + 2 + n);
		assert_int_equal(iso_unpack(ISO_BINARY87, out, ol, &d, NULL), 0);
		int rc = iso_pack(ISO_ASCII87, &d, out, sizeof out, &ol, &e);
		if (n <= 499) {
			assert_int_equal(rc, 0);
			assert_int_equal(ol, 4 + 16 + 3 + 2 * n);
		} else {
			assert_int_equal(rc, ISO_ERR_TOO_LONG);
			assert_int_equal(e.code, ISO_ERR_TOO_LONG);
			assert_int_equal(e.de, 55);
		}
	}
	iso_init(&m, "0200");
	assert_int_equal(iso_set(&m, 55, v, 500), 0);
	assert_int_equal(iso_pack(ISO_ASCII87, &m, out, sizeof out, &ol, &e), ISO_ERR_TOO_LONG);
	assert_int_equal(e.de, 55);
	assert_int_equal(e.offset, 20);
}

/* Every proper prefix of a message is truncated: an error, never success,
 * never a read past the prefix (ASan checks the copy). */
static void prefixes(enum iso_profile prof, const uint8_t *msg, size_t len, const char *name)
{
	static struct iso_msg m;
	static uint8_t copy[T_MSG_MAX];
	for (size_t k = 0; k < len; k++) {
		/* the prefix alone at the end of a heap-like buffer */
		uint8_t *p = copy + sizeof copy - k;
		memcpy(p, msg, k);
		struct iso_error e = {0, 0, 0};
		int rc = iso_unpack(prof, p, k, &m, &e);
		if (rc != ISO_ERR_TRUNCATED || e.code != rc || e.offset != k || e.de > 128)
			fail_msg("%s %s prefix %zu/%zu: %d (%s) DE %u at %zu", name, t_prof_name[prof], k,
			         len, rc, iso_strerror(rc), e.de, e.offset);
	}
	uint8_t *p = copy + sizeof copy - len;
	memcpy(p, msg, len);
	assert_int_equal(iso_unpack(prof, p, len, &m, NULL), 0);
}

static void t_every_prefix(void **state)
{
	(void)state;
	static struct iso_msg m;
	static uint8_t enc[T_MSG_MAX];
	const struct t_sample *s;
	size_t n = t_samples(&s), el;
	for (size_t i = 0; i < n; i++) {
		t_sample_msg(&s[i], &m);
		for (int p = 0; p < 2; p++) {
			assert_int_equal(iso_pack((enum iso_profile)p, &m, enc, sizeof enc, &el, NULL), 0);
			prefixes((enum iso_profile)p, enc, el, s[i].name);
		}
	}
	/* one with the secondary bitmap and every kind of field */
	const uint8_t *vals[ISO_MAX_DE + 1];
	size_t lens[ISO_MAX_DE + 1];
	build_full(&m, vals, lens);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(iso_pack((enum iso_profile)p, &m, enc, sizeof enc, &el, NULL), 0);
		/* every prefix of 40 kB is 800 MB of decoding: take the ones
		 * around each field boundary and a stride through the rest */
		static struct iso_msg d;
		assert_int_equal(iso_unpack((enum iso_profile)p, enc, el, &d, NULL), 0);
		for (size_t k = 0; k < el; k += (k < 64 ? 1 : 97)) {
			struct iso_error e;
			assert_int_equal(iso_unpack((enum iso_profile)p, enc, k, &d, &e), ISO_ERR_TRUNCATED);
			assert_int_equal(e.offset, k);
		}
		assert_int_equal(iso_unpack((enum iso_profile)p, enc, el, &d, NULL), 0);
		for (unsigned de = 2; de <= 128; de++) {
			if (de == 65)
				continue;
			size_t at = (size_t)(d.f[de].p - enc);
			for (size_t k = at > 3 ? at - 3 : 0; k < at + 3 && k < el; k++) {
				struct iso_error e;
				static struct iso_msg junk; /* m's views must stay in `store` */
				assert_int_equal(iso_unpack((enum iso_profile)p, enc, k, &junk, &e),
				                 ISO_ERR_TRUNCATED);
			}
			assert_int_equal(iso_unpack((enum iso_profile)p, enc, el, &d, NULL), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_samples_round_trip),
	    cmocka_unit_test(t_all_fields_max),
	    cmocka_unit_test(t_de55_too_long_for_ascii),
	    cmocka_unit_test(t_every_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
