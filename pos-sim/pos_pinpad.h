/*
 * pos_pinpad: a DUKPT PIN pad, as a POS terminal's PIN entry device holds
 * one (docs/pos-sim.md "DUKPT").
 *
 * The key-injection facility derives the PIN pad's initial key from the
 * base derivation key (BDK) and the initial key serial number (KSN) and
 * loads only that key into the device: TDES, the IPEK of ANSI X9.24-1;
 * AES, the initial key of ANSI X9.24-3. pp_new() plays both parts: it
 * derives the initial key and keeps nothing of the BDK. Each PIN entry
 * then takes the next transaction key from the future-key registers
 * (paycrypto's pc_dukpt_*_term_next, which also advances the counter) and
 * encrypts the PIN block under that transaction's PIN key:
 *
 *   TDES  ISO 9564 format 0, 8 bytes, under the transaction key with the
 *         PIN variant; KSN 10 bytes (20 hex)
 *   AES   ISO 9564 format 4, 16 bytes, under the AES-128 working key of
 *         usage PIN encryption (1000); KSN 12 bytes (24 hex)
 *
 * The BDK file has lines "TERMINAL-ID tdes|aes HEX-BDK" ('#' comments):
 * 32 hex is both a double-length TDES key and an AES-128 key, so every
 * line says which it is. Nothing here prints a key or a PIN block.
 *
 * Errors: 0 or a negative PP_ERR_*; pp_strerror() names it; the loaders
 * write a one-line reason into the caller's buffer.
 */
#ifndef POS_PINPAD_H
#define POS_PINPAD_H

#include <stddef.h>
#include <stdint.h>

#include "paycrypto.h"

enum {
	PP_ERR_ARG = -1,       /* bad algorithm, key, KSN, PIN or PAN */
	PP_ERR_FILE = -2,      /* BDK file unreadable, malformed, or no line for the terminal */
	PP_ERR_NOMEM = -3,
	PP_ERR_CRYPTO = -4,
	PP_ERR_EXHAUSTED = -5, /* the KSN counter is used up: the PIN pad needs a new key */
};

const char *pp_strerror(int err);

enum pp_alg { PP_TDES = 1, PP_AES = 2 };

/* "tdes" / "aes" -> the algorithm; 0 for anything else. */
enum pp_alg pp_alg_parse(const char *s);
/* KSN length in bytes: 10 (TDES) or 12 (AES). */
size_t pp_ksn_len(enum pp_alg alg);

/* The BDK of `terminal` for `alg` from a BDK file: TDES 32 hex (double
 * length), AES 32, 48 or 64 hex. Errors: PP_ERR_FILE. */
int pp_load_bdk(const char *path, const char *terminal, enum pp_alg alg, pc_key *bdk,
                char *why, size_t cap);

/* An initial KSN: 20 hex (TDES) or 24 hex (AES) whose transaction counter
 * (the low 21 bits, or the last 4 bytes) is zero. Errors: PP_ERR_ARG. */
int pp_parse_ksn(enum pp_alg alg, const char *hex, uint8_t ksn[12], char *why, size_t cap);

typedef struct pp_pad pp_pad;

/* A PIN pad loaded with the initial key of `bdk` and the initial `ksn`
 * (pp_ksn_len bytes). Errors (*err, may be NULL): PP_ERR_ARG (key of the
 * wrong algorithm or length), PP_ERR_NOMEM, PP_ERR_CRYPTO. */
pp_pad *pp_new(enum pp_alg alg, const pc_key *bdk, const uint8_t *ksn, int *err);
void pp_free(pp_pad *p);
enum pp_alg pp_alg_of(const pp_pad *p);

/* One PIN entry's result. */
struct pp_entry {
	uint8_t block[16];  /* the encrypted PIN block */
	size_t blen;        /* 8 (TDES) or 16 (AES) */
	char ksn[25];       /* the transaction's KSN, upper-case hex */
};

/* Encrypts `pin` for `pan` under the next transaction's PIN key. `fill`
 * is format 4's 8-byte random field (NULL: random; tests pass the
 * published one); TDES ignores it. Errors: PP_ERR_ARG (PIN not 4..12
 * digits, bad PAN: checked before a key is taken), PP_ERR_EXHAUSTED,
 * PP_ERR_CRYPTO. */
int pp_pin(pp_pad *p, const char *pin, const char *pan, const uint8_t *fill, struct pp_entry *e);

#endif
