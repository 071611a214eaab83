/*
 * pc_pin: ISO 9564-1 PIN blocks, formats 0, 1, 3 (8 bytes, TDES) and
 * 4 (16 bytes, AES).
 *
 * PINs are NUL-terminated strings of 4..12 decimal digits. PANs are the full
 * primary account number, 12..19 decimal digits: formats 0 and 3 use its 12
 * rightmost digits excluding the check digit, format 4 the whole PAN.
 */
#ifndef PC_PIN_H
#define PC_PIN_H

#include "pc_cipher.h"

enum pc_pin_format {
    PC_PIN_ISO0 = 0,
    PC_PIN_ISO1 = 1,
    PC_PIN_ISO3 = 3,
    PC_PIN_ISO4 = 4,
};

#define PC_PIN_MAX 12
#define PC_PIN_BLOCK_MAX 16

/* Checks a PAN and writes the 12 digits formats 0 and 3 use (rightmost 12
 * excluding the check digit, left-padded with zeros) plus a NUL.
 * Errors: PC_ERR_PAN. */
int pc_pan_account12(const char *pan, char acct[13]);

/* Clear PIN block of format 0, 1 or 3 (8 bytes). fill supplies the 8 bytes
 * of random fill / transaction field used by formats 1 and 3; NULL draws
 * them from the DRBG (tests pass fixed bytes to reproduce published
 * examples). Errors: PC_ERR_PIN_LEN, PC_ERR_PAN, PC_ERR_FORMAT. */
int pc_pin_clear_encode(enum pc_pin_format fmt, const char *pin,
                        const char *pan, const uint8_t *fill,
                        uint8_t block[8]);
/* Decodes and validates a clear 8-byte block of format 0, 1 or 3.
 * Errors: PC_ERR_PIN_BLOCK (bad control nibble, non-digit, bad fill),
 * PC_ERR_PIN_LEN, PC_ERR_PAN, PC_ERR_FORMAT. */
int pc_pin_clear_decode(enum pc_pin_format fmt, const uint8_t block[8],
                        const char *pan, char pin[PC_PIN_MAX + 1]);

/* Builds and encrypts a PIN block under k: formats 0, 1, 3 need a TDES key
 * (8-byte block), format 4 an AES key (16-byte block; fill = 8 bytes of the
 * random field, NULL for random). *blen receives the block length.
 * Errors: as pc_pin_clear_encode, plus PC_ERR_FORMAT (key algorithm does not
 * fit the format), PC_ERR_CRYPTO. */
int pc_pin_encrypt(const pc_key *k, enum pc_pin_format fmt, const char *pin,
                   const char *pan, const uint8_t *fill,
                   uint8_t block[PC_PIN_BLOCK_MAX], size_t *blen);
/* Decrypts and validates; blen must be 8 (TDES) or 16 (AES, format 4).
 * Errors: as pc_pin_clear_decode, plus PC_ERR_FORMAT, PC_ERR_ARG. */
int pc_pin_decrypt(const pc_key *k, enum pc_pin_format fmt,
                   const uint8_t *block, size_t blen, const char *pan,
                   char pin[PC_PIN_MAX + 1]);

/* Checks that pin is 4..12 decimal digits. Errors: PC_ERR_PIN_LEN. */
int pc_pin_check(const char *pin);

#endif
