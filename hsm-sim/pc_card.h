/*
 * pc_card: card-issuer verification values computed with a double-length
 * TDES key pair: Visa PVV, IBM 3624 natural PIN and offset, CVV/CVV2/iCVV.
 *
 * Every function returns 0 or a negative PC_ERR_* (pc_cipher.h).
 */
#ifndef PC_CARD_H
#define PC_CARD_H

#include "pc_cipher.h"

/* Visa PVV: TSP = 11 rightmost PAN digits excluding the check digit, the
 * PVKI (0..9) and the 4 leftmost PIN digits, enciphered under the PVK pair
 * (16-byte TDES), decimalised to 4 digits. out gets 4 digits and a NUL.
 * Errors: PC_ERR_PAN, PC_ERR_PIN_LEN, PC_ERR_ARG (pvki), PC_ERR_KEY_LEN. */
int pc_card_pvv(const pc_key *pvk, const char *pan, int pvki, const char *pin,
                char out[5]);

/* IBM 3624. valdata: 16 hex characters of validation data (usually the PAN
 * digits with pad characters, chosen by the issuer). dectab: 16 decimal
 * digits mapping hex 0..F to 0..9. The natural PIN is the first `len`
 * decimalised digits of E(PVK, valdata); len 4..12.
 * Errors: PC_ERR_HEX (valdata), PC_ERR_ARG (dectab, len), PC_ERR_KEY_LEN. */
int pc_card_ibm_natural(const pc_key *pvk, const char *dectab,
                        const char *valdata, size_t len, char *out);
/* Offset = (PIN - natural PIN) digit by digit modulo 10, as many digits as
 * the PIN has. out: strlen(pin)+1 bytes. Errors as above, PC_ERR_PIN_LEN. */
int pc_card_ibm_offset(const pc_key *pvk, const char *dectab,
                       const char *valdata, const char *pin, char *out);
/* 0 when natural PIN + offset equals pin, PC_ERR_MISMATCH when not.
 * offset must have as many digits as pin. */
int pc_card_ibm_verify(const pc_key *pvk, const char *dectab,
                       const char *valdata, const char *pin,
                       const char *offset);

/* Visa CVV / Mastercard CVC (the same algorithm): PAN, expiry (YYMM as the
 * caller stores it), service code; CVV2 uses service code "000" and iCVV
 * "999". out: 3 digits and a NUL. cvk: 16-byte TDES key (CVK A | CVK B).
 * Errors: PC_ERR_PAN, PC_ERR_ARG (expiry/service code), PC_ERR_KEY_LEN. */
int pc_card_cvv(const pc_key *cvk, const char *pan, const char *expiry,
                const char *svc, char out[4]);

#endif
