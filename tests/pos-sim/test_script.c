/* pos-sim's script language: good input parsed into the right steps (DE
 * 22/25 per entry mode, PIN, CVV2, recurring, amounts), every kind of bad
 * input refused with its line and reason. */
#include <stdio.h>
#include <stdlib.h>

#include "simtest.h"
#include "pos_script.h"

static void load_cards(struct cf_set *cs)
{
	char why[256] = "";
	assert_int_equal(cf_load(DEMO_CARDS, cs, why, sizeof why), 0);
}

static void t_good(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	const char *text =
		"# a day at a POS\n"
		"signon expect=00\n"
		"keychange   # keys first\n"
		"purchase visa-classic 10.00\n"
		"purchase 2 60.00 entry=contactless pin=card expect=00\n"
		"purchase visa-business 15.00 entry=ecom cvv2=123 currency=KHR expect=05\n"
		"purchase 7 9.99 recurring expect=00\n"
		"purchase 7 9.99 entry=manual recurring\n"
		"cashback mc-standard 20.00 5.00 pin=4321 entry=stripe\n"
		"preauth visa-platinum 40.00 expect=00\n"
		"complete 45.00 expect=00\n"
		"refund visa-classic 7.00 entry=stripe\n"
		"void\n"
		"repeat expect=00\n"
		"batch currency=USD expect=12\n"
		"sleep 250\n"
		"reconnect\n"
		"echo\n"
		"signoff\n";
	struct ps_script s;
	char why[256];
	assert_int_equal(ps_parse(text, "s", &cs, &s, why, sizeof why), 0);
	assert_int_equal(s.n, 18);
	const struct ps_step *st = s.steps;
	assert_int_equal(st[0].op, PS_SIGNON);
	assert_string_equal(st[0].expect, "00");
	assert_int_equal(st[0].line, 2);
	assert_int_equal(st[1].op, PS_KEYCHANGE);
	assert_string_equal(st[1].expect, "");
	/* defaults: chip, USD, no PIN */
	assert_int_equal(st[2].op, PS_PURCHASE);
	assert_string_equal(st[2].card->card.pan, "4539100000001107");
	assert_int_equal(st[2].amount, 1000);
	assert_string_equal(st[2].entry, "051");
	assert_string_equal(st[2].cond, "00");
	assert_true(st[2].card_present);
	assert_false(st[2].pin);
	assert_string_equal(st[2].currency, "840");
	/* contactless with the card's PIN */
	assert_string_equal(st[3].entry, "071");
	assert_true(st[3].pin);
	assert_string_equal(st[3].pin_value, "");
	/* e-commerce: DE 25 59, CVV2, card not present */
	assert_string_equal(st[4].entry, "812");
	assert_string_equal(st[4].cond, "59");
	assert_false(st[4].card_present);
	assert_string_equal(st[4].cvv2, "123");
	assert_string_equal(st[4].currency, "116");
	/* recurring: card-on-file unless the entry mode is given */
	assert_true(st[5].recurring);
	assert_string_equal(st[5].entry, "102");
	assert_false(st[5].card_present);
	assert_string_equal(st[6].entry, "012");
	assert_true(st[6].recurring);
	/* cash-back */
	assert_int_equal(st[7].op, PS_CASHBACK);
	assert_int_equal(st[7].amount, 2000);
	assert_int_equal(st[7].cashback, 500);
	assert_string_equal(st[7].pin_value, "4321");
	assert_string_equal(st[7].entry, "021");
	assert_int_equal(st[8].op, PS_PREAUTH);
	assert_int_equal(st[9].op, PS_COMPLETE);
	assert_int_equal(st[9].amount, 4500);
	assert_null(st[9].card);
	assert_int_equal(st[10].op, PS_REFUND);
	assert_int_equal(st[11].op, PS_VOID);
	assert_int_equal(st[12].op, PS_REPEAT);
	assert_int_equal(st[13].op, PS_BATCH);
	assert_string_equal(st[13].expect, "12");
	assert_int_equal(st[14].op, PS_SLEEP);
	assert_int_equal(st[14].ms, 250);
	assert_false(ps_op_sends(PS_SLEEP));
	assert_int_equal(st[15].op, PS_RECONNECT);
	assert_true(ps_op_sends(PS_BATCH));
	assert_string_equal(ps_op_name(st[17].op), "signoff");
	ps_free(&s);
	assert_null(s.steps);
	cf_free(&cs);
}

