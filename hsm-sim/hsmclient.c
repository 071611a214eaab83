#include "hsmclient.h"
#include "keycomp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* How an answer's fields are parsed into hsmc_reply. */
enum kind { K_RAW, K_KEYGEN, K_HC, K_PINBLOCK, K_VALUE, K_OFFSET, K_KCV, K_NC };

enum conn_state { C_IDLE, C_CONNECTING, C_READY, C_BACKOFF };

struct req {
    struct conn *conn;
    unsigned id;
    enum kind kind;
    char cmd[2];
    hsmc_cb cb;
    void *arg;
    struct event timer;
};

struct conn {
    hsmc_pool *pool;
    struct bufferevent *bev;
    enum conn_state state;
    struct req **slots; /* in-flight commands by header id modulo cap */
    unsigned cap, inflight, next_id, backoff_ms;
    struct event *retry;
};

struct hsmc_pool {
    struct event_base *base;
    hsmc_config cfg;
    struct sockaddr_in sa;
    SSL_CTX *ssl;
    struct conn *conns;
    unsigned n, rr, idspace;
    char *sni; /* copy of tls_server_name, needed at each connect */
    char ip[INET_ADDRSTRLEN]; /* without a name, the certificate must carry this IP */
    int in_cb;
    bool dying;
};

const char *hsmc_strerror(int err)
{
    switch (err) {
    case HSMC_OK: return "success";
    case HSMC_ERR_ARG: return "invalid argument";
    case HSMC_ERR_UNAVAILABLE: return "no connection to the HSM";
    case HSMC_ERR_BUSY: return "too many commands in flight";
    case HSMC_ERR_TIMEOUT: return "HSM did not answer in time";
    case HSMC_ERR_DISCONNECTED: return "connection to the HSM lost";
    case HSMC_ERR_PROTOCOL: return "malformed answer from the HSM";
    case HSMC_ERR_CANCELLED: return "cancelled";
    case HSMC_ERR_NOMEM: return "out of memory";
    case HSMC_ERR_TLS: return "TLS configuration error";
    default: return "unknown error";
    }
}

const char *hsmc_hsm_strerror(int e)
{
    switch (e) {
    case HSM_E_OK: return "no error";
    case HSM_E_VERIFY: return "verification failure";
    case HSM_E_KEY1: return "first key: parity, integrity or type error";
    case HSM_E_KEY2: return "second key: parity, integrity or type error";
    case HSM_E_KEY3: return "third key: parity, integrity or type error";
    case HSM_E_INPUT: return "invalid input data";
    case HSM_E_NOT_AUTHORISED: return "HSM is not in the authorised state";
    case HSM_E_PIN_BLOCK: return "PIN block does not contain valid values";
    case HSM_E_PBF: return "invalid PIN block format code";
    case HSM_E_PIN_LEN: return "PIN too short or too long";
    case HSM_E_KEY_TYPE: return "key type or length unusable here, or a weak key";
    case HSM_E_DUKPT: return "invalid KSN";
    case HSM_E_DISABLED: return "command disabled";
    case HSM_E_INTERNAL: return "HSM internal failure";
    default: return "HSM error";
    }
}

static void conn_start(struct conn *c);

/* ---- completing a command ---- */

static void pool_destroy(hsmc_pool *p);

static void finish(struct req *r, hsmc_reply *rep)
{
    struct conn *c = r->conn;
    hsmc_pool *p = c->pool;
    c->slots[r->id & (c->cap - 1)] = NULL;
    c->inflight--;
    event_del(&r->timer);
    p->in_cb++;
    r->cb(rep, r->arg);
    p->in_cb--;
    free(r);
}

static void fail(struct req *r, int status)
{
    hsmc_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.status = status;
    memcpy(rep.resp, r->cmd, 2);
    finish(r, &rep);
}

static void fail_all(struct conn *c, int status)
{
    for (unsigned i = 0; i < c->cap && c->inflight; i++)
        if (c->slots[i])
            fail(c->slots[i], status);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct req *r = arg;
    hsmc_pool *p = r->conn->pool;
    (void)fd; (void)what;
    fail(r, HSMC_ERR_TIMEOUT);
    if (p->dying && p->in_cb == 0)
        pool_destroy(p);
}

/* ---- parsing answers ---- */

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static size_t lmk_key_len(char s)
{
    return s == 'U' || s == 'P' ? 49 : s == 'T' || s == 'Q' ? 65 : s == 'R' ? 81 : 0;
}

