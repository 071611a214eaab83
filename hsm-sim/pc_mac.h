/*
 * pc_mac: ISO 9797-1 MAC algorithm 3 (the "retail MAC", ANSI X9.19) with a
 * double-length TDES key, and CMAC (NIST SP 800-38B) with AES or TDES keys.
 */
#ifndef PC_MAC_H
#define PC_MAC_H

#include "pc_cipher.h"

/* ISO 9797-1 padding methods. Method 1 adds zero bytes up to a block
 * boundary (none if already aligned, one block of zeros for empty input);
 * method 2 adds 0x80 then zeros. */
enum pc_mac_pad { PC_MAC_PAD1 = 1, PC_MAC_PAD2 = 2 };

/* Retail MAC: CBC-MAC with the left half K, then the last block is
 * decrypted with K' and encrypted with K. mac gets 8 bytes; callers
 * truncate (4 bytes is common for ISO 8583 DE 64/128).
 * Errors: PC_ERR_KEY_LEN (key not 16-byte TDES), PC_ERR_ARG, PC_ERR_CRYPTO. */
int pc_mac_retail(const pc_key *k, enum pc_mac_pad pad, const uint8_t *data,
                  size_t len, uint8_t mac[8]);

/* CMAC over data; mac gets the full block (16 bytes AES, 8 TDES);
 * *maclen receives that length.
 * Errors: PC_ERR_KEY_LEN, PC_ERR_ARG, PC_ERR_CRYPTO. */
int pc_mac_cmac(const pc_key *k, const uint8_t *data, size_t len,
                uint8_t mac[16], size_t *maclen);

#endif
