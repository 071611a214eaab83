/* pgpool against the real test cluster: pipelined requests, SQL errors,
 * a connection killed mid-statement (outcome unknown, then reconnection),
 * cancellation of queued requests, the queue bound. */
#include "pgpool.h"
#include "pgenv.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static char conninfo[8192];

struct tally {
	struct event_base *base;
	int ok, sql, lost, other, expected, bad_values;
};

static void on_add1(void *arg, int status, const PGresult *res)
{
	struct tally *t = arg;
	if (status == PGP_OK) {
		t->ok++;
		/* the statement returns $1 + 1 and echoes $1 */
		long in = atol(PQgetvalue(res, 0, 1)), out = atol(PQgetvalue(res, 0, 0));
		if (out != in + 1)
			t->bad_values++;
	} else if (status == PGP_ERR_SQL) {
		t->sql++;
	} else if (status == PGP_ERR_LOST) {
		t->lost++;
	} else {
		t->other++;
	}
	if (t->ok + t->sql + t->lost + t->other == t->expected)
		event_base_loopbreak(t->base);
}

static struct pgpool *new_pool(struct event_base *base, unsigned size, unsigned qmax)
{
	struct pgpool_config cfg = {conninfo, size, qmax, 32, 200};
	struct pgpool *p = pgpool_new(base, &cfg);
	assert_non_null(p);
	assert_int_equal(pgpool_prepare(p, "add1", "select $1::int + 1, $1::int", 1), 0);
	assert_int_equal(pgpool_prepare(p, "div", "select 1 / $1::int, $1::int", 1), 0);
	assert_int_equal(pgpool_prepare(p, "sleep", "select pg_sleep($1::float8)::text, 0", 1), 0);
	pgpool_start(p);
	return p;
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_pipelined(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct pgpool *p = new_pool(base, 2, 5000);
	struct tally t = {base, 0, 0, 0, 0, 3000, 0};
	char v[16];
	for (int i = 0; i < 3000; i++) {
		int err;
		snprintf(v, sizeof v, "%d", i);
		const char *vals[] = {v};
		assert_non_null(pgp_exec(p, "add1", 1, vals, on_add1, &t, &err));
	}
	run_for(base, 20000);
	assert_int_equal(t.ok, 3000);
	assert_int_equal(t.bad_values, 0);
	struct pgpool_stats s;
	pgpool_stats(p, &s);
	assert_int_equal(s.connected, 2);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.inflight, 0);
	pgpool_free(p);
	event_base_free(base);
}

static void test_sql_error_does_not_disturb_others(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct pgpool *p = new_pool(base, 1, 100);
	struct tally t = {base, 0, 0, 0, 0, 3, 0};
	int err;
	const char *one[] = {"1"}, *zero[] = {"0"};
	assert_non_null(pgp_exec(p, "add1", 1, one, on_add1, &t, &err));
	assert_non_null(pgp_exec(p, "div", 1, zero, on_add1, &t, &err));
	assert_non_null(pgp_exec(p, "add1", 1, one, on_add1, &t, &err));
	run_for(base, 10000);
	assert_int_equal(t.ok, 2);
	assert_int_equal(t.sql, 1);
	assert_null(pgp_exec(p, "nosuch", 1, one, on_add1, &t, &err));
	assert_int_equal(err, PGP_ERR_ARGS);
	assert_null(pgp_exec(p, "add1", 0, NULL, on_add1, &t, &err));
	assert_int_equal(err, PGP_ERR_ARGS);
	pgpool_free(p);
	event_base_free(base);
}

static void test_cancel_and_queue_bound(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct pgpool *p = new_pool(base, 1, 3);
	struct tally t = {base, 0, 0, 0, 0, 2, 0};
	int err;
	const char *one[] = {"1"};
	/* Not connected yet: everything waits in the queue. */
	struct pgp_req *a = pgp_exec(p, "add1", 1, one, on_add1, &t, &err);
	struct pgp_req *b = pgp_exec(p, "add1", 1, one, on_add1, &t, &err);
	struct pgp_req *c = pgp_exec(p, "add1", 1, one, on_add1, &t, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_null(pgp_exec(p, "add1", 1, one, on_add1, &t, &err));
	assert_int_equal(err, PGP_ERR_FULL);
	assert_true(pgp_cancel(p, b));
	run_for(base, 10000);
	assert_int_equal(t.ok, 2); /* a and c; b never called back */
	pgpool_free(p);
	event_base_free(base);
}

/* Terminate the backend running the sleep; until it has started (a busy
 * machine may take a while to connect), try again every 100 ms. */
static void kill_backends(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct event *self = arg;
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, "select pg_terminate_backend(pid) from pg_stat_activity "
	                        "where application_name = 'pgpool_test' and query like '%pg_sleep%' "
	                        "and pid <> pg_backend_pid()");
	bool killed = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
	PQclear(r);
	PQfinish(c);
	if (!killed) {
		struct timeval tv = {0, 100000};
		evtimer_add(self, &tv);
	}
}

static void test_lost_connection_then_reconnect(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct pgpool *p = new_pool(base, 1, 100);
	struct tally t = {base, 0, 0, 0, 0, 1, 0};
	int err;
	const char *secs[] = {"5"};
	assert_non_null(pgp_exec(p, "sleep", 1, secs, on_add1, &t, &err));
	struct event *k = evtimer_new(base, kill_backends, event_self_cbarg());
	struct timeval tv = {0, 500000};
	evtimer_add(k, &tv);
	run_for(base, 10000);
	assert_int_equal(t.lost, 1);
	assert_int_equal(t.ok, 0);

	/* It comes back by itself. */
	struct tally t2 = {base, 0, 0, 0, 0, 1, 0};
	const char *one[] = {"41"};
	assert_non_null(pgp_exec(p, "add1", 1, one, on_add1, &t2, &err));
	run_for(base, 10000);
	assert_int_equal(t2.ok, 1);
	struct pgpool_stats s;
	pgpool_stats(p, &s);
	assert_true(s.reconnects >= 1);
	assert_int_equal(s.lost, 1);
	event_free(k);
	pgpool_free(p);
	event_base_free(base);
}

int main(void)
{
	if (test_conninfo(conninfo, sizeof conninfo, "application_name=pgpool_test") != 0) {
		fprintf(stderr, "pgpool_test: SWITCH_PGDIR/env not readable\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_sql_error_does_not_disturb_others),
		cmocka_unit_test(test_cancel_and_queue_bound),
		cmocka_unit_test(test_lost_connection_then_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