static int parse_fields(enum kind k, const char *f, size_t n, hsmc_reply *r)
{
    switch (k) {
    case K_RAW:
        return 0;
    case K_KEYGEN: { /* key(LMK) [key(KEK)] kcv */
        size_t l = n ? lmk_key_len(f[0]) : 0;
        if (!l || n < l + 6)
            return -1;
        copy(r->key_lmk, sizeof r->key_lmk, f, l);
        copy(r->key_kek, sizeof r->key_kek, f + l, n - l - 6);
        copy(r->kcv, sizeof r->kcv, f + n - 6, 6);
        return 0;
    }
    case K_HC: { /* key(TMK, hex) key(LMK) kcv: the LMK key starts at the
                    first non-hex character, its scheme letter. */
        size_t i = 0;
        while (i < n && is_hex(f[i]))
            i++;
        size_t l = i < n ? lmk_key_len(f[i]) : 0;
        if (!l || n != i + l + 6)
            return -1;
        copy(r->key_kek, sizeof r->key_kek, f, i);
        copy(r->key_lmk, sizeof r->key_lmk, f + i, l);
        copy(r->kcv, sizeof r->kcv, f + n - 6, 6);
        return 0;
    }
    case K_PINBLOCK:
        if (n != 20 && n != 36)
            return -1;
        r->pin_len = (f[0] - '0') * 10 + (f[1] - '0');
        copy(r->pin_block, sizeof r->pin_block, f + 2, n - 4);
        copy(r->pin_format, sizeof r->pin_format, f + n - 2, 2);
        return 0;
    case K_VALUE:
        if (n >= sizeof r->value)
            return -1;
        copy(r->value, sizeof r->value, f, n);
        return 0;
    case K_OFFSET: {
        size_t d = 0;
        while (d < n && f[d] >= '0' && f[d] <= '9')
            d++;
        if (n != 12)
            return -1;
        copy(r->value, sizeof r->value, f, d);
        return 0;
    }
    case K_KCV:
        if (n != 6)
            return -1;
        copy(r->kcv, sizeof r->kcv, f, 6);
        return 0;
    case K_NC:
        if (n < 6)
            return -1;
        copy(r->value, sizeof r->value, f, 6);
        return 0;
    }
    return -1;
}

static void handle_answer(struct conn *c, const uint8_t *m, size_t n)
{
    unsigned hl = c->pool->cfg.header_len;
    if (n < hl + 4)
        return; /* cannot even tell whose answer: drop, its timer will fire */
    char hdr[40];
    memcpy(hdr, m, hl);
    hdr[hl] = '\0';
    char *end = NULL;
    unsigned long id = strtoul(hdr, &end, 16);
    if (!end || *end != '\0')
        return;
    struct req *r = c->slots[id & (c->cap - 1)];
    if (!r || r->id != id)
        return; /* a late answer to a command that already timed out */
    hsmc_reply rep;
    memset(&rep, 0, sizeof rep);
    const char *a = (const char *)m + hl;
    memcpy(rep.resp, a, 2);
    bool ok = a[0] == r->cmd[0] && a[1] == r->cmd[1] + 1 &&
              a[2] >= '0' && a[2] <= '9' && a[3] >= '0' && a[3] <= '9';
    rep.hsm_err = ok ? (a[2] - '0') * 10 + (a[3] - '0') : 0;
    rep.fields = a + 4;
    rep.fields_len = n - hl - 4;
    if (ok && rep.hsm_err == HSM_E_OK && parse_fields(r->kind, rep.fields, rep.fields_len, &rep) != 0)
        ok = false;
    if (!ok)
        rep.status = HSMC_ERR_PROTOCOL;
    finish(r, &rep);
}

/* ---- connection life cycle ---- */

static void free_bev_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    bufferevent_free(arg);
}

