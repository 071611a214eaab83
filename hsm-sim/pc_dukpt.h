/*
 * pc_dukpt: Derived Unique Key Per Transaction.
 *
 * TDES DUKPT (ANSI X9.24-1:2009): 10-byte KSN (59-bit initial key serial
 * number + 21-bit transaction counter), 16-byte BDK and keys.
 * AES DUKPT (ANSI X9.24-3-2017): 12-byte KSN (8-byte initial key ID +
 * 32-bit counter), AES-128/192/256 BDK.
 *
 * Host side: derive a transaction key from BDK + KSN.
 * Terminal side: the future-key register a PIN pad keeps; it never holds the
 * BDK and erases each key once used, as the standards require.
 *
 * Every function returns 0 or a negative PC_ERR_* (pc_cipher.h).
 */
#ifndef PC_DUKPT_H
#define PC_DUKPT_H

#include "pc_cipher.h"

/* ---- TDES (X9.24-1) ---- */

/* Variants XORed onto a transaction key (X9.24-1 Annex A). */
enum pc_dukpt_tdes_variant {
    PC_DUKPT_PIN,      /* 00000000000000FF 00000000000000FF */
    PC_DUKPT_MAC_REQ,  /* 000000000000FF00 000000000000FF00 */
    PC_DUKPT_MAC_RESP, /* 00000000FF000000 00000000FF000000 */
    PC_DUKPT_DATA_REQ, /* 0000000000FF0000 0000000000FF0000 (before the
                          extra encryption step of data keys, not applied) */
};

/* Initial PIN encryption key (IPEK) from a BDK and any KSN of the device
 * (the counter bits are ignored). Errors: PC_ERR_KEY_LEN, PC_ERR_CRYPTO. */
int pc_dukpt_tdes_ipek(const pc_key *bdk, const uint8_t ksn[10], pc_key *ipek);
/* Transaction key for the KSN's counter (no variant applied).
 * Errors: PC_ERR_KEY_LEN, PC_ERR_CRYPTO, PC_ERR_ARG (counter 0). */
int pc_dukpt_tdes_txn_key(const pc_key *bdk, const uint8_t ksn[10], pc_key *key);
/* Applies a variant in place. */
void pc_dukpt_tdes_variant(pc_key *key, enum pc_dukpt_tdes_variant v);

#define PC_DUKPT_TDES_REGS 21
typedef struct pc_dukpt_tdes_term {
    uint8_t ksn[10];                  /* counter = next transaction */
    uint8_t fk[PC_DUKPT_TDES_REGS][16];
    uint32_t valid;                   /* bit i: fk[i] holds a key */
} pc_dukpt_tdes_term;

/* Loads the IPEK and the initial KSN (counter bits ignored, start at 1). */
int pc_dukpt_tdes_term_load(pc_dukpt_tdes_term *t, const pc_key *ipek,
                            const uint8_t ksn[10]);
/* Takes the key for the next transaction: writes its KSN and transaction
 * key (apply a variant before use), then erases it and prepares the next
 * one; counters with more than 10 one bits are skipped (X9.24-1).
 * Errors: PC_ERR_EXHAUSTED once the 21-bit counter is used up. */
int pc_dukpt_tdes_term_next(pc_dukpt_tdes_term *t, uint8_t ksn[10], pc_key *key);

/* ---- AES (X9.24-3) ---- */

/* X9.24-3 key usage indicators for working keys. */
enum pc_dukpt_aes_usage {
    PC_DUKPT_AES_PIN = 0x1000,
    PC_DUKPT_AES_MAC_GEN = 0x2000,
    PC_DUKPT_AES_MAC_VER = 0x2001,
    PC_DUKPT_AES_MAC_BOTH = 0x2002,
    PC_DUKPT_AES_DATA_ENC = 0x3000,
    PC_DUKPT_AES_DATA_DEC = 0x3001,
    PC_DUKPT_AES_DATA_BOTH = 0x3002,
};

/* Initial key from BDK and the 8-byte initial key ID (KSN bytes 0..7). */
int pc_dukpt_aes_initial_key(const pc_key *bdk, const uint8_t ikid[8], pc_key *ik);
/* Transaction derivation key (the intermediate key for the KSN's counter).
 * Errors: PC_ERR_ARG (counter 0 or more than 16 one bits), PC_ERR_KEY_LEN. */
int pc_dukpt_aes_txn_key(const pc_key *bdk, const uint8_t ksn[12], pc_key *key);
/* Working key from a transaction derivation key. out_alg/out_len select the
 * working key type: PC_ALG_AES 16/24/32 or PC_ALG_TDES 16/24. */
int pc_dukpt_aes_working_key(const pc_key *txn, const uint8_t ksn[12],
                             enum pc_dukpt_aes_usage usage,
                             enum pc_alg out_alg, size_t out_len, pc_key *out);

#define PC_DUKPT_AES_REGS 32
typedef struct pc_dukpt_aes_term {
    uint8_t ksn[12];
    uint8_t alg_len;                  /* length of the initial key */
    uint8_t fk[PC_DUKPT_AES_REGS][32];
    uint32_t valid;
} pc_dukpt_aes_term;

/* Loads the initial key and its 8-byte initial key ID; counter starts at 1. */
int pc_dukpt_aes_term_load(pc_dukpt_aes_term *t, const pc_key *ik,
                           const uint8_t ikid[8]);
/* Takes the transaction derivation key of the next transaction and its KSN;
 * derive working keys from it with pc_dukpt_aes_working_key().
 * Counters with more than 16 one bits are skipped. Errors: PC_ERR_EXHAUSTED. */
int pc_dukpt_aes_term_next(pc_dukpt_aes_term *t, uint8_t ksn[12], pc_key *txn);

#endif
