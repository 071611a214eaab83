/* Upstream ISO 8583 links: see sw_link.h. */
#include "sw_link.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sw_log.h"
#include "sw_metrics.h"

#define REV_RETRY_MS 2000   /* between repeats of an unanswered reversal */
#define REV_MAX_25 15       /* new attempts while the upstream answers 25 */
#define BUCKETS 1024

enum pend_kind { PEND_REQUEST, PEND_REVERSAL };

/* A request or a reversal sent upstream, waiting for its answer. */
struct pend {
	enum pend_kind kind;
	struct sw_link *link;
	uint64_t handle;
	unsigned stan;          /* the link's STAN of what is in flight */
	bool sent;              /* on the wire (or waiting for the link to come up) */
	bool abandoned;         /* request: nobody waits; an approval is reversed */
	unsigned tries, tries_25;
	swl_cb cb;
	void *arg;
	struct swl_orig orig;   /* the forwarded request (for both kinds) */
	struct event *timer;
	struct pend *next;      /* hash chain by stan */
	struct pend *rnext;     /* reversals waiting for the link */
};

struct sw_link {
	struct sw *sw;
	struct swcfg_route cfg;
	struct bufferevent *bev;
	bool up;
	unsigned backoff_ms;
	struct event *reconnect;
	unsigned next_stan;
	uint64_t next_handle;
	struct pend *bucket[BUCKETS];
	struct pend *waiting;   /* reversals to send once the link is up */
	unsigned nreversals;
	SSL_CTX *tls;           /* [route] tls: client context, the upstream verified */
	char last_fail[160];    /* the last reason it could not come up, logged once */
};

static void link_connect(struct sw_link *l);
static void rev_send(struct pend *p);

const char *sw_link_name(const struct sw_link *l) { return l->cfg.name; }
const char *sw_link_zpk(const struct sw_link *l) { return l->cfg.zpk; }
bool sw_link_up(const struct sw_link *l) { return l->up; }

unsigned sw_links_pending_reversals(const struct sw *sw)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sw->nlinks; i++)
		n += sw->links[i]->nreversals;
	return n;
}

struct sw_link *sw_link_for_pan(struct sw *sw, const char *pan)
{
	struct sw_link *best = NULL;
	size_t bestlen = 0;
	for (unsigned i = 0; i < sw->nlinks; i++) {
		struct sw_link *l = sw->links[i];
		for (unsigned b = 0; b < l->cfg.nbins; b++) {
			size_t n = strlen(l->cfg.bins[b]);
			if (n > bestlen && !strncmp(pan, l->cfg.bins[b], n)) {
				best = l;
				bestlen = n;
			}
		}
	}
	return best;
}

/* ---- bookkeeping -------------------------------------------------------------- */

static unsigned stan_next(struct sw_link *l)
{
	l->next_stan = l->next_stan % 999999 + 1;
	return l->next_stan;
}

static void pend_link(struct pend *p)
{
	struct pend **b = &p->link->bucket[p->stan % BUCKETS];
	p->next = *b;
	*b = p;
}

static void pend_unlink(struct pend *p)
{
	for (struct pend **q = &p->link->bucket[p->stan % BUCKETS]; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			return;
		}
	}
}

static struct pend *pend_find(struct sw_link *l, unsigned stan, enum pend_kind kind)
{
	for (struct pend *p = l->bucket[stan % BUCKETS]; p; p = p->next)
		if (p->stan == stan && p->kind == kind)
			return p;
	return NULL;
}

static void pend_free(struct pend *p)
{
	if (p->kind == PEND_REVERSAL)
		p->link->nreversals--;
	event_free(p->timer);
	explicit_bzero(p->orig.pan, sizeof p->orig.pan);
	free(p);
}

static void de7_now(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 11, "%m%d%H%M%S", &tm);
}

static bool link_write(struct sw_link *l, const struct iso_msg *m)
{
	uint8_t buf[8192], hdr[4];
	size_t len;
	struct iso_error err;
	if (iso_pack(l->cfg.profile, m, buf, sizeof buf, &len, &err) != 0)
		return false;
	int hl = iso_frame_put(l->cfg.framing, len, hdr);
	if (hl < 0 || len > l->cfg.max_message)
		return false;
	struct evbuffer *out = bufferevent_get_output(l->bev);
	evbuffer_add(out, hdr, (size_t)hl);
	evbuffer_add(out, buf, len);
	return true;
}

/* ---- reversals -------------------------------------------------------------------- */

