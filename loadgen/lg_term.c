/* loadgen's terminals on one event loop (lg_term.h). */
#include "lg_term.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "paycrypto.h"
#include "tlfield.h"
#include "tlreq.h"

#define LGT_MAX_MSG 4096 /* largest answer accepted */
#define LGT_KEEP 8       /* earlier approvals a terminal remembers for reversals */

/* An approval the terminal may reverse later. */
struct kept {
	struct tlq_req req; /* the 0200, with the answer's DE 38 */
	enum lgs_op op;
};

struct lgt_term {
	lgt_engine *e;
	unsigned idx;
	struct tlq_ident id;
	pc_key tmk, tpk, tak;
	unsigned stan;
	bool defined, was_ready;
	enum lgt_state state;
	struct bufferevent *bev;
	bool reap;              /* bev to be freed by the timer (never in its own callback) */
	struct event *timer;    /* answer deadline, connect deadline, backoff */
	/* the transmission being waited for */
	char wait_mti[5], wait_stan[7];
	/* LGT_BUSY: the request and its result so far */
	struct tlq_req cur;
	struct lgt_result res;
	/* LGT_REVERSING, or owed across a reconnection */
	struct tlq_req rev;
	enum lgs_op rev_of;
	bool owed;
	unsigned rev_sends;
	struct kept kept[LGT_KEEP];
	unsigned nkept;
};

struct lgt_engine {
	struct event_base *base;
	struct lgt_config cfg;
	char host[256], acq[12], mcc[5], cur[4];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct lgt_hooks hooks;
	void *arg;
	struct lgs_rng rng;
	unsigned n;
	unsigned requests; /* terminals in LGT_BUSY */
	unsigned owed;     /* terminals owing a reversal (in flight or not) */
	struct lgt_term *t;
	struct lgt_counters cnt;
};

uint64_t lgt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *const state_names[] = {"new", "connecting", "signon", "keychange", "ready",
                                          "busy", "reversing", "backoff", "failed"};

