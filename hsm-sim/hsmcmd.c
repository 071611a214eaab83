#include "hsmcmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paycrypto.h"

/* ---- reading: a bounds-checked cursor over the command's fields ---- */

struct cur {
    const uint8_t *p;
    size_t n;
};

static const char *take(struct cur *c, size_t n)
{
    if (n > c->n)
        return NULL;
    const char *s = (const char *)c->p;
    c->p += n;
    c->n -= n;
    return s;
}

/* ---- writing: a sticky-error writer; one check at the end ---- */

struct wr {
    uint8_t *p;
    size_t cap, len;
    bool err;
};

static void put(struct wr *w, const void *s, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void puts_(struct wr *w, const char *s)
{
    put(w, s, strlen(s));
}

/* ---- engine ---- */

struct ctx {
    pc_lmk *lmk;
};

typedef int (*handler_fn)(struct ctx *x, struct cur *c, struct wr *w);

struct command {
    char code[3];
    handler_fn fn;
};

#define N_ERR 100

struct hsmcmd_engine {
    struct ctx x;
    size_t header_len;
    uint64_t *counts; /* [(n_commands + 1) * N_ERR], last row: unknown */
};

/* ---- field helpers; each returns 0 or an HSM_E_* code ---- */

static int map_pc(int rc, int key_err)
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
static int get_key(struct ctx *x, struct cur *c, const char *type, int key_err,
                   pc_key *k)
{
    if (c->n < 1)
        return HSM_E_INPUT;
    size_t flen = pc_lmk_field_len((char)c->p[0]);
    const char *s = flen ? take(c, flen) : NULL;
    if (!s)
        return HSM_E_INPUT;
    int rc = pc_lmk_unwrap(x->lmk, type, s, flen, k);
    if (rc == PC_ERR_KEY_LEN || rc == PC_ERR_HEX)
        return HSM_E_INPUT;
    return map_pc(rc, key_err);
}

static int get_digits(struct cur *c, size_t n, char *out)
{
    const char *s = take(c, n);
    if (!s)
        return HSM_E_INPUT;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return HSM_E_INPUT;
    memcpy(out, s, n);
    out[n] = '\0';
    return HSM_E_OK;
}

static int get_num(struct cur *c, size_t n, int *v)
{
    char d[8];
    int rc = get_digits(c, n, d);
    if (rc == HSM_E_OK)
        *v = atoi(d);
    return rc;
}

static int get_hex(struct cur *c, size_t n, char *out)
{
    const char *s = take(c, n);
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
static int get_pan(struct cur *c, char pan[20])
{
    size_t i = 0;
    while (i < c->n && i < 20 && c->p[i] != ';')
        i++;
    if (i < 12 || i > 19 || i >= c->n)
        return HSM_E_INPUT;
    int rc = get_digits(c, i, pan);
    if (rc == HSM_E_OK)
        (void)take(c, 1);
    return rc;
}

static int get_fmt(struct cur *c, enum pc_pin_format *f)
{
    const char *s = take(c, 2);
    if (!s)
        return HSM_E_INPUT;
    if (memcmp(s, HSM_PBF_ISO0, 2) == 0) *f = PC_PIN_ISO0;
    else if (memcmp(s, HSM_PBF_ISO1, 2) == 0) *f = PC_PIN_ISO1;
    else if (memcmp(s, HSM_PBF_ISO3, 2) == 0) *f = PC_PIN_ISO3;
    else if (memcmp(s, HSM_PBF_ISO4, 2) == 0) *f = PC_PIN_ISO4;
    else return HSM_E_PBF;
    return HSM_E_OK;
}

static const char *fmt_code(enum pc_pin_format f)
{
    return f == PC_PIN_ISO0 ? HSM_PBF_ISO0 : f == PC_PIN_ISO1 ? HSM_PBF_ISO1
         : f == PC_PIN_ISO3 ? HSM_PBF_ISO3 : HSM_PBF_ISO4;
}

/* PIN block: 16 hex under a TDES key, 32 hex under an AES key. */
static int get_pinblock(struct cur *c, const pc_key *k, uint8_t b[16], size_t *n)
{
    char h[33];
    size_t hl = k->alg == PC_ALG_AES ? 32 : 16;
    int rc = get_hex(c, hl, h);
    if (rc)
        return rc;
    *n = hl / 2;
    return pc_hex_decode(h, hl, b, 16) == (int)*n ? HSM_E_OK : HSM_E_INPUT;
}

static void put_hex(struct wr *w, const uint8_t *b, size_t n)
{
    char h[65];
    if (n > 32) {
        w->err = true;
        return;
    }
    pc_hex_encode(b, n, h);
    puts_(w, h);
}

static void put_kcv(struct wr *w, const pc_key *k)
{
    uint8_t kcv[3];
    if (pc_kcv(k, kcv) != PC_OK)
        w->err = true;
    else
        put_hex(w, kcv, 3);
}

static int put_lmk_key(struct ctx *x, struct wr *w, const char *type, const pc_key *k)
{
    char s[PC_LMK_KEY_MAX + 1];
    int rc = pc_lmk_wrap(x->lmk, type, k, s);
    if (rc)
        return map_pc(rc, HSM_E_INTERNAL);
    puts_(w, s);
    return HSM_E_OK;
}

static int pin_decrypt(const pc_key *k, enum pc_pin_format f, const uint8_t *b,
                       size_t n, const char *pan, char pin[13])
{
    if ((f == PC_PIN_ISO4) != (k->alg == PC_ALG_AES))
        return HSM_E_KEY_TYPE;
    return map_pc(pc_pin_decrypt(k, f, b, n, pan, pin), HSM_E_INTERNAL);
}

#define WIPE(v) pc_wipe(&(v), sizeof(v))

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

static int get_type(struct cur *c, char t[4])
{
    const char *s = take(c, 3);
    if (!s)
        return HSM_E_INPUT;
    memcpy(t, s, 3);
    t[3] = '\0';
    return known_type(t) ? HSM_E_OK : HSM_E_INPUT;
}

static int scheme_key(char s, enum pc_alg *alg, size_t *len)
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
static int get_kek(struct ctx *x, struct cur *c, int key_err, pc_key *kek)
{
    char t[4];
    int rc = get_type(c, t);
    if (rc)
        return rc;
    if (strcmp(t, HSM_KT_ZMK) != 0 && strcmp(t, HSM_KT_TMK) != 0)
        return HSM_E_INPUT;
    return get_key(x, c, t, key_err, kek);
}

/* ================= command handlers =================
 * Each reads its fields in the order docs/hsm.md lists them and writes the
 * answer's fields after the error code. On error it returns the code and
 * the processor drops whatever fields were written. */

static int h_nc(struct ctx *x, struct cur *c, struct wr *w)
{
    uint8_t kcv[3];
    (void)c;
    if (pc_lmk_kcv(x->lmk, kcv) != PC_OK)
        return HSM_E_INTERNAL;
    put_hex(w, kcv, 3);
    puts_(w, "HSMSIM-01");
    return HSM_E_OK;
}

static int h_b2(struct ctx *x, struct cur *c, struct wr *w)
{
    char h[5];
    (void)x;
    int rc = get_hex(c, 4, h);
    if (rc)
        return rc;
    size_t n = strtoul(h, NULL, 16);
    const char *d = take(c, n);
    if (!d)
        return HSM_E_INPUT;
    put(w, d, n);
    return HSM_E_OK;
}

static int h_a0(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4];
    enum pc_alg alg;
    size_t len;
    pc_key k, kek;
    const char *mode = take(c, 1);
    int rc;
    if (!mode || (*mode != '0' && *mode != '1'))
        return HSM_E_INPUT;
    if ((rc = get_type(c, t)) != HSM_E_OK)
        return rc;
    const char *s = take(c, 1);
    if (!s || scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    if (*mode == '1' && (rc = get_kek(x, c, HSM_E_KEY1, &kek)) != HSM_E_OK)
        return rc;
    if (pc_key_generate(&k, alg, len) != PC_OK)
        return HSM_E_INTERNAL;
    rc = put_lmk_key(x, w, t, &k);
    if (rc == HSM_E_OK && *mode == '1') {
        char h[81];
        rc = map_pc(pc_kek_wrap(&kek, &k, h, sizeof h), HSM_E_INTERNAL);
        puts_(w, h);
    }
    put_kcv(w, &k);
    WIPE(k);
    WIPE(kek);
    return rc;
}

static int h_bu(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4];
    pc_key k;
    int rc = get_type(c, t);
    if (rc == HSM_E_OK)
        rc = get_key(x, c, t, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK)
        put_kcv(w, &k);
    WIPE(k);
    return rc;
}

static size_t kek_hex_len(const pc_key *kek, enum pc_alg alg, size_t len)
{
    if (kek->alg == PC_ALG_TDES)
        return alg == PC_ALG_TDES ? 2 * len : 0;
    return 2 * (len + 8);
}

static int h_a6(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    enum pc_alg alg;
    size_t len;
    pc_key kek, k;
    int rc = get_type(c, t);
    if (rc == HSM_E_OK)
        rc = get_kek(x, c, HSM_E_KEY1, &kek);
    if (rc)
        return rc;
    const char *s = take(c, 1);
    if (!s || scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    size_t hl = kek_hex_len(&kek, alg, len);
    if (!hl)
        return HSM_E_KEY_TYPE;
    if ((rc = get_hex(c, hl, h)) == HSM_E_OK)
        rc = map_pc(pc_kek_unwrap(&kek, alg, h, hl, &k), HSM_E_KEY2);
    if (rc == HSM_E_OK && k.len != len)
        rc = HSM_E_KEY2;
    if (rc == HSM_E_OK)
        rc = put_lmk_key(x, w, t, &k);
    if (rc == HSM_E_OK)
        put_kcv(w, &k);
    WIPE(k);
    WIPE(kek);
    return rc;
}

static int h_a8(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    pc_key kek, k;
    int rc = get_type(c, t);
    if (rc == HSM_E_OK)
        rc = get_kek(x, c, HSM_E_KEY1, &kek);
    if (rc == HSM_E_OK)
        rc = get_key(x, c, t, HSM_E_KEY2, &k);
    if (rc == HSM_E_OK)
        rc = map_pc(pc_kek_wrap(&kek, &k, h, sizeof h), HSM_E_KEY_TYPE);
    if (rc == HSM_E_OK) {
        puts_(w, h);
        put_kcv(w, &k);
    }
    WIPE(k);
    WIPE(kek);
    return rc;
}

/* Terminal key exchange: a new TPK, TAK or TMK under the terminal's TMK
 * (to send in the 0800/0810) and under the LMK (to store). */
static int h_hc(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    enum pc_alg alg;
    size_t len;
    pc_key tmk, k;
    int rc = get_key(x, c, HSM_KT_TMK, HSM_E_KEY1, &tmk);
    if (rc == HSM_E_OK)
        rc = get_type(c, t);
    if (rc)
        return rc;
    if (strcmp(t, HSM_KT_TPK) && strcmp(t, HSM_KT_TAK) && strcmp(t, HSM_KT_TMK))
        return HSM_E_INPUT;
    const char *s = take(c, 1);
    if (!s || scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    if (!kek_hex_len(&tmk, alg, len))
        return HSM_E_KEY_TYPE;
    if (pc_key_generate(&k, alg, len) != PC_OK)
        return HSM_E_INTERNAL;
    rc = map_pc(pc_kek_wrap(&tmk, &k, h, sizeof h), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) {
        puts_(w, h);
        rc = put_lmk_key(x, w, t, &k);
    }
    put_kcv(w, &k);
    WIPE(k);
    WIPE(tmk);
    return rc;
}

static int put_pinblock(struct wr *w, const pc_key *k, enum pc_pin_format f,
                        const char *pin, const char *pan)
{
    uint8_t b[16];
    size_t n = 0;
    char l[3];
    if ((f == PC_PIN_ISO4) != (k->alg == PC_ALG_AES))
        return HSM_E_KEY_TYPE;
    int rc = map_pc(pc_pin_encrypt(k, f, pin, pan, NULL, b, &n), HSM_E_INTERNAL);
    if (rc)
        return rc;
    size_t pl = strlen(pin);
    l[0] = (char)('0' + pl / 10);
    l[1] = (char)('0' + pl % 10);
    l[2] = '\0';
    puts_(w, l);
    put_hex(w, b, n);
    puts_(w, fmt_code(f));
    return HSM_E_OK;
}

/* CA (TPK -> ZPK) and CC (ZPK -> ZPK). */
static int translate(struct ctx *x, struct cur *c, struct wr *w, const char *src_type)
{
    pc_key src, dst;
    uint8_t b[16];
    size_t n = 0;
    int maxlen = 0;
    enum pc_pin_format sf, df;
    char pan[20], pin[13];
    int rc = get_key(x, c, src_type, HSM_E_KEY1, &src);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_ZPK, HSM_E_KEY2, &dst);
    if (rc == HSM_E_OK) rc = get_num(c, 2, &maxlen);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &src, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &sf);
    if (rc == HSM_E_OK) rc = get_fmt(c, &df);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&src, sf, b, n, pan, pin);
    if (rc == HSM_E_OK && strlen(pin) > (size_t)maxlen)
        rc = HSM_E_PIN_LEN;
    if (rc == HSM_E_OK)
        rc = put_pinblock(w, &dst, df, pin, pan);
    WIPE(pin);
    WIPE(src);
    WIPE(dst);
    return rc;
}

