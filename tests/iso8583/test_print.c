/*
 * The masking printer: nothing it prints may carry a full PAN, track data
 * beyond the masked PAN, a PIN block, a MAC or card-identifying EMV data
 * (STYLE.md 13). Expected masks are written from the header's rule: first
 * 6 + last 4, '*' between, all '*' under 13 digits.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char pan16[] = "4761739001010010";
static const char pan19[] = "4761739001010010123";

static void want_mask(const char *pan, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (len >= 13 && (i < 6 || i >= len - 4)) ? pan[i] : '*';
	out[len] = '\0';
}

static void t_mask_pan(void **state)
{
	(void)state;
	char out[64], want[64];
	for (size_t len = 0; len <= 19; len++) {
		want_mask(pan19, len, want);
		assert_int_equal(iso_mask_pan(pan19, len, out, sizeof out), len);
		assert_string_equal(out, want);
	}
	/* the fixed points */
	iso_mask_pan(pan19, 12, out, sizeof out);
	assert_string_equal(out, "************");
	iso_mask_pan(pan19, 13, out, sizeof out);
	assert_string_equal(out, "476173***1010");
	iso_mask_pan(pan16, 16, out, sizeof out);
	assert_string_equal(out, "476173******0010");
	iso_mask_pan(pan19, 19, out, sizeof out);
	assert_string_equal(out, "476173*********0123");
	/* a small buffer truncates, always terminated, never shows more */
	for (size_t cap = 0; cap < 20; cap++) {
		memset(out, 'x', sizeof out);
		size_t n = iso_mask_pan(pan19, 19, out, cap);
		if (cap == 0) {
			assert_int_equal(n, 0);
			assert_int_equal(out[0], 'x');
			continue;
		}
		assert_int_equal(n, cap - 1);
		assert_int_equal(out[cap - 1], '\0');
		assert_memory_equal(out, "476173*********0123", cap - 1);
	}
}

/* Assert that text holds no secret: the full PAN, and any run of 7+ of
 * its digits beyond what a mask shows (first 6 or last 4). */
static void no_secret(const char *text, const char *secret, size_t keep, const char *what)
{
	size_t sl = strlen(secret), tl = strlen(text);
	for (size_t i = 0; i + keep < sl; i++)
		for (size_t len = keep + 1; i + len <= sl; len++)
			if (t_contains(text, tl, secret + i, len) && len > keep)
				fail_msg("%s: \"%s\" shows %zu chars of the secret from %zu", what, text, len, i);
}

static void t_samples_masked(void **state)
{
	(void)state;
	static struct iso_msg m, d;
	static uint8_t enc[4096];
	static char out[8192], hex[64];
	const struct t_sample *s;
	size_t n = t_samples(&s), el;
	for (size_t i = 0; i < n; i++) {
		t_sample_msg(&s[i], &m);
		char pan[32], track[64];
		snprintf(pan, sizeof pan, "%.*s", (int)s[i].len[2], (const char *)s[i].val[2]);
		snprintf(track, sizeof track, "%.*s", (int)s[i].len[35], (const char *)s[i].val[35]);
		const char *disc = strchr(track, '=') + 1;
		t_hex(s[i].val[52], 8, hex);
		for (int p = 0; p < 3; p++) {
			const struct iso_msg *mm = &m;
			if (p < 2) {
				assert_int_equal(iso_pack((enum iso_profile)p, &m, enc, sizeof enc, &el, NULL), 0);
				assert_int_equal(iso_unpack((enum iso_profile)p, enc, el, &d, NULL), 0);
				mm = &d;
			}
			size_t o = 0;
			for (unsigned de = 2; de <= 128; de++) {
				if (!iso_has(mm, de))
					continue;
				int k = iso_format_value(mm, de, out + o, sizeof out - o);
				assert_true(k >= 0 && (size_t)k < sizeof out - o);
				assert_int_equal((size_t)k, strlen(out + o));
				o += (size_t)k;
				out[o++] = '|';
			}
			out[o] = '\0';
			/* no more than 6 consecutive PAN digits (the BIN) anywhere */
			no_secret(out, pan, 6, s[i].name);
			/* neither the track 2 discretionary data nor the PIN block
			 * (hex or bytes) anywhere */
			assert_null(strstr(out, disc));
			assert_null(strstr(out, hex));
			assert_false(t_contains(out, o, s[i].val[52], 8));
			/* DE 35 alone: nothing of the discretionary data at all */
			iso_format_value(mm, 35, out, sizeof out);
			no_secret(out, disc, 3, s[i].name);
			/* DE 2 exactly as the mask */
			char want[32];
			want_mask(pan, strlen(pan), want);
			assert_int_equal(iso_format_value(mm, 2, out, sizeof out), (int)strlen(want));
			assert_string_equal(out, want);
			/* DE 35 starts with the masked PAN */
			iso_format_value(mm, 35, out, sizeof out);
			assert_memory_equal(out, want, strlen(want));
			assert_int_equal(out[strlen(want)], '=');
		}
	}
}