static void on_rev_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pend *p = arg;
	if (p->sent) {
		/* Unanswered: repeat it (0421, same STAN). */
		pend_unlink(p);
		p->sent = false;
	}
	rev_send(p);
}

static void rev_retry_later(struct pend *p)
{
	struct timeval tv = {REV_RETRY_MS / 1000, (REV_RETRY_MS % 1000) * 1000};
	event_add(p->timer, &tv);
}

static void rev_send(struct pend *p)
{
	struct sw_link *l = p->link;
	if (!l->up) {
		p->rnext = l->waiting;
		l->waiting = p;
		return;
	}
	struct iso_msg m;
	char de90[43], stan[7], de7[11];
	bool repeat = p->tries > 0 && p->stan != 0;
	if (!repeat)
		p->stan = stan_next(l);
	p->tries++;
	snprintf(stan, sizeof stan, "%06u", p->stan % 1000000);
	de7_now(de7);
	/* original MTI, STAN, DE 7, acquirer (11, zero-filled), forwarder (11 zeros) */
	snprintf(de90, sizeof de90, "%.4s%.6s%.10s%011lld%011d", p->orig.mti, p->orig.stan,
	         p->orig.de7, atoll(p->orig.acq), 0);
	iso_init(&m, repeat ? "0421" : "0420");
	iso_set_str(&m, 2, p->orig.pan);
	iso_set_str(&m, 3, p->orig.proc);
	iso_set_str(&m, 4, p->orig.amount);
	iso_set_str(&m, 7, de7);
	iso_set_str(&m, 11, stan);
	if (p->orig.acq[0])
		iso_set_str(&m, 32, p->orig.acq);
	iso_set_str(&m, 41, p->orig.tid);
	iso_set_str(&m, 49, p->orig.currency);
	iso_set_str(&m, 90, de90);
	if (!link_write(l, &m)) {
		swlog(SWLOG_ERROR, 0, 0, "link", "route=%s reversal of stan=%s cannot be built",
		      l->cfg.name, p->orig.stan);
		pend_free(p);
		return;
	}
	p->sent = true;
	pend_link(p);
	struct timeval tv = {l->cfg.timeout_ms / 1000, (l->cfg.timeout_ms % 1000) * 1000};
	event_add(p->timer, &tv);
}

static void rev_start(struct sw_link *l, const struct swl_orig *orig, const char *why)
{
	struct pend *p = calloc(1, sizeof *p);
	if (!p) {
		swlog(SWLOG_ERROR, 0, 0, "link", "route=%s out of memory: reversal of stan=%s NOT sent",
		      l->cfg.name, orig->stan);
		return;
	}
	p->kind = PEND_REVERSAL;
	p->link = l;
	p->orig = *orig;
	p->timer = event_new(l->sw->base, -1, 0, on_rev_timer, p);
	l->nreversals++;
	swm_inc(SWM_LATE_REVERSALS);
	swlog(SWLOG_WARN, 0, 0, "link", "route=%s reversing upstream stan=%s de7=%s tid=%s: %s",
	      l->cfg.name, orig->stan, orig->de7, orig->tid, why);
	rev_send(p);
}

void sw_link_reverse(struct sw_link *l, const struct swl_orig *orig)
{
	rev_start(l, orig, "approval not delivered to the terminal");
}

static void rev_answered(struct pend *p, const char *rc)
{
	struct sw_link *l = p->link;
	pend_unlink(p);
	event_del(p->timer);
	p->sent = false;
	if (!strcmp(rc, "25") && p->tries_25 < REV_MAX_25) {
		/* Unknown there (yet): the original may still be in flight. */
		p->tries_25++;
		p->tries = 0; /* a new 0420 with a new STAN */
		swm_inc(SWM_LATE_REVERSAL_FAILURES);
		rev_retry_later(p);
		return;
	}
	swlog(strcmp(rc, "00") ? SWLOG_ERROR : SWLOG_WARN, 0, 0, "link",
	      "route=%s reversal of stan=%s de7=%s answered %s%s", l->cfg.name, p->orig.stan,
	      p->orig.de7, rc, strcmp(rc, "00") ? ": NOT confirmed, operator action needed" : "");
	pend_free(p);
}

/* ---- requests ------------------------------------------------------------------------ */

