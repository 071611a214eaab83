/* Non-blocking libpq pool on libevent; see pgpool.h for the contract. */
#include "pgpool.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

enum req_phase { RQ_QUEUED, RQ_SENT, RQ_GOT_RESULT, RQ_RESULTS_DONE };

struct stmt {
	char *name;
	char *sql;
	int nparams;
};

struct pgp_req {
	TAILQ_ENTRY(pgp_req) link;
	const struct stmt *st; /* NULL for an internal PREPARE */
	const struct stmt *prep;
	enum req_phase phase;
	int n;
	const char *vals[PGP_MAX_PARAMS];
	pgp_cb cb;
	void *arg;
	PGresult *res;
	char data[]; /* copies of the parameter values */
};
TAILQ_HEAD(req_list, pgp_req);

enum conn_state { PC_DOWN, PC_CONNECTING, PC_PREPARING, PC_READY };

struct pgconn {
	struct pgpool *pool;
	PGconn *pg;
	enum conn_state state;
	struct event *ev_io;    /* persistent read (or the connect poll) */
	struct event *ev_write; /* one-shot, while PQflush has more to send */
	struct event *ev_retry;
	struct req_list inflight;
	unsigned ninflight;
	unsigned prep_left;
	unsigned backoff_ms;
};

struct pgpool {
	struct event_base *base;
	struct pgpool_config cfg;
	char *conninfo;
	struct stmt *stmts;
	unsigned nstmts;
	struct pgconn *conns;
	struct req_list queue;
	unsigned nqueued;
	unsigned long long done, sql_errors, lost, reconnects;
	char last_error[200];
	unsigned long long last_error_ms;
};

const char *pgp_strerror(int err)
{
	switch (err) {
	case PGP_OK: return "ok";
	case PGP_ERR_FULL: return "database queue full";
	case PGP_ERR_LOST: return "database connection lost, outcome unknown";
	case PGP_ERR_SQL: return "statement failed";
	case PGP_ERR_ARGS: return "unknown statement or bad parameters";
	case PGP_ERR_STOPPED: return "pool stopped";
	default: return "unknown error";
	}
}

static void conn_connect(struct pgconn *c);
static void conn_fail(struct pgconn *c);

/* Remember the latest failure for pgpool_stats (an operator's "why"):
 * the first line only, so no DETAIL or CONTEXT with values comes along. */
