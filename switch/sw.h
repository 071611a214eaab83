/*
 * switchd's shared state and the interfaces between its modules:
 * sw_conn (listeners, connections, framing, backpressure), sw_txn (the
 * transaction state machine), sw_term (terminal keys cache), switchd.c
 * (start-up, signals, admin port). One event loop, one thread.
 */
#ifndef SW_H
#define SW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmclient.h"
#include "iso8583.h"
#include "pgpool.h"
#include "sw_config.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
typedef struct ssl_ctx_st SSL_CTX;

struct sw_conn;
struct sw_txn;
struct sw_link;

struct sw_listener {
	struct sw *sw;
	struct swcfg_listener cfg; /* a copy: a reload does not change live listeners */
	struct evconnlistener *ev;
	SSL_CTX *tls;
};

/* A terminal's keys as the database holds them (LMK forms), cached. */
struct sw_term {
	char tid[9];
	char kind[4];     /* "atm" / "pos" */
	bool active;
	char acquirer[12];
	char tmk[82], tpk[82], tak[82]; /* "" when none */
	char bdk[82], aes_bdk[82]; /* DUKPT base derivation keys (TDES, AES), "" when none */
	uint64_t loaded_ms;
	struct sw_term *next;
};

struct sw {
	struct event_base *base;
	struct swcfg cfg;
	struct pgpool *db;
	hsmc_pool *hsm;
	uint8_t pan_key[64];
	size_t pan_key_len;

	struct sw_listener listeners[SWCFG_MAX_LISTENERS];
	unsigned nlisteners;
	struct sw_link *links[SWCFG_MAX_ROUTES]; /* sw_link.h */
	unsigned nlinks;

	struct sw_conn *conns; /* doubly linked, open ones */
	unsigned nconns, nsigned_on;
	struct sw_conn *dead;  /* closed, freed by the reaper after the loop pass */
	struct event *reaper;

	unsigned inflight;          /* transactions not yet answered */
	unsigned pending_reversals; /* switch-initiated reversals not yet committed */
	unsigned ntxn_live;         /* transaction objects alive (incl. orphans) */
	struct sw_txn *free_txns;
	struct sw_txn *live_fin;    /* financial requests and reversals alive, for reversals and repeats to find */

	struct sw_term *terms[1024]; /* hash chains by terminal id */

	uint64_t next_conn_id, next_txn_id;
	int draining;               /* 0 running, 1 SIGTERM received */
	uint64_t drain_deadline_ms;
};

/* Monotonic milliseconds / microseconds (cached per loop pass where it
 * matters is not needed: clock_gettime(CLOCK_MONOTONIC) is vDSO-cheap). */
uint64_t sw_now_ms(void);
uint64_t sw_now_us(void);

/* ---- sw_conn.c ---------------------------------------------------------- */

enum conn_state {
	CONN_HANDSHAKE, /* TLS handshake in progress */
	CONN_OPEN,      /* reading and answering */
	CONN_PAUSED,    /* too many in flight or the terminal is not reading: not reading */
	CONN_CLOSED,    /* closed; waiting for the reaper */
};

struct sw_conn {
	uint64_t id;
	struct sw *sw;
	struct sw_listener *lst;
	struct bufferevent *bev;
	enum conn_state state;
	char peer[64];
	bool signed_on;
	char tid[9];              /* the terminal that signed on here */
	unsigned inflight;
	uint64_t last_active_ms;  /* last byte received */
	uint64_t frame_start_ms;  /* a message started arriving, 0 if none */
	struct sw_txn *txns;      /* transactions started here, still alive */
	struct sw_conn *prev, *next;
};

int sw_listeners_start(struct sw *sw, char *err, size_t errlen);
void sw_listeners_stop(struct sw *sw);
void sw_listeners_free(struct sw *sw);
/* Stop reading from every connection (shutdown: finish what is in
 * flight, take nothing new). */
void sw_conns_pause_all(struct sw *sw);
/* Close every connection (shutdown). */
void sw_conns_close_all(struct sw *sw, const char *why);
/* Periodic: idle and stalled-message sweep. */
void sw_conns_sweep(struct sw *sw);
/* Close a connection now (logged at WARN with the reason, counted as a
 * framing close); its transactions go on without it. */
void sw_conn_close_bad(struct sw_conn *c, const char *why);
/* Queue an answer (already packed, without framing) on a connection. */
void sw_conn_send(struct sw_conn *c, const uint8_t *msg, size_t len);
/* A transaction of this connection finished: resume reading if paused. */
void sw_conn_txn_done(struct sw_conn *c);

/* ---- sw_txn.c ----------------------------------------------------------- */

/* A complete message arrived on c (len bytes, no header). */
void sw_txn_start(struct sw_conn *c, const uint8_t *msg, size_t len);
/* The connection is closing: its transactions go on without it. */
void sw_txn_detach_all(struct sw_conn *c);
/* Prepare the database statements switchd uses (before pgpool_start). */
int sw_txn_prepare(struct pgpool *db);
void sw_txn_free_cache(struct sw *sw);

/* ---- sw_term.c ---------------------------------------------------------- */

#define SW_TERM_TTL_MS 300000

/* The cached terminal, or NULL when absent or older than max_age_ms. */
struct sw_term *sw_term_get(struct sw *sw, const char *tid, uint64_t max_age_ms);
/* Insert or replace from a terminal_keys() row (res row 0). */
struct sw_term *sw_term_put(struct sw *sw, const char *tid, const PGresult *res);
void sw_term_set_keys(struct sw *sw, const char *tid, const char *tpk, const char *tak);
void sw_term_clear(struct sw *sw);

#endif
