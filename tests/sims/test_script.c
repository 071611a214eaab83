/* atm-sim's script language and the card file: good input parsed into the
 * right steps, every kind of bad input refused with its line and reason. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "simtest.h"
#include "atm_run.h"
#include "atm_script.h"
#include "cardfile.h"
#include "peer.h"

static const char cards_text[] =
	"# test cards\n"
	"visa-classic,2  4539100000001107 3011 201 1234\n"
	"\n"
	"khr,3           4539100000001115 3011 201 1234\n"
	"unknown         4111111111111111 3011 201 9876\n";

static void load_cards(struct cf_set *cs)
{
	char why[256] = "";
	assert_int_equal(cf_parse(cards_text, "cards", cs, why, sizeof why), 0);
	assert_int_equal(cs->n, 3);
}

static void t_cards(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	const struct cf_card *c = cf_find(&cs, "2");
	assert_non_null(c);
	assert_ptr_equal(c, cf_find(&cs, "visa-classic"));
	assert_string_equal(c->card.pan, "4539100000001107");
	assert_string_equal(c->card.expiry, "3011");
	assert_string_equal(c->card.service, "201");
	assert_string_equal(c->pin, "1234");
	assert_string_equal(cf_find(&cs, "unknown")->pin, "9876");
	assert_null(cf_find(&cs, "visa"));
	assert_null(cf_find(&cs, "visa-classic,2"));
	cf_free(&cs);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{"a 4539100000001107 3011 201\n", "c:1: too few fields (want NAME PAN EXPIRY SERVICE-CODE PIN)"},
		{"a 4539100000001107 3011 201 1234 x\n", "c:1: too many fields (want NAME PAN EXPIRY SERVICE-CODE PIN)"},
		{"#\na 45391000000 3011 201 1234\n", "c:2: PAN must be 12 to 19 digits"},
		{"a 4539100000001107 3013 201 1234\n", "c:1: expiry must be YYMM"},
		{"a 4539100000001107 3011 21 1234\n", "c:1: service code must be 3 digits"},
		{"a 4539100000001107 3011 201 123\n", "c:1: PIN must be 4 to 12 digits"},
		{"a/b 4539100000001107 3011 201 1234\n",
		 "c:1: bad name (letters, digits, '.', '_', '-'; aliases separated by ',')"},
		{"a,,b 4539100000001107 3011 201 1234\n",
		 "c:1: bad name (letters, digits, '.', '_', '-'; aliases separated by ',')"},
		{"a,1 4539100000001107 3011 201 1234\nb,1 4539100000001115 3011 201 1234\n",
		 "c:2: name already used: 1"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char why[256] = "";
		assert_int_equal(cf_parse(bad[i].text, "c", &cs, why, sizeof why), CF_ERR_SYNTAX);
		assert_string_equal(why, bad[i].why);
		assert_null(cs.cards);
	}
	char why[256];
	assert_int_equal(cf_load("/nonexistent/cards.txt", &cs, why, sizeof why), CF_ERR_FILE);
	assert_string_equal(why, "/nonexistent/cards.txt: No such file or directory");
}

static void t_script_good(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	const char *text =
		"# a session\n"
		"signon expect=00\n"
		"keychange   # keys first\n"
		"withdraw visa-classic 20.00\n"
		"withdraw 3 40000.00 currency=KHR pin=9999 account=savings entry=chip expect=55\n"
		"balance 2 account=current pin=none\n"
		"repeat expect=00\n"
		"duplicate-mismatch\n"
		"reverse dispensed=10.00 expect=timeout\n"
		"sleep 250\n"
		"raw 0004 30383030\n"
		"expect-close\n"
		"reconnect\n"
		"signoff expect=closed\n"
		"echo expect=macfail\n"
		"withdraw 2 20.00 expect=00 fee=5.00 ledger=4980.00 avail=USD-10.50\n"
		"repeat fee=-0.50 ledger=khr0.00\n"
		"reverse avail=1.00\n";
	struct as_script s;
	char why[256] = "";
	assert_int_equal(as_parse(text, "s", &cs, &s, why, sizeof why), 0);
	assert_int_equal(s.n, 17);
	const struct as_step *st = s.steps;
	assert_int_equal(st[0].op, AS_SIGNON);
	assert_int_equal(st[0].line, 2);
	assert_string_equal(st[0].expect, "00");
	assert_int_equal(st[1].op, AS_KEYCHANGE);
	assert_string_equal(st[1].expect, "");
	assert_int_equal(st[2].op, AS_WITHDRAW);
	assert_int_equal(st[2].amount, 2000);
	assert_string_equal(st[2].currency, "840");
	assert_string_equal(st[2].account, "00");
	assert_string_equal(st[2].entry, "021");
	assert_string_equal(st[2].pin, "");
	assert_string_equal(st[2].card->card.pan, "4539100000001107");
	assert_int_equal(st[3].amount, 4000000);
	assert_string_equal(st[3].currency, "116");
	assert_string_equal(st[3].pin, "9999");
	assert_string_equal(st[3].account, "10");
	assert_string_equal(st[3].entry, "051");
	assert_string_equal(st[3].card->card.pan, "4539100000001115");
	assert_int_equal(st[4].op, AS_BALANCE);
	assert_string_equal(st[4].account, "20");
	assert_true(st[4].no_pin);
	assert_int_equal(st[5].op, AS_REPEAT);
	assert_int_equal(st[6].op, AS_DUP_MISMATCH);
	assert_string_equal(st[6].expect, "94"); /* implied */
	assert_int_equal(st[7].op, AS_REVERSE);
	assert_int_equal(st[7].dispensed, 1000);
	assert_string_equal(st[7].expect, "timeout");
	assert_int_equal(st[8].ms, 250);
	assert_int_equal(st[9].op, AS_RAW);
	st_assert_hex(st[9].raw, st[9].rawlen, "000430383030");
	assert_int_equal(st[10].op, AS_EXPECT_CLOSE);
	assert_int_equal(st[11].op, AS_RECONNECT);
	assert_string_equal(as_op_name(st[12].op), "signoff");
	assert_false(st[2].fee.set || st[2].ledger.set || st[2].avail.set);
	assert_true(st[14].fee.set && st[14].ledger.set && st[14].avail.set);
	assert_int_equal(st[14].fee.minor, 500);
	assert_int_equal(st[14].ledger.minor, 498000);
	assert_string_equal(st[14].ledger.currency, "");
	assert_int_equal(st[14].avail.minor, -1050);
	assert_string_equal(st[14].avail.currency, "840");
	assert_int_equal(st[15].fee.minor, -50);
	assert_int_equal(st[15].ledger.minor, 0);
	assert_string_equal(st[15].ledger.currency, "116");
	assert_false(st[15].avail.set);
	assert_int_equal(st[16].avail.minor, 100);
	char buf[32];
	as_amount_format(&st[14].avail, buf, sizeof buf);
	assert_string_equal(buf, "USD-10.50");
	as_amount_format(&st[14].ledger, buf, sizeof buf);
	assert_string_equal(buf, "4980.00");
	as_free(&s);
	cf_free(&cs);
}