static void on_req_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pend *p = arg;
	struct sw_link *l = p->link;
	pend_unlink(p);
	swlog(SWLOG_WARN, 0, 0, "link", "route=%s no answer to stan=%s within %u ms", l->cfg.name,
	      p->orig.stan, l->cfg.timeout_ms);
	if (!p->abandoned)
		p->cb(p->arg, SWL_TIMEOUT, NULL, &p->orig);
	rev_start(l, &p->orig, "time-out");
	pend_free(p);
}

static const unsigned forward_fields[] = {2,  3,  4,  12, 13, 14, 18, 22, 23, 25, 32, 35,
                                          37, 41, 42, 43, 49, 52, 54, 55, 90, 95};

int sw_link_send(struct sw_link *l, const struct iso_msg *req, const char *pin_block_hex,
                 swl_cb cb, void *arg, uint64_t *handle)
{
	if (!l->up)
		return SWL_DOWN;
	struct pend *p = calloc(1, sizeof *p);
	if (!p)
		return SWL_ERROR;
	p->kind = PEND_REQUEST;
	p->link = l;
	p->cb = cb;
	p->arg = arg;
	p->handle = ++l->next_handle;
	p->stan = stan_next(l);

	struct iso_msg m;
	char mti[5];
	memcpy(mti, req->mti, 4);
	mti[3] = '0'; /* our repeat is not theirs: a new STAN is a new message */
	mti[4] = '\0';
	iso_init(&m, mti);
	for (size_t i = 0; i < sizeof forward_fields / sizeof forward_fields[0]; i++)
		if (iso_has(req, forward_fields[i]))
			iso_set_view(&m, forward_fields[i], &req->f[forward_fields[i]]);
	uint8_t pb[8];
	if (pin_block_hex) {
		for (int i = 0; i < 8; i++) {
			unsigned v;
			sscanf(pin_block_hex + 2 * i, "%2x", &v);
			pb[i] = (uint8_t)v;
		}
		iso_set(&m, 52, pb, 8);
	}
	struct swl_orig *o = &p->orig;
	memcpy(o->mti, mti, 5);
	snprintf(o->stan, sizeof o->stan, "%06u", p->stan % 1000000);
	de7_now(o->de7);
	iso_set_str(&m, 7, o->de7);
	iso_set_str(&m, 11, o->stan);
	iso_get(req, 2, o->pan, sizeof o->pan);
	iso_get(req, 3, o->proc, sizeof o->proc);
	iso_get(req, 4, o->amount, sizeof o->amount);
	iso_get(req, 32, o->acq, sizeof o->acq);
	iso_get(req, 41, o->tid, sizeof o->tid);
	iso_get(req, 49, o->currency, sizeof o->currency);
	if (!link_write(l, &m)) {
		explicit_bzero(pb, sizeof pb);
		free(p);
		return SWL_ERROR;
	}
	explicit_bzero(pb, sizeof pb);
	p->sent = true;
	p->timer = event_new(l->sw->base, -1, 0, on_req_timer, p);
	pend_link(p);
	struct timeval tv = {l->cfg.timeout_ms / 1000, (l->cfg.timeout_ms % 1000) * 1000};
	event_add(p->timer, &tv);
	*handle = p->handle;
	return 0;
}

void sw_link_abandon(struct sw_link *l, uint64_t handle)
{
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct pend *p = l->bucket[b]; p; p = p->next)
			if (p->kind == PEND_REQUEST && p->handle == handle)
				p->abandoned = true;
}

/* ---- the connection ------------------------------------------------------------------ */

static void answer_echo(struct sw_link *l, const struct iso_msg *req)
{
	struct iso_msg m;
	iso_init(&m, "0810");
	for (unsigned de = 7; de <= 70; de++)
		if ((de == 7 || de == 11 || de == 70) && iso_has(req, de))
			iso_set_view(&m, de, &req->f[de]);
	iso_set_str(&m, 39, "00");
	link_write(l, &m);
}

