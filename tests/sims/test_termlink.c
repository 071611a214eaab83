/*
 * termlink: PIN block, message-level MAC, key change, and the link itself
 * against a scripted peer on loopback.
 *
 * Expected values: the format 0 clear block 0412AC89ABCDEF67 (PIN 1234, PAN
 * 43219876543210987) is the ISO 9564 example reproduced in Wikipedia's
 * "ISO 9564" article. Everything else that is encrypted or MACed here was
 * computed independently with Python's `cryptography` package (TDES-ECB, and
 * the retail MAC written out as DES-CBC with K1, decrypt K2, encrypt K1 over
 * the hand-assembled message bytes), never by this code.
 */
#include <pthread.h>

#include "simtest.h"
#include "peer.h"
#include "termlink.h"
#include "tlconn.h"
#include "tlreq.h"

#define TMK "0123456789ABCDEFFEDCBA9876543210" /* ATM00001's demo TMK */
#define TPK "89ABCDEF01234567FEDCBA9876543210"
#define TAK "0123456789ABCDEFFEDCBA9876543210" /* the ISO 9797-1 Annex B key */

static void t_pin_block(void **state)
{
	(void)state;
	pc_key tpk = st_key(TPK);
	uint8_t blk[8], clear[8];
	assert_int_equal(tl_pin_block(&tpk, "1234", "43219876543210987", blk), 0);
	st_assert_hex(blk, 8, "ACD3C84032B1FC4E");
	assert_int_equal(pc_ecb(&tpk, false, blk, clear, 8), 0);
	st_assert_hex(clear, 8, "0412AC89ABCDEF67");
	assert_int_equal(tl_pin_block(&tpk, "123", "43219876543210987", blk), TL_ERR_ARG);
	assert_int_equal(tl_pin_block(&tpk, "1234", "4321", blk), TL_ERR_ARG);
}

/* The fields of the golden messages: 2, 3, 4, 11, 41, 49 and, for a MAC
 * in DE 128, DE 90 (which brings the secondary bitmap). */
static void golden_msg(struct iso_msg *m, bool with90)
{
	iso_init(m, "0200");
	assert_int_equal(iso_set_str(m, 2, "4539100000001107"), 0);
	assert_int_equal(iso_set_str(m, 3, "011000"), 0);
	assert_int_equal(iso_set_str(m, 4, "000000002000"), 0);
	assert_int_equal(iso_set_str(m, 11, "000123"), 0);
	assert_int_equal(iso_set_str(m, 41, "ATM00001"), 0);
	assert_int_equal(iso_set_str(m, 49, "840"), 0);
	if (with90)
		assert_int_equal(iso_set_str(m, 90, "020000012211231314380000000000100000000000"), 0);
}

static const struct {
	enum iso_profile prof;
	bool with90;
	unsigned macde;
	const char *hex; /* the whole message; for ascii87 the hex of its text */
} golden[] = {
	{ISO_ASCII87, false, 64,
	 "303230303730323030303030303038303830303131363435333931303030303030303131303730313130"
	 "303030303030303030303230303030303031323341544D30303030313834303433324144373634364531"
	 "3639424430"},
	{ISO_ASCII87, true, 128,
	 "303230304630323030303030303038303830303030303030303034303030303030303031313634353339"
	 "31303030303030303131303730313130303030303030303030303230303030303031323341544D303030"
	 "303138343030323030303030313232313132333133313433383030303030303030303031303030303030"
	 "303030303043374437374531343232424135413131"},
	{ISO_BINARY87, false, 64,
	 "0200702000000080800116453910000000110701100000000000200000012341544D3030303031383430"
	 "263D3E7BC8C5F7F2"},
	{ISO_BINARY87, true, 128,
	 "0200F020000000808000000000400000000116453910000000110701100000000000200000012341544D"
	 "30303030313834300200000122112313143800000000001000000000009E9A09E45EB3B994"},
};

static void t_mac_golden(void **state)
{
	(void)state;
	pc_key tak = st_key(TAK);
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
		struct iso_msg m;
		uint8_t out[512];
		size_t len;
		golden_msg(&m, golden[i].with90);
		assert_int_equal(tl_mac_field(&m), golden[i].macde);
		assert_int_equal(tl_pack_mac(&tak, golden[i].prof, &m, out, sizeof out, &len), 0);
		st_assert_hex(out, len, golden[i].hex);
		assert_true(iso_has(&m, golden[i].macde));
		/* Without a TAK the message is packed as is, with no MAC field. */
		assert_int_equal(tl_pack_mac(NULL, golden[i].prof, &m, out, sizeof out, &len), 0);
		assert_false(iso_has(&m, 64) || iso_has(&m, 128));
	}
}

