/* The receipt module both simulators link (atm-sim/receipt.h): every
 * response code the switch sends has its English and Khmer words, a PAN
 * never shows more than its first 6 and last 4 digits, receipts are valid
 * UTF-8 within the printer's width, and the writer stops cleanly when the
 * buffer is too small. */
#include <stdio.h>
#include <stdlib.h>

#include "simtest.h"
#include "receipt.h"

/* The codes WIRE.md says the switch uses, and the outcomes without one. */
static const char *const switch_codes[] = {
	"00", "03", "05", "12", "13", "14", "25", "30", "41", "43", "51", "54",
	"55", "57", "58", "61", "62", "63", "65", "75", "91", "94", "95", "96",
};
static const char *const outcome_words[] = {"timeout", "macfail", "closed", "keyfail", "error"};

/* Whether s holds a character of the Khmer block (U+1780..U+17FF: UTF-8
 * E1 9E xx or E1 9F xx). */
static bool has_khmer(const char *s)
{
	for (; s[0] && s[1] && s[2]; s++)
		if ((unsigned char)s[0] == 0xE1 &&
		    ((unsigned char)s[1] == 0x9E || (unsigned char)s[1] == 0x9F))
			return true;
	return false;
}

static void check_text(const struct rcp_text *t)
{
	assert_non_null(t->en);
	assert_non_null(t->km);
	assert_true(strlen(t->en) > 0);
	assert_true(rcp_utf8_valid(t->en, strlen(t->en)));
	assert_true(rcp_utf8_valid(t->km, strlen(t->km)));
	assert_true(has_khmer(t->km));
	assert_false(has_khmer(t->en));
}

static void t_reasons(void **state)
{
	(void)state;
	const struct rcp_text *fb = rcp_fallback();
	check_text(fb);
	for (size_t i = 0; i < sizeof switch_codes / sizeof switch_codes[0]; i++) {
		const struct rcp_text *t = rcp_reason(switch_codes[i]);
		if (t == fb)
			fail_msg("response code %s has no words", switch_codes[i]);
		check_text(t);
	}
	for (size_t i = 0; i < sizeof outcome_words / sizeof outcome_words[0]; i++) {
		assert_ptr_not_equal(rcp_reason(outcome_words[i]), fb);
		check_text(rcp_reason(outcome_words[i]));
	}
	/* the table itself: every row well-formed, no code twice */
	size_t n = 0;
	for (const char *c; (c = rcp_code_at(n)) != NULL; n++) {
		check_text(rcp_reason(c));
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(rcp_code_at(j), c);
	}
	assert_int_equal(n, sizeof switch_codes / sizeof switch_codes[0] +
	                        sizeof outcome_words / sizeof outcome_words[0]);
	assert_ptr_equal(rcp_reason("XY"), fb);
	assert_ptr_equal(rcp_reason(""), fb);
	assert_ptr_equal(rcp_reason(NULL), fb);
	assert_string_equal(rcp_reason("51")->km, "ប្រាក់មិនគ្រប់គ្រាន់");
	assert_string_equal(rcp_reason("55")->km, "លេខសម្ងាត់មិនត្រឹមត្រូវ");
	for (int t = 0; t < RCP_TXN_COUNT; t++)
		check_text(rcp_txn_name((enum rcp_txn)t));
	assert_string_equal(rcp_txn_name(RCP_WITHDRAWAL)->km, "ដកប្រាក់");
}

static size_t count_digits(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s >= '0' && *s <= '9';
	return n;
}

static void t_mask(void **state)
{
	(void)state;
	static const char digits[] = "4539100000001107987";
	char pan[20], out[24];
	for (size_t len = 0; len <= 19; len++) {
		memcpy(pan, digits, len);
		pan[len] = '\0';
		assert_int_equal(rcp_mask_pan(pan, out, sizeof out), (int)len);
		assert_int_equal(strlen(out), len);
		assert_true(count_digits(out) <= 10);
		size_t tail = len < 4 ? len : 4;
		assert_memory_equal(out + len - tail, pan + len - tail, tail); /* the last 4 */
		if (len >= 13)
			assert_memory_equal(out, pan, 6);                          /* the first 6 */
		else
			assert_true(count_digits(out) == tail);
	}
	rcp_mask_pan("4539100000001107", out, sizeof out);
	assert_string_equal(out, "453910******1107");
	/* cut to the buffer, never more digits */
	char small[8];
	assert_int_equal(rcp_mask_pan("4539100000001107", small, sizeof small), 16);
	assert_string_equal(small, "453910*");
	assert_int_equal(rcp_mask_pan(NULL, out, sizeof out), 0);
	assert_string_equal(out, "");
}

