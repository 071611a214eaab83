#include "pc_pin.h"

#include <string.h>

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int pc_pin_check(const char *pin)
{
    if (!pin)
        return PC_ERR_PIN_LEN;
    size_t n = strnlen(pin, PC_PIN_MAX + 1);
    if (n < 4 || n > PC_PIN_MAX || !is_digits(pin, n))
        return PC_ERR_PIN_LEN;
    return PC_OK;
}

static int pan_check(const char *pan, size_t *len)
{
    if (!pan)
        return PC_ERR_PAN;
    size_t n = strnlen(pan, 20);
    if (n < 12 || n > 19 || !is_digits(pan, n))
        return PC_ERR_PAN;
    *len = n;
    return PC_OK;
}

int pc_pan_account12(const char *pan, char acct[13])
{
    size_t n;
    int rc = pan_check(pan, &n);
    if (rc)
        return rc;
    /* ISO 9564-1: the 12 rightmost digits excluding the check digit,
     * left-padded with zeros when the PAN is shorter (a 12-digit PAN has
     * only 11). */
    size_t body = n - 1;
    size_t take = body < 12 ? body : 12;
    memset(acct, '0', 12);
    memcpy(acct + 12 - take, pan + body - take, take);
    acct[12] = '\0';
    return PC_OK;
}

static uint8_t nib(const uint8_t *b, size_t i)
{
    return (uint8_t)((b[i / 2] >> (i % 2 ? 0 : 4)) & 15);
}

static void set_nib(uint8_t *b, size_t i, uint8_t v)
{
    if (i % 2)
        b[i / 2] = (uint8_t)((b[i / 2] & 0xF0) | (v & 15));
    else
        b[i / 2] = (uint8_t)((b[i / 2] & 0x0F) | (uint8_t)(v << 4));
}

/* Format 0 and 3 PAN field: 0000 followed by the 12-digit account. */
static int pan_field(const char *pan, uint8_t field[8])
{
    char acct[13];
    int rc = pc_pan_account12(pan, acct);
    if (rc)
        return rc;
    memset(field, 0, 8);
    for (size_t i = 0; i < 12; i++)
        set_nib(field, 4 + i, (uint8_t)(acct[i] - '0'));
    return PC_OK;
}

int pc_pin_clear_encode(enum pc_pin_format fmt, const char *pin,
                        const char *pan, const uint8_t *fill,
                        uint8_t block[8])
{
    uint8_t rnd[8], pf[8];
    int rc = pc_pin_check(pin);
    if (rc)
        return rc;
    if (fmt != PC_PIN_ISO0 && fmt != PC_PIN_ISO1 && fmt != PC_PIN_ISO3)
        return PC_ERR_FORMAT;
    if (fmt != PC_PIN_ISO1 && (rc = pan_field(pan, pf)) != PC_OK)
        return rc;
    if (!fill) {
        if ((rc = pc_random(rnd, sizeof rnd)) != PC_OK)
            return rc;
        fill = rnd;
    }
    size_t n = strlen(pin);
    set_nib(block, 0, (uint8_t)fmt);
    set_nib(block, 1, (uint8_t)n);
    for (size_t i = 0; i < 14; i++) {
        uint8_t v;
        if (i < n)
            v = (uint8_t)(pin[i] - '0');
        else if (fmt == PC_PIN_ISO0)
            v = 0xF;
        else if (fmt == PC_PIN_ISO1)
            v = nib(fill, i);
        else /* format 3 fill digits are A..F */
            v = (uint8_t)(10 + nib(fill, i) % 6);
        set_nib(block, 2 + i, v);
    }
    if (fmt != PC_PIN_ISO1)
        for (size_t i = 0; i < 8; i++)
            block[i] ^= pf[i];
    pc_wipe(rnd, sizeof rnd);
    return PC_OK;
}

int pc_pin_clear_decode(enum pc_pin_format fmt, const uint8_t block[8],
                        const char *pan, char pin[PC_PIN_MAX + 1])
{
    uint8_t b[8], pf[8];
    int rc = PC_OK;
    if (fmt != PC_PIN_ISO0 && fmt != PC_PIN_ISO1 && fmt != PC_PIN_ISO3)
        return PC_ERR_FORMAT;
    memcpy(b, block, 8);
    if (fmt != PC_PIN_ISO1) {
        if ((rc = pan_field(pan, pf)) != PC_OK)
            return rc;
        for (size_t i = 0; i < 8; i++)
            b[i] ^= pf[i];
    }
    size_t n = nib(b, 1);
    if (nib(b, 0) != (uint8_t)fmt)
        rc = PC_ERR_PIN_BLOCK;
    else if (n < 4 || n > PC_PIN_MAX)
        rc = PC_ERR_PIN_LEN;
    for (size_t i = 0; rc == PC_OK && i < 14; i++) {
        uint8_t v = nib(b, 2 + i);
        if (i < n) {
            if (v > 9)
                rc = PC_ERR_PIN_BLOCK;
            else
                pin[i] = (char)('0' + v);
        } else if ((fmt == PC_PIN_ISO0 && v != 0xF) ||
                   (fmt == PC_PIN_ISO3 && v < 0xA)) {
            rc = PC_ERR_PIN_BLOCK;
        }
    }
    if (rc == PC_OK)
        pin[n] = '\0';
    else
        pc_wipe(pin, PC_PIN_MAX + 1);
    pc_wipe(b, sizeof b);
    return rc;
}