/* The ATM's services: PIN change (new PIN, optional current PIN) and
 * cardless cash (reference, code, amount, currency). */
static void t_script_services(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	struct as_script s;
	char why[256] = "";
	assert_int_equal(as_parse("pinchange visa-classic 4321 pin=1111 expect=00\n"
	                          "cardless 6590302994860958 31415926 50.00 currency=KHR expect=55\n",
	                          "s", &cs, &s, why, sizeof why), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.steps[0].op, AS_PINCHANGE);
	assert_string_equal(s.steps[0].card->card.pan, "4539100000001107");
	assert_string_equal(s.steps[0].new_pin, "4321");
	assert_string_equal(s.steps[0].pin, "1111");
	assert_int_equal(s.steps[1].op, AS_CARDLESS);
	assert_string_equal(s.steps[1].reference, "6590302994860958");
	assert_string_equal(s.steps[1].code, "31415926");
	assert_int_equal(s.steps[1].amount, 5000);
	assert_string_equal(s.steps[1].currency, "116");
	assert_string_equal(s.steps[1].expect, "55");
	assert_string_equal(as_op_name(AS_CARDLESS), "cardless");
	as_free(&s);
	cf_free(&cs);
}

static void t_script_errors(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"signon\nfly 20.00\n", "s:2: unknown step \"fly\""},
		{"withdraw nobody 20.00\n", "s:1: withdraw: unknown card \"nobody\""},
		{"withdraw visa-classic\n", "s:1: withdraw: missing amount"},
		{"withdraw\n", "s:1: withdraw: missing card"},
		{"balance\n", "s:1: balance: missing card"},
		{"withdraw 2 20\n", "s:1: amount \"20\": want major units with two decimals, e.g. 20.00"},
		{"withdraw 2 20.5\n", "s:1: amount \"20.5\": want major units with two decimals, e.g. 20.00"},
		{"withdraw 2 0.00\n", "s:1: withdraw: amount must not be zero"},
		{"withdraw 2 99999999999.00\n", "s:1: amount 99999999999.00 is too large"},
		{"withdraw 2 20.00 currency=EUR\n", "s:1: currency=EUR: want USD, KHR, 840 or 116"},
		{"withdraw 2 20.00 pin=12\n", "s:1: pin=12: want 4 to 12 digits or none"},
		{"withdraw 2 20.00 account=credit\n", "s:1: account=credit: want default, savings or current"},
		{"withdraw 2 20.00 entry=nfc\n", "s:1: entry=nfc: want mag or chip"},
		{"withdraw 2 20.00 30.00\n", "s:1: withdraw: unexpected argument \"30.00\""},
		{"withdraw 2 20.00 expect=approved\n",
		 "s:1: expect=approved: want a 2-character response code or timeout, macfail, closed, keyfail, error"},
		{"signon dispensed=1.00\n", "s:1: signon does not take dispensed="},
		{"reverse dispensed=5\n", "s:1: dispensed \"5\": want major units with two decimals, e.g. 20.00"},
		{"sleep\n", "s:1: sleep: missing milliseconds"},
		{"sleep 5s\n", "s:1: sleep \"5s\": want milliseconds, 0 to 3600000"},
		{"sleep 100 expect=00\n", "s:1: sleep does not take expect="},
		{"raw\n", "s:1: raw: want hex bytes"},
		{"raw 0G\n", "s:1: raw: not an even number of hex digits"},
		{"raw 000\n", "s:1: raw: not an even number of hex digits"},
		{"expect-close expect=closed\n", "s:1: expect-close does not take expect="},
		{"# fine\n\n  \nsignon\nrepeat extra\n", "s:5: repeat: unexpected argument \"extra\""},
		{"withdraw 2 20.00 fee=5\n",
		 "s:1: fee=5: want [-]AMOUNT with two decimals, e.g. fee=20.00"},
		{"withdraw 2 20.00 fee=USD5.00\n",
		 "s:1: fee=USD5.00: want [-]AMOUNT with two decimals, e.g. fee=20.00"},
		{"balance 2 ledger=--5.00\n",
		 "s:1: ledger=--5.00: want [USD|KHR][-]AMOUNT with two decimals, e.g. ledger=USD20.00"},
		{"balance 2 avail=EUR5.00\n", "s:1: avail=EUR5.00: want USD or KHR before the amount, or none"},
		{"balance 2 avail=US\n", "s:1: avail=US: want USD or KHR before the amount, or none"},
		{"balance 2 avail=99999999999.00\n", "s:1: avail=99999999999.00: too large"},
		{"signon fee=0.00\n", "s:1: signon does not take fee="},
		{"keychange ledger=1.00\n", "s:1: keychange does not take ledger="},
		{"pinchange 2\n", "s:1: pinchange: missing new PIN"},
		{"pinchange 2 12\n", "s:1: pinchange: new PIN \"12\": want 4 to 12 digits"},
		{"pinchange 2 4321 currency=XXX\n", "s:1: currency=XXX: want USD, KHR, 840 or 116"},
		{"cardless 1234567890123456 12345678\n", "s:1: cardless: missing reference, code or amount"},
		{"cardless 12345 12345678 50.00\n", "s:1: cardless: reference \"12345\": want 13 to 16 digits"},
		{"cardless 1234567890123456 12 50.00\n", "s:1: cardless: code: want 4 to 12 digits"},
		{"cardless 1234567890123456 12345678 0.00\n", "s:1: cardless: amount must not be zero"},
		{"cardless 1234567890123456 12345678 5.00 pin=1234\n", "s:1: cardless does not take pin="},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct as_script s;
		char why[256] = "";
		assert_int_equal(as_parse(bad[i].text, "s", &cs, &s, why, sizeof why), AS_ERR_SYNTAX);
		assert_string_equal(why, bad[i].why);
		assert_null(s.steps);
	}
	cf_free(&cs);
}