static void note_error(struct pgpool *p, const char *sqlstate, const char *msg)
{
	if (msg == NULL || msg[0] == '\0')
		return;
	int len = (int)strcspn(msg, "\n");
	if (sqlstate != NULL)
		snprintf(p->last_error, sizeof p->last_error, "%s %.*s", sqlstate, len, msg);
	else
		snprintf(p->last_error, sizeof p->last_error, "%.*s", len, msg);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->last_error_ms = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static void note_result_error(struct pgpool *p, const PGresult *res)
{
	if (res == NULL)
		note_error(p, NULL, "statement failed without a result");
	else
		note_error(p, PQresultErrorField(res, PG_DIAG_SQLSTATE),
		           PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}
static void pump(struct pgpool *p);

struct pgpool *pgpool_new(struct event_base *base, const struct pgpool_config *cfg)
{
	struct pgpool *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->base = base;
	p->cfg = *cfg;
	if (p->cfg.size == 0)
		p->cfg.size = 1;
	if (p->cfg.pipeline_max == 0)
		p->cfg.pipeline_max = 64;
	if (p->cfg.queue_max == 0)
		p->cfg.queue_max = 10000;
	if (p->cfg.backoff_max_ms == 0)
		p->cfg.backoff_max_ms = 1000;
	p->conninfo = strdup(cfg->conninfo ? cfg->conninfo : "");
	p->conns = calloc(p->cfg.size, sizeof *p->conns);
	if (p->conninfo == NULL || p->conns == NULL) {
		free(p->conninfo);
		free(p->conns);
		free(p);
		return NULL;
	}
	TAILQ_INIT(&p->queue);
	for (unsigned i = 0; i < p->cfg.size; i++) {
		struct pgconn *c = &p->conns[i];
		c->pool = p;
		c->state = PC_DOWN;
		TAILQ_INIT(&c->inflight);
	}
	return p;
}

int pgpool_prepare(struct pgpool *p, const char *name, const char *sql, int nparams)
{
	if (nparams < 0 || nparams > PGP_MAX_PARAMS)
		return PGP_ERR_ARGS;
	struct stmt *ns = realloc(p->stmts, (p->nstmts + 1) * sizeof *ns);
	if (ns == NULL)
		return PGP_ERR_ARGS;
	p->stmts = ns;
	struct stmt *s = &p->stmts[p->nstmts];
	s->name = strdup(name);
	s->sql = strdup(sql);
	s->nparams = nparams;
	if (s->name == NULL || s->sql == NULL) {
		free(s->name);
		free(s->sql);
		return PGP_ERR_ARGS;
	}
	p->nstmts++;
	return 0;
}

void pgpool_start(struct pgpool *p)
{
	for (unsigned i = 0; i < p->cfg.size; i++)
		conn_connect(&p->conns[i]);
}

static const struct stmt *find_stmt(const struct pgpool *p, const char *name)
{
	for (unsigned i = 0; i < p->nstmts; i++)
		if (strcmp(p->stmts[i].name, name) == 0)
			return &p->stmts[i];
	return NULL;
}

static struct pgp_req *req_new(const struct stmt *st, int n, const char *const *vals)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		if (vals[i] != NULL)
			total += strlen(vals[i]) + 1;
	struct pgp_req *r = calloc(1, sizeof *r + total);
	if (r == NULL)
		return NULL;
	r->st = st;
	r->n = n;
	char *d = r->data;
	for (int i = 0; i < n; i++) {
		if (vals[i] == NULL) {
			r->vals[i] = NULL;
			continue;
		}
		size_t l = strlen(vals[i]) + 1;
		memcpy(d, vals[i], l);
		r->vals[i] = d;
		d += l;
	}
	return r;
}

struct pgp_req *pgp_exec(struct pgpool *p, const char *stmt, int n, const char *const *vals,
                         pgp_cb cb, void *arg, int *err)
{
	const struct stmt *st = find_stmt(p, stmt);
	if (st == NULL || n != st->nparams) {
		*err = PGP_ERR_ARGS;
		return NULL;
	}
	if (p->nqueued >= p->cfg.queue_max) {
		*err = PGP_ERR_FULL;
		return NULL;
	}
	struct pgp_req *r = req_new(st, n, vals);
	if (r == NULL) {
		*err = PGP_ERR_FULL;
		return NULL;
	}
	r->cb = cb;
	r->arg = arg;
	r->phase = RQ_QUEUED;
	TAILQ_INSERT_TAIL(&p->queue, r, link);
	p->nqueued++;
	*err = 0;
	pump(p);
	return r;
}

bool pgp_cancel(struct pgpool *p, struct pgp_req *r)
{
	if (r->phase != RQ_QUEUED)
		return false;
	TAILQ_REMOVE(&p->queue, r, link);
	p->nqueued--;
	free(r);
	return true;
}

/* ---- connection life cycle -------------------------------------------------- */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_connect(arg);
}

static void schedule_retry(struct pgconn *c)
{
	struct pgpool *p = c->pool;
	c->backoff_ms = c->backoff_ms == 0 ? 50 : c->backoff_ms * 2;
	if (c->backoff_ms > p->cfg.backoff_max_ms)
		c->backoff_ms = p->cfg.backoff_max_ms;
	if (c->ev_retry == NULL)
		c->ev_retry = evtimer_new(p->base, on_retry, c);
	struct timeval tv = {(time_t)(c->backoff_ms / 1000), (suseconds_t)(c->backoff_ms % 1000) * 1000};
	evtimer_add(c->ev_retry, &tv);
}

static void clear_events(struct pgconn *c)
{
	if (c->ev_io) {
		event_free(c->ev_io);
		c->ev_io = NULL;
	}
	if (c->ev_write) {
		event_free(c->ev_write);
		c->ev_write = NULL;
	}
}

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_connect_poll(evutil_socket_t fd, short what, void *arg);