static int h_ca(struct ctx *x, struct cur *c, struct wr *w) { return translate(x, c, w, HSM_KT_TPK); }
static int h_cc(struct ctx *x, struct cur *c, struct wr *w) { return translate(x, c, w, HSM_KT_ZPK); }

/* JC (TPK) and JE (ZPK): PIN block to PIN under LMK. */
static int to_lmk(struct ctx *x, struct cur *c, struct wr *w, const char *type)
{
    pc_key k;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    char pan[20], pin[13], out[33];
    int rc = get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = map_pc(pc_lmk_pin_encrypt(x->lmk, pin, pan, out), HSM_E_INTERNAL);
    if (rc == HSM_E_OK)
        puts_(w, out);
    WIPE(pin);
    WIPE(k);
    return rc;
}

static int h_jc(struct ctx *x, struct cur *c, struct wr *w) { return to_lmk(x, c, w, HSM_KT_TPK); }
static int h_je(struct ctx *x, struct cur *c, struct wr *w) { return to_lmk(x, c, w, HSM_KT_ZPK); }

/* BA: a clear PIN (card issuance, demo data) to PIN under LMK. */
static int h_ba(struct ctx *x, struct cur *c, struct wr *w)
{
    int len = 0;
    char pin[13], pan[20], out[33];
    int rc = get_num(c, 2, &len);
    if (rc == HSM_E_OK && (len < 4 || len > 12))
        rc = HSM_E_PIN_LEN;
    if (rc == HSM_E_OK) rc = get_digits(c, (size_t)len, pin);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = map_pc(pc_lmk_pin_encrypt(x->lmk, pin, pan, out), HSM_E_INTERNAL);
    if (rc == HSM_E_OK)
        puts_(w, out);
    WIPE(pin);
    return rc;
}