/* The demo card file shipped with atm-sim: every card loads, the names and
 * ids of docs/atm-sim.md resolve, and every PAN passes the Luhn check. */
static void t_demo_cards(void **state)
{
	(void)state;
	struct cf_set cs;
	char why[256] = "";
	assert_int_equal(cf_load(DEMO_CARDS, &cs, why, sizeof why), 0);
	assert_int_equal(cs.n, 12);
	for (int id = 1; id <= 11; id++) {
		char name[4];
		snprintf(name, sizeof name, "%d", id);
		const struct cf_card *c = cf_find(&cs, name);
		assert_non_null(c);
		const char *pan = c->card.pan;
		size_t n = strlen(pan);
		unsigned sum = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned d = (unsigned)(pan[n - 1 - i] - '0');
			if (i % 2)
				d = d * 2 > 9 ? d * 2 - 9 : d * 2;
			sum += d;
		}
		assert_int_equal(sum % 10, 0);
		assert_string_equal(c->pin, "1234");
	}
	assert_string_equal(cf_find(&cs, "visa-classic")->card.pan, "4539100000001107");
	assert_string_equal(cf_find(&cs, "upi-platinum")->card.pan, "6212800000008809");
	cf_free(&cs);
}

/* Amount expectations against a scripted switch: the peer answers with
 * DE 28 D 5.00 and DE 54 ledger USD 4980.00, available USD -10.00. */