static void t_secret_fields(void **state)
{
	(void)state;
	static struct iso_msg m;
	char out[2048];
	const char t1[] = "B4761739001010010^DOE/JOHN              ^28121011234567890000000";
	const char t3[] = "014761739001010010=1010101010101010101010101010101010101010";
	const uint8_t mac[8] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67};
	const uint8_t msc[16] = "0123456789abcdef";
	iso_init(&m, "0200");
	assert_int_equal(iso_set_str(&m, 34, "476173900101001099"), 0);
	assert_int_equal(iso_set_str(&m, 45, t1), 0);
	assert_int_equal(iso_set_str(&m, 36, t3), 0);
	assert_int_equal(iso_set(&m, 64, mac, 8), 0);
	assert_int_equal(iso_set(&m, 128, mac, 8), 0);
	assert_int_equal(iso_set(&m, 96, msc, 16), 0);
	assert_int_equal(iso_set_str(&m, 102, "0012345678901234"), 0);
	assert_int_equal(iso_set_str(&m, 103, "AB98765432"), 0);
	assert_int_equal(iso_set_str(&m, 35, "4761739001010010"), 0); /* no separator */
	assert_int_equal(iso_set_str(&m, 2, "476173900101"), 0);      /* short: all masked */

	iso_format_value(&m, 34, out, sizeof out);
	assert_string_equal(out, "476173********1099");
	iso_format_value(&m, 45, out, sizeof out);
	assert_null(strstr(out, "DOE"));
	no_secret(out, t1, 3, "DE 45");
	iso_format_value(&m, 36, out, sizeof out);
	no_secret(out, t3, 3, "DE 36");
	iso_format_value(&m, 64, out, sizeof out);
	assert_null(strstr(out, "DEAD"));
	assert_null(strstr(out, "dead"));
	assert_false(t_contains(out, strlen(out), mac, 2));
	iso_format_value(&m, 128, out, sizeof out);
	assert_null(strstr(out, "DEAD"));
	iso_format_value(&m, 96, out, sizeof out);
	assert_null(strstr(out, "0123"));
	assert_null(strstr(out, "3031"));
	iso_format_value(&m, 102, out, sizeof out);
	assert_string_equal(out, "************1234");
	iso_format_value(&m, 103, out, sizeof out);
	assert_string_equal(out, "******5432");
	iso_format_value(&m, 35, out, sizeof out);
	assert_memory_equal(out, "476173******0010", 16);
	iso_format_value(&m, 2, out, sizeof out);
	assert_string_equal(out, "************");
	/* ordinary fields print as they are; absent ones print nothing */
	assert_int_equal(iso_set_str(&m, 41, "ATM00001"), 0);
	assert_int_equal(iso_format_value(&m, 41, out, sizeof out), 8);
	assert_string_equal(out, "ATM00001");
	assert_int_equal(iso_format_value(&m, 42, out, sizeof out), 0);
	assert_string_equal(out, "");
	assert_int_equal(iso_format_value(&m, 65, out, sizeof out), 0);
	/* snprintf-like truncation */
	assert_int_equal(iso_format_value(&m, 41, out, 4), 8);
	assert_string_equal(out, "ATM");
	out[0] = 'x';
	assert_int_equal(iso_format_value(&m, 41, out, 0), 8);
	assert_int_equal(out[0], 'x');
}

static void t_emv_masked(void **state)
{
	(void)state;
	static struct iso_msg m;
	uint8_t v[256];
	char out[2048];
	/* 5A PAN (F-padded, 19 digits), 57 track 2 equivalent, 5F20 name,
	 * 9F27 and 9F26 ordinary; 57 and 5A again inside a 77 template */
	size_t n = t_spec("9F27 01 80"
	                  "5A 0A 4761739001010010123F"
	                  "57 13 4761739001010010D28121011234567890000F"
	                  "5F20 08 'DOE/JOHN'"
	                  "9F26 08 C2B9A1D3E4F50607"
	                  "77 16 5A 08 4761739001010010 57 0A 4761739001010010D281",
	                  v, sizeof v);
	iso_init(&m, "0200");
	assert_int_equal(iso_set(&m, 55, v, n), 0);
	int k = iso_format_value(&m, 55, out, sizeof out);
	assert_int_equal((size_t)k, strlen(out));
	assert_non_null(strstr(out, "9F27=80"));
	assert_non_null(strstr(out, "9F26=C2B9A1D3E4F50607"));
	assert_non_null(strstr(out, "5A=476173*********0123"));
	assert_non_null(strstr(out, "5A=476173******0010"));
	assert_null(strstr(out, "DOE"));
	assert_null(strstr(out, "444F45")); /* "DOE" in hex */
	no_secret(out, pan16, 6, "DE 55");
	no_secret(out, "D28121011234567890000F", 3, "DE 55 track 2");
	no_secret(out, "28121011234567890000", 3, "DE 55 track 2");

	/* same through both wire forms */
	for (int p = 0; p < 2; p++) {
		static uint8_t enc[1024];
		static struct iso_msg d;
		size_t el;
		char out2[2048];
		assert_int_equal(iso_pack((enum iso_profile)p, &m, enc, sizeof enc, &el, NULL), 0);
		assert_int_equal(iso_unpack((enum iso_profile)p, enc, el, &d, NULL), 0);
		iso_format_value(&d, 55, out2, sizeof out2);
		assert_string_equal(out2, out);
	}

	/* malformed TLV: what came before is shown, the rest is not */
	n = t_spec("9F27 01 80 5A 0B 47617390010100101230", v, sizeof v);
	assert_int_equal(iso_set(&m, 55, v, n), 0);
	iso_format_value(&m, 55, out, sizeof out);
	assert_non_null(strstr(out, "9F27=80"));
	assert_non_null(strstr(out, "malformed"));
	no_secret(out, "47617390010100101230", 6, "malformed DE 55");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_mask_pan),
	    cmocka_unit_test(t_samples_masked),
	    cmocka_unit_test(t_secret_fields),
	    cmocka_unit_test(t_emv_masked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
