/* The terminal's connection to the switch (tlconn.h). */
#include "tlconn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct tlc_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char reason[160];
};

const char *tlc_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case TLC_ERR_ARG: return "bad argument";
	case TLC_ERR_CONNECT: return "connect failed";
	case TLC_ERR_TLS: return "TLS failure";
	case TLC_ERR_IO: return "I/O error";
	case TLC_ERR_CLOSED: return "connection closed by peer";
	case TLC_ERR_TIMEOUT: return "timed out";
	case TLC_ERR_NOMEM: return "out of memory";
	default: return "unknown error";
	}
}

int64_t tlc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tlc_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void say(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* The first queued OpenSSL error as text (or "no detail"), queue cleared. */
static const char *tls_detail(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		snprintf(buf, cap, "no detail");
	else
		ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

/* EAGAIN and EWOULDBLOCK are the same value on Linux, not everywhere. */
static bool retryable(int e)
{
#if EAGAIN != EWOULDBLOCK
	if (e == EWOULDBLOCK)
		return true;
#endif
	return e == EAGAIN || e == EINTR;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timed out,
 * -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - tlc_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int tcp_connect(const struct tlc_opts *o, int64_t deadline, int *fdp, char *why, size_t cap)
{
	char port[8];
	snprintf(port, sizeof port, "%u", o->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	int g = getaddrinfo(o->host, port, &hints, &res);
	if (g != 0) {
		say(why, cap, "%s: %s", o->host, gai_strerror(g));
		return TLC_ERR_CONNECT;
	}
	int rc = TLC_ERR_CONNECT;
	say(why, cap, "%s:%u: no address", o->host, o->port);
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                ai->ai_protocol);
		if (fd < 0)
			continue;
		int err = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			if (err == EINPROGRESS) {
				int w = wait_fd(fd, POLLOUT, deadline);
				socklen_t sl = sizeof err;
				if (w == 0)
					err = ETIMEDOUT;
				else if (w < 0)
					err = errno;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
					err = errno;
			}
		}
		if (err == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			*fdp = fd;
			rc = 0;
			break;
		}
		close(fd);
		say(why, cap, "connect %s:%u: %s", o->host, o->port, strerror(err));
		if (err == ETIMEDOUT) {
			rc = TLC_ERR_TIMEOUT;
			break;
		}
	}
	freeaddrinfo(res);
	return rc;
}

static int tls_start(tlc_conn *c, const struct tlc_opts *o, int64_t deadline, char *why, size_t cap)
{
	char d[160];
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		say(why, cap, "TLS: %s", tls_detail(d, sizeof d));
		return TLC_ERR_TLS;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	int ok = o->tls_ca ? SSL_CTX_load_verify_locations(c->ctx, o->tls_ca, NULL)
	                   : SSL_CTX_set_default_verify_paths(c->ctx);
	if (ok != 1) {
		say(why, cap, "TLS CA %s: %s", o->tls_ca ? o->tls_ca : "(default)", tls_detail(d, sizeof d));
		return TLC_ERR_TLS;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		say(why, cap, "TLS: %s", tls_detail(d, sizeof d));
		return TLC_ERR_TLS;
	}
	/* The macro casts its argument to void *: hand it a non-const copy
	 * (clang's -Wcast-qual). */
	char sni[256];
	snprintf(sni, sizeof sni, "%s", o->host);
	SSL_set_tlsext_host_name(c->ssl, sni);
	SSL_set1_host(c->ssl, o->host);
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (ev == 0) {
			long vr = SSL_get_verify_result(c->ssl);
			if (vr != X509_V_OK)
				say(why, cap, "TLS handshake with %s: certificate: %s", o->host,
				    X509_verify_cert_error_string(vr));
			else
				say(why, cap, "TLS handshake with %s: %s", o->host, tls_detail(d, sizeof d));
			return TLC_ERR_TLS;
		}
		int w = wait_fd(c->fd, ev, deadline);
		if (w <= 0) {
			say(why, cap, "TLS handshake with %s: %s", o->host, w == 0 ? "timed out" : strerror(errno));
			return w == 0 ? TLC_ERR_TIMEOUT : TLC_ERR_TLS;
		}
	}
}