static void t_mac_verify(void **state)
{
	(void)state;
	pc_key tak = st_key(TAK), other = st_key(TPK);
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
		uint8_t raw[512];
		size_t len = st_hex(golden[i].hex, raw, sizeof raw);
		struct iso_msg m;
		enum iso_profile p = golden[i].prof;
		assert_int_equal(iso_unpack(p, raw, len, &m, NULL), 0);
		assert_int_equal(tl_mac_verify(&tak, p, raw, len, &m), TL_MAC_OK);
		assert_int_equal(tl_mac_verify(&other, p, raw, len, &m), TL_MAC_BAD);
		/* Every byte before the MAC is covered: change the terminal id. */
		uint8_t *tid = memchr(raw, 'A', len);
		assert_non_null(tid);
		*tid = 'B';
		assert_int_equal(iso_unpack(p, raw, len, &m, NULL), 0);
		assert_int_equal(tl_mac_verify(&tak, p, raw, len, &m), TL_MAC_BAD);
		*tid = 'A';
		/* And the MAC itself. */
		raw[len - 1] ^= p == ISO_ASCII87 ? 0x01 : 0x80;
		assert_int_equal(iso_unpack(p, raw, len, &m, NULL), 0);
		assert_int_equal(tl_mac_verify(&tak, p, raw, len, &m), TL_MAC_BAD);
	}
	/* No MAC field; and a MAC in DE 64 where the secondary bitmap wants 128. */
	struct iso_msg m;
	uint8_t raw[512];
	size_t len;
	golden_msg(&m, false);
	assert_int_equal(tl_pack_mac(NULL, ISO_ASCII87, &m, raw, sizeof raw, &len), 0);
	assert_int_equal(iso_unpack(ISO_ASCII87, raw, len, &m, NULL), 0);
	assert_int_equal(tl_mac_verify(&tak, ISO_ASCII87, raw, len, &m), TL_MAC_MISSING);
	golden_msg(&m, true);
	static const uint8_t zero[8];
	assert_int_equal(iso_set(&m, 64, zero, 8), 0);
	struct iso_error e;
	assert_int_equal(iso_pack(ISO_ASCII87, &m, raw, sizeof raw, &len, &e), 0);
	assert_int_equal(iso_unpack(ISO_ASCII87, raw, len, &m, NULL), 0);
	assert_int_equal(tl_mac_verify(&tak, ISO_ASCII87, raw, len, &m), TL_MAC_MISSING);
}

#define KP "KP032" "4230EF1CB26849551FD1B02B237AF9AE" /* TPK under the TMK */
#define CP "CP006" "AD7614"
#define KA "KA032" "1FD1B02B237AF9AE1A4D672DCA6CB335" /* TAK under the TMK */
#define CA "CA006" "7B8358"

