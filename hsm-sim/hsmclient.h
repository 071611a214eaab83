/*
 * hsmclient: asynchronous client of hsm-sim over libevent.
 *
 * A pool keeps `connections` persistent connections (plain TCP or TLS) to one
 * hsm-sim and pipelines up to `max_inflight` commands on each; answers are
 * matched to commands by the message header, in any order. Every command
 * ends in exactly one callback: the HSM's answer, a timeout, or a transport
 * failure. A lost connection fails its in-flight commands (they may or may
 * not have run on the HSM; every command here is safe to retry) and is
 * re-established with exponential backoff.
 *
 * Threading: one pool belongs to one event_base and one thread.
 * Callbacks run from the event loop, never from inside the send call.
 * Do not free the pool from a callback: hsmc_pool_free() called there is
 * deferred until the callback returns.
 *
 * Keys are the LMK-encrypted strings the HSM returned (e.g. "U3F0A...",
 * as stored in the database); PINs travel only as encrypted PIN blocks,
 * except in hsmc_pin_to_pvv()/hsmc_pin_to_offset(), meant for card issuance
 * tools. Clear key material goes out only in hsmc_form_key() (components
 * at a key ceremony). The client never logs.
 *
 * Errors: functions return 0 or a negative HSMC_ERR_*; replies carry
 * status (0 or HSMC_ERR_*) and, when status is 0, the HSM's error code.
 */
#ifndef HSMCLIENT_H
#define HSMCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "hsmproto.h"

struct event_base;

enum hsmc_err {
    HSMC_OK = 0,
    HSMC_ERR_ARG = -1,          /* a field is malformed or too long */
    HSMC_ERR_UNAVAILABLE = -2,  /* no connection is up (send): try later */
    HSMC_ERR_BUSY = -3,         /* every connection has max_inflight commands */
    HSMC_ERR_TIMEOUT = -4,      /* reply: no answer within timeout_ms */
    HSMC_ERR_DISCONNECTED = -5, /* reply: connection lost with the command in flight */
    HSMC_ERR_PROTOCOL = -6,     /* reply: answer malformed or of the wrong command */
    HSMC_ERR_CANCELLED = -7,    /* reply: the pool was freed */
    HSMC_ERR_NOMEM = -8,
    HSMC_ERR_TLS = -9,          /* pool creation: TLS files unusable */
};

const char *hsmc_strerror(int err);
/* Text for an HSM error code (hsmproto.h enum hsm_error), e.g. 1 ->
 * "verification failure". */
const char *hsmc_hsm_strerror(int hsm_err);

typedef struct hsmc_config {
    const char *host;          /* IPv4 address or "localhost" (default 127.0.0.1) */
    uint16_t port;             /* default 1500 */
    unsigned connections;      /* default 2 */
    unsigned max_inflight;     /* per connection, default 256, max 4096 */
    unsigned timeout_ms;       /* per command, default 2000 */
    unsigned reconnect_min_ms; /* first retry delay, default 100 */
    unsigned reconnect_max_ms; /* backoff cap, default 5000 */
    unsigned header_len;       /* must match the server, default 4, 1..32 */
    /* TLS: set tls to 1; tls_ca verifies the server and its name
     * (tls_server_name, also sent as SNI) or, without a name, the host's IP
     * in its subjectAltName; tls_cert/tls_key present a client cert. */
    int tls;
    const char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
} hsmc_config;

/* The answer, parsed. Strings are NUL-terminated and empty when the
 * command does not return them. `fields` views the raw fields after the
 * error code and is valid only during the callback. */