int tlc_open(const struct tlc_opts *o, int64_t deadline, tlc_conn **out, char *why, size_t cap)
{
	*out = NULL;
	if (o->host == NULL || o->host[0] == '\0' || o->port == 0 || o->port > 65535) {
		say(why, cap, "bad host or port");
		return TLC_ERR_ARG;
	}
	tlc_conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		say(why, cap, "out of memory");
		return TLC_ERR_NOMEM;
	}
	c->fd = -1;
	int rc = tcp_connect(o, deadline, &c->fd, why, cap);
	if (rc == 0 && o->tls)
		rc = tls_start(c, o, deadline, why, cap);
	if (rc != 0) {
		tlc_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void tlc_close(tlc_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

const char *tlc_reason(const tlc_conn *c)
{
	return c ? c->reason : "";
}

/* Maps an OpenSSL result to the poll event to wait for, or an error. */
static int ssl_want(tlc_conn *c, int r, short *ev)
{
	char d[160];
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		*ev = POLLIN;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		*ev = POLLOUT;
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		say(c->reason, sizeof c->reason, "TLS closed by peer");
		return TLC_ERR_CLOSED;
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		/* EOF without close_notify, or a reset. */
		if (errno == 0 || r == 0) {
			say(c->reason, sizeof c->reason, "closed by peer");
			return TLC_ERR_CLOSED;
		}
		say(c->reason, sizeof c->reason, "%s", strerror(errno));
		return TLC_ERR_IO;
	}
	say(c->reason, sizeof c->reason, "TLS: %s", tls_detail(d, sizeof d));
	return TLC_ERR_IO;
}

static int timed_out(tlc_conn *c, int w)
{
	if (w == 0) {
		say(c->reason, sizeof c->reason, "timed out");
		return TLC_ERR_TIMEOUT;
	}
	say(c->reason, sizeof c->reason, "poll: %s", strerror(errno));
	return TLC_ERR_IO;
}

int tlc_write(tlc_conn *c, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;
	while (len > 0) {
		short ev = POLLOUT;
		ssize_t n;
		if (c->ssl) {
			errno = 0;
			int r = SSL_write(c->ssl, p, len > 0x10000 ? 0x10000 : (int)len);
			n = r;
			if (r <= 0) {
				int rc = ssl_want(c, r, &ev);
				if (rc)
					return rc;
			}
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && !retryable(errno)) {
				say(c->reason, sizeof c->reason, "write: %s", strerror(errno));
				return errno == EPIPE || errno == ECONNRESET ? TLC_ERR_CLOSED : TLC_ERR_IO;
			}
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		int w = wait_fd(c->fd, ev, deadline);
		if (w <= 0)
			return timed_out(c, w);
	}
	return 0;
}

int tlc_read(tlc_conn *c, void *buf, size_t cap, int64_t deadline)
{
	for (;;) {
		short ev = POLLIN;
		if (c->ssl) {
			errno = 0;
			int r = SSL_read(c->ssl, buf, cap > 0x10000 ? 0x10000 : (int)cap);
			if (r > 0)
				return r;
			int rc = ssl_want(c, r, &ev);
			if (rc)
				return rc;
		} else {
			ssize_t n = recv(c->fd, buf, cap, 0);
			if (n > 0)
				return (int)n;
			if (n == 0) {
				say(c->reason, sizeof c->reason, "closed by peer");
				return TLC_ERR_CLOSED;
			}
			if (!retryable(errno)) {
				say(c->reason, sizeof c->reason, "read: %s", strerror(errno));
				return errno == ECONNRESET ? TLC_ERR_CLOSED : TLC_ERR_IO;
			}
		}
		int w = wait_fd(c->fd, ev, deadline);
		if (w <= 0)
			return timed_out(c, w);
	}
}