static void conn_down(struct conn *c)
{
    hsmc_pool *p = c->pool;
    if (c->bev) {
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
        /* Not freed inside its own callback: after this loop pass. */
        if (event_base_once(p->base, -1, EV_TIMEOUT, free_bev_later, c->bev, NULL) != 0)
            bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->state = C_BACKOFF;
    fail_all(c, HSMC_ERR_DISCONNECTED);
    if (p->dying)
        return;
    struct timeval tv = {c->backoff_ms / 1000, (suseconds_t)(c->backoff_ms % 1000) * 1000};
    event_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > p->cfg.reconnect_max_ms ? p->cfg.reconnect_max_ms
                                                                 : c->backoff_ms * 2;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    hsmc_pool *p = c->pool;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!p->dying && c->bev == bev) {
        uint8_t lp[2];
        if (evbuffer_copyout(in, lp, 2) < 2)
            break;
        size_t len = (size_t)lp[0] << 8 | lp[1];
        if (evbuffer_get_length(in) < len + 2)
            break;
        uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)(len + 2));
        if (!m)
            break;
        handle_answer(c, m + 2, len);
        evbuffer_drain(in, len + 2);
    }
    if (p->dying && p->in_cb == 0)
        pool_destroy(p);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        c->state = C_READY;
        c->backoff_ms = c->pool->cfg.reconnect_min_ms;
        /* The connect timeout no longer applies. */
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        hsmc_pool *p = c->pool;
        conn_down(c);
        if (p->dying && p->in_cb == 0)
            pool_destroy(p);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    conn_start(arg);
}

static void conn_start(struct conn *c)
{
    hsmc_pool *p = c->pool;
    if (p->ssl) {
        SSL *ssl = SSL_new(p->ssl);
        /* The name or the IP the certificate must carry: a failure to set
         * it would connect unchecked, so it fails the connect instead. */
        if (ssl && !(p->sni ? SSL_set_tlsext_host_name(ssl, p->sni) == 1 && SSL_set1_host(ssl, p->sni) == 1
                            : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->ip) == 1)) {
            SSL_free(ssl);
            ssl = NULL;
        }
        c->bev = ssl ? bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                      BEV_OPT_CLOSE_ON_FREE) : NULL;
        if (!c->bev && ssl)
            SSL_free(ssl);
    } else {
        c->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev) {
        conn_down(c);
        return;
    }
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    struct timeval cto = {3, 0};
    bufferevent_set_timeouts(c->bev, NULL, &cto);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->state = C_CONNECTING;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&p->sa, sizeof p->sa) != 0) {
        conn_down(c);
        return;
    }
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    int one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- pool ---- */

static SSL_CTX *client_tls(const hsmc_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    bool ok = true;
    if (cfg->tls_ca) {
        ok = SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) == 1;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (ok && cfg->tls_cert)
        ok = SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key ? cfg->tls_key : cfg->tls_cert,
                                         SSL_FILETYPE_PEM) == 1;
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

hsmc_pool *hsmc_pool_new(struct event_base *base, const hsmc_config *cfg, int *err)
{
    int e = HSMC_ERR_ARG;
    hsmc_pool *p = NULL;
    hsmc_config c;
    unsigned cap = 1;
    if (!base || !cfg)
        goto out;
    c = *cfg;
    if (!c.host || strcmp(c.host, "localhost") == 0) c.host = "127.0.0.1";
    if (!c.port) c.port = 1500;
    if (!c.connections) c.connections = 2;
    if (!c.max_inflight) c.max_inflight = 256;
    if (!c.timeout_ms) c.timeout_ms = 2000;
    if (!c.reconnect_min_ms) c.reconnect_min_ms = 100;
    if (!c.reconnect_max_ms) c.reconnect_max_ms = 5000;
    if (!c.header_len) c.header_len = HSM_HEADER_LEN_DEFAULT;
    if (c.header_len > HSM_HEADER_LEN_MAX || c.max_inflight > 4096 || c.connections > 64)
        goto out;
    e = HSMC_ERR_NOMEM;
    p = calloc(1, sizeof *p);
    if (!p)
        goto out;
    p->base = base;
    p->cfg = c;
    p->sa.sin_family = AF_INET;
    p->sa.sin_port = htons(c.port);
    if (inet_pton(AF_INET, c.host, &p->sa.sin_addr) != 1) {
        e = HSMC_ERR_ARG;
        goto out;
    }
    snprintf(p->ip, sizeof p->ip, "%s", c.host);
    p->cfg.host = NULL; /* not kept: the caller's string may go away */
    p->cfg.tls_ca = p->cfg.tls_cert = p->cfg.tls_key = NULL;
    if (c.tls && !(p->ssl = client_tls(&c))) {
        e = HSMC_ERR_TLS;
        goto out;
    }
    p->cfg.tls_server_name = NULL;
    if (c.tls_server_name && !(p->sni = strdup(c.tls_server_name)))
        goto out;
    /* Header ids are hex; the id space bounds the in-flight window. */
    p->idspace = c.header_len >= 4 ? 65536 : 1u << (4 * c.header_len);
    while (cap < c.max_inflight)
        cap <<= 1;
    if (cap > p->idspace)
        cap = p->idspace;
    if (p->cfg.max_inflight > cap)
        p->cfg.max_inflight = cap;
    p->conns = calloc(c.connections, sizeof *p->conns);
    if (!p->conns)
        goto out;
    p->n = c.connections;
    for (unsigned i = 0; i < p->n; i++) {
        struct conn *cn = &p->conns[i];
        cn->pool = p;
        cn->cap = cap;
        cn->backoff_ms = c.reconnect_min_ms;
        cn->slots = calloc(cap, sizeof *cn->slots);
        cn->retry = evtimer_new(base, on_retry, cn);
        if (!cn->slots || !cn->retry)
            goto out;
    }
    for (unsigned i = 0; i < p->n; i++)
        conn_start(&p->conns[i]);
    if (err)
        *err = 0;
    return p;
out:
    if (p)
        pool_destroy(p);
    if (err)
        *err = e;
    return NULL;
}

