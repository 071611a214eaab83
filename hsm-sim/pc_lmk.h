/*
 * pc_lmk: keys encrypted under the local master key (LMK).
 *
 * The LMK is 32 random bytes. A key travels as "<scheme><hex>":
 *   scheme  U = TDES 16 bytes, T = TDES 24, P = AES 16, Q = AES 24, R = AES 32
 *   hex     AES key wrap (RFC 3394) of the key under a key-encryption key
 *           KEK = HMAC-SHA256(LMK, "hsm-sim LMK v1" | key type | scheme)
 * so the cryptogram is bound to its key type (3 characters, e.g. "001" ZPK)
 * and algorithm: a ZPK presented as a PVK, or a cryptogram altered in any
 * bit, fails the wrap's integrity check (PC_ERR_UNWRAP). This is the
 * project's own form; it is neither payShield's variant LMK nor TR-31.
 * Lengths: U and P 49 characters, T and Q 65, R 81.
 *
 * Not thread-safe: a pc_lmk caches derived KEKs; give each thread its own.
 */
#ifndef PC_LMK_H
#define PC_LMK_H

#include "pc_cipher.h"

#define PC_LMK_LEN 32
#define PC_LMK_KEY_MAX 81 /* longest cryptogram, without NUL */

typedef struct pc_lmk pc_lmk;

/* Creates an LMK context from 32 bytes. NULL on allocation failure. */
pc_lmk *pc_lmk_new(const uint8_t master[PC_LMK_LEN]);
void pc_lmk_free(pc_lmk *lmk);
/* KCV of the LMK itself (AES-256 encrypting zeros), for diagnostics. */
int pc_lmk_kcv(const pc_lmk *lmk, uint8_t kcv[3]);

/* Length in characters of a cryptogram with this scheme letter, or 0. */
size_t pc_lmk_field_len(char scheme);

/* Encrypts k under the LMK for key type `type` (3 characters). out gets the
 * cryptogram and a NUL (capacity PC_LMK_KEY_MAX + 1).
 * Errors: PC_ERR_KEY_LEN, PC_ERR_ARG, PC_ERR_CRYPTO. */
int pc_lmk_wrap(pc_lmk *lmk, const char type[3], const pc_key *k,
                char out[PC_LMK_KEY_MAX + 1]);
/* Decrypts a cryptogram of exactly len characters.
 * Errors: PC_ERR_KEY_LEN (unknown scheme or wrong length), PC_ERR_HEX,
 * PC_ERR_UNWRAP (wrong type, wrong LMK or altered), PC_ERR_PARITY (TDES key
 * without odd parity), PC_ERR_CRYPTO. */
int pc_lmk_unwrap(pc_lmk *lmk, const char type[3], const char *in, size_t len,
                  pc_key *k);

/* A PIN kept under the LMK (for PVV/offset generation at card issuance and
 * PIN change): 32 hex characters, AES-256 under an LMK-derived key of the
 * 16-byte block (ISO 9564 format 0 clear block bound to the PAN | 8 random
 * bytes), so equal PINs never give equal cryptograms.
 * Errors: PC_ERR_PIN_LEN, PC_ERR_PAN, PC_ERR_CRYPTO; decrypt also
 * PC_ERR_HEX, PC_ERR_PIN_BLOCK (wrong PAN, wrong LMK or altered). */
int pc_lmk_pin_encrypt(pc_lmk *lmk, const char *pin, const char *pan,
                       char out[33]);
int pc_lmk_pin_decrypt(pc_lmk *lmk, const char *hex32, const char *pan,
                       char pin[13]);

/* Encrypts/decrypts a key under another key (a ZMK or TMK) the way keys
 * are exchanged with terminals and other networks: TDES ECB for TDES
 * keys under a TDES KEK (X9.17 style), AES key wrap (RFC 3394) otherwise.
 * out: hex, NUL-terminated, capacity 2*(k->len+8)+1.
 * Errors: PC_ERR_KEY_LEN, PC_ERR_CRYPTO; unwrap also PC_ERR_HEX,
 * PC_ERR_UNWRAP, PC_ERR_PARITY. */
int pc_kek_wrap(const pc_key *kek, const pc_key *k, char *out, size_t cap);
int pc_kek_unwrap(const pc_key *kek, enum pc_alg alg, const char *hex,
                  size_t len, pc_key *k);

#endif
