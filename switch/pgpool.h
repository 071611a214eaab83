/*
 * pgpool: a small pool of non-blocking libpq connections driven by a
 * libevent loop (STYLE.md 12). Each connection runs in pipeline mode; every
 * request is one prepared statement followed by its own Sync, so each is
 * its own implicit transaction, and its callback runs only once the Sync
 * has come back, i.e. after the transaction has committed (or failed).
 *
 * Requests wait in one bounded FIFO until a connection can take them; a
 * request still waiting can be cancelled. Connections that break are
 * reopened with a capped backoff.
 *
 * Errors: functions returning int return 0 or a negative PGP_ERR_*.
 */
#ifndef SW_PGPOOL_H
#define SW_PGPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

struct event_base;
struct pgpool;
struct pgp_req;

enum {
	PGP_OK = 0,
	PGP_ERR_FULL = -1,    /* the wait queue is full: the request was not taken */
	PGP_ERR_LOST = -2,    /* connection lost after sending: the outcome is UNKNOWN */
	PGP_ERR_SQL = -3,     /* the statement failed (result has the error) */
	PGP_ERR_ARGS = -4,    /* unknown statement or too many parameters */
	PGP_ERR_STOPPED = -5, /* the pool is being freed; never sent */
};

const char *pgp_strerror(int err);

/* Called once per request that was not cancelled. status is PGP_OK with
 * `res` the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), or
 * PGP_ERR_SQL with `res` holding the error, or PGP_ERR_LOST / _STOPPED with
 * res NULL. `res` is freed after the callback returns. */
typedef void (*pgp_cb)(void *arg, int status, const PGresult *res);

struct pgpool_config {
	const char *conninfo;  /* libpq connection string ("" = PG* variables) */
	unsigned size;         /* connections, >= 1 */
	unsigned queue_max;    /* requests waiting for a connection */
	unsigned pipeline_max; /* requests in flight per connection */
	unsigned backoff_max_ms;
};

#define PGP_MAX_PARAMS 24

struct pgpool *pgpool_new(struct event_base *base, const struct pgpool_config *cfg);

/* Register a statement to be prepared on every connection (before
 * pgpool_start). Returns 0 or PGP_ERR_ARGS. */
int pgpool_prepare(struct pgpool *p, const char *name, const char *sql, int nparams);

/* Start connecting. */
void pgpool_start(struct pgpool *p);

/* Queue `stmt` with `n` text parameters (NULL = SQL NULL); the values are
 * copied. Returns the request (usable with pgp_cancel until its callback
 * runs), or NULL with *err = PGP_ERR_FULL or PGP_ERR_ARGS. */
struct pgp_req *pgp_exec(struct pgpool *p, const char *stmt, int n, const char *const *vals,
                         pgp_cb cb, void *arg, int *err);

/* Withdraw a request not yet sent: returns true and its callback will never
 * run. Returns false once it has been sent (the callback will run). */
bool pgp_cancel(struct pgpool *p, struct pgp_req *r);

struct pgpool_stats {
	unsigned connected;
	unsigned size;
	unsigned queued;
	unsigned inflight;
	unsigned busy;         /* connections with requests in flight */
	unsigned long long done, sql_errors, lost, reconnects;
	/* The last connection failure or failed statement (libpq's first line,
	 * or SQLSTATE and primary message), "" when none yet; and when, in
	 * CLOCK_MONOTONIC milliseconds. Valid until the next pool call. */
	const char *last_error;
	unsigned long long last_error_ms;
};

void pgpool_stats(const struct pgpool *p, struct pgpool_stats *s);

/* Fail everything queued or in flight with PGP_ERR_STOPPED, close, free. */
void pgpool_free(struct pgpool *p);

#endif
