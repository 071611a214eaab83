/*
 * hsm-sim: the software payment HSM server. One libevent loop; each
 * connection is a bufferevent (plain TCP or TLS) whose complete messages are
 * answered by the command processor (hsmcmd) in arrival order, as many per
 * connection as the client pipelines. See docs/hsm.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hsmcmd.h"
#include "paycrypto.h"

/* Backpressure: stop reading a connection whose answers pile up unread. */
#define OUT_HIGH (1u << 20)
#define OUT_LOW (256u << 10)
#define IN_HIGH (1u << 20)
/* Messages answered per read callback before yielding to other clients. */
#define MSGS_PER_WAKEUP 512

enum conn_state { CONN_OPEN, CONN_THROTTLED, CONN_CLOSING, CONN_DEAD };

static const char *const state_names[] = {"open", "throttled", "closing", "dead"};

struct server;

struct conn {
    struct server *srv;
    struct bufferevent *bev;
    enum conn_state state;
    unsigned id;
    struct conn *prev, *next; /* live list */
    struct conn *dead_next;   /* reaper list */
};

struct server {
    struct event_base *base;
    struct evconnlistener *listener;
    hsmcmd_engine *eng;
    SSL_CTX *ssl;
    uint8_t *out;
    struct conn *live;
    struct conn *dead;
    struct event *reaper, *sig_int, *sig_term, *drain_timer, *more;
    struct evhttp *http;
    unsigned next_id;
    unsigned nconns;
    size_t header_len;
    int verbose;
    bool stopping;
};