typedef struct hsmc_reply {
    int status;           /* 0: the HSM answered; else HSMC_ERR_* */
    int hsm_err;          /* when status == 0: HSM_E_OK, HSM_E_VERIFY, ... */
    char resp[3];         /* response code, e.g. "DD" */
    const char *fields;
    size_t fields_len;
    char key_lmk[82];     /* generated/imported key under the LMK */
    char key_kek[81];     /* the same key under the ZMK/TMK (hex) */
    char kcv[7];
    char key2_lmk[82];    /* hsmc_key_exchange: the TAK (key_* hold the TPK) */
    char key2_kek[81];
    char kcv2[7];
    char pin_block[33];   /* translated PIN block (hex) */
    char pin_format[3];   /* its format code */
    int pin_len;
    char value[33];       /* PVV, offset (digits), CVV, MAC (hex), PIN
                             under LMK, LMK check value */
} hsmc_reply;

typedef void (*hsmc_cb)(const hsmc_reply *r, void *arg);

typedef struct hsmc_pool hsmc_pool;

/* Creates the pool and starts connecting (returns before connections are
 * up; commands sent before then fail with HSMC_ERR_UNAVAILABLE, so call
 * hsmc_pool_ready() or retry). NULL with *err set on failure
 * (HSMC_ERR_ARG, HSMC_ERR_NOMEM, HSMC_ERR_TLS). */
hsmc_pool *hsmc_pool_new(struct event_base *base, const hsmc_config *cfg, int *err);
/* Fails every in-flight command with HSMC_ERR_CANCELLED and frees. */
void hsmc_pool_free(hsmc_pool *p);
/* Number of connections currently up. */
unsigned hsmc_pool_ready(const hsmc_pool *p);

/* Any command: `cmd` is the command code followed by its fields, without
 * header or length (the pool adds them), len <= 65000. The reply has
 * status/hsm_err/resp/fields only.
 * Errors: HSMC_ERR_ARG, HSMC_ERR_UNAVAILABLE, HSMC_ERR_BUSY, HSMC_ERR_NOMEM. */
int hsmc_send_raw(hsmc_pool *p, const char *cmd, size_t len, hsmc_cb cb, void *arg);

/* Where a PIN block comes from. */
enum hsmc_pin_src_kind { HSMC_SRC_TPK, HSMC_SRC_ZPK, HSMC_SRC_DUKPT };
typedef struct hsmc_pin_src {
    enum hsmc_pin_src_kind kind;
    const char *key;       /* TPK or ZPK under LMK; for DUKPT the BDK */
    const char *ksn;       /* DUKPT only: 20 hex (TDES BDK) or 24 hex (AES BDK) */
    const char *pin_block; /* hex: 16 (TDES) or 32 (AES, format 48) */
    const char *format;    /* HSM_PBF_ISO0 "01", ISO1 "05", ISO3 "47", ISO4 "48" */
} hsmc_pin_src;

/* Every function below has the send errors of hsmc_send_raw. In the reply,
 * hsm_err == HSM_E_OK means done/verified, HSM_E_VERIFY a wrong PIN, CVV
 * or MAC; other codes are listed in docs/hsm.md per command. */

/* PIN verification against a Visa PVV (DC / EC / GQ). pan: full PAN. */
int hsmc_verify_pin_pvv(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                        const char *pvk, int pvki, const char *pvv,
                        hsmc_cb cb, void *arg);
/* PIN verification against an IBM 3624 offset (DA / EA / GO). dectab: 16
 * digits; valdata: 16 hex; offset: 4..12 digits (the PIN's length). */
int hsmc_verify_pin_ibm(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                        const char *pvk, const char *dectab, const char *valdata,
                        const char *offset, hsmc_cb cb, void *arg);
/* PIN block to a ZPK (CA / CC / G0); reply: pin_block, pin_format, pin_len.
 * max_pin_len: 4..12 (not used for DUKPT sources). */
int hsmc_translate_pin(hsmc_pool *p, const hsmc_pin_src *src, const char *zpk,
                       const char *dst_format, const char *pan, int max_pin_len,
                       hsmc_cb cb, void *arg);
/* PIN change (CU / DU): verifies the current PIN block against the PVV or
 * offset, returns in value the PVV or offset of new_pin_block (same key,
 * same format). src->kind TPK or ZPK. ibm: dectab/valdata/offset used,
 * else pvki/pvv. */
