#include "pc_card.h"

#include "pc_pin.h"

#include <string.h>

static bool digits(const char *s, size_t n)
{
    if (!s || strnlen(s, n) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool pan_ok(const char *pan)
{
    if (!pan)
        return false;
    size_t n = strnlen(pan, 20);
    return n >= 12 && n <= 19 && digits(pan, n);
}

static bool double_tdes(const pc_key *k)
{
    return k && k->alg == PC_ALG_TDES && k->len == 16;
}

/* Visa decimalisation: the decimal digits of the hex string left to right,
 * then, if more are needed, the letters A..F minus 10 left to right. */
static void decimalise(const uint8_t *b, size_t nbytes, size_t want, char *out)
{
    size_t got = 0;
    for (int pass = 0; pass < 2 && got < want; pass++)
        for (size_t i = 0; i < 2 * nbytes && got < want; i++) {
            uint8_t v = (uint8_t)((b[i / 2] >> (i % 2 ? 0 : 4)) & 15);
            if (pass == 0 && v <= 9)
                out[got++] = (char)('0' + v);
            else if (pass == 1 && v > 9)
                out[got++] = (char)('0' + v - 10);
        }
    out[got] = '\0';
}

int pc_card_pvv(const pc_key *pvk, const char *pan, int pvki, const char *pin,
                char out[5])
{
    char tsp[17];
    uint8_t blk[8];
    int rc;
    if (!double_tdes(pvk))
        return PC_ERR_KEY_LEN;
    if (!pan_ok(pan))
        return PC_ERR_PAN;
    if ((rc = pc_pin_check(pin)) != PC_OK)
        return rc;
    if (pvki < 0 || pvki > 9)
        return PC_ERR_ARG;
    size_t n = strlen(pan);
    memcpy(tsp, pan + n - 12, 11);
    tsp[11] = (char)('0' + pvki);
    memcpy(tsp + 12, pin, 4);
    if ((rc = pc_hex_decode(tsp, 16, blk, sizeof blk)) < 0)
        return rc;
    pc_wipe(tsp, sizeof tsp);
    rc = pc_ecb(pvk, true, blk, blk, 8);
    if (rc == PC_OK)
        decimalise(blk, 8, 4, out);
    pc_wipe(blk, sizeof blk);
    return rc;
}

int pc_card_ibm_natural(const pc_key *pvk, const char *dectab,
                        const char *valdata, size_t len, char *out)
{
    uint8_t blk[8];
    int rc;
    if (!pvk || pvk->alg != PC_ALG_TDES)
        return PC_ERR_KEY_LEN;
    if (!digits(dectab, 16) || len < 4 || len > 12 || !out)
        return PC_ERR_ARG;
    if (!valdata || strnlen(valdata, 17) != 16)
        return PC_ERR_HEX;
    if ((rc = pc_hex_decode(valdata, 16, blk, sizeof blk)) < 0)
        return rc;
    if ((rc = pc_ecb(pvk, true, blk, blk, 8)) != PC_OK)
        return rc;
    for (size_t i = 0; i < len; i++)
        out[i] = dectab[(blk[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[len] = '\0';
    pc_wipe(blk, sizeof blk);
    return PC_OK;
}

int pc_card_ibm_offset(const pc_key *pvk, const char *dectab,
                       const char *valdata, const char *pin, char *out)
{
    char nat[13];
    int rc = pc_pin_check(pin);
    if (rc)
        return rc;
    size_t n = strlen(pin);
    if ((rc = pc_card_ibm_natural(pvk, dectab, valdata, n, nat)) != PC_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('0' + (pin[i] - nat[i] + 10) % 10);
    out[n] = '\0';
    pc_wipe(nat, sizeof nat);
    return PC_OK;
}

int pc_card_ibm_verify(const pc_key *pvk, const char *dectab,
                       const char *valdata, const char *pin,
                       const char *offset)
{
    char want[13];
    int rc = pc_pin_check(pin);
    if (rc)
        return rc;
    size_t n = strlen(pin);
    if (!digits(offset, n))
        return PC_ERR_ARG;
    if ((rc = pc_card_ibm_offset(pvk, dectab, valdata, pin, want)) != PC_OK)
        return rc;
    rc = pc_equal(want, offset, n) ? PC_OK : PC_ERR_MISMATCH;
    pc_wipe(want, sizeof want);
    return rc;
}

int pc_card_cvv(const pc_key *cvk, const char *pan, const char *expiry,
                const char *svc, char out[4])
{
    char data[33];
    uint8_t b[16], res[8];
    pc_key ka;
    int rc;
    if (!double_tdes(cvk))
        return PC_ERR_KEY_LEN;
    if (!pan_ok(pan))
        return PC_ERR_PAN;
    if (!digits(expiry, 4) || !digits(svc, 3))
        return PC_ERR_ARG;
    /* PAN | expiry | service code, zero-filled to 128 bits. */
    size_t n = strlen(pan);
    memset(data, '0', 32);
    data[32] = '\0';
    memcpy(data, pan, n);
    memcpy(data + n, expiry, 4);
    memcpy(data + n + 4, svc, 3);
    if ((rc = pc_hex_decode(data, 32, b, sizeof b)) < 0)
        return rc;
    /* Block 1 under CVK A (single DES), XOR block 2, then TDES (A,B). */
    if ((rc = pc_key_set(&ka, PC_ALG_TDES, cvk->b, 8)) != PC_OK)
        return rc;
    rc = pc_ecb(&ka, true, b, res, 8);
    for (size_t i = 0; rc == PC_OK && i < 8; i++)
        res[i] ^= b[8 + i];
    if (rc == PC_OK)
        rc = pc_ecb(cvk, true, res, res, 8);
    if (rc == PC_OK)
        decimalise(res, 8, 3, out);
    pc_wipe(&ka, sizeof ka);
    return rc;
}