static void pool_destroy(hsmc_pool *p)
{
    p->dying = true;
    p->in_cb++; /* callbacks below must not re-enter the destruction */
    for (unsigned i = 0; p->conns && i < p->n; i++) {
        struct conn *c = &p->conns[i];
        if (c->slots)
            fail_all(c, HSMC_ERR_CANCELLED);
        if (c->bev)
            bufferevent_free(c->bev);
        if (c->retry)
            event_free(c->retry);
        free(c->slots);
    }
    free(p->conns);
    SSL_CTX_free(p->ssl);
    free(p->sni);
    free(p);
}

void hsmc_pool_free(hsmc_pool *p)
{
    if (!p)
        return;
    if (p->in_cb > 0) {
        p->dying = true; /* freed when the running callback returns */
        return;
    }
    pool_destroy(p);
}

unsigned hsmc_pool_ready(const hsmc_pool *p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->n; i++)
        n += p->conns[i].state == C_READY;
    return n;
}

static int submit(hsmc_pool *p, const char *cmd, size_t len, enum kind k, hsmc_cb cb, void *arg)
{
    if (!p || !cmd || len < 2 || len > 65000 || !cb || p->dying)
        return HSMC_ERR_ARG;
    struct conn *c = NULL;
    bool any = false;
    for (unsigned i = 0; i < p->n && !c; i++) {
        struct conn *t = &p->conns[(p->rr + i) % p->n];
        if (t->state != C_READY)
            continue;
        any = true;
        if (t->inflight < p->cfg.max_inflight)
            c = t;
    }
    if (!c)
        return any ? HSMC_ERR_BUSY : HSMC_ERR_UNAVAILABLE;
    p->rr++;
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return HSMC_ERR_NOMEM;
    unsigned id;
    do {
        id = c->next_id++ % p->idspace;
    } while (c->slots[id & (c->cap - 1)]);
    r->conn = c;
    r->id = id;
    r->kind = k;
    memcpy(r->cmd, cmd, 2);
    r->cb = cb;
    r->arg = arg;
    unsigned hl = p->cfg.header_len;
    uint8_t pre[2 + HSM_HEADER_LEN_MAX];
    size_t total = hl + len;
    if (total > HSM_MSG_MAX) {
        free(r);
        return HSMC_ERR_ARG;
    }
    pre[0] = (uint8_t)(total >> 8);
    pre[1] = (uint8_t)total;
    for (unsigned i = 0, v = id; i < hl; i++, v >>= 4)
        pre[2 + hl - 1 - i] = (uint8_t)"0123456789ABCDEF"[v & 15];
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_add(out, pre, 2 + hl) != 0 || evbuffer_add(out, cmd, len) != 0) {
        free(r);
        return HSMC_ERR_NOMEM;
    }
    c->slots[id & (c->cap - 1)] = r;
    c->inflight++;
    evtimer_assign(&r->timer, p->base, on_timeout, r);
    struct timeval tv = {p->cfg.timeout_ms / 1000, (suseconds_t)(p->cfg.timeout_ms % 1000) * 1000};
    evtimer_add(&r->timer, &tv);
    return HSMC_OK;
}

