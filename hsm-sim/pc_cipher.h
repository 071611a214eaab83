/*
 * pc_cipher: the primitives of the payment-crypto library (paycrypto).
 *
 * Block ciphers go through OpenSSL's EVP interface only; nothing here is a
 * hand-written cipher. The library does no I/O, logs nothing, and keeps no
 * state except the fetched EVP cipher objects (fetched once, thread-safe).
 *
 * Error convention for every pc_* function of the library: 0 on success or a
 * negative PC_ERR_* value; pc_strerror() names it.
 */
#ifndef PC_CIPHER_H
#define PC_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pc_err {
    PC_OK = 0,
    PC_ERR_ARG = -1,        /* bad length, NULL, value out of range */
    PC_ERR_CRYPTO = -2,     /* OpenSSL reported a failure */
    PC_ERR_PARITY = -3,     /* TDES key without odd parity */
    PC_ERR_PIN_LEN = -4,    /* PIN shorter than 4 or longer than 12 digits */
    PC_ERR_PIN_BLOCK = -5,  /* PIN block does not contain valid values */
    PC_ERR_FORMAT = -6,     /* PIN block format not supported for the key */
    PC_ERR_PAN = -7,        /* PAN not 12..19 decimal digits */
    PC_ERR_KEY_LEN = -8,    /* key length/algorithm not allowed here */
    PC_ERR_UNWRAP = -9,     /* key cryptogram failed its integrity check */
    PC_ERR_EXHAUSTED = -10, /* DUKPT counter exhausted */
    PC_ERR_HEX = -11,       /* not hexadecimal / wrong length */
    PC_ERR_MISMATCH = -12,  /* verification failed (PVV, offset, CVV, MAC) */
};

const char *pc_strerror(int err);

enum pc_alg { PC_ALG_TDES = 1, PC_ALG_AES = 2 };

/* A clear key. TDES: len 8 (single, only for internal DES steps), 16, 24.
 * AES: len 16, 24, 32. Wipe with pc_wipe() when done. */
typedef struct pc_key {
    uint8_t alg; /* enum pc_alg */
    uint8_t len;
    uint8_t b[32];
} pc_key;

/* Builds a key from raw bytes. Returns PC_ERR_KEY_LEN for a length the
 * algorithm does not have. Parity is not checked (see pc_des_parity_ok). */
int pc_key_set(pc_key *k, enum pc_alg alg, const uint8_t *bytes, size_t len);

/* ECB over whole blocks (len a multiple of the block size: 8 TDES, 16 AES).
 * in and out may alias. Errors: PC_ERR_ARG, PC_ERR_KEY_LEN, PC_ERR_CRYPTO. */
int pc_ecb(const pc_key *k, bool encrypt, const uint8_t *in, uint8_t *out,
           size_t len);
/* CBC without padding; iv is one block (8 or 16 bytes). Same errors. */
int pc_cbc(const pc_key *k, bool encrypt, const uint8_t *iv,
           const uint8_t *in, uint8_t *out, size_t len);
/* Block size of the key's algorithm: 8 or 16. */
size_t pc_block_size(const pc_key *k);

/* Odd parity of every byte (DES convention: the low bit is the parity bit). */
bool pc_des_parity_ok(const uint8_t *key, size_t len);
void pc_des_set_parity(uint8_t *key, size_t len);

/* A DES/TDES key unfit for use: one of its 8-byte parts is a DES weak or
 * semi-weak key (FIPS 74), or two adjacent parts are equal (K1 = K2 or
 * K2 = K3 reduce TDES to single DES). Parity bits are ignored. Also true
 * for a length other than 8, 16 or 24. */
bool pc_tdes_key_weak(const uint8_t *key, size_t len);

/* Key check value: the key encrypts one block of zeros, the first 3 bytes
 * are the KCV (printed as 6 hex). Same for TDES and AES keys. */
int pc_kcv(const pc_key *k, uint8_t kcv[3]);

/* Random bytes from OpenSSL's DRBG. Errors: PC_ERR_CRYPTO. */
int pc_random(uint8_t *out, size_t len);
/* A fresh random key; TDES keys get odd parity. */
int pc_key_generate(pc_key *k, enum pc_alg alg, size_t len);

/* Writes 2*len uppercase hex digits and a NUL to out (capacity 2*len+1). */
void pc_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly hexlen digits (even) into out (capacity outcap).
 * Returns the number of bytes or PC_ERR_HEX. */
int pc_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap);

/* Overwrites secrets so the compiler cannot drop the store. */
void pc_wipe(void *p, size_t len);
/* Constant-time comparison; true when equal. */
bool pc_equal(const void *a, const void *b, size_t len);

#endif