const char *lgt_state_name(enum lgt_state s)
{
	return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static bool is_busy(enum lgt_state s)
{
	return s == LGT_BUSY || s == LGT_REVERSING;
}

/* The one place a terminal's state changes (STYLE.md 7): checked against
 * the transitions the protocol has, counted in e->requests, traced with
 * -vv. */
static void set_state(struct lgt_term *t, enum lgt_state to)
{
	static const unsigned allowed[] = {
		[LGT_NEW] = 1u << LGT_CONNECTING,
		[LGT_CONNECTING] = 1u << LGT_SIGNON | 1u << LGT_BACKOFF | 1u << LGT_FAILED,
		[LGT_SIGNON] = 1u << LGT_KEYCHANGE | 1u << LGT_BACKOFF | 1u << LGT_FAILED,
		[LGT_KEYCHANGE] = 1u << LGT_READY | 1u << LGT_REVERSING | 1u << LGT_BACKOFF | 1u << LGT_FAILED,
		[LGT_READY] = 1u << LGT_BUSY | 1u << LGT_BACKOFF,
		[LGT_BUSY] = 1u << LGT_READY | 1u << LGT_REVERSING | 1u << LGT_BACKOFF,
		[LGT_REVERSING] = 1u << LGT_READY | 1u << LGT_BACKOFF,
		[LGT_BACKOFF] = 1u << LGT_CONNECTING,
		[LGT_FAILED] = 0,
	};
	enum lgt_state from = t->state;
	if (!(allowed[from] & (1u << to))) {
		fprintf(stderr, "loadgen: internal error: terminal %s: %s -> %s\n", t->id.tid,
		        lgt_state_name(from), lgt_state_name(to));
		abort();
	}
	if (from == LGT_BUSY)
		t->e->requests--;
	if (to == LGT_BUSY)
		t->e->requests++;
	t->state = to;
	if (to == LGT_READY)
		t->was_ready = true;
	if (t->e->cfg.verbose >= 2)
		fprintf(stderr, "loadgen: %s: %s -> %s\n", t->id.tid, lgt_state_name(from), lgt_state_name(to));
}

static void arm(struct lgt_term *t, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(t->timer, &tv);
}

static void drop(struct lgt_term *t, const char *why);

/* ---- sending ------------------------------------------------------------ */

/* Packs (MACed with the TAK when `mac`), frames and queues a message, and
 * remembers what answers it. False when it cannot be packed. */
static bool transmit(struct lgt_term *t, struct iso_msg *m, bool mac)
{
	const struct lgt_config *c = &t->e->cfg;
	uint8_t buf[4 + LGT_MAX_MSG];
	size_t len = 0, h = iso_frame_hdrlen(c->framing);
	int rc = tl_pack_mac(mac ? &t->tak : NULL, c->profile, m, buf + 4, LGT_MAX_MSG, &len);
	if (rc == 0 && iso_frame_put(c->framing, len, buf + 4 - h) < 0)
		rc = TL_ERR_ENCODE;
	if (rc == 0) {
		memcpy(t->wait_mti, m->mti, 4);
		t->wait_mti[4] = '\0';
		if (iso_get(m, 11, t->wait_stan, sizeof t->wait_stan) < 0)
			t->wait_stan[0] = '\0';
		rc = bufferevent_write(t->bev, buf + 4 - h, h + len) == 0 ? 0 : TL_ERR_IO;
	}
	pc_wipe(buf, sizeof buf);
	return rc == 0;
}

static bool send_network(struct lgt_term *t, unsigned code)
{
	struct tlq_req r = {.kind = TLQ_NONE};
	struct iso_msg m;
	tlq_next_stan(&t->stan, r.stan);
	tlq_stamp(&r, time(NULL));
	if (tlq_network(&t->id, &r, code, &m) != 0 || !transmit(t, &m, false))
		return false;
	arm(t, t->e->cfg.timeout_ms);
	return true;
}

/* Sends the owed reversal t->rev: 0420 the first time, then 0421. */
static void send_reversal(struct lgt_term *t)
{
	struct iso_msg m;
	bool ok = tlq_build(&t->id, &t->rev, t->rev_sends ? "0421" : "0420", &m) == 0 &&
	          transmit(t, &m, true);
	pc_wipe(&m, sizeof m);
	if (!ok) {
		drop(t, "cannot send a reversal");
		return;
	}
	t->rev_sends++;
	t->e->cnt.adv_sent++;
	arm(t, t->e->cfg.timeout_ms);
}

/* The terminal owes a reversal of `orig` (a 0200) or, when orig is a
 * 0420 itself, owes its repeats. */
static void owe_reversal(struct lgt_term *t, const struct tlq_req *orig, enum lgs_op of)
{
	char stan[7];
	if (orig->kind == TLQ_REV) {
		t->rev = *orig;
		t->rev_sends = 1; /* the first send was the request itself */
	} else {
		tlq_next_stan(&t->stan, stan);
		tlq_reversal(&t->rev, orig, 0, stan, time(NULL), NULL);
		t->rev_sends = 0;
	}
	t->rev_of = of;
	t->owed = true;
	t->e->owed++;
	t->e->cnt.adv_started++;
}

/* A final outcome to the `final` hook (lg_term.h, struct lgt_final). */
static void report(struct lgt_term *t, const struct tlq_req *req, enum lgs_op op, enum lgs_op reversed,
                   const char *rc, const char *approval, bool acked, unsigned sends)
{
	if (t->e->hooks.final == NULL)
		return;
	struct lgt_final f = {.tid = t->id.tid, .req = req, .op = op, .reversed = reversed, .rc = rc,
	                      .approval = approval, .acked = acked, .sends = sends};
	t->e->hooks.final(t->idx, &f, t->e->arg);
}

/* The owed reversal is over: acknowledged with `rc`, or given up (NULL). */
static void end_reversal(struct lgt_term *t, const char *rc)
{
	report(t, &t->rev, LGS_REVERSAL, t->rev_of, rc ? rc : "timeout", "", rc != NULL, t->rev_sends);
	t->owed = false;
	t->e->owed--;
	pc_wipe(&t->rev, sizeof t->rev);
}

/* After a request or a reversal: owed reversal first, else READY. */
static void settle(struct lgt_term *t)
{
	if (t->owed) {
		if (t->state != LGT_REVERSING)
			set_state(t, LGT_REVERSING);
		send_reversal(t);
		return;
	}
	set_state(t, LGT_READY);
	if (t->e->hooks.ready)
		t->e->hooks.ready(t->idx, t->e->arg);
}

static void keep_approval(struct lgt_term *t, const struct tlq_req *r, enum lgs_op op)
{
	if (t->nkept == LGT_KEEP) {
		pc_wipe(&t->kept[0], sizeof t->kept[0]);
		memmove(&t->kept[0], &t->kept[1], sizeof t->kept[0] * (LGT_KEEP - 1));
		t->nkept--;
	}
	t->kept[t->nkept].req = *r;
	t->kept[t->nkept].op = op;
	t->nkept++;
}

int lgt_send(lgt_engine *e, unsigned i, enum lgs_op op, const struct tl_card *card,
             const char *pin, uint64_t amount, uint64_t intended_ns, enum lgs_op *sent)
{
	struct lgt_term *t = &e->t[i];
	if (t->state != LGT_READY)
		return LGT_SEND_BUSY;
	struct lgt_result *res = &t->res;
	memset(res, 0, sizeof *res);
	res->intended_ns = intended_ns;
	char stan[7];
	unsigned next = t->stan;
	tlq_next_stan(&next, stan);
	int rc;
	if (op == LGS_REVERSAL && t->nkept > 0) {
		/* One of this terminal's earlier approvals, at random, once. */
		unsigned k = (unsigned)lgs_below(&e->rng, t->nkept);
		rc = tlq_reversal(&t->cur, &t->kept[k].req, 0, stan, time(NULL), NULL);
		res->reversed = t->kept[k].op;
		res->amount = t->kept[k].req.amount;
		pc_wipe(&t->kept[k], sizeof t->kept[k]);
		t->kept[k] = t->kept[--t->nkept];
	} else {
		res->fallback = op == LGS_REVERSAL;
		if (op == LGS_REVERSAL)
			op = LGS_WITHDRAW;
		struct tl_fin f = {.card = card, .pin = pin, .amount = op == LGS_BALANCE ? 0 : amount};
		strcpy(f.proc, op == LGS_WITHDRAW ? "010000" : op == LGS_BALANCE ? "310000" : "000000");
		memcpy(f.currency, e->cur, sizeof f.currency);
		rc = tlq_financial(&t->cur, &f, &t->tpk, stan, time(NULL), NULL);
		res->amount = f.amount;
	}
	res->op = op;
	*sent = op;
	if (rc != 0)
		return LGT_SEND_ERROR;
	t->stan = next;
	struct iso_msg m;
	res->sent_ns = lgt_now_ns();
	bool ok = tlq_build(&t->id, &t->cur, t->cur.mti, &m) == 0 && transmit(t, &m, true);
	pc_wipe(&m, sizeof m);
	if (!ok) {
		pc_wipe(&t->cur, sizeof t->cur);
		return LGT_SEND_ERROR;
	}
	set_state(t, LGT_BUSY);
	arm(t, e->cfg.timeout_ms);
	return 0;
}

/* ---- receiving ------------------------------------------------------------ */

/* An answer to what the terminal waits for: the response of the same
 * class (0200 -> 0210, 0420/0421 -> 0430, 0800 -> 0810), same DE 11 and
 * DE 41 (docs/atm-sim.md "Matching"). */
static bool answers(const struct lgt_term *t, const struct iso_msg *m)
{
	char stan[8], tid[10];
	return m->mti[0] == '0' && m->mti[1] == t->wait_mti[1] &&
	       m->mti[2] == (char)((t->wait_mti[2] - '0') / 2 * 2 + 1 + '0') &&
	       iso_get(m, 11, stan, sizeof stan) >= 0 && strcmp(stan, t->wait_stan) == 0 &&
	       iso_get(m, 41, tid, sizeof tid) >= 0 && strcmp(tid, t->id.tid) == 0;
}

static void fail_setup(struct lgt_term *t, const char *why)
{
	evtimer_del(t->timer);
	if (t->was_ready) {
		drop(t, why);
		return;
	}
	t->e->cnt.setup_failed++;
	if (t->bev)
		bufferevent_disable(t->bev, EV_READ | EV_WRITE);
	t->reap = true;
	set_state(t, LGT_FAILED);
	arm(t, 0);
	if (t->e->hooks.failed)
		t->e->hooks.failed(t->idx, why, t->e->arg);
}

static void on_keys(struct lgt_term *t, const struct iso_msg *m)
{
	char de48[1000], why[160];
	int n = iso_get(m, 48, de48, sizeof de48);
	pc_key tpk, tak;
	if (n < 0 || tl_keys_from_de48(&t->tmk, de48, (size_t)n, &tpk, &tak, why, sizeof why) != 0) {
		pc_wipe(de48, sizeof de48);
		fail_setup(t, n < 0 ? "key change answer without DE 48" : "key change: bad keys in DE 48");
		return;
	}
	pc_wipe(de48, sizeof de48);
	t->tpk = tpk;
	t->tak = tak;
	pc_wipe(&tpk, sizeof tpk);
	pc_wipe(&tak, sizeof tak);
	settle(t);
}

static void finish_request(struct lgt_term *t, enum lgt_outcome out, const char *rc,
                           const char *approval)
{
	struct lgt_result *res = &t->res;
	res->outcome = out;
	snprintf(res->rc, sizeof res->rc, "%s", rc);
	res->done_ns = lgt_now_ns();
	bool approved = out == LGT_ANSWERED && strcmp(rc, "00") == 0;
	bool unanswered = out == LGT_TIMEOUT || out == LGT_LOST;
	/* A withdrawal or purchase the terminal cannot trust paid out nothing
	 * and sold nothing: reversed (atm-sim's withdrawals, pos-sim's sales). */
	bool reversible = t->cur.kind == TLQ_FIN && (res->op == LGS_WITHDRAW || res->op == LGS_PURCHASE);
	static const char *const seen[] = {[LGT_TIMEOUT] = "timeout", [LGT_MACFAIL] = "macfail",
	                                   [LGT_LOST] = "lost"};
	/* A reversal's answer whose MAC fails is no acknowledgement (it may
	 * not be the switch's): repeated like an unanswered one. */
	bool rev_unsure = t->cur.kind == TLQ_REV && (unanswered || out == LGT_MACFAIL);
	if (!rev_unsure) /* else reported when its repeats end */
		report(t, &t->cur, res->op, res->reversed, out == LGT_ANSWERED ? rc : seen[out], approval,
		       !unanswered, 1);
	if (approved && t->cur.kind == TLQ_FIN && t->cur.amount > 0) {
		snprintf(t->cur.approval, sizeof t->cur.approval, "%s", approval);
		keep_approval(t, &t->cur, res->op);
	} else if (rev_unsure) {
		owe_reversal(t, &t->cur, res->reversed); /* an advice is repeated until answered */
	} else if (reversible && (unanswered || (out == LGT_MACFAIL && strcmp(rc, "00") == 0))) {
		owe_reversal(t, &t->cur, res->op);
	}
	pc_wipe(&t->cur, sizeof t->cur);
	if (t->e->hooks.result)
		t->e->hooks.result(t->idx, res, t->e->arg);
}

static void on_message(struct lgt_term *t, const uint8_t *p, size_t len)
{
	lgt_engine *e = t->e;
	struct iso_msg m;
	struct iso_error err;
	if (iso_unpack(e->cfg.profile, p, len, &m, &err) != 0) {
		e->cnt.undecodable++;
		return;
	}
	bool waiting = t->state == LGT_SIGNON || t->state == LGT_KEYCHANGE || is_busy(t->state);
	if (!waiting || !answers(t, &m)) {
		e->cnt.unmatched++;
		return;
	}
	evtimer_del(t->timer);
	char rc[3] = "", approval[7] = "";
	if (iso_get(&m, 39, rc, sizeof rc) < 0)
		rc[0] = '\0';
	if (iso_get(&m, 38, approval, sizeof approval) < 0)
		approval[0] = '\0';
	switch (t->state) {
	case LGT_SIGNON:
		if (strcmp(rc, "00") != 0) {
			fail_setup(t, "sign-on declined");
		} else if (send_network(t, TL_NM_KEYCHANGE)) {
			set_state(t, LGT_KEYCHANGE);
		} else {
			fail_setup(t, "cannot send the key change");
		}
		break;
	case LGT_KEYCHANGE:
		if (strcmp(rc, "00") != 0)
			fail_setup(t, "key change declined");
		else
			on_keys(t, &m);
		break;
	case LGT_BUSY: {
		enum tl_mac mac = tl_mac_verify(&t->tak, e->cfg.profile, p, len, &m);
		finish_request(t, mac == TL_MAC_OK ? LGT_ANSWERED : LGT_MACFAIL, rc, approval);
		settle(t);
		break;
	}
	case LGT_REVERSING:
		if (tl_mac_verify(&t->tak, e->cfg.profile, p, len, &m) != TL_MAC_OK) {
			/* Not an acknowledgement: the 0421 goes when its time-out
			 * would have passed (not at once: a switch without its HSM
			 * answers every repeat unMACed). */
			arm(t, e->cfg.timeout_ms);
			break;
		}
		e->cnt.adv_acked++;
		if (t->rev_of == LGS_WITHDRAW && strcmp(rc, "00") == 0)
			e->cnt.adv_acked_withdraw_amount += t->rev.amount;
		end_reversal(t, rc);
		settle(t);
		break;
	default:
		break;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct lgt_term *t = arg;
	const struct lgt_config *c = &t->e->cfg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t hdrlen = iso_frame_hdrlen(c->framing);
	while (!t->reap) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		size_t want = avail < hdrlen + LGT_MAX_MSG ? avail : hdrlen + LGT_MAX_MSG;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)want);
		size_t hdr, mlen;
		int k = iso_frame_peek(c->framing, LGT_MAX_MSG, p, want, &hdr, &mlen);
		if (k < 0) {
			drop(t, "bad length header from the switch");
			return;
		}
		if (k == 0)
			break;
		on_message(t, p + hdr, mlen);
		if (t->reap)
			return;
		evbuffer_drain(in, hdr + mlen);
	}
}