/* ISO 9564-1 format 4 PAN field: one nibble M = (PAN length - 12), the PAN,
 * zero padding to 32 nibbles. A PAN shorter than 12 digits is not accepted
 * here (pan_check already requires 12..19). */
static int pan_field4(const char *pan, uint8_t field[16])
{
    size_t n;
    int rc = pan_check(pan, &n);
    if (rc)
        return rc;
    memset(field, 0, 16);
    set_nib(field, 0, (uint8_t)(n - 12));
    for (size_t i = 0; i < n; i++)
        set_nib(field, 1 + i, (uint8_t)(pan[i] - '0'));
    return PC_OK;
}

int pc_pin_encrypt(const pc_key *k, enum pc_pin_format fmt, const char *pin,
                   const char *pan, const uint8_t *fill,
                   uint8_t block[PC_PIN_BLOCK_MAX], size_t *blen)
{
    int rc;
    if (!k || !blen)
        return PC_ERR_ARG;
    if (fmt == PC_PIN_ISO4) {
        uint8_t pinf[16], panf[16], rnd[8];
        if (k->alg != PC_ALG_AES)
            return PC_ERR_FORMAT;
        if ((rc = pc_pin_check(pin)) != PC_OK || (rc = pan_field4(pan, panf)) != PC_OK)
            return rc;
        if (!fill) {
            if ((rc = pc_random(rnd, sizeof rnd)) != PC_OK)
                return rc;
            fill = rnd;
        }
        size_t n = strlen(pin);
        memset(pinf, 0, sizeof pinf);
        set_nib(pinf, 0, 4);
        set_nib(pinf, 1, (uint8_t)n);
        for (size_t i = 0; i < 14; i++)
            set_nib(pinf, 2 + i, i < n ? (uint8_t)(pin[i] - '0') : 0xA);
        memcpy(pinf + 8, fill, 8);
        /* Encipher the PIN field, add the PAN field, encipher again. */
        rc = pc_ecb(k, true, pinf, block, 16);
        for (size_t i = 0; rc == PC_OK && i < 16; i++)
            block[i] ^= panf[i];
        if (rc == PC_OK)
            rc = pc_ecb(k, true, block, block, 16);
        pc_wipe(pinf, sizeof pinf);
        pc_wipe(rnd, sizeof rnd);
        *blen = 16;
        return rc;
    }
    if (k->alg != PC_ALG_TDES)
        return PC_ERR_FORMAT;
    uint8_t clear[8];
    if ((rc = pc_pin_clear_encode(fmt, pin, pan, fill, clear)) != PC_OK)
        return rc;
    rc = pc_ecb(k, true, clear, block, 8);
    pc_wipe(clear, sizeof clear);
    *blen = 8;
    return rc;
}

int pc_pin_decrypt(const pc_key *k, enum pc_pin_format fmt,
                   const uint8_t *block, size_t blen, const char *pan,
                   char pin[PC_PIN_MAX + 1])
{
    int rc;
    if (!k || !block || !pin)
        return PC_ERR_ARG;
    if (fmt == PC_PIN_ISO4) {
        uint8_t t[16], panf[16];
        if (k->alg != PC_ALG_AES)
            return PC_ERR_FORMAT;
        if (blen != 16)
            return PC_ERR_ARG;
        if ((rc = pan_field4(pan, panf)) != PC_OK)
            return rc;
        rc = pc_ecb(k, false, block, t, 16);
        for (size_t i = 0; rc == PC_OK && i < 16; i++)
            t[i] ^= panf[i];
        if (rc == PC_OK)
            rc = pc_ecb(k, false, t, t, 16);
        if (rc == PC_OK) {
            size_t n = nib(t, 1);
            if (nib(t, 0) != 4)
                rc = PC_ERR_PIN_BLOCK;
            else if (n < 4 || n > PC_PIN_MAX)
                rc = PC_ERR_PIN_LEN;
            for (size_t i = 0; rc == PC_OK && i < 14; i++) {
                uint8_t v = nib(t, 2 + i);
                if (i < n && v <= 9)
                    pin[i] = (char)('0' + v);
                else if (i < n || v != 0xA)
                    rc = PC_ERR_PIN_BLOCK;
            }
            if (rc == PC_OK)
                pin[n] = '\0';
        }
        pc_wipe(t, sizeof t);
        return rc;
    }
    if (k->alg != PC_ALG_TDES)
        return PC_ERR_FORMAT;
    if (blen != 8)
        return PC_ERR_ARG;
    uint8_t clear[8];
    if ((rc = pc_ecb(k, false, block, clear, 8)) == PC_OK)
        rc = pc_pin_clear_decode(fmt, clear, pan, pin);
    pc_wipe(clear, sizeof clear);
    return rc;
}