static int get_lmk_pin(struct ctx *x, struct cur *c, char pin_hex[33])
{
    (void)x;
    return get_hex(c, 32, pin_hex);
}

/* Offset field: 12 characters, the offset digits left-justified, F-filled. */
static int get_offset(struct cur *c, char off[13])
{
    const char *s = take(c, 12);
    size_t n = 0;
    if (!s)
        return HSM_E_INPUT;
    while (n < 12 && s[n] >= '0' && s[n] <= '9')
        n++;
    for (size_t i = n; i < 12; i++)
        if (s[i] != 'F' && s[i] != 'f')
            return HSM_E_INPUT;
    if (n < 4)
        return HSM_E_INPUT;
    memcpy(off, s, n);
    off[n] = '\0';
    return HSM_E_OK;
}

static void put_offset(struct wr *w, const char *off)
{
    char f[13];
    memset(f, 'F', 12);
    f[12] = '\0';
    memcpy(f, off, strlen(off));
    puts_(w, f);
}

struct ibm_params {
    char dectab[17], valdata[17];
};

static int get_ibm(struct cur *c, struct ibm_params *p)
{
    int rc = get_digits(c, 16, p->dectab);
    if (rc == HSM_E_OK)
        rc = get_hex(c, 16, p->valdata);
    return rc;
}

