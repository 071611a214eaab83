/*
 * Listeners and terminal connections: accept (SO_REUSEPORT, so several
 * switchd processes can share a port), optional TLS, framing, and
 * backpressure (STYLE.md 8): a connection stops being read while it has
 * max_inflight requests in the switch or while the terminal is not reading
 * its answers; at most CONN_BATCH messages are taken per wake-up.
 *
 * A connection is closed (and logged, and counted) for a framing error
 * (zero or over-long length, non-digit ASCII header), a message that does
 * not complete within message_timeout_ms, idleness, or the peer leaving.
 * Closed connections are freed by the reaper after the current loop pass,
 * never inside their own callback (STYLE.md 9).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sw.h"
#include "sw_log.h"
#include "sw_metrics.h"

#define CONN_BATCH 16
#define CONN_OUT_HIGH (256 * 1024) /* answers queued before we stop reading */

static const char *const state_names[] = {"handshake", "open", "paused", "closed"};

static void conn_set_state(struct sw_conn *c, enum conn_state to)
{
	if (c->state == to)
		return;
	swlog(SWLOG_DEBUG, c->id, 0, "conn_state", "from=%s to=%s", state_names[c->state],
	      state_names[to]);
	if (to == CONN_PAUSED)
		bufferevent_disable(c->bev, EV_READ);
	else if (to == CONN_OPEN && c->state == CONN_PAUSED)
		bufferevent_enable(c->bev, EV_READ);
	c->state = to;
}

static void conn_close(struct sw_conn *c, enum swlog_level lvl, const char *why)
{
	if (c->state == CONN_CLOSED)
		return;
	struct sw *sw = c->sw;
	swlog(lvl, c->id, 0, "conn_close", "peer=%s tid=%s reason=\"%s\" inflight=%u", c->peer,
	      c->tid[0] ? c->tid : "-", why, c->inflight);
	c->state = CONN_CLOSED;
	sw_txn_detach_all(c);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->signed_on)
		sw->nsigned_on--;
	if (c->prev)
		c->prev->next = c->next;
	else
		sw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sw->nconns--;
	c->next = sw->dead;
	sw->dead = c;
	event_active(sw->reaper, EV_TIMEOUT, 0);
	if (sw->nconns < sw->cfg.max_connections && !sw->draining)
		for (unsigned i = 0; i < sw->nlisteners; i++)
			evconnlistener_enable(sw->listeners[i].ev);
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sw *sw = arg;
	while (sw->dead) {
		struct sw_conn *c = sw->dead;
		sw->dead = c->next;
		free(c);
	}
}

static bool conn_should_pause(const struct sw_conn *c)
{
	return c->inflight >= c->sw->cfg.max_inflight ||
	       evbuffer_get_length(bufferevent_get_output(c->bev)) > CONN_OUT_HIGH;
}

/* Take complete messages off the input buffer. */
static void conn_read(struct sw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const struct swcfg_listener *lc = &c->lst->cfg;
	size_t hdrlen = iso_frame_hdrlen(lc->framing);
	unsigned taken = 0;

	while (c->state == CONN_OPEN) {
		if (conn_should_pause(c)) {
			conn_set_state(c, CONN_PAUSED);
			return;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		if (taken == CONN_BATCH) {
			/* More is waiting: come back after others had their turn. */
			bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
			                                         BEV_TRIG_DEFER_CALLBACKS);
			return;
		}
		size_t want = avail < hdrlen + lc->max_message ? avail : hdrlen + lc->max_message;
		const uint8_t *p = evbuffer_pullup(in, (ssize_t)want);
		size_t hdr = 0, msglen = 0;
		int rc = iso_frame_peek(lc->framing, lc->max_message, p, want, &hdr, &msglen);
		if (rc < 0) {
			char why[96];
			snprintf(why, sizeof why, "framing: %s", iso_strerror(rc));
			swm_inc(SWM_CONN_CLOSED_FRAMING);
			conn_close(c, SWLOG_WARN, why);
			return;
		}
		if (rc == 0) {
			if (!c->frame_start_ms)
				c->frame_start_ms = sw_now_ms();
			break;
		}
		c->frame_start_ms = 0;
		c->inflight++;
		taken++;
		sw_txn_start(c, p + hdr, msglen);
		/* sw_txn_start copied the message; it may have closed c. */
		if (c->state == CONN_CLOSED)
			return;
		evbuffer_drain(in, hdr + msglen);
	}
	if (evbuffer_get_length(in) && !c->frame_start_ms)
		c->frame_start_ms = sw_now_ms();
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct sw_conn *c = arg;
	c->last_active_ms = sw_now_ms();
	conn_read(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct sw_conn *c = arg;
	if (c->state == CONN_PAUSED && !conn_should_pause(c) && !c->sw->draining) {
		conn_set_state(c, CONN_OPEN);
		conn_read(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sw_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done. */
		c->frame_start_ms = 0;
		conn_set_state(c, CONN_OPEN);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_close(c, SWLOG_INFO, "peer closed");
	} else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		char why[160];
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char buf[120];
			ERR_error_string_n(e, buf, sizeof buf);
			snprintf(why, sizeof why, "tls: %s", buf);
			if (c->state == CONN_HANDSHAKE)
				swm_inc(SWM_CONN_REFUSED);
		} else {
			snprintf(why, sizeof why, "socket: %s", strerror(errno));
		}
		conn_close(c, SWLOG_WARN, why);
	}
}