/* ---- connection ------------------------------------------------------------ */

/* Gives up the connection (freed later by the timer): a request in flight
 * is lost, a terminal that was never ready has failed, the others
 * reconnect after the backoff. */
static void drop(struct lgt_term *t, const char *why)
{
	lgt_engine *e = t->e;
	if (t->reap || t->state == LGT_FAILED || t->state == LGT_BACKOFF)
		return;
	evtimer_del(t->timer);
	if (!t->was_ready) {
		fail_setup(t, why);
		return;
	}
	e->cnt.disconnects++;
	if (t->bev)
		bufferevent_disable(t->bev, EV_READ | EV_WRITE);
	t->reap = true;
	enum lgt_state was = t->state;
	set_state(t, LGT_BACKOFF);
	if (was == LGT_BUSY)
		finish_request(t, LGT_LOST, "", "");
	if (e->cfg.verbose)
		fprintf(stderr, "loadgen: %s: connection dropped (%s); reconnecting in %u ms\n", t->id.tid,
		        why, e->cfg.backoff_ms);
	arm(t, e->cfg.backoff_ms);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lgt_term *t = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		evtimer_del(t->timer);
		int one = 1;
		setsockopt(bufferevent_getfd(t->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		t->e->cnt.connects++;
		if (send_network(t, TL_NM_SIGNON))
			set_state(t, LGT_SIGNON);
		else
			fail_setup(t, "cannot send the sign-on");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		char why[96];
		snprintf(why, sizeof why, "%s", t->state == LGT_CONNECTING ? "cannot connect"
		                                : (what & BEV_EVENT_EOF) ? "closed by the switch"
		                                                         : strerror(errno));
		drop(t, why);
	}
}

static void connect_now(struct lgt_term *t)
{
	lgt_engine *e = t->e;
	set_state(t, LGT_CONNECTING);
	t->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (t->bev == NULL) {
		drop(t, "out of memory");
		return;
	}
	bufferevent_setcb(t->bev, on_read, NULL, on_event, t);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	arm(t, e->cfg.timeout_ms);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)&e->addr, (int)e->addrlen) != 0)
		drop(t, "cannot connect");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lgt_term *t = arg;
	(void)fd;
	(void)what;
	if (t->reap) {
		if (t->bev)
			bufferevent_free(t->bev);
		t->bev = NULL;
		t->reap = false;
		if (t->state == LGT_BACKOFF)
			connect_now(t);
		return;
	}
	switch (t->state) {
	case LGT_CONNECTING:
		drop(t, "connect timed out");
		break;
	case LGT_SIGNON:
	case LGT_KEYCHANGE:
		fail_setup(t, t->state == LGT_SIGNON ? "no answer to the sign-on" : "no answer to the key change");
		break;
	case LGT_BUSY:
		finish_request(t, LGT_TIMEOUT, "", "");
		settle(t);
		break;
	case LGT_REVERSING:
		if (t->rev_sends <= t->e->cfg.repeats) {
			send_reversal(t);
		} else {
			t->e->cnt.adv_unacked++;
			end_reversal(t, NULL);
			settle(t);
		}
		break;
	default:
		break;
	}
}

