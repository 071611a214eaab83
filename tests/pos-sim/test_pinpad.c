/*
 * pos-sim's DUKPT PIN pad against the published vectors, through the PIN
 * pad's own path (BDK file -> initial key -> counter -> PIN block):
 *
 * - TDES, ANSI X9.24-1:2009 Annex A: BDK 0123456789ABCDEFFEDCBA9876543210,
 *   initial KSN FFFF9876543210E00000, PIN 1234, PAN 4012345678909: the
 *   encrypted format 0 blocks of the first transactions (1B9C1845EB993A7A,
 *   10A01C8D02C69107, 18DC07B94797B466).
 * - AES, ANSI X9.24-3-2017: BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, initial
 *   key ID 1234567890123456; the first transaction's PIN working key is
 *   AF8CB133A78F8DC2D1359F18527593FB, and the format 4 example of the
 *   supplement (PIN 1234, PAN 4111111111111111, random field
 *   2F69ADDE2E9E7ACE) under that key is A912150391AB65A67E52883D81CE2D15.
 *
 * paycrypto's own tests check the derivations; these check that pos-sim
 * loads the right key, steps the counter and picks the right format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "simtest.h"
#include "pos_pinpad.h"

static const char bdks[] =
	"# test BDKs\n"
	"POS00001 tdes 0123456789ABCDEFFEDCBA9876543210\n"
	"POS00001 aes  FEDCBA9876543210F1F1F1F1F1F1F1F1  # comment\n"
	"\n"
	"POS00002 aes  FEDCBA9876543210F1F1F1F1F1F1F1F1FEDCBA9876543210F1F1F1F1F1F1F1F1\n";

/* Writes text into a temporary file; returns its name (static buffer). */
static const char *tmpfile_with(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/test_pinpad_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static pp_pad *load(enum pp_alg alg, const char *tid, const char *ksn_hex)
{
	const char *path = tmpfile_with(bdks);
	char why[256];
	pc_key bdk;
	uint8_t ksn[12];
	assert_int_equal(pp_load_bdk(path, tid, alg, &bdk, why, sizeof why), 0);
	unlink(path);
	assert_int_equal(pp_parse_ksn(alg, ksn_hex, ksn, why, sizeof why), 0);
	int err;
	pp_pad *p = pp_new(alg, &bdk, ksn, &err);
	assert_non_null(p);
	assert_int_equal(err, 0);
	return p;
}

static void t_tdes_annex_a(void **state)
{
	(void)state;
	static const struct {
		const char *ksn, *epb;
	} v[] = {
		{"FFFF9876543210E00001", "1B9C1845EB993A7A"},
		{"FFFF9876543210E00002", "10A01C8D02C69107"},
		{"FFFF9876543210E00003", "18DC07B94797B466"},
	};
	pp_pad *p = load(PP_TDES, "POS00001", "FFFF9876543210E00000");
	assert_int_equal(pp_alg_of(p), PP_TDES);
	for (size_t i = 0; i < 3; i++) {
		struct pp_entry e;
		assert_int_equal(pp_pin(p, "1234", "4012345678909", NULL, &e), 0);
		assert_string_equal(e.ksn, v[i].ksn);
		assert_int_equal(e.blen, 8);
		st_assert_hex(e.block, 8, v[i].epb);
	}
	/* A bad PIN or PAN is refused before a key is taken. */
	struct pp_entry e;
	assert_int_equal(pp_pin(p, "123", "4012345678909", NULL, &e), PP_ERR_ARG);
	assert_int_equal(pp_pin(p, "1234", "40123", NULL, &e), PP_ERR_ARG);
	assert_int_equal(pp_pin(p, "1234", "4012345678909", NULL, &e), 0);
	assert_string_equal(e.ksn, "FFFF9876543210E00004");
	pp_free(p);
}

static void t_aes(void **state)
{
	(void)state;
	pp_pad *p = load(PP_AES, "POS00001", "123456789012345600000000");
	assert_int_equal(pp_alg_of(p), PP_AES);
	uint8_t fill[8];
	st_hex("2F69ADDE2E9E7ACE", fill, sizeof fill);
	struct pp_entry e;
	assert_int_equal(pp_pin(p, "1234", "4111111111111111", fill, &e), 0);
	assert_string_equal(e.ksn, "123456789012345600000001");
	assert_int_equal(e.blen, 16);
	st_assert_hex(e.block, 16, "A912150391AB65A67E52883D81CE2D15");
	/* The next entry: counter 2, the block decrypts under its own PIN key
	 * (X9.24-3: D30BDC73EC9714B000BEC66BDB7B6D09) only. */
	assert_int_equal(pp_pin(p, "98765", "4111111111111111", NULL, &e), 0);
	assert_string_equal(e.ksn, "123456789012345600000002");
	uint8_t kb[16];
	pc_key k;
	char pin[13];
	st_hex("D30BDC73EC9714B000BEC66BDB7B6D09", kb, sizeof kb);
	assert_int_equal(pc_key_set(&k, PC_ALG_AES, kb, 16), 0);
	assert_int_equal(pc_pin_decrypt(&k, PC_PIN_ISO4, e.block, 16, "4111111111111111", pin), 0);
	assert_string_equal(pin, "98765");
	pp_free(p);
	/* An AES-256 BDK loads too. */
	pp_free(load(PP_AES, "POS00002", "123456789012345600000000"));
}

static void t_files_and_ksns(void **state)
{
	(void)state;
	char why[256];
	pc_key bdk;
	uint8_t ksn[12];
	static const struct {
		const char *text, *tid;
		enum pp_alg alg;
		const char *why; /* after "FILE" */
	} bad[] = {
		{"POS00001 0123456789ABCDEFFEDCBA9876543210\n", "POS00001", PP_TDES,
		 ":1: want TERMINAL-ID tdes|aes HEX-BDK"},
		{"#\nPOS00001 des 0123456789ABCDEFFEDCBA9876543210\n", "POS00001", PP_TDES,
		 ":2: want TERMINAL-ID tdes|aes HEX-BDK"},
		{"POS00001 tdes 0123456789ABCDEFFEDCBA98765432\n", "POS00001", PP_TDES,
		 ":1: the tdes BDK must be 32 hex"},
		{"POS00001 tdes 0123456789ABCDEFFEDCBA98765432100123456789ABCDEF\n", "POS00001", PP_TDES,
		 ":1: the tdes BDK must be 32 hex"},
		{"POS00001 aes FEDCBA9876543210F1F1F1F1F1F1F1\n", "POS00001", PP_AES,
		 ":1: the aes BDK must be 32, 48 or 64 hex"},
		{"POS00001 aes FEDCBA9876543210F1F1F1F1F1F1F1F1\n", "POS00001", PP_TDES,
		 ": no tdes BDK for terminal POS00001"},
		{"POS00001 tdes 0123456789ABCDEFFEDCBA9876543210\n", "POS00002", PP_TDES,
		 ": no tdes BDK for terminal POS00002"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *path = tmpfile_with(bad[i].text);
		char want[256];
		snprintf(want, sizeof want, "%s%s", path, bad[i].why);
		assert_int_equal(pp_load_bdk(path, bad[i].tid, bad[i].alg, &bdk, why, sizeof why),
		                 PP_ERR_FILE);
		assert_string_equal(why, want);
		unlink(path);
	}
	assert_int_equal(pp_load_bdk("/nonexistent/bdks", "POS00001", PP_TDES, &bdk, why, sizeof why),
	                 PP_ERR_FILE);

	assert_int_equal(pp_parse_ksn(PP_TDES, "FFFF9876543210E00001", ksn, why, sizeof why), PP_ERR_ARG);
	assert_string_equal(why, "KSN FFFF9876543210E00001: an initial KSN has a zero transaction counter");
	assert_int_equal(pp_parse_ksn(PP_TDES, "FFFF9876543210E0000", ksn, why, sizeof why), PP_ERR_ARG);
	assert_string_equal(why, "KSN FFFF9876543210E0000: want 20 hex digits for tdes DUKPT");
	assert_int_equal(pp_parse_ksn(PP_AES, "FFFF9876543210E00000", ksn, why, sizeof why), PP_ERR_ARG);
	assert_int_equal(pp_parse_ksn(PP_AES, "12345678901234560000000G", ksn, why, sizeof why), PP_ERR_ARG);
	assert_int_equal(pp_parse_ksn(PP_AES, "123456789012345600000100", ksn, why, sizeof why), PP_ERR_ARG);
	/* The TDES counter is 21 bits: E0 in byte 7 is the device's, not the counter's. */
	assert_int_equal(pp_parse_ksn(PP_TDES, "FFFF9876543210E00000", ksn, why, sizeof why), 0);
	assert_int_equal(pp_alg_parse("tdes"), PP_TDES);
	assert_int_equal(pp_alg_parse("aes"), PP_AES);
	assert_int_equal(pp_alg_parse("AES"), 0);
	/* A key of the wrong kind. */
	uint8_t kb[16] = {1};
	int err;
	assert_int_equal(pc_key_set(&bdk, PC_ALG_AES, kb, 16), 0);
	assert_null(pp_new(PP_TDES, &bdk, ksn, &err));
	assert_int_equal(err, PP_ERR_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_tdes_annex_a),
		cmocka_unit_test(t_aes),
		cmocka_unit_test(t_files_and_ksns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