static int h_dg(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key pvk;
    int pvki = 0;
    char ph[33], pan[20], pin[13], pvv[5];
    int rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY1, &pvk);
    if (rc == HSM_E_OK) rc = get_lmk_pin(x, c, ph);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_num(c, 1, &pvki);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = map_pc(pc_lmk_pin_decrypt(x->lmk, ph, pan, pin), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) rc = map_pc(pc_card_pvv(&pvk, pan, pvki, pin, pvv), HSM_E_KEY1);
    if (rc == HSM_E_OK)
        puts_(w, pvv);
    WIPE(pin);
    WIPE(pvk);
    return rc;
}

static int h_de(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key pvk;
    struct ibm_params ip;
    char ph[33], pan[20], pin[13], off[13];
    int rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY1, &pvk);
    if (rc == HSM_E_OK) rc = get_lmk_pin(x, c, ph);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = map_pc(pc_lmk_pin_decrypt(x->lmk, ph, pan, pin), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) rc = map_pc(pc_card_ibm_offset(&pvk, ip.dectab, ip.valdata, pin, off), HSM_E_KEY1);
    if (rc == HSM_E_OK)
        put_offset(w, off);
    WIPE(pin);
    WIPE(pvk);
    return rc;
}

/* The PIN-verification tail shared by every verify command: PVV method. */
static int verify_pvv(const pc_key *pvk, const char *pan, int pvki,
                      const char *pin, const char *pvv)
{
    char want[5];
    int rc = map_pc(pc_card_pvv(pvk, pan, pvki, pin, want), HSM_E_KEY2);
    if (rc == HSM_E_OK && !pc_equal(want, pvv, 4))
        rc = HSM_E_VERIFY;
    WIPE(want);
    return rc;
}