int hsmc_pin_change(hsmc_pool *p, const hsmc_pin_src *src, const char *pan,
                    const char *pvk, int ibm, int pvki, const char *pvv,
                    const char *dectab, const char *valdata, const char *offset,
                    const char *new_pin_block, hsmc_cb cb, void *arg);
/* Card issuance from a clear PIN (BA then DG / DE): value gets the PVV or
 * the offset. For issuance tools only; switchd never holds a clear PIN. */
int hsmc_pin_to_pvv(hsmc_pool *p, const char *pin, const char *pan, const char *pvk,
                    int pvki, hsmc_cb cb, void *arg);
int hsmc_pin_to_offset(hsmc_pool *p, const char *pin, const char *pan, const char *pvk,
                       const char *dectab, const char *valdata, hsmc_cb cb, void *arg);

/* CVV (CW / CY). CVV2: service code "000"; iCVV: "999". expiry as the
 * card encodes it (YYMM). Generate: value gets the 3 digits. */
int hsmc_generate_cvv(hsmc_pool *p, const char *cvk, const char *pan, const char *expiry,
                      const char *svc, hsmc_cb cb, void *arg);
int hsmc_verify_cvv(hsmc_pool *p, const char *cvk, const char *pan, const char *expiry,
                    const char *svc, const char *cvv, hsmc_cb cb, void *arg);

/* MAC (M6 / M8) over binary data with a TAK (HSM_KT_TAK) or ZAK.
 * alg: '3' ISO 9797-1 alg 3 (retail, padding 1), '6' CMAC; mac_bytes 4 or 8.
 * Generate: value gets the MAC in hex. Verify: mac_hex of 2*mac_bytes. */
int hsmc_generate_mac(hsmc_pool *p, const char *key_type, const char *key, char alg,
                      int mac_bytes, const void *data, size_t len, hsmc_cb cb, void *arg);
int hsmc_verify_mac(hsmc_pool *p, const char *key_type, const char *key, char alg,
                    int mac_bytes, const void *data, size_t len, const char *mac_hex,
                    hsmc_cb cb, void *arg);

/* Key generation (A0): type e.g. HSM_KT_ZPK, scheme 'U','T','P','Q','R';
 * kek_type/kek optional (NULL): also return the key under that ZMK/TMK.
 * Reply: key_lmk, key_kek, kcv. */
int hsmc_generate_key(hsmc_pool *p, const char *type, char scheme, const char *kek_type,
                      const char *kek, hsmc_cb cb, void *arg);
/* Terminal key exchange (two HC commands in parallel): a new TPK and TAK
 * under the terminal's TMK. Reply: key_lmk/key_kek/kcv for the TPK,
 * key2_lmk/key2_kek/kcv2 for the TAK; status/hsm_err of the first failure. */
int hsmc_key_exchange(hsmc_pool *p, const char *tmk, char scheme, hsmc_cb cb, void *arg);
/* Form a key from clear components (FK; hsm-sim must run with
 * --authorised, else hsm_err is HSM_E_NOT_AUTHORISED): type HSM_KT_TMK,
 * _ZMK, _PVK, _BDK or _CVK; scheme 'U' (components of 32 hex) or 'T' (48
 * hex); n = 1..3 components, XORed by the HSM. Reply: key_lmk, kcv. The
 * request buffer is wiped after sending; the caller wipes its own copies.
 * Errors: HSMC_ERR_ARG for a component that is not hex of the right
 * length, n outside 1..3 or another scheme, plus the send errors. */
int hsmc_form_key(hsmc_pool *p, const char *type, char scheme, const char *const *components,
                  unsigned n, hsmc_cb cb, void *arg);
/* Key check value (BU) of a key under the LMK: reply kcv. */
int hsmc_key_check_value(hsmc_pool *p, const char *type, const char *key,
                         hsmc_cb cb, void *arg);
/* Diagnostics (NC): value gets the LMK check value. */
int hsmc_diagnostics(hsmc_pool *p, hsmc_cb cb, void *arg);

#endif