static void on_message(struct sw_link *l, const uint8_t *buf, size_t len)
{
	/* The upstream talks: the link really is up (with TLS 1.3 a refused
	 * client certificate shows only after the handshake "completed"). */
	l->backoff_ms = 100;
	l->last_fail[0] = '\0';
	struct iso_msg m;
	struct iso_error err;
	if (iso_unpack(l->cfg.profile, buf, len, &m, &err) != 0) {
		char e[96];
		iso_error_format(&err, e, sizeof e);
		swlog(SWLOG_WARN, 0, 0, "link", "route=%s undecodable answer: %s", l->cfg.name, e);
		return;
	}
	if (!memcmp(m.mti, "0800", 4)) {
		answer_echo(l, &m);
		return;
	}
	uint64_t stan;
	char rc[3] = "";
	if (iso_get_num(&m, 11, &stan) != 0 || iso_get(&m, 39, rc, sizeof rc) != 2) {
		swlog(SWLOG_WARN, 0, 0, "link", "route=%s answer without DE 11 or 39 ignored", l->cfg.name);
		return;
	}
	bool reversal = m.mti[1] == '4';
	struct pend *p = pend_find(l, (unsigned)stan, reversal ? PEND_REVERSAL : PEND_REQUEST);
	if (!p) {
		swlog(SWLOG_WARN, 0, 0, "link", "route=%s mti=%.4s stan=%06llu matches nothing (late?)",
		      l->cfg.name, m.mti, (unsigned long long)stan);
		return;
	}
	if (reversal) {
		rev_answered(p, rc);
		return;
	}
	pend_unlink(p);
	event_del(p->timer);
	if (p->abandoned) {
		if (!strcmp(rc, "00"))
			rev_start(l, &p->orig, "approval arrived after the terminal was answered");
	} else {
		p->cb(p->arg, SWL_OK, &m, &p->orig);
	}
	pend_free(p);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct sw_link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t hdrlen = iso_frame_hdrlen(l->cfg.framing);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		size_t want = avail < hdrlen + l->cfg.max_message ? avail : hdrlen + l->cfg.max_message;
		if (want == 0)
			return;
		const uint8_t *p = evbuffer_pullup(in, (ssize_t)want);
		size_t hdr = 0, msglen = 0;
		int rc = iso_frame_peek(l->cfg.framing, l->cfg.max_message, p, want, &hdr, &msglen);
		if (rc < 0) {
			swlog(SWLOG_ERROR, 0, 0, "link", "route=%s framing: %s; reconnecting", l->cfg.name,
			      iso_strerror(rc));
			bufferevent_free(l->bev);
			l->bev = NULL;
			l->up = false;
			event_active(l->reconnect, EV_TIMEOUT, 0);
			return;
		}
		if (rc == 0)
			return;
		on_message(l, p + hdr, msglen);
		evbuffer_drain(in, hdr + msglen);
	}
}

/* The link dropped: what was in flight has an unknown outcome upstream,
 * so it is failed to its caller and reversed; reversals wait for the link. */
static void link_down(struct sw_link *l, const char *why)
{
	if (l->bev) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	bool was_up = l->up;
	l->up = false;
	if (was_up) {
		/* The same reason again before the upstream ever answered: a
		 * flapping link (say, our certificate refused), logged once. */
		swlog(strcmp(why, l->last_fail) ? SWLOG_ERROR : SWLOG_DEBUG, 0, 0, "link", "route=%s down: %s",
		      l->cfg.name, why);
		snprintf(l->last_fail, sizeof l->last_fail, "%s", why);
	}
	for (unsigned b = 0; b < BUCKETS; b++) {
		while (l->bucket[b]) {
			struct pend *p = l->bucket[b];
			l->bucket[b] = p->next;
			event_del(p->timer);
			if (p->kind == PEND_REVERSAL) {
				p->sent = false;
				p->tries = 0;
				p->rnext = l->waiting;
				l->waiting = p;
				continue;
			}
			if (!p->abandoned)
				p->cb(p->arg, SWL_DOWN, NULL, &p->orig);
			rev_start(l, &p->orig, "link dropped with the request in flight");
			pend_free(p);
		}
	}
	struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
	event_add(l->reconnect, &tv);
	l->backoff_ms = l->backoff_ms * 2 > 2000 ? 2000 : l->backoff_ms * 2;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct sw_link *l = arg;
	if (what & BEV_EVENT_CONNECTED) {
		l->up = true;
		if (!l->tls)
			l->backoff_ms = 100; /* TLS: once the upstream answers (on_message) */
		swlog(l->last_fail[0] && !strncmp(l->last_fail, "tls:", 4) ? SWLOG_DEBUG : SWLOG_INFO, 0, 0,
		      "link", "route=%s up (%s:%u%s)", l->cfg.name, l->cfg.host, l->cfg.port,
		      l->tls ? ", tls" : "");
		if (!l->tls)
			l->last_fail[0] = '\0';
		struct pend *w = l->waiting;
		l->waiting = NULL;
		while (w) {
			struct pend *next = w->rnext;
			rev_send(w);
			w = next;
		}
		return;
	}
	char why[160] = "connection error";
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof why, "closed by the peer");
	if (l->tls) {
		/* The certificate check's own verdict says most; else the
		 * first error OpenSSL queued for this connection. */
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
		unsigned long e = bufferevent_get_openssl_error(bev);
		const char *r = e ? ERR_reason_error_string(e) : NULL;
		if (v != X509_V_OK)
			snprintf(why, sizeof why, "tls: certificate verify failed: %s",
			         X509_verify_cert_error_string(v));
		else if (r)
			snprintf(why, sizeof why, "tls: %s", r);
		else if (!(what & BEV_EVENT_EOF))
			snprintf(why, sizeof why, "tls: handshake failed");
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	}
	if (!l->up && strcmp(why, l->last_fail) != 0) {
		/* Never came up: say why once, not at every retry. */
		swlog(SWLOG_ERROR, 0, 0, "link", "route=%s cannot connect to %s:%u: %s", l->cfg.name,
		      l->cfg.host, l->cfg.port, why);
		snprintf(l->last_fail, sizeof l->last_fail, "%s", why);
	}
	link_down(l, why);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_connect(arg);
}