static int verify_ibm(const pc_key *pvk, const struct ibm_params *ip,
                      const char *pin, const char *off)
{
    if (strlen(off) != strlen(pin))
        return HSM_E_VERIFY;
    return map_pc(pc_card_ibm_verify(pvk, ip->dectab, ip->valdata, pin, off), HSM_E_KEY2);
}

/* DC (TPK) / EC (ZPK): verify a PIN block against a PVV. */
static int pvv_verify_cmd(struct ctx *x, struct cur *c, const char *type)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    int pvki = 0;
    enum pc_pin_format f;
    char pan[20], pin[13], pvv[5];
    int rc = get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_num(c, 1, &pvki);
    if (rc == HSM_E_OK) rc = get_digits(c, 4, pvv);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_pvv(&pvk, pan, pvki, pin, pvv);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

static int h_dc(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return pvv_verify_cmd(x, c, HSM_KT_TPK); }
static int h_ec(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return pvv_verify_cmd(x, c, HSM_KT_ZPK); }

/* DA (TPK) / EA (ZPK): verify a PIN block against an IBM 3624 offset. */
static int ibm_verify_cmd(struct ctx *x, struct cur *c, const char *type)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    struct ibm_params ip;
    char pan[20], pin[13], off[13];
    int rc = get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK) rc = get_offset(c, off);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_ibm(&pvk, &ip, pin, off);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

static int h_da(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return ibm_verify_cmd(x, c, HSM_KT_TPK); }
static int h_ea(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return ibm_verify_cmd(x, c, HSM_KT_ZPK); }

/* BDK and KSN to the DUKPT transaction key for PIN (TDES variant, or the AES
 * working key AES-128 for PIN) or MAC. KSN: 20 hex (TDES BDK), 24 (AES). */
static int get_dukpt(struct ctx *x, struct cur *c, bool mac, pc_key *k, pc_key *bdk_out)
{
    pc_key bdk, txn = {0};
    uint8_t ksn[12];
    char h[25];
    int rc = get_key(x, c, HSM_KT_BDK, HSM_E_KEY1, &bdk);
    if (rc)
        return rc;
    size_t kl = bdk.alg == PC_ALG_TDES ? 20 : 24;
    if ((rc = get_hex(c, kl, h)) == HSM_E_OK)
        (void)pc_hex_decode(h, kl, ksn, sizeof ksn);
    if (rc == HSM_E_OK && bdk.alg == PC_ALG_TDES) {
        if (bdk.len != 16)
            rc = HSM_E_KEY_TYPE;
        else if ((rc = pc_dukpt_tdes_txn_key(&bdk, ksn, k)) == PC_ERR_ARG)
            rc = HSM_E_DUKPT;
        else if ((rc = map_pc(rc, HSM_E_KEY1)) == HSM_E_OK)
            pc_dukpt_tdes_variant(k, mac ? PC_DUKPT_MAC_REQ : PC_DUKPT_PIN);
    } else if (rc == HSM_E_OK) {
        rc = pc_dukpt_aes_txn_key(&bdk, ksn, &txn);
        rc = rc == PC_ERR_ARG ? HSM_E_DUKPT : map_pc(rc, HSM_E_KEY1);
        if (rc == HSM_E_OK)
            rc = map_pc(pc_dukpt_aes_working_key(&txn, ksn,
                            mac ? PC_DUKPT_AES_MAC_GEN : PC_DUKPT_AES_PIN,
                            PC_ALG_AES, 16, k), HSM_E_KEY1);
    }
    if (bdk_out)
        *bdk_out = bdk;
    WIPE(bdk);
    WIPE(txn);
    return rc;
}