/* ---- the engine ------------------------------------------------------------- */

lgt_engine *lgt_new(struct event_base *base, const struct lgt_config *cfg, unsigned n,
                    const struct lgt_hooks *hooks, void *arg, char *why, size_t cap)
{
	lgt_engine *e = calloc(1, sizeof *e);
	if (e == NULL || (e->t = calloc(n ? n : 1, sizeof *e->t)) == NULL) {
		free(e);
		snprintf(why, cap, "out of memory for %u terminals", n);
		return NULL;
	}
	e->base = base;
	e->cfg = *cfg;
	snprintf(e->host, sizeof e->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
	snprintf(e->acq, sizeof e->acq, "%s", cfg->acquirer);
	snprintf(e->mcc, sizeof e->mcc, "%s", cfg->mcc);
	snprintf(e->cur, sizeof e->cur, "%s", cfg->currency);
	e->cfg.host = e->host;
	e->hooks = *hooks;
	e->arg = arg;
	e->n = n;
	lgs_seed(&e->rng, cfg->seed ^ 0x6c67745f72657673ull);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[8];
	snprintf(port, sizeof port, "%u", cfg->port);
	int rc = getaddrinfo(e->host, port, &hints, &ai);
	if (rc != 0 || ai == NULL || ai->ai_addrlen > sizeof e->addr) {
		snprintf(why, cap, "%s: %s", e->host, rc ? gai_strerror(rc) : "no address");
		if (ai)
			freeaddrinfo(ai);
		free(e->t);
		free(e);
		return NULL;
	}
	memcpy(&e->addr, ai->ai_addr, ai->ai_addrlen);
	e->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return e;
}

int lgt_define(lgt_engine *e, unsigned i, const char *tid, const uint8_t *tmk, size_t len,
               unsigned stan, char *why, size_t cap)
{
	struct lgt_term *t = &e->t[i];
	size_t n = strlen(tid);
	if (n < 1 || n > 8 || strspn(tid, " ") == n) {
		snprintf(why, cap, "terminal id '%s': 1 to 8 characters", tid);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (tid[k] < 0x21 || tid[k] > 0x7e) {
			snprintf(why, cap, "terminal id '%s': printable characters only", tid);
			return -1;
		}
	if ((len != 16 && len != 24) || !pc_des_parity_ok(tmk, len) ||
	    pc_key_set(&t->tmk, PC_ALG_TDES, tmk, len) != 0) {
		snprintf(why, cap, "TMK of %s: not a double- or triple-length TDES key with odd parity", tid);
		return -1;
	}
	t->timer = evtimer_new(e->base, on_timer, t);
	if (t->timer == NULL) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	t->e = e;
	t->idx = i;
	strcpy(t->id.tid, tid);
	snprintf(t->id.acq, sizeof t->id.acq, "%s", e->acq);
	snprintf(t->id.mcc, sizeof t->id.mcc, "%s", e->mcc);
	t->stan = stan;
	t->defined = true;
	return 0;
}

void lgt_start(lgt_engine *e, unsigned i)
{
	if (e->t[i].defined && e->t[i].state == LGT_NEW)
		connect_now(&e->t[i]);
}

enum lgt_state lgt_state_of(const lgt_engine *e, unsigned i)
{
	return e->t[i].state;
}

unsigned lgt_busy(const lgt_engine *e)
{
	return e->requests + e->owed;
}

void lgt_report_pending(lgt_engine *e)
{
	for (unsigned i = 0; i < e->n; i++) {
		struct lgt_term *t = &e->t[i];
		if (t->state == LGT_BUSY)
			report(t, &t->cur, t->res.op, t->res.reversed, "pending", "", false, 1);
		if (t->owed)
			report(t, &t->rev, LGS_REVERSAL, t->rev_of, "pending", "", false, t->rev_sends);
	}
}

const struct lgt_counters *lgt_counters_of(const lgt_engine *e)
{
	return &e->cnt;
}

void lgt_free(lgt_engine *e)
{
	if (e == NULL)
		return;
	for (unsigned i = 0; i < e->n; i++) {
		struct lgt_term *t = &e->t[i];
		if (t->bev)
			bufferevent_free(t->bev);
		if (t->timer)
			event_free(t->timer);
	}
	pc_wipe(e->t, sizeof *e->t * e->n);
	free(e->t);
	free(e);
}