static void link_connect(struct sw_link *l)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(l->cfg.port)};
	if (inet_pton(AF_INET, l->cfg.host, &sa.sin_addr) != 1)
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l->tls) {
		SSL *ssl = SSL_new(l->tls);
		char *name = l->cfg.tls_server_name; /* not const: OpenSSL's SNI macro casts it */
		bool ok = ssl != NULL;
		if (ok && name[0])
			ok = SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
		else if (ok) /* no name: the certificate must carry the address's IP */
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), l->cfg.host) == 1;
		l->bev = ok ? bufferevent_openssl_socket_new(l->sw->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                             BEV_OPT_CLOSE_ON_FREE)
		            : NULL;
		if (!l->bev && ssl)
			SSL_free(ssl);
	} else {
		l->bev = bufferevent_socket_new(l->sw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!l->bev) {
		link_down(l, "cannot set up the connection");
		return;
	}
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&sa, sizeof sa) != 0)
		link_down(l, "connect failed");
}

/* The client context of a [route] with tls: TLS 1.2 or later, the
 * upstream's certificate verified against tls_ca (the name or IP is
 * checked at each connection), our certificate when configured. */
static SSL_CTX *link_tls(const struct swcfg_route *r, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *what = "cannot create a TLS context";
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	what = "tls_ca cannot be read";
	if (SSL_CTX_load_verify_locations(ctx, r->tls_ca, NULL) != 1)
		goto fail;
	what = "tls_cert / tls_key cannot be used";
	if (r->tls_cert[0] && (SSL_CTX_use_certificate_chain_file(ctx, r->tls_cert) != 1 ||
	                       SSL_CTX_use_PrivateKey_file(ctx, r->tls_key, SSL_FILETYPE_PEM) != 1 ||
	                       SSL_CTX_check_private_key(ctx) != 1))
		goto fail;
	return ctx;
fail:
	snprintf(err, errlen, "route %s: %s", r->name, what);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

int sw_links_start(struct sw *sw, char *err, size_t errlen)
{
	for (unsigned i = 0; i < sw->cfg.nroutes; i++) {
		struct sw_link *l = calloc(1, sizeof *l);
		if (!l) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		l->sw = sw;
		l->cfg = sw->cfg.routes[i];
		l->backoff_ms = 100;
		/* Start the STAN sequence somewhere new each run, so a restart
		 * does not reuse the last run's keys within the same second. */
		l->next_stan = (unsigned)(time(NULL) % 999999);
		l->reconnect = event_new(sw->base, -1, 0, on_reconnect, l);
		sw->links[sw->nlinks++] = l;
		if (l->cfg.tls && (l->tls = link_tls(&l->cfg, err, errlen)) == NULL)
			return -1;
		link_connect(l);
	}
	return 0;
}

void sw_links_free(struct sw *sw)
{
	for (unsigned i = 0; i < sw->nlinks; i++) {
		struct sw_link *l = sw->links[i];
		for (unsigned b = 0; b < BUCKETS; b++) {
			while (l->bucket[b]) {
				struct pend *p = l->bucket[b];
				l->bucket[b] = p->next;
				pend_free(p);
			}
		}
		while (l->waiting) {
			struct pend *p = l->waiting;
			l->waiting = p->rnext;
			pend_free(p);
		}
		if (l->bev)
			bufferevent_free(l->bev);
		event_free(l->reconnect);
		SSL_CTX_free(l->tls);
		free(l);
	}
	sw->nlinks = 0;
}