int hsmc_send_raw(hsmc_pool *p, const char *cmd, size_t len, hsmc_cb cb, void *arg)
{
    return submit(p, cmd, len, K_RAW, cb, arg);
}

/* ---- typed commands: builders with a sticky-error writer ---- */

struct bld {
    char *b;
    size_t cap, len;
    bool err;
};

static void add(struct bld *w, const char *s, size_t n)
{
    if (w->err || !s || n > w->cap - w->len) {
        w->err = true;
        return;
    }
    memcpy(w->b + w->len, s, n);
    w->len += n;
}

static void adds(struct bld *w, const char *s)
{
    add(w, s, s ? strlen(s) : 0);
    if (!s)
        w->err = true;
}

/* A field that must be exactly n characters of the given class. */
static void addf(struct bld *w, const char *s, size_t n, bool digits_only)
{
    if (!s || strlen(s) != n) {
        w->err = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (digits_only ? !(s[i] >= '0' && s[i] <= '9') : !is_hex(s[i]))
            w->err = true;
    add(w, s, n);
}

static void add_key(struct bld *w, const char *k)
{
    if (!k || strlen(k) != lmk_key_len(k[0]))
        w->err = true;
    else
        add(w, k, strlen(k));
}

static void add_pan(struct bld *w, const char *pan)
{
    size_t n = pan ? strlen(pan) : 0;
    if (n < 12 || n > 19)
        w->err = true;
    addf(w, pan, n, true);
    add(w, ";", 1);
}

static void add_num(struct bld *w, int v, int digits)
{
    char t[2];
    if (v < 0 || (digits == 1 && v > 9) || (digits == 2 && v > 99) || digits < 1 || digits > 2) {
        w->err = true;
        return;
    }
    t[0] = (char)('0' + v / 10);
    t[1] = (char)('0' + v % 10);
    add(w, digits == 1 ? t + 1 : t, (size_t)digits);
}

static void add_offset(struct bld *w, const char *off)
{
    char f[13];
    size_t n = off ? strlen(off) : 0;
    if (n < 4 || n > 12) {
        w->err = true;
        return;
    }
    memset(f, 'F', 12);
    memcpy(f, off, n);
    f[12] = '\0';
    for (size_t i = 0; i < n; i++)
        if (off[i] < '0' || off[i] > '9')
            w->err = true;
    add(w, f, 12);
}

static void add_pinblock(struct bld *w, const char *pb)
{
    size_t n = pb ? strlen(pb) : 0;
    if (n != 16 && n != 32)
        w->err = true;
    addf(w, pb, n, false);
}

static void add_fmt(struct bld *w, const char *f)
{
    addf(w, f, 2, true);
}

#define BLD(name, size) char name##_buf[size]; struct bld name = {name##_buf, sizeof name##_buf, 0, false}
#define SEND(w, kind) ((w).err ? HSMC_ERR_ARG : submit(p, (w).b, (w).len, kind, cb, arg))

static const char *pick(enum hsmc_pin_src_kind k, const char *tpk, const char *zpk, const char *dukpt)
{
    return k == HSMC_SRC_TPK ? tpk : k == HSMC_SRC_ZPK ? zpk : dukpt;
}

int hsmc_verify_pin_pvv(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                        const char *pvk, int pvki, const char *pvv, hsmc_cb cb, void *arg)
{
    BLD(w, 512);
    if (!src)
        return HSMC_ERR_ARG;
    adds(&w, pick(src->kind, "DC", "EC", "GQ"));
    if (src->kind == HSMC_SRC_DUKPT) {
        add_key(&w, src->key);
        addf(&w, src->ksn, src->ksn ? strlen(src->ksn) : 0, false);
        add_pinblock(&w, src->pin_block);
        add_fmt(&w, src->format);
        add_pan(&w, pan);
        add_key(&w, pvk);
    } else {
        add_key(&w, src->key);
        add_key(&w, pvk);
        add_pinblock(&w, src->pin_block);
        add_fmt(&w, src->format);
        add_pan(&w, pan);
    }
    add_num(&w, pvki, 1);
    addf(&w, pvv, 4, true);
    return SEND(w, K_RAW);
}

int hsmc_verify_pin_ibm(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                        const char *pvk, const char *dectab, const char *valdata,
                        const char *offset, hsmc_cb cb, void *arg)
{
    BLD(w, 512);
    if (!src)
        return HSMC_ERR_ARG;
    adds(&w, pick(src->kind, "DA", "EA", "GO"));
    if (src->kind == HSMC_SRC_DUKPT) {
        add_key(&w, src->key);
        addf(&w, src->ksn, src->ksn ? strlen(src->ksn) : 0, false);
        add_pinblock(&w, src->pin_block);
        add_fmt(&w, src->format);
        add_pan(&w, pan);
        add_key(&w, pvk);
    } else {
        add_key(&w, src->key);
        add_key(&w, pvk);
        add_pinblock(&w, src->pin_block);
        add_fmt(&w, src->format);
        add_pan(&w, pan);
    }
    addf(&w, dectab, 16, true);
    addf(&w, valdata, 16, false);
    add_offset(&w, offset);
    return SEND(w, K_RAW);
}

int hsmc_translate_pin(hsmc_pool *p, const hsmc_pin_src *src, const char *zpk,
                       const char *dst_format, const char *pan, int max_pin_len,
                       hsmc_cb cb, void *arg)
{
    BLD(w, 512);
    if (!src)
        return HSMC_ERR_ARG;
    adds(&w, pick(src->kind, "CA", "CC", "G0"));
    add_key(&w, src->key);
    if (src->kind == HSMC_SRC_DUKPT) {
        addf(&w, src->ksn, src->ksn ? strlen(src->ksn) : 0, false);
        add_key(&w, zpk);
    } else {
        add_key(&w, zpk);
        add_num(&w, max_pin_len, 2);
    }
    add_pinblock(&w, src->pin_block);
    add_fmt(&w, src->format);
    add_fmt(&w, dst_format);
    add_pan(&w, pan);
    return SEND(w, K_PINBLOCK);
}

int hsmc_pin_change(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                    const char *pvk, int ibm, int pvki, const char *pvv,
                    const char *dectab, const char *valdata, const char *offset,
                    const char *new_pin_block, hsmc_cb cb, void *arg)
{
    BLD(w, 512);
    if (!src || src->kind == HSMC_SRC_DUKPT)
        return HSMC_ERR_ARG;
    adds(&w, ibm ? "DU" : "CU");
    adds(&w, src->kind == HSMC_SRC_TPK ? "1" : "2");
    add_key(&w, src->key);
    add_key(&w, pvk);
    add_pinblock(&w, src->pin_block);
    add_fmt(&w, src->format);
    add_pan(&w, pan);
    if (ibm) {
        addf(&w, dectab, 16, true);
        addf(&w, valdata, 16, false);
        add_offset(&w, offset);
    } else {
        add_num(&w, pvki, 1);
        addf(&w, pvv, 4, true);
    }
    add_pinblock(&w, new_pin_block);
    return SEND(w, ibm ? K_OFFSET : K_VALUE);
}

int hsmc_generate_cvv(hsmc_pool *p, const char *cvk, const char *pan, const char *expiry,
                      const char *svc, hsmc_cb cb, void *arg)
{
    BLD(w, 256);
    adds(&w, "CW");
    add_key(&w, cvk);
    add_pan(&w, pan);
    addf(&w, expiry, 4, true);
    addf(&w, svc, 3, true);
    return SEND(w, K_VALUE);
}

int hsmc_verify_cvv(hsmc_pool *p, const char *cvk, const char *pan, const char *expiry,
                    const char *svc, const char *cvv, hsmc_cb cb, void *arg)
{
    BLD(w, 256);
    adds(&w, "CY");
    add_key(&w, cvk);
    addf(&w, cvv, 3, true);
    add_pan(&w, pan);
    addf(&w, expiry, 4, true);
    addf(&w, svc, 3, true);
    return SEND(w, K_RAW);
}

static int mac_cmd(hsmc_pool *p, bool verify, const char *key_type, const char *key, char alg,
                   int mac_bytes, const void *data, size_t len, const char *mac_hex,
                   hsmc_cb cb, void *arg)
{
    if ((alg != '3' && alg != '6') || (mac_bytes != 4 && mac_bytes != 8) || (!data && len) ||
        len > 60000 || !key_type || strlen(key_type) != 3)
        return HSMC_ERR_ARG;
    size_t cap = len + 256;
    char *buf = malloc(cap);
    if (!buf)
        return HSMC_ERR_NOMEM;
    struct bld w = {buf, cap, 0, false};
    char flags[6] = {'0', '0', mac_bytes == 4 ? '0' : '1', alg, '1', '\0'};
    char l[5];
    adds(&w, verify ? "M8" : "M6");
    adds(&w, flags);
    adds(&w, key_type);
    add_key(&w, key);
    snprintf(l, sizeof l, "%04zX", len);
    add(&w, l, 4);
    add(&w, data, len);
    if (verify)
        addf(&w, mac_hex, (size_t)mac_bytes * 2, false);
    int rc = SEND(w, verify ? K_RAW : K_VALUE);
    free(buf);
    return rc;
}

int hsmc_generate_mac(hsmc_pool *p, const char *key_type, const char *key, char alg,
                      int mac_bytes, const void *data, size_t len, hsmc_cb cb, void *arg)
{
    return mac_cmd(p, false, key_type, key, alg, mac_bytes, data, len, NULL, cb, arg);
}

int hsmc_verify_mac(hsmc_pool *p, const char *key_type, const char *key, char alg,
                    int mac_bytes, const void *data, size_t len, const char *mac_hex,
                    hsmc_cb cb, void *arg)
{
    return mac_cmd(p, true, key_type, key, alg, mac_bytes, data, len, mac_hex, cb, arg);
}

int hsmc_generate_key(hsmc_pool *p, const char *type, char scheme, const char *kek_type,
                      const char *kek, hsmc_cb cb, void *arg)
{
    BLD(w, 256);
    char s[2] = {scheme, '\0'};
    adds(&w, kek ? "A01" : "A00");
    addf(&w, type, 3, false);
    adds(&w, s);
    if (kek) {
        addf(&w, kek_type, 3, true);
        add_key(&w, kek);
    }
    return SEND(w, K_KEYGEN);
}

int hsmc_form_key(hsmc_pool *p, const char *type, char scheme, const char *const *components,
                  unsigned n, hsmc_cb cb, void *arg)
{
    BLD(w, 256);
    char s[3] = {scheme, (char)('0' + n), '\0'};
    size_t hl = keycomp_hex_len(scheme);
    if (!components || n < 1 || n > 3 || !hl)
        return HSMC_ERR_ARG;
    adds(&w, "FK");
    addf(&w, type, 3, true);
    adds(&w, s);
    for (unsigned i = 0; i < n; i++)
        addf(&w, components[i], hl, false);
    int rc = SEND(w, K_KEYGEN);
    OPENSSL_cleanse(w_buf, sizeof w_buf); /* the clear components */
    return rc;
}

int hsmc_key_check_value(hsmc_pool *p, const char *type, const char *key, hsmc_cb cb, void *arg)
{
    BLD(w, 256);
    adds(&w, "BU");
    addf(&w, type, 3, false);
    add_key(&w, key);
    return SEND(w, K_KCV);
}

int hsmc_diagnostics(hsmc_pool *p, hsmc_cb cb, void *arg)
{
    return submit(p, "NC", 2, K_NC, cb, arg);
}

/* ---- operations made of two commands ---- */

struct chain {
    hsmc_pool *p;
    hsmc_cb cb;
    void *arg;
    int pending;
    hsmc_reply acc;
    /* issuance: the second command, completed with the PIN under LMK */
    char next[256];
    size_t next_len, pin_at;
    enum kind next_kind;
};

static void kx_done(const hsmc_reply *r, void *arg, bool second)
{
    struct chain *ch = arg;
    if (ch->acc.status == 0 && ch->acc.hsm_err == 0 && (r->status || r->hsm_err)) {
        ch->acc.status = r->status;
        ch->acc.hsm_err = r->hsm_err;
        memcpy(ch->acc.resp, r->resp, 3);
    }
    if (!second) {
        memcpy(ch->acc.key_lmk, r->key_lmk, sizeof r->key_lmk);
        memcpy(ch->acc.key_kek, r->key_kek, sizeof r->key_kek);
        memcpy(ch->acc.kcv, r->kcv, sizeof r->kcv);
    } else {
        memcpy(ch->acc.key2_lmk, r->key_lmk, sizeof r->key_lmk);
        memcpy(ch->acc.key2_kek, r->key_kek, sizeof r->key_kek);
        memcpy(ch->acc.kcv2, r->kcv, sizeof r->kcv);
    }
    if (--ch->pending == 0) {
        if (!ch->acc.resp[0])
            memcpy(ch->acc.resp, "HD", 3);
        ch->cb(&ch->acc, ch->arg);
        free(ch);
    }
}

static void kx_tpk(const hsmc_reply *r, void *arg) { kx_done(r, arg, false); }
static void kx_tak(const hsmc_reply *r, void *arg) { kx_done(r, arg, true); }

int hsmc_key_exchange(hsmc_pool *p, const char *tmk, char scheme, hsmc_cb cb, void *arg)
{
    BLD(a, 256);
    BLD(b, 256);
    char s[2] = {scheme, '\0'};
    adds(&a, "HC"); add_key(&a, tmk); adds(&a, HSM_KT_TPK); adds(&a, s);
    adds(&b, "HC"); add_key(&b, tmk); adds(&b, HSM_KT_TAK); adds(&b, s);
    if (a.err || b.err || !cb)
        return HSMC_ERR_ARG;
    struct chain *ch = calloc(1, sizeof *ch);
    if (!ch)
        return HSMC_ERR_NOMEM;
    ch->p = p;
    ch->cb = cb;
    ch->arg = arg;
    ch->pending = 2;
    int rc = submit(p, a.b, a.len, K_HC, kx_tpk, ch);
    if (rc) {
        free(ch);
        return rc;
    }
    rc = submit(p, b.b, b.len, K_HC, kx_tak, ch);
    if (rc) {
        /* The TPK half is in flight: report this failure when it lands. */
        ch->acc.status = rc;
        ch->pending = 1;
    }
    return HSMC_OK;
}

static void issue_step2(const hsmc_reply *r, void *arg)
{
    struct chain *ch = arg;
    ch->cb(r, ch->arg);
    free(ch);
}

static void issue_step1(const hsmc_reply *r, void *arg)
{
    struct chain *ch = arg;
    int rc = HSMC_ERR_PROTOCOL;
    if (r->status == 0 && r->hsm_err == 0 && r->fields_len == 32) {
        memcpy(ch->next + ch->pin_at, r->fields, 32);
        rc = submit(ch->p, ch->next, ch->next_len, ch->next_kind, issue_step2, ch);
        if (rc == 0)
            return;
    }
    hsmc_reply f = *r;
    if (r->status == 0 && r->hsm_err == 0)
        f.status = rc;
    ch->cb(&f, ch->arg);
    free(ch);
}

static int issue(hsmc_pool *p, bool ibm, const char *pin, const char *pan, const char *pvk,
                 int pvki, const char *dectab, const char *valdata, hsmc_cb cb, void *arg)
{
    BLD(a, 128);
    size_t n = pin ? strlen(pin) : 0;
    adds(&a, "BA");
    add_num(&a, (int)n, 2);
    addf(&a, pin, n, true);
    add_pan(&a, pan);
    if (a.err || n < 4 || n > 12 || !cb)
        return HSMC_ERR_ARG;
    struct chain *ch = calloc(1, sizeof *ch);
    if (!ch)
        return HSMC_ERR_NOMEM;
    struct bld b = {ch->next, sizeof ch->next, 0, false};
    adds(&b, ibm ? "DE" : "DG");
    add_key(&b, pvk);
    ch->pin_at = b.len;
    add(&b, "00000000000000000000000000000000", 32);
    add_pan(&b, pan);
    if (ibm) {
        addf(&b, dectab, 16, true);
        addf(&b, valdata, 16, false);
    } else {
        add_num(&b, pvki, 1);
    }
    if (b.err) {
        free(ch);
        return HSMC_ERR_ARG;
    }
    ch->p = p;
    ch->cb = cb;
    ch->arg = arg;
    ch->next_len = b.len;
    ch->next_kind = ibm ? K_OFFSET : K_VALUE;
    int rc = submit(p, a.b, a.len, K_RAW, issue_step1, ch);
    memset(a_buf, 0, sizeof a_buf); /* the clear PIN */
    if (rc)
        free(ch);
    return rc;
}

int hsmc_pin_to_pvv(hsmc_pool *p, const char *pin, const char *pan, const char *pvk,
                    int pvki, hsmc_cb cb, void *arg)
{
    return issue(p, false, pin, pan, pvk, pvki, NULL, NULL, cb, arg);
}

int hsmc_pin_to_offset(hsmc_pool *p, const char *pin, const char *pan, const char *pvk,
                       const char *dectab, const char *valdata, hsmc_cb cb, void *arg)
{
    return issue(p, true, pin, pan, pvk, 0, dectab, valdata, cb, arg);
}