static void t_money_width(void **state)
{
	(void)state;
	char m[48];
	rcp_money("840", 0, m, sizeof m);
	assert_string_equal(m, "USD 0.00");
	rcp_money("840", 498000, m, sizeof m);
	assert_string_equal(m, "USD 4,980.00");
	rcp_money("116", 12345678901, m, sizeof m);
	assert_string_equal(m, "KHR 123,456,789.01");
	rcp_money("999", 100, m, sizeof m);
	assert_string_equal(m, "999 1.00");
	assert_int_equal(rcp_width("abc"), 3);
	assert_int_equal(rcp_width("ប្រាក់"), 4);  /* coeng and bantoc take no column */
	assert_int_equal(rcp_width("សមតុល្យ"), 5);
	assert_true(rcp_utf8_valid("ដកប្រាក់", strlen("ដកប្រាក់")));
	assert_false(rcp_utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
	assert_false(rcp_utf8_valid("\xED\xA0\x80", 3));     /* a surrogate */
	assert_false(rcp_utf8_valid("\xE1\x9E", 2));         /* cut short */
	assert_false(rcp_utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
}

/* A withdrawal answer: fee D0.00, ledger 4,980.00, available 4,970.00. */
static struct tl_answer answer(const char *rc)
{
	struct tl_answer a;
	memset(&a, 0, sizeof a);
	strcpy(a.rc, rc);
	strcpy(a.stan, "000123");
	if (strcmp(rc, "00") == 0) {
		strcpy(a.approval, "A1B2C3");
		a.has_fee = true;
		a.fee_sign = 'D';
		a.nbal = 2;
		a.bal[0] = (struct tlf_balance){"00", "01", "840", 'C', 498000};
		a.bal[1] = (struct tlf_balance){"00", "02", "840", 'C', 497000};
	}
	return a;
}

/* Every line of a receipt fits the printer. */
static void check_lines(const char *text)
{
	char *copy = strdup(text);
	assert_non_null(copy);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (rcp_width(line) > RCP_COLS)
			fail_msg("line wider than %d: \"%s\"", RCP_COLS, line);
	free(copy);
}

static void t_format(void **state)
{
	(void)state;
	static const char pan[] = "4539100000001107";
	char buf[8192];
	for (size_t i = 0; rcp_code_at(i); i++) {
		const char *code = rcp_code_at(i);
		struct tl_answer a = answer(code);
		struct rcp_receipt r = {.txn = RCP_WITHDRAWAL, .terminal_id = "ATM00001",
		                        .location = "Head office, Norodom Blvd, Phnom Penh",
		                        .when = 1700000000, .pan = pan, .currency = "840",
		                        .has_amount = true, .amount = 2000, .outcome = code, .ans = &a,
		                        .rrn = "501141000123"};
		assert_int_equal(rcp_format(&r, buf, sizeof buf), 0);
		assert_true(rcp_utf8_valid(buf, strlen(buf)));
		check_lines(buf);
		assert_null(strstr(buf, pan));
		assert_non_null(strstr(buf, "453910******1107"));
		assert_non_null(strstr(buf, "WITHDRAWAL  ដកប្រាក់"));
		assert_non_null(strstr(buf, "USD 20.00"));
		if (strcmp(code, "00") == 0) {
			assert_non_null(strstr(buf, "APPROVED  បានអនុម័ត"));
			assert_non_null(strstr(buf, "A1B2C3"));
			assert_non_null(strstr(buf, "USD 4,970.00"));
			assert_non_null(strstr(buf, "កម្រៃសេវា"));
			continue;
		}
		/* the reason in both languages, wrapped only at spaces */
		const struct rcp_text *why = rcp_reason(code);
		const char *first_space = strchr(why->km, ' ');
		char head[160];
		snprintf(head, sizeof head, "%.*s", first_space ? (int)(first_space - why->km) : 159,
		         why->km);
		assert_non_null(strstr(buf, head));
		assert_non_null(strstr(buf, strlen(code) == 2 ? "DECLINED  បានបដិសេធ" : "NOT COMPLETED"));
		assert_null(strstr(buf, "A1B2C3"));
		assert_null(strstr(buf, "Approval code"));
	}
	/* POS copies: the signature line on the merchant's, cash-back split */
	struct tl_answer a = answer("00");
	a.has_fee = false;
	a.nbal = 0;
	struct rcp_receipt r = {.txn = RCP_CASHBACK, .copy = RCP_COPY_MERCHANT, .bank = "OUR BANK",
	                        .terminal_id = "POS00001", .merchant_id = "MER000000000001",
	                        .when = 1700000000, .pan = pan, .entry = "051",
	                        .cvm = RCP_CVM_SIGNATURE, .currency = "116", .has_amount = true,
	                        .amount = 10000000, .cashback = 2000000, .outcome = "00", .ans = &a};
	assert_int_equal(rcp_format(&r, buf, sizeof buf), 0);
	check_lines(buf);
	assert_non_null(strstr(buf, "MERCHANT COPY"));
	assert_non_null(strstr(buf, "Cardholder signature"));
	assert_non_null(strstr(buf, "KHR 80,000.00"));
	assert_non_null(strstr(buf, "KHR 20,000.00"));
	assert_non_null(strstr(buf, "KHR 100,000.00"));
	assert_non_null(strstr(buf, "Chip ឈីប"));
	r.copy = RCP_COPY_CUSTOMER;
	assert_int_equal(rcp_format(&r, buf, sizeof buf), 0);
	assert_null(strstr(buf, "Cardholder signature"));
	/* cardless: only the last 4 of the reference */
	struct rcp_receipt c = {.txn = RCP_CARDLESS, .when = 1700000000,
	                        .reference = "9000000000123456", .outcome = "timeout"};
	rcp_add_item(&c, "Reversal", "ការបង្វិលប្រាក់វិញ", "0420 answered 00");
	assert_int_equal(rcp_format(&c, buf, sizeof buf), 0);
	assert_non_null(strstr(buf, "****3456"));
	assert_null(strstr(buf, "9000000000123456"));
	assert_non_null(strstr(buf, "0420 answered 00"));
	assert_non_null(strstr(buf, "គ្មានចម្លើយពីធនាគារ"));
	/* too small a buffer: the error, and only whole pieces */
	for (size_t cap = 1; cap < 400; cap += 37) {
		char small[400];
		assert_int_equal(rcp_format(&c, small, cap), RCP_ERR_NOSPACE);
		assert_true(strlen(small) < cap);
		assert_true(rcp_utf8_valid(small, strlen(small)));
	}
	assert_int_equal(rcp_format(&c, buf, 0), RCP_ERR_NOSPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_reasons),
		cmocka_unit_test(t_mask),
		cmocka_unit_test(t_money_width),
		cmocka_unit_test(t_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
