/* atm-sim's simulated cash dispenser (atm-sim/cassette.h): the load
 * specification, planning the fewest notes (where taking the largest note
 * first fails), the counts and the per-withdrawal limit, a jam. */
#include <stdio.h>

#include "simtest.h"
#include "cassette.h"

static struct cas_set load(const char *spec)
{
	struct cas_set s;
	char why[128] = "";
	if (cas_parse(spec, &s, why, sizeof why) != 0)
		fail_msg("%s: %s", spec, why);
	return s;
}

static void t_parse(void **state)
{
	(void)state;
	struct cas_set s = load(CAS_DEFAULT);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.u[0].currency, "840");
	assert_int_equal(s.u[0].note, 10000);
	assert_int_equal(s.u[0].count, 200);
	assert_string_equal(s.u[7].currency, "116");
	assert_int_equal(s.u[7].note, 1000000);
	assert_int_equal(s.max_notes, 50);
	assert_int_equal(s.jam_after, 0);
	static const struct {
		const char *spec, *why;
	} bad[] = {
		{"", "cassette \"\": no cassette"},
		{"USD20x5", "cassette \"USD20x5\": want CUR:NOTExCOUNT, e.g. USD:20x500"},
		{"EUR:20x5", "cassette \"EUR:20x5\": currency must be USD or KHR"},
		{"USD:0x5", "cassette \"USD:0x5\": note must be 1 to 10000000 (major units)"},
		{"USD:20", "cassette \"USD:20\": note must be 1 to 10000000 (major units)"},
		{"USD:20x", "cassette \"USD:20x\": count must be 0 to 100000"},
		{"USD:20x5y", "cassette \"USD:20x5y\": count must be 0 to 100000"},
		{"USD:1x1,USD:2x1,USD:3x1,USD:4x1,USD:5x1,USD:6x1,USD:7x1,USD:8x1,USD:9x1",
		 "cassette \"USD:9x1\": at most 8 cassettes"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char why[128] = "";
		assert_int_equal(cas_parse(bad[i].spec, &s, why, sizeof why), CAS_ERR_SYNTAX);
		assert_string_equal(why, bad[i].why);
	}
}

static unsigned notes(const unsigned take[CAS_MAX])
{
	unsigned n = 0;
	for (int i = 0; i < CAS_MAX; i++)
		n += take[i];
	return n;
}

static void t_plan(void **state)
{
	(void)state;
	unsigned take[CAS_MAX];
	struct cas_set s = load(CAS_DEFAULT);
	assert_int_equal(cas_plan(&s, "840", 18000, take), 0); /* 100 + 50 + 20 + 10 */
	assert_int_equal(take[0], 1);
	assert_int_equal(take[1], 1);
	assert_int_equal(take[2], 1);
	assert_int_equal(take[3], 1);
	assert_int_equal(cas_plan(&s, "840", 1500, take), CAS_ERR_CANNOT);
	assert_int_equal(cas_plan(&s, "840", 0, take), CAS_ERR_CANNOT);
	assert_int_equal(cas_plan(&s, "116", 40000000, take), 0); /* KHR 400,000: 4 x 100,000 */
	assert_int_equal(take[4], 4);
	assert_int_equal(notes(take), 4);
	assert_int_equal(cas_plan(&s, "840", 500000, take), 0);   /* 50 notes of 100 */
	assert_int_equal(cas_plan(&s, "840", 510000, take), CAS_ERR_CANNOT); /* 51 */
	assert_int_equal(cas_smallest(&s, "840"), 1000);
	assert_int_equal(cas_smallest(&s, "116"), 1000000);

	/* largest first would take a 50 and be stuck at 10: the plan is 3 x 20 */
	s = load("USD:50x10,USD:20x10");
	assert_int_equal(cas_plan(&s, "840", 6000, take), 0);
	assert_int_equal(take[0], 0);
	assert_int_equal(take[1], 3);
	assert_int_equal(cas_plan(&s, "840", 11000, take), 0); /* 50 + 3 x 20 */
	assert_int_equal(take[0], 1);
	assert_int_equal(take[1], 3);
	assert_int_equal(cas_plan(&s, "116", 1000000, take), CAS_ERR_CANNOT);
	assert_int_equal(cas_smallest(&s, "116"), 0);

	/* the counts: two 20s cannot make 60; an empty cassette is no cassette */
	s = load("USD:20x2,USD:50x0");
	assert_int_equal(cas_plan(&s, "840", 6000, take), CAS_ERR_CANNOT);
	assert_int_equal(cas_plan(&s, "840", 4000, take), 0);
	assert_int_equal(cas_plan(&s, "840", 5000, take), CAS_ERR_CANNOT);
}

static void t_dispense(void **state)
{
	(void)state;
	unsigned take[CAS_MAX];
	struct cas_set s = load("USD:20x50,USD:10x1");
	assert_int_equal(cas_plan(&s, "840", 11000, take), 0);
	assert_int_equal(cas_dispense(&s, take), 11000);
	assert_int_equal(s.u[0].count, 45);
	assert_int_equal(s.u[1].count, 0);
	assert_int_equal(cas_plan(&s, "840", 1000, take), CAS_ERR_CANNOT); /* no 10s left */
	/* a jam after 2 notes pays 40.00 of 100.00, once */
	s.jam_after = 2;
	assert_int_equal(cas_plan(&s, "840", 10000, take), 0);
	assert_int_equal(cas_dispense(&s, take), 4000);
	assert_int_equal(s.u[0].count, 43);
	assert_int_equal(s.jam_after, 0);
	assert_int_equal(cas_dispense(&s, take), 10000);
	assert_int_equal(s.u[0].count, 38);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse),
		cmocka_unit_test(t_plan),
		cmocka_unit_test(t_dispense),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