static void wait_connect(struct pgconn *c, short what)
{
	clear_events(c);
	c->ev_io = event_new(c->pool->base, PQsocket(c->pg), what, on_connect_poll, c);
	event_add(c->ev_io, NULL);
}

static int send_prepares(struct pgconn *c);

static void on_connect_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *c = arg;
	(void)fd;
	(void)what;
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		wait_connect(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		wait_connect(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		conn_fail(c);
		return;
	}
	clear_events(c);
	if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
		conn_fail(c);
		return;
	}
	c->ev_io = event_new(c->pool->base, PQsocket(c->pg), EV_READ | EV_PERSIST, on_io, c);
	c->ev_write = event_new(c->pool->base, PQsocket(c->pg), EV_WRITE, on_write, c);
	event_add(c->ev_io, NULL);
	c->state = PC_PREPARING;
	if (send_prepares(c) != 0)
		conn_fail(c);
}

static void conn_connect(struct pgconn *c)
{
	c->pg = PQconnectStart(c->pool->conninfo);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c);
		return;
	}
	c->state = PC_CONNECTING;
	wait_connect(c, EV_WRITE);
}

/* Everything sent on a lost connection has an unknown outcome. */
static void conn_fail(struct pgconn *c)
{
	struct pgpool *p = c->pool;
	struct req_list dead;
	TAILQ_INIT(&dead);
	TAILQ_CONCAT(&dead, &c->inflight, link);
	c->ninflight = 0;
	clear_events(c);
	if (c->pg) {
		note_error(p, NULL, PQerrorMessage(c->pg));
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->state != PC_DOWN)
		p->reconnects++;
	c->state = PC_DOWN;
	schedule_retry(c);

	struct pgp_req *r;
	while ((r = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, r, link);
		if (r->st != NULL) {
			p->lost++;
			r->cb(r->arg, PGP_ERR_LOST, NULL);
		}
		if (r->res)
			PQclear(r->res);
		free(r);
	}
	pump(p);
}

/* ---- sending ------------------------------------------------------------ */

static int flush(struct pgconn *c)
{
	int f = PQflush(c->pg);
	if (f < 0)
		return -1;
	if (f == 1 && !event_pending(c->ev_write, EV_WRITE, NULL))
		event_add(c->ev_write, NULL);
	return 0;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *c = arg;
	(void)fd;
	(void)what;
	if (flush(c) != 0)
		conn_fail(c);
}

static int send_prepares(struct pgconn *c)
{
	struct pgpool *p = c->pool;
	c->prep_left = p->nstmts;
	for (unsigned i = 0; i < p->nstmts; i++) {
		struct pgp_req *r = calloc(1, sizeof *r);
		if (r == NULL)
			return -1;
		r->prep = &p->stmts[i];
		r->phase = RQ_SENT;
		TAILQ_INSERT_TAIL(&c->inflight, r, link);
		c->ninflight++;
		if (!PQsendPrepare(c->pg, r->prep->name, r->prep->sql, r->prep->nparams, NULL) ||
		    !PQpipelineSync(c->pg))
			return -1;
	}
	if (p->nstmts == 0)
		c->state = PC_READY;
	return flush(c);
}

static int send_req(struct pgconn *c, struct pgp_req *r)
{
	r->phase = RQ_SENT;
	TAILQ_INSERT_TAIL(&c->inflight, r, link);
	c->ninflight++;
	if (!PQsendQueryPrepared(c->pg, r->st->name, r->n, r->vals, NULL, NULL, 0) ||
	    !PQpipelineSync(c->pg))
		return -1;
	return 0;
}

/* Hand queued requests to the least busy ready connections. */
static void pump(struct pgpool *p)
{
	bool sent_any[64] = {false};
	while (!TAILQ_EMPTY(&p->queue)) {
		struct pgconn *best = NULL;
		unsigned bi = 0;
		for (unsigned i = 0; i < p->cfg.size; i++) {
			struct pgconn *c = &p->conns[i];
			if (c->state == PC_READY && c->ninflight < p->cfg.pipeline_max &&
			    (best == NULL || c->ninflight < best->ninflight)) {
				best = c;
				bi = i;
			}
		}
		if (best == NULL)
			break;
		struct pgp_req *r = TAILQ_FIRST(&p->queue);
		TAILQ_REMOVE(&p->queue, r, link);
		p->nqueued--;
		if (send_req(best, r) != 0) {
			conn_fail(best);
			return; /* conn_fail pumps again */
		}
		if (bi < 64)
			sent_any[bi] = true;
	}
	for (unsigned i = 0; i < p->cfg.size && i < 64; i++)
		if (sent_any[i] && p->conns[i].state == PC_READY && flush(&p->conns[i]) != 0)
			conn_fail(&p->conns[i]);
}

