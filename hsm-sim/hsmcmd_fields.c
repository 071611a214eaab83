/* hsmcmd field readers and answer writers (see hsmcmd_int.h). */
#include "hsmcmd_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading: a bounds-checked cursor over the command's fields ---- */

const char *hc_take(struct cur *c, size_t n)
{
    if (n > c->n)
        return NULL;
    const char *s = (const char *)c->p;
    c->p += n;
    c->n -= n;
    return s;
}

/* ---- writing: a sticky-error writer; one check at the end ---- */

void hc_put(struct wr *w, const void *s, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

void hc_puts(struct wr *w, const char *s)
{
    hc_put(w, s, strlen(s));
}

/* ---- field helpers; each returns 0 or an HSM_E_* code ---- */

int hc_map_pc(int rc, int key_err)
{
    switch (rc) {
    case PC_OK: return HSM_E_OK;
    case PC_ERR_PARITY:
    case PC_ERR_UNWRAP: return key_err;
    case PC_ERR_PIN_BLOCK: return HSM_E_PIN_BLOCK;
    case PC_ERR_PIN_LEN: return HSM_E_PIN_LEN;
    case PC_ERR_FORMAT:
    case PC_ERR_KEY_LEN: return HSM_E_KEY_TYPE;
    case PC_ERR_MISMATCH: return HSM_E_VERIFY;
    case PC_ERR_EXHAUSTED: return HSM_E_DUKPT;
    case PC_ERR_ARG:
    case PC_ERR_PAN:
    case PC_ERR_HEX: return HSM_E_INPUT;
    default: return HSM_E_INTERNAL;
    }
}

/* A key under the LMK: scheme letter, then the hex its scheme implies. */
int hc_get_key(struct ctx *x, struct cur *c, const char *type, int key_err,
                   pc_key *k)
{
    if (c->n < 1)
        return HSM_E_INPUT;
    size_t flen = pc_lmk_field_len((char)c->p[0]);
    const char *s = flen ? hc_take(c, flen) : NULL;
    if (!s)
        return HSM_E_INPUT;
    int rc = pc_lmk_unwrap(x->lmk, type, s, flen, k);
    if (rc == PC_ERR_KEY_LEN || rc == PC_ERR_HEX)
        return HSM_E_INPUT;
    return hc_map_pc(rc, key_err);
}

int hc_get_digits(struct cur *c, size_t n, char *out)
{
    const char *s = hc_take(c, n);
    if (!s)
        return HSM_E_INPUT;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return HSM_E_INPUT;
    memcpy(out, s, n);
    out[n] = '\0';
    return HSM_E_OK;
}

int hc_get_num(struct cur *c, size_t n, int *v)
{
    char d[8];
    int rc = hc_get_digits(c, n, d);
    if (rc == HSM_E_OK)
        *v = atoi(d);
    return rc;
}

int hc_get_hex(struct cur *c, size_t n, char *out)
{
    const char *s = hc_take(c, n);
    if (!s)
        return HSM_E_INPUT;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F') || (ch >= 'a' && ch <= 'f')))
            return HSM_E_INPUT;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return HSM_E_OK;
}

/* Full PAN, 12..19 digits, terminated by ';'. */
int hc_get_pan(struct cur *c, char pan[20])
{
    size_t i = 0;
    while (i < c->n && i < 20 && c->p[i] != ';')
        i++;
    if (i < 12 || i > 19 || i >= c->n)
        return HSM_E_INPUT;
    int rc = hc_get_digits(c, i, pan);
    if (rc == HSM_E_OK)
        (void)hc_take(c, 1);
    return rc;
}

int hc_get_fmt(struct cur *c, enum pc_pin_format *f)
{
    const char *s = hc_take(c, 2);
    if (!s)
        return HSM_E_INPUT;
    if (memcmp(s, HSM_PBF_ISO0, 2) == 0) *f = PC_PIN_ISO0;
    else if (memcmp(s, HSM_PBF_ISO1, 2) == 0) *f = PC_PIN_ISO1;
    else if (memcmp(s, HSM_PBF_ISO3, 2) == 0) *f = PC_PIN_ISO3;
    else if (memcmp(s, HSM_PBF_ISO4, 2) == 0) *f = PC_PIN_ISO4;
    else return HSM_E_PBF;
    return HSM_E_OK;
}

const char *hc_fmt_code(enum pc_pin_format f)
{
    return f == PC_PIN_ISO0 ? HSM_PBF_ISO0 : f == PC_PIN_ISO1 ? HSM_PBF_ISO1
         : f == PC_PIN_ISO3 ? HSM_PBF_ISO3 : HSM_PBF_ISO4;
}

/* PIN block: 16 hex under a TDES key, 32 hex under an AES key. */
int hc_get_pinblock(struct cur *c, const pc_key *k, uint8_t b[16], size_t *n)
{
    char h[33];
    size_t hl = k->alg == PC_ALG_AES ? 32 : 16;
    int rc = hc_get_hex(c, hl, h);
    if (rc)
        return rc;
    *n = hl / 2;
    return pc_hex_decode(h, hl, b, 16) == (int)*n ? HSM_E_OK : HSM_E_INPUT;
}

void hc_put_hex(struct wr *w, const uint8_t *b, size_t n)
{
    char h[65];
    if (n > 32) {
        w->err = true;
        return;
    }
    pc_hex_encode(b, n, h);
    hc_puts(w, h);
}

void hc_put_kcv(struct wr *w, const pc_key *k)
{
    uint8_t kcv[3];
    if (pc_kcv(k, kcv) != PC_OK)
        w->err = true;
    else
        hc_put_hex(w, kcv, 3);
}

int hc_put_lmk_key(struct ctx *x, struct wr *w, const char *type, const pc_key *k)
{
    char s[PC_LMK_KEY_MAX + 1];
    int rc = pc_lmk_wrap(x->lmk, type, k, s);
    if (rc)
        return hc_map_pc(rc, HSM_E_INTERNAL);
    hc_puts(w, s);
    return HSM_E_OK;
}

int hc_pin_decrypt(const pc_key *k, enum pc_pin_format f, const uint8_t *b,
                       size_t n, const char *pan, char pin[13])
{
    if ((f == PC_PIN_ISO4) != (k->alg == PC_ALG_AES))
        return HSM_E_KEY_TYPE;
    return hc_map_pc(pc_pin_decrypt(k, f, b, n, pan, pin), HSM_E_INTERNAL);
}


/* A key type field the command may generate/import; 3 characters. */
static bool known_type(const char *t)
{
    static const char *const types[] = {HSM_KT_ZMK, HSM_KT_ZPK, HSM_KT_TPK,
        HSM_KT_TAK, HSM_KT_TMK, HSM_KT_PVK, HSM_KT_ZAK, HSM_KT_BDK,
        HSM_KT_IMK, HSM_KT_CVK};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (memcmp(types[i], t, 3) == 0)
            return true;
    return false;
}

int hc_get_type(struct cur *c, char t[4])
{
    const char *s = hc_take(c, 3);
    if (!s)
        return HSM_E_INPUT;
    memcpy(t, s, 3);
    t[3] = '\0';
    return known_type(t) ? HSM_E_OK : HSM_E_INPUT;
}

int hc_scheme_key(char s, enum pc_alg *alg, size_t *len)
{
    switch (s) {
    case 'U': *alg = PC_ALG_TDES; *len = 16; break;
    case 'T': *alg = PC_ALG_TDES; *len = 24; break;
    case 'P': *alg = PC_ALG_AES; *len = 16; break;
    case 'Q': *alg = PC_ALG_AES; *len = 24; break;
    case 'R': *alg = PC_ALG_AES; *len = 32; break;
    default: return HSM_E_INPUT;
    }
    return HSM_E_OK;
}

/* A key-encryption key for exchange: its type (ZMK or TMK) then the key. */
int hc_get_kek(struct ctx *x, struct cur *c, int key_err, pc_key *kek)
{
    char t[4];
    int rc = hc_get_type(c, t);
    if (rc)
        return rc;
    if (strcmp(t, HSM_KT_ZMK) != 0 && strcmp(t, HSM_KT_TMK) != 0)
        return HSM_E_INPUT;
    return hc_get_key(x, c, t, key_err, kek);
}

