/*
 * tlconn: the terminal's TCP connection to the switch, optionally TLS.
 *
 * A blocking client with deadlines: every call takes an absolute deadline
 * on the monotonic clock (tlc_now_ms()) and returns TLC_ERR_TIMEOUT when it
 * passes. The socket itself is non-blocking and waited on with poll(), so
 * TLS renegotiation and partial writes are handled inside. No framing
 * here: bytes in, bytes out. Nothing is logged.
 *
 * Errors: 0 (or a byte count) on success, a negative TLC_ERR_* on failure;
 * tlc_strerror() names it. Functions that fail write a one-line reason
 * into the connection (tlc_reason()) or the caller's buffer.
 */
#ifndef TLCONN_H
#define TLCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TLC_ERR_ARG = -1,     /* bad host, port or option */
	TLC_ERR_CONNECT = -2, /* resolution or TCP connect failed */
	TLC_ERR_TLS = -3,     /* TLS set-up, handshake or certificate check failed */
	TLC_ERR_IO = -4,      /* read or write failed (reset, broken pipe, TLS error) */
	TLC_ERR_CLOSED = -5,  /* the peer closed the connection */
	TLC_ERR_TIMEOUT = -6, /* the deadline passed */
	TLC_ERR_NOMEM = -7,
};

const char *tlc_strerror(int err);

typedef struct tlc_conn tlc_conn;

struct tlc_opts {
	const char *host;    /* name or address */
	unsigned port;       /* 1..65535 */
	bool tls;            /* TLS 1.2 or later, server certificate verified */
	const char *tls_ca;  /* CA file; NULL: the system's default CAs */
};

/* Milliseconds on the monotonic clock. */
int64_t tlc_now_ms(void);

/* Sleeps `ms` milliseconds (signals do not cut it short). */
void tlc_sleep_ms(unsigned ms);

/* Connects (and completes the TLS handshake) before `deadline`.
 * Errors: TLC_ERR_ARG, _CONNECT, _TLS, _TIMEOUT, _NOMEM, with the reason
 * in why[0..cap). */
int tlc_open(const struct tlc_opts *o, int64_t deadline, tlc_conn **out,
             char *why, size_t cap);
/* Closes and frees; NULL is fine. */
void tlc_close(tlc_conn *c);

/* Writes all `len` bytes. Errors: TLC_ERR_IO, _CLOSED, _TIMEOUT. */
int tlc_write(tlc_conn *c, const void *buf, size_t len, int64_t deadline);
/* Reads what is available, at least one byte, at most `cap`; returns the
 * count. Errors: TLC_ERR_CLOSED (orderly close by the peer), _IO (reset),
 * _TIMEOUT. */
int tlc_read(tlc_conn *c, void *buf, size_t cap, int64_t deadline);

/* The reason for the last failure on this connection ("" when none). */
const char *tlc_reason(const tlc_conn *c);

#endif