static void t_bad(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"signon\nsale visa-classic 1.00\n", "b:2: unknown step \"sale\""},
		{"purchase\n", "b:1: purchase: missing card"},
		{"purchase visa-classic\n", "b:1: purchase: missing amount"},
		{"purchase visa-classic expect=00\n", "b:1: purchase: missing amount"},
		{"cashback visa-classic 10.00\n", "b:1: cashback: missing cash-back amount"},
		{"complete\n", "b:1: complete: missing amount"},
		{"purchase nobody 1.00\n", "b:1: purchase: unknown card \"nobody\""},
		{"purchase visa-classic 10\n",
		 "b:1: amount \"10\": want major units with two decimals, e.g. 20.00"},
		{"purchase visa-classic 0.00\n", "b:1: amount must not be zero"},
		{"purchase visa-classic 12345678901.00\n", "b:1: amount 12345678901.00 is too large"},
		{"cashback 2 9999999999.00 9999999999.00\n", "b:1: cashback: the total is over 12 digits"},
		{"cashback 2 10.00 0.00\n", "b:1: cash-back amount must not be zero"},
		{"purchase 2 1.00 entry=swipe\n",
		 "b:1: entry=swipe: want chip, stripe, contactless, manual, ecom or cof"},
		{"purchase 2 1.00 pin=123\n", "b:1: pin=123: want 4 to 12 digits or card"},
		{"purchase 2 1.00 pin=none\n", "b:1: pin=none: want 4 to 12 digits or card"},
		{"purchase 2 1.00 cvv2=12\n", "b:1: cvv2=12: want 3 digits"},
		{"purchase 2 1.00 cvv2=1234\n", "b:1: cvv2=1234: want 3 digits"},
		{"purchase 2 1.00 currency=EUR\n", "b:1: currency=EUR: want USD, KHR, 840 or 116"},
		{"purchase 2 1.00 expect=approved\n",
		 "b:1: expect=approved: want a 2-character response code or timeout, macfail, closed, "
		 "keyfail, error"},
		{"purchase 2 1.00 entry=ecom pin=card\n",
		 "b:1: purchase: pin= needs a PIN pad: not with entry=ecom or cof"},
		{"purchase 2 1.00 recurring pin=1234\n",
		 "b:1: purchase: pin= needs a PIN pad: not with entry=ecom or cof"},
		{"cashback 2 1.00 1.00 entry=manual\n",
		 "b:1: cashback: needs the card at the terminal (entry chip, stripe or contactless)"},
		{"cashback 2 1.00 1.00 cvv2=123\n", "b:1: cashback does not take cvv2="},
		{"cashback 2 1.00 1.00 recurring\n", "b:1: cashback: unexpected argument \"recurring\""},
		{"refund 2 1.00 pin=1234\n", "b:1: refund does not take pin="},
		{"complete 1.00 entry=chip\n", "b:1: complete does not take entry="},
		{"batch currency=KHR pin=1234\n", "b:1: batch does not take pin="},
		{"void now\n", "b:1: void: unexpected argument \"now\""},
		{"sleep\n", "b:1: sleep: missing milliseconds"},
		{"sleep 1s\n", "b:1: sleep \"1s\": want milliseconds, 0 to 3600000"},
		{"sleep 10 expect=00\n", "b:1: sleep does not take expect="},
		{"reconnect expect=00\n", "b:1: reconnect does not take expect="},
		{"purchase 2 1.00 a b c d e f g h i j k l m n\n", "b:1: too many words"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ps_script s;
		char why[256] = "";
		assert_int_equal(ps_parse(bad[i].text, "b", &cs, &s, why, sizeof why), PS_ERR_SYNTAX);
		assert_string_equal(why, bad[i].why);
		assert_null(s.steps);
		assert_int_equal(s.n, 0);
	}
	/* Blank and comment-only scripts are empty, not errors. */
	struct ps_script s;
	char why[64];
	assert_int_equal(ps_parse("\n# nothing\n   \n", "e", &cs, &s, why, sizeof why), 0);
	assert_int_equal(s.n, 0);
	ps_free(&s);
	cf_free(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_good),
		cmocka_unit_test(t_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