void sw_conn_close_bad(struct sw_conn *c, const char *why)
{
	swm_inc(SWM_CONN_CLOSED_FRAMING);
	conn_close(c, SWLOG_WARN, why);
}

void sw_conn_send(struct sw_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t hdr[4];
	int hl = iso_frame_put(c->lst->cfg.framing, len, hdr);
	if (hl < 0) {
		swlog(SWLOG_ERROR, c->id, 0, "send", "answer of %zu bytes cannot be framed", len);
		return;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, hdr, (size_t)hl);
	evbuffer_add(out, msg, len);
}

void sw_conn_txn_done(struct sw_conn *c)
{
	c->inflight--;
	if (c->state == CONN_PAUSED && !conn_should_pause(c) && !c->sw->draining) {
		conn_set_state(c, CONN_OPEN);
		/* Deferred: we may be deep inside a transaction callback. */
		bufferevent_trigger(c->bev, EV_READ,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
}

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	(void)salen;
	struct sw_listener *l = arg;
	struct sw *sw = l->sw;
	char peer[64] = "?";
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(peer, sizeof peer, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in = (struct sockaddr_in6 *)sa;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in->sin6_addr, a, sizeof a);
		snprintf(peer, sizeof peer, "[%s]:%u", a, ntohs(in->sin6_port));
	}
	if (sw->draining || sw->nconns >= sw->cfg.max_connections) {
		swm_inc(SWM_CONN_REFUSED);
		swlog(SWLOG_WARN, 0, 0, "conn_refused", "listener=%s peer=%s reason=%s", l->cfg.name,
		      peer, sw->draining ? "shutting down" : "connection limit");
		evutil_closesocket(fd);
		if (!sw->draining)
			evconnlistener_disable(ev);
		return;
	}
	struct sw_conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->id = ++sw->next_conn_id;
	c->sw = sw;
	c->lst = l;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->last_active_ms = sw_now_ms();
	if (l->tls) {
		SSL *ssl = SSL_new(l->tls);
		c->bev = ssl ? bufferevent_openssl_socket_new(sw->base, fd, ssl,
		                                              BUFFEREVENT_SSL_ACCEPTING,
		                                              BEV_OPT_CLOSE_ON_FREE)
		             : NULL;
		c->state = CONN_HANDSHAKE;
		c->frame_start_ms = c->last_active_ms; /* the handshake has the message deadline */
	} else {
		c->bev = bufferevent_socket_new(sw->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->state = CONN_OPEN;
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = sw->conns;
	if (sw->conns)
		sw->conns->prev = c;
	sw->conns = c;
	sw->nconns++;
	swm_inc(SWM_CONN_ACCEPTED);
	swlog(SWLOG_INFO, c->id, 0, "conn_open", "listener=%s peer=%s tls=%s", l->cfg.name, peer,
	      l->tls ? "yes" : "no");
}

static void on_listen_error(struct evconnlistener *ev, void *arg)
{
	(void)ev;
	struct sw_listener *l = arg;
	/* EMFILE and the like: say so; the loop goes on, accept retries. */
	swlog(SWLOG_ERROR, 0, 0, "accept", "listener=%s error=\"%s\"", l->cfg.name,
	      strerror(errno));
}

static SSL_CTX *tls_context(const struct swcfg_listener *lc, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "listener %s: cannot create a TLS context", lc->name);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, lc->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, lc->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "listener %s: TLS certificate or key unusable (%s, %s)",
		         lc->name, lc->tls_cert, lc->tls_key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (lc->tls_client != SWCFG_CLIENT_NONE) {
		if (SSL_CTX_load_verify_locations(ctx, lc->tls_ca, NULL) != 1) {
			snprintf(err, errlen, "listener %s: TLS CA file unusable (%s)", lc->name,
			         lc->tls_ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		int mode = SSL_VERIFY_PEER;
		if (lc->tls_client == SWCFG_CLIENT_REQUIRE)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	return ctx;
}

int sw_listeners_start(struct sw *sw, char *err, size_t errlen)
{
	sw->reaper = event_new(sw->base, -1, 0, reap, sw);
	for (unsigned i = 0; i < sw->cfg.nlisteners; i++) {
		struct sw_listener *l = &sw->listeners[i];
		l->sw = sw;
		l->cfg = sw->cfg.listeners[i];
		if (l->cfg.tls_cert[0] && !(l->tls = tls_context(&l->cfg, err, errlen)))
			return -1;
		struct sockaddr_storage ss;
		int sslen = sizeof ss;
		char addr[96];
		snprintf(addr, sizeof addr, strchr(l->cfg.host, ':') ? "[%s]:%u" : "%s:%u",
		         l->cfg.host, l->cfg.port);
		if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
			snprintf(err, errlen, "listener %s: bad address %s", l->cfg.name, addr);
			return -1;
		}
		l->ev = evconnlistener_new_bind(sw->base, on_accept, l,
		                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		                                    LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
		                                1024, (struct sockaddr *)&ss, sslen);
		if (!l->ev) {
			snprintf(err, errlen, "listener %s: cannot listen on %s: %s", l->cfg.name, addr,
			         strerror(errno));
			return -1;
		}
		evconnlistener_set_error_cb(l->ev, on_listen_error);
		sw->nlisteners++;
		swlog(SWLOG_INFO, 0, 0, "listen", "listener=%s address=%s profile=%s framing=%s "
		      "tls=%s signon=%s",
		      l->cfg.name, addr, l->cfg.profile == ISO_ASCII87 ? "ascii87" : "binary87",
		      l->cfg.framing == ISO_FRAME_BIN2 ? "bin2" : "ascii4", l->tls ? "yes" : "no",
		      l->cfg.require_signon ? "required" : "optional");
	}
	return 0;
}

void sw_listeners_stop(struct sw *sw)
{
	for (unsigned i = 0; i < sw->nlisteners; i++) {
		if (sw->listeners[i].ev) {
			evconnlistener_free(sw->listeners[i].ev);
			sw->listeners[i].ev = NULL;
		}
	}
}

void sw_listeners_free(struct sw *sw)
{
	sw_listeners_stop(sw);
	for (unsigned i = 0; i < sw->nlisteners; i++)
		if (sw->listeners[i].tls)
			SSL_CTX_free(sw->listeners[i].tls);
	reap(-1, 0, sw);
	if (sw->reaper)
		event_free(sw->reaper);
}

void sw_conns_pause_all(struct sw *sw)
{
	for (struct sw_conn *c = sw->conns; c; c = c->next)
		if (c->state == CONN_OPEN)
			conn_set_state(c, CONN_PAUSED);
}

void sw_conns_close_all(struct sw *sw, const char *why)
{
	while (sw->conns)
		conn_close(sw->conns, SWLOG_INFO, why);
}

void sw_conns_sweep(struct sw *sw)
{
	uint64_t now = sw_now_ms();
	uint64_t idle = (uint64_t)sw->cfg.idle_timeout_s * 1000;
	struct sw_conn *next;
	for (struct sw_conn *c = sw->conns; c; c = next) {
		next = c->next;
		if (c->frame_start_ms && now - c->frame_start_ms > sw->cfg.message_timeout_ms) {
			swm_inc(SWM_CONN_CLOSED_FRAMING);
			conn_close(c, SWLOG_WARN, c->state == CONN_HANDSHAKE ? "TLS handshake too slow"
			                                                      : "message incomplete "
			                                                        "after message_timeout_ms");
		} else if (now - c->last_active_ms > idle && c->inflight == 0) {
			swm_inc(SWM_CONN_CLOSED_IDLE);
			conn_close(c, SWLOG_INFO, "idle");
		}
	}
}