static int h_gq(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    int pvki = 0;
    enum pc_pin_format f;
    char pan[20], pin[13], pvv[5];
    (void)w;
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_num(c, 1, &pvki);
    if (rc == HSM_E_OK) rc = get_digits(c, 4, pvv);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_pvv(&pvk, pan, pvki, pin, pvv);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

static int h_go(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    struct ibm_params ip;
    char pan[20], pin[13], off[13];
    (void)w;
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK) rc = get_offset(c, off);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_ibm(&pvk, &ip, pin, off);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

/* G0: DUKPT PIN block to a PIN block under a ZPK. */
static int h_g0(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, zpk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format sf, df;
    char pan[20], pin[13];
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_ZPK, HSM_E_KEY2, &zpk);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &sf);
    if (rc == HSM_E_OK) rc = get_fmt(c, &df);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, sf, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = put_pinblock(w, &zpk, df, pin, pan);
    WIPE(pin);
    WIPE(k);
    WIPE(zpk);
    return rc;
}

/* CU (PVV) / DU (offset): PIN change. Verifies the current PIN block, then
 * computes the value for the new PIN block (same key, same format). */
static int pin_change(struct ctx *x, struct cur *c, struct wr *w, bool ibm)
{
    pc_key k, pvk;
    uint8_t b[16], nb[16];
    size_t n = 0, nn = 0;
    int pvki = 0;
    enum pc_pin_format f;
    struct ibm_params ip;
    char pan[20], pin[13], npin[13], ref[13], out[13];
    const char *flag = take(c, 1);
    if (!flag || (*flag != '1' && *flag != '2'))
        return HSM_E_INPUT;
    int rc = get_key(x, c, *flag == '1' ? HSM_KT_TPK : HSM_KT_ZPK, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (ibm) {
        if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
        if (rc == HSM_E_OK) rc = get_offset(c, ref);
    } else {
        if (rc == HSM_E_OK) rc = get_num(c, 1, &pvki);
        if (rc == HSM_E_OK) rc = get_digits(c, 4, ref);
    }
    if (rc == HSM_E_OK) rc = get_pinblock(c, &k, nb, &nn);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = ibm ? verify_ibm(&pvk, &ip, pin, ref) : verify_pvv(&pvk, pan, pvki, pin, ref);
    if (rc == HSM_E_OK) rc = pin_decrypt(&k, f, nb, nn, pan, npin);
    if (rc == HSM_E_OK && ibm)
        rc = map_pc(pc_card_ibm_offset(&pvk, ip.dectab, ip.valdata, npin, out), HSM_E_KEY2);
    else if (rc == HSM_E_OK)
        rc = map_pc(pc_card_pvv(&pvk, pan, pvki, npin, out), HSM_E_KEY2);
    if (rc == HSM_E_OK && ibm)
        put_offset(w, out);
    else if (rc == HSM_E_OK)
        puts_(w, out);
    WIPE(pin);
    WIPE(npin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

static int h_cu(struct ctx *x, struct cur *c, struct wr *w) { return pin_change(x, c, w, false); }
static int h_du(struct ctx *x, struct cur *c, struct wr *w) { return pin_change(x, c, w, true); }

/* CW / CY: CVV, CVV2 (service code 000), iCVV (999) with a CVK pair. */
static int cvv_fields(struct ctx *x, struct cur *c, bool verify, char cvv[4])
{
    pc_key cvk;
    char pan[20], exp[5], svc[4], want[4];
    int rc = get_key(x, c, HSM_KT_CVK, HSM_E_KEY1, &cvk);
    if (rc == HSM_E_OK && verify) rc = get_digits(c, 3, cvv);
    if (rc == HSM_E_OK) rc = get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_digits(c, 4, exp);
    if (rc == HSM_E_OK) rc = get_digits(c, 3, svc);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = map_pc(pc_card_cvv(&cvk, pan, exp, svc, want), HSM_E_KEY1);
    if (rc == HSM_E_OK && verify && !pc_equal(want, cvv, 3))
        rc = HSM_E_VERIFY;
    if (rc == HSM_E_OK && !verify)
        memcpy(cvv, want, 4);
    WIPE(cvk);
    return rc;
}

static int h_cw(struct ctx *x, struct cur *c, struct wr *w)
{
    char cvv[4];
    int rc = cvv_fields(x, c, false, cvv);
    if (rc == HSM_E_OK)
        puts_(w, cvv);
    return rc;
}

static int h_cy(struct ctx *x, struct cur *c, struct wr *w)
{
    char cvv[4];
    (void)w;
    return cvv_fields(x, c, true, cvv);
}

/* The message field of the MAC commands: 4-hex length, then that many
 * characters (binary bytes, or hex digits when the input format is 1). */
static int get_message(struct cur *c, bool hexin, uint8_t *buf, size_t cap, size_t *len)
{
    char h[5];
    int rc = get_hex(c, 4, h);
    if (rc)
        return rc;
    size_t n = strtoul(h, NULL, 16);
    const char *m = take(c, n);
    if (!m)
        return HSM_E_INPUT;
    if (!hexin) {
        if (n > cap)
            return HSM_E_INPUT;
        memcpy(buf, m, n);
        *len = n;
        return HSM_E_OK;
    }
    int got = pc_hex_decode(m, n, buf, cap);
    if (got < 0)
        return HSM_E_INPUT;
    *len = (size_t)got;
    return HSM_E_OK;
}

static int compute_mac(const pc_key *k, char algo, enum pc_mac_pad pad,
                       const uint8_t *m, size_t n, uint8_t mac[16])
{
    size_t ml = 0;
    if (algo == '3')
        return map_pc(pc_mac_retail(k, pad, m, n, mac), HSM_E_KEY_TYPE);
    return map_pc(pc_mac_cmac(k, m, n, mac, &ml), HSM_E_KEY_TYPE);
}

/* M6 / M8: MAC generate / verify with a TAK or ZAK. */
static int mac_cmd(struct ctx *x, struct cur *c, struct wr *w, bool verify)
{
    static uint8_t m[HSM_MSG_MAX];
    uint8_t mac[16];
    char t[4], given[17];
    pc_key k;
    size_t n = 0;
    const char *f = take(c, 5);
    if (!f || f[0] != '0' || (f[1] != '0' && f[1] != '1') || (f[2] != '0' && f[2] != '1') ||
        (f[3] != '3' && f[3] != '6') || (f[4] != '1' && f[4] != '2'))
        return HSM_E_INPUT;
    int rc = get_type(c, t);
    if (rc == HSM_E_OK && strcmp(t, HSM_KT_TAK) && strcmp(t, HSM_KT_ZAK))
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = get_key(x, c, t, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_message(c, f[1] == '1', m, sizeof m, &n);
    size_t macl = f[2] == '0' ? 4 : 8;
    if (rc == HSM_E_OK && verify) rc = get_hex(c, 2 * macl, given);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = compute_mac(&k, f[3], f[4] == '1' ? PC_MAC_PAD1 : PC_MAC_PAD2, m, n, mac);
    if (rc == HSM_E_OK && verify) {
        uint8_t g[8];
        (void)pc_hex_decode(given, 2 * macl, g, sizeof g);
        if (!pc_equal(g, mac, macl))
            rc = HSM_E_VERIFY;
    } else if (rc == HSM_E_OK) {
        put_hex(w, mac, macl);
    }
    WIPE(k);
    return rc;
}

static int h_m6(struct ctx *x, struct cur *c, struct wr *w) { return mac_cmd(x, c, w, false); }
static int h_m8(struct ctx *x, struct cur *c, struct wr *w) { return mac_cmd(x, c, w, true); }

/* GW: verify a MAC made with a DUKPT MAC key (TDES: retail MAC, padding 1,
 * request variant; AES: CMAC with the MAC-generation working key). */
static int h_gw(struct ctx *x, struct cur *c, struct wr *w)
{
    static uint8_t m[HSM_MSG_MAX];
    uint8_t mac[16], g[8];
    char given[17];
    pc_key k;
    size_t n = 0;
    (void)w;
    int rc = get_dukpt(x, c, true, &k, NULL);
    const char *sz = rc == HSM_E_OK ? take(c, 1) : NULL;
    if (rc == HSM_E_OK && (!sz || (*sz != '0' && *sz != '1')))
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = get_message(c, false, m, sizeof m, &n);
    size_t macl = sz && *sz == '1' ? 8 : 4;
    if (rc == HSM_E_OK) rc = get_hex(c, 2 * macl, given);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK)
        rc = compute_mac(&k, k.alg == PC_ALG_TDES ? '3' : '6', PC_MAC_PAD1, m, n, mac);
    if (rc == HSM_E_OK) {
        (void)pc_hex_decode(given, 2 * macl, g, sizeof g);
        if (!pc_equal(g, mac, macl))
            rc = HSM_E_VERIFY;
    }
    WIPE(k);
    return rc;
}

static const struct command commands[] = {
    {"A0", h_a0}, {"A6", h_a6}, {"A8", h_a8}, {"B2", h_b2}, {"BA", h_ba},
    {"BU", h_bu}, {"CA", h_ca}, {"CC", h_cc}, {"CU", h_cu}, {"CW", h_cw},
    {"CY", h_cy}, {"DA", h_da}, {"DC", h_dc}, {"DE", h_de}, {"DG", h_dg},
    {"DU", h_du}, {"EA", h_ea}, {"EC", h_ec}, {"G0", h_g0}, {"GO", h_go},
    {"GQ", h_gq}, {"GW", h_gw}, {"HC", h_hc}, {"JC", h_jc}, {"JE", h_je},
    {"M6", h_m6}, {"M8", h_m8}, {"NC", h_nc},
};
#define N_CMD (sizeof commands / sizeof commands[0])

hsmcmd_engine *hsmcmd_new(pc_lmk *lmk, size_t header_len)
{
    if (!lmk || header_len > HSM_HEADER_LEN_MAX)
        return NULL;
    hsmcmd_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->counts = calloc((N_CMD + 1) * N_ERR, sizeof *e->counts);
    if (!e->counts) {
        free(e);
        return NULL;
    }
    e->x.lmk = lmk;
    e->header_len = header_len;
    return e;
}

void hsmcmd_free(hsmcmd_engine *e)
{
    if (!e)
        return;
    pc_lmk_free(e->x.lmk);
    free(e->counts);
    free(e);
}

size_t hsmcmd_process(hsmcmd_engine *e, const uint8_t *msg, size_t len,
                      uint8_t *out, size_t cap, char cmd_out[3], int *err_out)
{
    struct wr w = {out, cap, 0, false};
    size_t h = e->header_len;
    int err;
    size_t idx = N_CMD;
    char resp[2] = {'Z', 'Z'};

    if (len < h + 2) {
        /* Not even a command code: echo what header there is. */
        put(&w, msg, len < h ? len : h);
        for (size_t i = len; i < h; i++)
            put(&w, "0", 1);
        err = HSM_E_INPUT;
        if (cmd_out)
            memcpy(cmd_out, "ZZ", 3);
    } else {
        put(&w, msg, h);
        const char *code = (const char *)msg + h;
        for (size_t i = 0; i < N_CMD; i++)
            if (memcmp(commands[i].code, code, 2) == 0)
                idx = i;
        resp[0] = code[0];
        resp[1] = (char)(code[1] + 1);
        if (cmd_out) {
            cmd_out[0] = idx < N_CMD ? code[0] : '?';
            cmd_out[1] = idx < N_CMD ? code[1] : '?';
            cmd_out[2] = '\0';
        }
        put(&w, resp, 2);
        put(&w, "00", 2);
        size_t fields_at = w.len;
        if (idx == N_CMD) {
            err = HSM_E_INPUT;
        } else {
            struct cur c = {msg + h + 2, len - h - 2};
            err = commands[idx].fn(&e->x, &c, &w);
            /* Trailing bytes mean the command was not what it claimed. */
            if (err == HSM_E_OK && c.n != 0)
                err = HSM_E_INPUT;
            if (err == HSM_E_OK && w.err)
                err = HSM_E_INTERNAL;
        }
        if (err != HSM_E_OK) {
            w.len = fields_at;
            w.err = false;
            out[fields_at - 2] = (uint8_t)('0' + err / 10);
            out[fields_at - 1] = (uint8_t)('0' + err % 10);
        }
        e->counts[idx * N_ERR + (size_t)err]++;
        if (err_out)
            *err_out = err;
        return w.len;
    }
    put(&w, resp, 2);
    put(&w, "15", 2);
    e->counts[N_CMD * N_ERR + HSM_E_INPUT]++;
    if (err_out)
        *err_out = err;
    return w.err ? 0 : w.len;
}

size_t hsmcmd_metrics(const hsmcmd_engine *e, char *buf, size_t cap)
{
    size_t n = 0;
    int k;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    k = snprintf(buf, cap, "# HELP hsm_commands_total Host commands answered, by command and error code.\n"
                           "# TYPE hsm_commands_total counter\n");
    if (k < 0 || (size_t)k >= cap)
        return 0;
    n = (size_t)k;
    for (size_t i = 0; i <= N_CMD; i++)
        for (size_t j = 0; j < N_ERR; j++) {
            uint64_t v = e->counts[i * N_ERR + j];
            if (!v)
                continue;
            k = snprintf(buf + n, cap - n, "hsm_commands_total{cmd=\"%s\",err=\"%02zu\"} %llu\n",
                         i < N_CMD ? commands[i].code : "unknown", j, (unsigned long long)v);
            if (k < 0 || (size_t)k >= cap - n)
                return n;
            n += (size_t)k;
        }
    return n;
}

void hsmcmd_lmk_kcv(const hsmcmd_engine *e, char out[7])
{
    uint8_t kcv[3] = {0};
    (void)pc_lmk_kcv(e->x.lmk, kcv);
    pc_hex_encode(kcv, 3, out);
}