static void t_keys_from_de48(void **state)
{
	(void)state;
	pc_key tmk = st_key(TMK), tpk, tak;
	char why[160];
	const char *good = KP CP KA CA;
	assert_int_equal(tl_keys_from_de48(&tmk, good, strlen(good), &tpk, &tak, why, sizeof why), 0);
	st_assert_hex(tpk.b, tpk.len, TPK);
	st_assert_hex(tak.b, tak.len, "FEDCBA98765432100123456789ABCDEF");
	/* Lower-case check values are the same values. */
	const char *lower = KP "CP006ad7614" KA CA;
	assert_int_equal(tl_keys_from_de48(&tmk, lower, strlen(lower), &tpk, &tak, why, sizeof why), 0);

	static const struct {
		const char *de48, *why;
	} bad[] = {
		{KP CP KA "CA006" "7B83", "DE 48 tag CA: truncated"},
		{KP "CP006" "AD7615" KA CA, "TPK check value mismatch (got AD7615, computed AD7614)"},
		{KP CP KA "CA006" "000000", "TAK check value mismatch (got 000000, computed 7B8358)"},
		{KP CP "KA048" "1FD1B02B237AF9AE1A4D672DCA6CB3351FD1B02B237AF9AE" CA,
		 "TAK is not double length"},
		{KP CP KA, "DE 48 tag CA: required item missing"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pc_key a = st_key(TAK), b = st_key(TAK);
		assert_int_equal(tl_keys_from_de48(&tmk, bad[i].de48, strlen(bad[i].de48), &a, &b, why,
		                                   sizeof why), TL_ERR_KEYS);
		assert_string_equal(why, bad[i].why);
		/* The caller's keys are untouched. */
		st_assert_hex(a.b, a.len, TAK);
		st_assert_hex(b.b, b.len, TAK);
	}
}

/* An answer with another STAN is dropped, the matching one taken. */
static void t_link_matching(void **state)
{
	(void)state;
	struct peer p = {.act = {UNRELATED_FIRST, ANSWER}};
	pthread_t th;
	tl_term *t = peer_start(&p, &th);
	tl_set_stan(t, 41);
	struct tl_answer a;
	assert_int_equal(tl_network(t, TL_NM_SIGNON, &a), 0);
	assert_string_equal(a.rc, "00");
	assert_string_equal(a.mti, "0810");
	assert_string_equal(a.stan, "000041");
	assert_int_equal(a.skipped, 1);
	assert_int_equal(tl_network(t, TL_NM_ECHO, &a), 0);
	assert_int_equal(a.skipped, 0);
	assert_string_equal(p.stan[1], "000042");
	peer_stop(&p, th, t);
}

/* No answer to a withdrawal: the reversal is repeated as 0421 with the same
 * STAN until answered; it carries DE 90 naming the withdrawal. */
static void t_link_timeout_reversal(void **state)
{
	(void)state;
	struct peer p = {.act = {SILENT, SILENT, SILENT, ANSWER, CLOSE}};
	pthread_t th;
	tl_term *t = peer_start(&p, &th);
	tl_set_stan(t, 7);
	struct tl_card card = {"4539100000001107", "3011", "201"};
	struct tl_fin f = {.card = &card, .proc = "010000", .amount = 2000, .currency = "840"};
	struct tl_answer a;
	assert_int_equal(tl_reverse(t, 0, 3, &a), TL_ERR_NO_ORIGINAL);
	assert_int_equal(tl_financial(t, &f, &a), TL_ERR_TIMEOUT);
	assert_int_equal(tl_reverse(t, 2000, 3, &a), TL_ERR_ARG); /* not a partial dispense */
	assert_int_equal(tl_reverse(t, 0, 3, &a), 0);
	assert_string_equal(a.mti, "0430");
	assert_string_equal(a.sent_mti, "0421");
	assert_int_equal(a.sends, 3);
	assert_string_equal(p.seen[0], "0200");
	assert_string_equal(p.seen[1], "0420");
	assert_string_equal(p.seen[2], "0421");
	assert_string_equal(p.seen[3], "0421");
	assert_string_equal(p.stan[0], "000007");
	assert_string_equal(p.stan[1], "000008");
	assert_string_equal(p.stan[3], "000008");
	assert_int_equal(tl_last_amount(t), 0);
	/* The peer closes on the next message. */
	assert_int_equal(tl_repeat(t, &a), TL_ERR_CLOSED);
	assert_string_equal(p.seen[4], "0421");
	assert_false(tl_connected(t));
	peer_stop(&p, th, t);
}

/* A reversal's answer whose MAC fails (missing, or under another key) does
 * not acknowledge it: it is repeated as 0421, each repeat when the 300 ms
 * time-out would have passed, until one verifies; when none does, the
 * caller sees the failed MAC after the last repeat. */
static void t_link_reversal_mac(void **state)
{
	(void)state;
	pc_key tpk = st_key(TPK), tak = st_key(TAK);
	struct tl_card card = {"4539100000001107", "3011", "201"};
	struct tl_fin f = {.card = &card, .proc = "010000", .amount = 2000, .currency = "840"};
	struct tl_answer a;
	struct peer p = {.act = {SILENT, ANSWER, ANSWER_WRONG_MAC, ANSWER_MACED}, .tak = tak};
	pthread_t th;
	tl_term *t = peer_start(&p, &th);
	assert_int_equal(tl_set_working_keys(t, &tpk, &tak), 0);
	assert_int_equal(tl_financial(t, &f, &a), TL_ERR_TIMEOUT);
	int64_t t0 = tlc_now_ms();
	assert_int_equal(tl_reverse(t, 0, 3, &a), 0);
	assert_true(tlc_now_ms() - t0 >= 2 * 300); /* two untrusted answers waited out */
	assert_int_equal(a.mac, TL_MAC_OK);
	assert_string_equal(a.sent_mti, "0421");
	assert_int_equal(a.sends, 3);
	assert_string_equal(p.seen[1], "0420");
	assert_string_equal(p.seen[2], "0421");
	assert_string_equal(p.seen[3], "0421");
	assert_string_equal(p.stan[3], p.stan[1]);
	peer_stop(&p, th, t);

	struct peer q = {.act = {SILENT, ANSWER_WRONG_MAC, ANSWER}, .tak = tak};
	t = peer_start(&q, &th);
	assert_int_equal(tl_set_working_keys(t, &tpk, &tak), 0);
	assert_int_equal(tl_financial(t, &f, &a), TL_ERR_TIMEOUT);
	assert_int_equal(tl_reverse(t, 0, 1, &a), 0);
	assert_int_equal(a.mac, TL_MAC_MISSING);
	assert_true(tl_mac_failed(&a));
	assert_int_equal(a.sends, 2);
	assert_int_equal(q.n, 3);
	peer_stop(&q, th, t);
}

/* What a terminal must reverse (tl_unsure): no answer, or an approval
 * whose MAC fails; not a decline (even with a bad MAC), a good approval,
 * an unMACed one, or a lost connection (the switch reverses that). */
static void t_unsure(void **state)
{
	(void)state;
	struct tl_answer a = {.rc = "00", .mac = TL_MAC_OK};
	assert_false(tl_unsure(0, &a));
	a.mac = TL_MAC_NONE;
	assert_false(tl_unsure(0, &a));
	a.mac = TL_MAC_BAD;
	assert_true(tl_unsure(0, &a));
	a.mac = TL_MAC_MISSING;
	assert_true(tl_unsure(0, &a));
	strcpy(a.rc, "51");
	assert_false(tl_unsure(0, &a));
	assert_true(tl_unsure(TL_ERR_TIMEOUT, &a));
	assert_false(tl_unsure(TL_ERR_CLOSED, &a));
	assert_false(tl_unsure(TL_ERR_ARG, &a));
}

static void t_link_wait_close(void **state)
{
	(void)state;
	struct peer p = {.act = {CLOSE}};
	pthread_t th;
	tl_term *t = peer_start(&p, &th);
	assert_int_equal(tl_wait_close(t, 100), TL_ERR_TIMEOUT); /* still open */
	static const uint8_t garbage[] = {0x00, 0x04, '0', '8', '0', '0'};
	assert_int_equal(tl_send_raw(t, garbage, sizeof garbage), 0);
	assert_int_equal(tl_wait_close(t, 1000), 0);
	assert_false(tl_connected(t));
	assert_int_equal(tl_wait_close(t, 10), TL_ERR_CLOSED);
	peer_stop(&p, th, t);
}

static void t_config(void **state)
{
	(void)state;
	struct tl_config ok = {.port = 1, .framing = ISO_FRAME_BIN2, .terminal_id = "ATM00001",
	                       .acquirer_id = "00000000001"};
	struct tl_config c = ok;
	int err;
	tl_term *t = tl_new(&c, &err);
	assert_non_null(t);
	assert_false(tl_has_tmk(t));
	uint8_t even[16] = {0};
	assert_int_equal(tl_set_tmk(t, even, 16), TL_ERR_ARG); /* parity */
	tl_free(t);
	c.terminal_id = "ATM000001"; /* 9 characters */
	assert_null(tl_new(&c, &err));
	assert_int_equal(err, TL_ERR_ARG);
	c = ok;
	c.acquirer_id = "123456789012";
	assert_null(tl_new(&c, &err));
	c = ok;
	c.framing = ISO_FRAME_NONE;
	assert_null(tl_new(&c, &err));
}

/* The first STAN from the clock: 100 us apart in one second gives another
 * STAN, every value is a valid DE 11 (1..999999), and it wraps every 100 s. */
static void t_first_stan(void **state)
{
	(void)state;
	struct timespec a = {.tv_sec = 1795000000, .tv_nsec = 0}; /* 2026-11-18 11:06:40 UTC */
	struct timespec b = {.tv_sec = 1795000000, .tv_nsec = 100000};
	unsigned sa = tlq_first_stan(&a), sb = tlq_first_stan(&b);
	assert_int_equal(sa, 401); /* second 40000 of the day: 400,000,000 mod 999999 = 400 */
	assert_int_equal(sb, sa + 1);
	struct timespec mid = {.tv_sec = 0, .tv_nsec = 0};
	assert_int_equal(tlq_first_stan(&mid), 1);
	struct timespec wrap = {.tv_sec = 100, .tv_nsec = 0}; /* 1,000,000 units: wrapped once */
	assert_int_equal(tlq_first_stan(&wrap), 2);
	for (long s = 0; s < 86400; s += 7) {
		struct timespec t = {.tv_sec = s, .tv_nsec = 999900000};
		unsigned v = tlq_first_stan(&t);
		assert_true(v >= 1 && v <= 999999);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_pin_block),      cmocka_unit_test(t_mac_golden),
		cmocka_unit_test(t_mac_verify),     cmocka_unit_test(t_keys_from_de48),
		cmocka_unit_test(t_link_matching),  cmocka_unit_test(t_link_timeout_reversal),
		cmocka_unit_test(t_link_wait_close), cmocka_unit_test(t_config),
		cmocka_unit_test(t_unsure),         cmocka_unit_test(t_link_reversal_mac),
		cmocka_unit_test(t_first_stan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
