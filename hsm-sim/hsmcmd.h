/*
 * hsmcmd: the host command processor of hsm-sim. It takes one message (the
 * bytes after the 2-byte length prefix) and writes its answer; it does no
 * I/O, no logging, and holds no state but the LMK and the counters. The
 * fuzz target links it without the server.
 */
#ifndef HSMCMD_H
#define HSMCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmproto.h"
#include "pc_lmk.h"

typedef struct hsmcmd_engine hsmcmd_engine;

/* Takes ownership of lmk. header_len: 0..HSM_HEADER_LEN_MAX.
 * NULL on allocation failure. */
hsmcmd_engine *hsmcmd_new(pc_lmk *lmk, size_t header_len);
void hsmcmd_free(hsmcmd_engine *e);

/* The authorised state (payShield's term): only then does the engine
 * accept the key ceremony commands (FK, forming a key from clear
 * components); otherwise they are answered with error 17. Off by default. */
void hsmcmd_set_authorised(hsmcmd_engine *e, bool on);

/* Answers one message. Always produces an answer: a message too short to
 * hold header and command code is answered with its bytes echoed as header
 * (padded with '0'), response code "ZZ" and error 15. out must hold at
 * least HSM_MSG_MAX bytes. Returns the answer length. *cmd_idx and *err
 * (optional) receive what was counted, for logging. */
size_t hsmcmd_process(hsmcmd_engine *e, const uint8_t *msg, size_t len,
                      uint8_t *out, size_t cap, char cmd_out[3], int *err);

/* Writes the counters in Prometheus text format into buf (NUL-terminated,
 * truncated to cap). Returns the length written. */
size_t hsmcmd_metrics(const hsmcmd_engine *e, char *buf, size_t cap);

/* The LMK check value (6 hex + NUL) for diagnostics and logs. */
void hsmcmd_lmk_kcv(const hsmcmd_engine *e, char out[7]);

#endif