static void t_run_amounts(void **state)
{
	(void)state;
	struct cf_set cs;
	load_cards(&cs);
	const char *text =
		"withdraw 2 20.00 expect=00 fee=5.00 ledger=4980.00 avail=USD-10.00\n"
		"withdraw 2 20.00 fee=-5.00 ledger=KHR4980.00\n"
		"balance 2 expect=00 avail=-10.00\n"
		"withdraw 2 20.00 expect=00 fee=0.00\n";
	struct as_script s;
	char why[256] = "";
	assert_int_equal(as_parse(text, "s", &cs, &s, why, sizeof why), 0);
	struct peer p = {.act = {ANSWER_AMOUNTS, ANSWER_AMOUNTS, ANSWER_AMOUNTS, ANSWER}};
	pthread_t th;
	tl_term *t = peer_start(&p, &th);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	assert_non_null(f);
	struct ar_opts o = {.out = f, .timeout_ms = 300, .reversal_repeats = 0};
	assert_int_equal(ar_run(t, &s, &o), 2);
	fclose(f);
	peer_stop(&p, th, t);
	assert_non_null(strstr(out, " expect=00 fee=5.00 ledger=4980.00 avail=USD-10.00 ok\n"));
	assert_non_null(strstr(out, " expect fee=-5.00 ledger=KHR4980.00 FAIL\n"));
	assert_non_null(strstr(out, " expect=00 avail=-10.00 ok\n"));
	assert_non_null(strstr(out, "FAILED L2 withdraw: expected fee=-5.00 ledger=KHR4980.00, "
	                            "got 00 fee=5.00 ledger=USD4980.00\n"));
	assert_non_null(strstr(out, "FAILED L4 withdraw: expected 00 fee=0.00, got 00 fee=(no DE 28)\n"));
	assert_non_null(strstr(out, "summary: 4 steps, 2 failed\n"));
	free(out);
	as_free(&s);
	cf_free(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cards),
		cmocka_unit_test(t_script_good),
		cmocka_unit_test(t_script_errors),
		cmocka_unit_test(t_script_services),
		cmocka_unit_test(t_demo_cards),
		cmocka_unit_test(t_run_amounts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