/* ---- receiving ------------------------------------------------------------ */

static void complete(struct pgconn *c, struct pgp_req *r)
{
	struct pgpool *p = c->pool;
	TAILQ_REMOVE(&c->inflight, r, link);
	c->ninflight--;
	ExecStatusType st = r->res ? PQresultStatus(r->res) : PGRES_FATAL_ERROR;
	bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	if (r->st == NULL) {
		/* An internal PREPARE. */
		if (!ok) {
			note_result_error(p, r->res);
			if (r->res)
				PQclear(r->res);
			free(r);
			conn_fail(c);
			return;
		}
		if (--c->prep_left == 0) {
			c->state = PC_READY;
			c->backoff_ms = 0;
		}
	} else {
		p->done++;
		if (!ok) {
			p->sql_errors++;
			note_result_error(p, r->res);
		}
		r->cb(r->arg, ok ? PGP_OK : PGP_ERR_SQL, r->res);
	}
	if (r->res)
		PQclear(r->res);
	free(r);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *c = arg;
	struct pgpool *p = c->pool;
	(void)fd;
	(void)what;
	if (!PQconsumeInput(c->pg)) {
		conn_fail(c);
		return;
	}
	for (;;) {
		struct pgp_req *head = TAILQ_FIRST(&c->inflight);
		if (head == NULL || PQisBusy(c->pg))
			break;
		PGresult *res = PQgetResult(c->pg);
		if (res == NULL) {
			if (head->phase != RQ_GOT_RESULT)
				break; /* nothing more yet */
			head->phase = RQ_RESULTS_DONE;
			continue;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			/* The implicit transaction of this request is over. */
			complete(c, head);
			if (c->state == PC_DOWN)
				return;
			continue;
		}
		if (head->res == NULL)
			head->res = res;
		else
			PQclear(res);
		head->phase = RQ_GOT_RESULT;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c);
		return;
	}
	if (c->state == PC_READY)
		pump(p);
}

void pgpool_stats(const struct pgpool *p, struct pgpool_stats *s)
{
	memset(s, 0, sizeof *s);
	s->size = p->cfg.size;
	s->queued = p->nqueued;
	for (unsigned i = 0; i < p->cfg.size; i++) {
		if (p->conns[i].state == PC_READY)
			s->connected++;
		if (p->conns[i].ninflight > 0)
			s->busy++;
		s->inflight += p->conns[i].ninflight;
	}
	s->last_error = p->last_error;
	s->last_error_ms = p->last_error_ms;
	s->done = p->done;
	s->sql_errors = p->sql_errors;
	s->lost = p->lost;
	s->reconnects = p->reconnects;
}

void pgpool_free(struct pgpool *p)
{
	if (p == NULL)
		return;
	struct pgp_req *r;
	while ((r = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, r, link);
		r->cb(r->arg, PGP_ERR_STOPPED, NULL);
		free(r);
	}
	for (unsigned i = 0; i < p->cfg.size; i++) {
		struct pgconn *c = &p->conns[i];
		while ((r = TAILQ_FIRST(&c->inflight)) != NULL) {
			TAILQ_REMOVE(&c->inflight, r, link);
			if (r->st != NULL)
				r->cb(r->arg, PGP_ERR_LOST, NULL);
			if (r->res)
				PQclear(r->res);
			free(r);
		}
		clear_events(c);
		if (c->ev_retry)
			event_free(c->ev_retry);
		if (c->pg)
			PQfinish(c->pg);
	}
	for (unsigned i = 0; i < p->nstmts; i++) {
		free(p->stmts[i].name);
		free(p->stmts[i].sql);
	}
	free(p->stmts);
	free(p->conns);
	free(p->conninfo);
	free(p);
}