static void logf_(int level, const struct server *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(int level, const struct server *s, const char *fmt, ...)
{
    if (level > s->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("hsm-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void conn_read(struct bufferevent *bev, void *arg);

/* Key ceremony commands are always logged: who formed which kind of key
 * and its check value, never a component. The key type is taken from the
 * request only when the command succeeded (so it was a valid type field);
 * the KCV is the answer's last field. */
static void log_ceremony(const struct conn *c, const uint8_t *msg, const uint8_t *ans,
                         size_t ans_len, int err)
{
    const struct server *s = c->srv;
    if (err != 0) {
        logf_(0, s, "conn %u: FK form key from components refused: error %02d", c->id, err);
        return;
    }
    logf_(0, s, "conn %u: FK formed a key of type %.3s from components, KCV %.6s", c->id,
          (const char *)msg + s->header_len + 2, (const char *)ans + ans_len - 6);
}

/* Every state change goes through here, so it is checked and traced. */
static void conn_set_state(struct conn *c, enum conn_state st)
{
    struct server *s = c->srv;
    if (c->state == CONN_DEAD || c->state == st)
        return;
    logf_(2, s, "conn %u: %s -> %s", c->id, state_names[c->state], state_names[st]);
    c->state = st;
    switch (st) {
    case CONN_OPEN:
        bufferevent_enable(c->bev, EV_READ);
        break;
    case CONN_THROTTLED:
        bufferevent_disable(c->bev, EV_READ);
        break;
    case CONN_CLOSING:
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_set_state(c, CONN_DEAD);
        break;
    case CONN_DEAD:
        /* Freed by the reaper after this loop pass, never inside its own
         * callback. */
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        if (c->prev) c->prev->next = c->next; else s->live = c->next;
        if (c->next) c->next->prev = c->prev;
        c->dead_next = s->dead;
        s->dead = c;
        s->nconns--;
        event_active(s->reaper, EV_TIMEOUT, 0);
        break;
    }
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd; (void)what;
    while (s->dead) {
        struct conn *c = s->dead;
        s->dead = c->dead_next;
        bufferevent_free(c->bev);
        free(c);
    }
    if (s->stopping && s->nconns == 0)
        event_base_loopexit(s->base, NULL);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct server *s = c->srv;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(bev);
    int done = 0;
    while (c->state == CONN_OPEN && done < MSGS_PER_WAKEUP) {
        uint8_t lp[2];
        if (evbuffer_copyout(in, lp, 2) < 2)
            break;
        size_t len = (size_t)lp[0] << 8 | lp[1];
        if (evbuffer_get_length(in) < len + 2)
            break;
        uint8_t *msg = evbuffer_pullup(in, (ev_ssize_t)(len + 2));
        if (!msg)
            break;
        char cmd[3];
        int err = 0;
        size_t n = hsmcmd_process(s->eng, msg + 2, len, s->out + 2, HSM_MSG_MAX, cmd, &err);
        /* Log before draining: msg points into the input buffer. */
        if (strcmp(cmd, "FK") == 0)
            log_ceremony(c, msg + 2, s->out + 2, n, err);
        else if (err != 0)
            logf_(2, s, "conn %u: %s error %02d", c->id, cmd, err);
        evbuffer_drain(in, len + 2);
        s->out[0] = (uint8_t)(n >> 8);
        s->out[1] = (uint8_t)n;
        evbuffer_add(out, s->out, n + 2);
        done++;
    }
    if (c->state == CONN_OPEN && evbuffer_get_length(out) > OUT_HIGH)
        conn_set_state(c, CONN_THROTTLED);
    else if (c->state == CONN_OPEN && done == MSGS_PER_WAKEUP)
        /* More may be waiting: come back after other connections ran. */
        event_active(s->more, EV_TIMEOUT, 0);
}

static void more_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd; (void)what;
    for (struct conn *c = s->live, *n; c; c = n) {
        n = c->next;
        if (c->state == CONN_OPEN && evbuffer_get_length(bufferevent_get_input(c->bev)) >= 2)
            conn_read(c->bev, c);
    }
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
    if (c->state == CONN_THROTTLED && pending <= OUT_LOW) {
        conn_set_state(c, CONN_OPEN);
        conn_read(bev, c);
    } else if (c->state == CONN_CLOSING && pending == 0) {
        conn_set_state(c, CONN_DEAD);
    }
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        logf_(1, c->srv, "conn %u: %s", c->id,
              e ? ERR_reason_error_string(e) : strerror(EVUTIL_SOCKET_ERROR()));
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_set_state(c, CONN_DEAD);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct server *s = arg;
    (void)l; (void)sa; (void)salen;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s->ssl) {
        SSL *ssl = SSL_new(s->ssl);
        c->bev = ssl ? bufferevent_openssl_socket_new(s->base, fd, ssl,
                           BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
        if (!c->bev && ssl)
            SSL_free(ssl);
    } else {
        c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->srv = s;
    c->id = ++s->next_id;
    c->state = CONN_OPEN;
    c->next = s->live;
    if (s->live)
        s->live->prev = c;
    s->live = c;
    s->nconns++;
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
    bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    logf_(2, s, "conn %u: accepted", c->id);
}

/* Shutdown: stop accepting, let answers already computed reach their
 * clients, close, exit; a second signal (or 2 s) exits at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    (void)what;
    if (s->stopping) {
        event_base_loopexit(s->base, NULL);
        return;
    }
    logf_(1, s, "signal %d: shutting down", (int)sig);
    s->stopping = true;
    evconnlistener_disable(s->listener);
    for (struct conn *c = s->live, *n; c; c = n) {
        n = c->next;
        conn_set_state(c, CONN_CLOSING);
    }
    struct timeval tv = {2, 0};
    event_add(s->drain_timer, &tv);
    event_active(s->reaper, EV_TIMEOUT, 0);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd; (void)what;
    event_base_loopexit(s->base, NULL);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    static char buf[1 << 16];
    size_t n = hsmcmd_metrics(s->eng, buf, sizeof buf);
    int k = snprintf(buf + n, sizeof buf - n, "# TYPE hsm_connections gauge\nhsm_connections %u\n", s->nconns);
    if (k > 0 && (size_t)k < sizeof buf - n)
        n += (size_t)k;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, buf, n);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- LMK file ---- */

/* Format: text; lines starting with '#' and blank lines are ignored; the
 * first other line is the LMK, 64 hex digits (32 bytes). */
static int load_lmk(const char *path, uint8_t lmk[PC_LMK_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char buf[4096];
    if (fd < 0) {
        fprintf(stderr, "hsm-sim: cannot open LMK file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "hsm-sim: LMK file %s is not a regular file\n", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        fprintf(stderr, "hsm-sim: LMK file %s is accessible by other users (mode %03o); chmod 600 it\n",
                path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        fprintf(stderr, "hsm-sim: cannot read LMK file %s\n", path);
        return -1;
    }
    buf[n] = '\0';
    int rc = -1;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ' || *line == '\t')
            line++;
        size_t l = strcspn(line, " \t\r");
        if (l == 0 || line[0] == '#')
            continue;
        rc = l == 64 && pc_hex_decode(line, 64, lmk, PC_LMK_LEN) == PC_LMK_LEN ? 0 : -1;
        break;
    }
    pc_wipe(buf, sizeof buf);
    if (rc)
        fprintf(stderr, "hsm-sim: LMK file %s: expected a line of 64 hex digits\n", path);
    return rc;
}

static int generate_lmk(const char *path)
{
    uint8_t lmk[PC_LMK_LEN], kcv[3] = {0};
    char hex[2 * PC_LMK_LEN + 1], kh[7];
    if (pc_random(lmk, sizeof lmk) != PC_OK)
        return 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "hsm-sim: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    pc_hex_encode(lmk, sizeof lmk, hex);
    pc_lmk *l = pc_lmk_new(lmk);
    if (l)
        (void)pc_lmk_kcv(l, kcv);
    pc_lmk_free(l);
    pc_hex_encode(kcv, 3, kh);
    char text[256];
    int k = snprintf(text, sizeof text, "# hsm-sim LMK v1 (AES-256), check value %s. Keep mode 0600.\n%s\n", kh, hex);
    bool ok = k > 0 && write(fd, text, (size_t)k) == k;
    close(fd);
    pc_wipe(text, sizeof text);
    pc_wipe(hex, sizeof hex);
    pc_wipe(lmk, sizeof lmk);
    if (!ok) {
        fprintf(stderr, "hsm-sim: cannot write %s\n", path);
        return 1;
    }
    printf("LMK written to %s, check value %s\n", path, kh);
    return 0;
}

static SSL_CTX *make_tls(const char *cert, const char *key, const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)) {
        fprintf(stderr, "hsm-sim: TLS setup failed: %s\n", ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* With a CA given, clients must present a certificate it signed. */
    if (ca)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return ctx;
}

static void usage(FILE *f)
{
    fputs("usage: hsm-sim --lmk FILE [options]\n"
          "       hsm-sim --generate-lmk FILE\n"
          "  --lmk FILE          LMK file (64 hex digits; must not be readable by others)\n"
          "  --listen ADDR       address to bind (default 127.0.0.1)\n"
          "  --port N            TCP port (default 1500; 0 = any free port)\n"
          "  --port-file FILE    write the bound port to FILE once listening\n"
          "  --header-len N      message header length (default 4, max 32)\n"
          "  --metrics-port N    serve Prometheus counters on 127.0.0.1:N/metrics\n"
          "  --authorised        authorised state: accept key ceremony commands (FK, clear\n"
          "                      key components); only while custodians enter keys\n"
          "  --tls-cert FILE --tls-key FILE [--tls-ca FILE]\n"
          "                      TLS on the command port (with --tls-ca: client certificates required)\n"
          "  -v                  more logging (repeat for per-command debug lines)\n"
          "  --generate-lmk FILE create a new random LMK file with mode 0600 and exit\n"
          "  -h, --help          this help\n", f);
}

int main(int argc, char **argv)
{
    const char *lmk_path = NULL, *listen_addr = "127.0.0.1", *port_file = NULL;
    const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL;
    long port = 1500, header_len = HSM_HEADER_LEN_DEFAULT, metrics_port = -1;
    int verbose = 0;
    bool authorised = false;
    static const struct option opts[] = {
        {"lmk", required_argument, NULL, 'l'}, {"listen", required_argument, NULL, 'a'},
        {"port", required_argument, NULL, 'p'}, {"port-file", required_argument, NULL, 'f'},
        {"header-len", required_argument, NULL, 'H'}, {"metrics-port", required_argument, NULL, 'm'},
        {"tls-cert", required_argument, NULL, 'c'}, {"tls-key", required_argument, NULL, 'k'},
        {"tls-ca", required_argument, NULL, 'C'}, {"generate-lmk", required_argument, NULL, 'g'},
        {"authorised", no_argument, NULL, 'A'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (o) {
        case 'l': lmk_path = optarg; break;
        case 'a': listen_addr = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'f': port_file = optarg; break;
        case 'H': header_len = strtol(optarg, NULL, 10); break;
        case 'm': metrics_port = strtol(optarg, NULL, 10); break;
        case 'c': tls_cert = optarg; break;
        case 'k': tls_key = optarg; break;
        case 'C': tls_ca = optarg; break;
        case 'g': return generate_lmk(optarg);
        case 'A': authorised = true; break;
        case 'v': verbose++; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!lmk_path || port < 0 || port > 65535 || header_len < 0 ||
        header_len > HSM_HEADER_LEN_MAX || (!tls_cert != !tls_key)) {
        usage(stderr);
        return 2;
    }
    uint8_t master[PC_LMK_LEN];
    if (load_lmk(lmk_path, master) != 0)
        return 1;
    pc_lmk *lmk = pc_lmk_new(master);
    pc_wipe(master, sizeof master);
    struct server s = {0};
    s.verbose = verbose;
    s.header_len = (size_t)header_len;
    s.eng = lmk ? hsmcmd_new(lmk, (size_t)header_len) : NULL;
    s.out = malloc(HSM_MSG_MAX + 2);
    s.base = event_base_new();
    if (!s.eng || !s.out || !s.base) {
        fprintf(stderr, "hsm-sim: out of memory\n");
        return 1;
    }
    hsmcmd_set_authorised(s.eng, authorised);
    if (tls_cert && !(s.ssl = make_tls(tls_cert, tls_key, tls_ca)))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, listen_addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "hsm-sim: bad listen address %s\n", listen_addr);
        return 2;
    }
    s.listener = evconnlistener_new_bind(s.base, on_accept, &s,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        (struct sockaddr *)&sin, sizeof sin);
    if (!s.listener) {
        fprintf(stderr, "hsm-sim: cannot listen on %s:%ld: %s\n", listen_addr, port, strerror(errno));
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(evconnlistener_get_fd(s.listener), (struct sockaddr *)&bound, &bl);
    if (metrics_port >= 0) {
        s.http = evhttp_new(s.base);
        if (!s.http || evhttp_bind_socket(s.http, "127.0.0.1", (uint16_t)metrics_port) != 0) {
            fprintf(stderr, "hsm-sim: cannot serve metrics on port %ld\n", metrics_port);
            return 1;
        }
        evhttp_set_cb(s.http, "/metrics", on_metrics, &s);
    }
    s.reaper = event_new(s.base, -1, 0, reap, &s);
    s.more = event_new(s.base, -1, 0, more_cb, &s);
    s.drain_timer = evtimer_new(s.base, on_drain_timeout, &s);
    s.sig_int = evsignal_new(s.base, SIGINT, on_signal, &s);
    s.sig_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
    event_add(s.sig_int, NULL);
    event_add(s.sig_term, NULL);
    char kcv[7];
    hsmcmd_lmk_kcv(s.eng, kcv);
    logf_(0, &s, "listening on %s:%u%s, header length %ld, LMK check value %s",
          listen_addr, ntohs(bound.sin_port), s.ssl ? " (TLS)" : "", header_len, kcv);
    if (authorised)
        logf_(0, &s, "authorised state: key components accepted (FK)");
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", ntohs(bound.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "hsm-sim: cannot write %s\n", port_file);
            return 1;
        }
    }
    event_base_dispatch(s.base);
    /* Orderly teardown so leak checkers stay quiet. */
    for (struct conn *c = s.live, *n; c; c = n) {
        n = c->next;
        bufferevent_free(c->bev);
        free(c);
    }
    reap(-1, 0, &s);
    if (s.http)
        evhttp_free(s.http);
    evconnlistener_free(s.listener);
    event_free(s.reaper);
    event_free(s.more);
    event_free(s.drain_timer);
    event_free(s.sig_int);
    event_free(s.sig_term);
    event_base_free(s.base);
    SSL_CTX_free(s.ssl);
    hsmcmd_free(s.eng);
    free(s.out);
    logf_(0, &s, "stopped");
    return 0;
}
