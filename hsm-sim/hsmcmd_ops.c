#include "hsmcmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================= command handlers =================
 * Each reads its fields in the order docs/hsm.md lists them and writes the
 * answer's fields after the error code. On error it returns the code and
 * the processor drops whatever fields were written. */

int hc_nc(struct ctx *x, struct cur *c, struct wr *w)
{
    uint8_t kcv[3];
    (void)c;
    if (pc_lmk_kcv(x->lmk, kcv) != PC_OK)
        return HSM_E_INTERNAL;
    hc_put_hex(w, kcv, 3);
    hc_puts(w, "HSMSIM-01");
    return HSM_E_OK;
}

int hc_b2(struct ctx *x, struct cur *c, struct wr *w)
{
    char h[5];
    (void)x;
    int rc = hc_get_hex(c, 4, h);
    if (rc)
        return rc;
    size_t n = strtoul(h, NULL, 16);
    const char *d = hc_take(c, n);
    if (!d)
        return HSM_E_INPUT;
    hc_put(w, d, n);
    return HSM_E_OK;
}

int hc_a0(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4];
    enum pc_alg alg;
    size_t len;
    pc_key k, kek;
    const char *mode = hc_take(c, 1);
    int rc;
    if (!mode || (*mode != '0' && *mode != '1'))
        return HSM_E_INPUT;
    if ((rc = hc_get_type(c, t)) != HSM_E_OK)
        return rc;
    const char *s = hc_take(c, 1);
    if (!s || hc_scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    if (*mode == '1' && (rc = hc_get_kek(x, c, HSM_E_KEY1, &kek)) != HSM_E_OK)
        return rc;
    if (pc_key_generate(&k, alg, len) != PC_OK)
        return HSM_E_INTERNAL;
    rc = hc_put_lmk_key(x, w, t, &k);
    if (rc == HSM_E_OK && *mode == '1') {
        char h[81];
        rc = hc_map_pc(pc_kek_wrap(&kek, &k, h, sizeof h), HSM_E_INTERNAL);
        hc_puts(w, h);
    }
    hc_put_kcv(w, &k);
    WIPE(k);
    WIPE(kek);
    return rc;
}

int hc_bu(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4];
    pc_key k;
    int rc = hc_get_type(c, t);
    if (rc == HSM_E_OK)
        rc = hc_get_key(x, c, t, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK)
        hc_put_kcv(w, &k);
    WIPE(k);
    return rc;
}

static size_t kek_hex_len(const pc_key *kek, enum pc_alg alg, size_t len)
{
    if (kek->alg == PC_ALG_TDES)
        return alg == PC_ALG_TDES ? 2 * len : 0;
    return 2 * (len + 8);
}

int hc_a6(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    enum pc_alg alg;
    size_t len;
    pc_key kek, k;
    int rc = hc_get_type(c, t);
    if (rc == HSM_E_OK)
        rc = hc_get_kek(x, c, HSM_E_KEY1, &kek);
    if (rc)
        return rc;
    const char *s = hc_take(c, 1);
    if (!s || hc_scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    size_t hl = kek_hex_len(&kek, alg, len);
    if (!hl)
        return HSM_E_KEY_TYPE;
    if ((rc = hc_get_hex(c, hl, h)) == HSM_E_OK)
        rc = hc_map_pc(pc_kek_unwrap(&kek, alg, h, hl, &k), HSM_E_KEY2);
    if (rc == HSM_E_OK && k.len != len)
        rc = HSM_E_KEY2;
    if (rc == HSM_E_OK)
        rc = hc_put_lmk_key(x, w, t, &k);
    if (rc == HSM_E_OK)
        hc_put_kcv(w, &k);
    WIPE(k);
    WIPE(kek);
    return rc;
}

int hc_a8(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    pc_key kek, k;
    int rc = hc_get_type(c, t);
    if (rc == HSM_E_OK)
        rc = hc_get_kek(x, c, HSM_E_KEY1, &kek);
    if (rc == HSM_E_OK)
        rc = hc_get_key(x, c, t, HSM_E_KEY2, &k);
    if (rc == HSM_E_OK)
        rc = hc_map_pc(pc_kek_wrap(&kek, &k, h, sizeof h), HSM_E_KEY_TYPE);
    if (rc == HSM_E_OK) {
        hc_puts(w, h);
        hc_put_kcv(w, &k);
    }
    WIPE(k);
    WIPE(kek);
    return rc;
}

/* Terminal key exchange: a new TPK, TAK or TMK under the terminal's TMK
 * (to send in the 0800/0810) and under the LMK (to store). */
int hc_hc(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[81];
    enum pc_alg alg;
    size_t len;
    pc_key tmk, k;
    int rc = hc_get_key(x, c, HSM_KT_TMK, HSM_E_KEY1, &tmk);
    if (rc == HSM_E_OK)
        rc = hc_get_type(c, t);
    if (rc)
        return rc;
    if (strcmp(t, HSM_KT_TPK) && strcmp(t, HSM_KT_TAK) && strcmp(t, HSM_KT_TMK))
        return HSM_E_INPUT;
    const char *s = hc_take(c, 1);
    if (!s || hc_scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    if (!kek_hex_len(&tmk, alg, len))
        return HSM_E_KEY_TYPE;
    if (pc_key_generate(&k, alg, len) != PC_OK)
        return HSM_E_INTERNAL;
    rc = hc_map_pc(pc_kek_wrap(&tmk, &k, h, sizeof h), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) {
        hc_puts(w, h);
        rc = hc_put_lmk_key(x, w, t, &k);
    }
    hc_put_kcv(w, &k);
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
    int rc = hc_map_pc(pc_pin_encrypt(k, f, pin, pan, NULL, b, &n), HSM_E_INTERNAL);
    if (rc)
        return rc;
    size_t pl = strlen(pin);
    l[0] = (char)('0' + pl / 10);
    l[1] = (char)('0' + pl % 10);
    l[2] = '\0';
    hc_puts(w, l);
    hc_put_hex(w, b, n);
    hc_puts(w, hc_fmt_code(f));
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
    int rc = hc_get_key(x, c, src_type, HSM_E_KEY1, &src);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_ZPK, HSM_E_KEY2, &dst);
    if (rc == HSM_E_OK) rc = hc_get_num(c, 2, &maxlen);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &src, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &sf);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &df);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&src, sf, b, n, pan, pin);
    if (rc == HSM_E_OK && strlen(pin) > (size_t)maxlen)
        rc = HSM_E_PIN_LEN;
    if (rc == HSM_E_OK)
        rc = put_pinblock(w, &dst, df, pin, pan);
    WIPE(pin);
    WIPE(src);
    WIPE(dst);
    return rc;
}

int hc_ca(struct ctx *x, struct cur *c, struct wr *w) { return translate(x, c, w, HSM_KT_TPK); }
int hc_cc(struct ctx *x, struct cur *c, struct wr *w) { return translate(x, c, w, HSM_KT_ZPK); }

/* JC (TPK) and JE (ZPK): PIN block to PIN under LMK. */
static int to_lmk(struct ctx *x, struct cur *c, struct wr *w, const char *type)
{
    pc_key k;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    char pan[20], pin[13], out[33];
    int rc = hc_get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_lmk_pin_encrypt(x->lmk, pin, pan, out), HSM_E_INTERNAL);
    if (rc == HSM_E_OK)
        hc_puts(w, out);
    WIPE(pin);
    WIPE(k);
    return rc;
}

int hc_jc(struct ctx *x, struct cur *c, struct wr *w) { return to_lmk(x, c, w, HSM_KT_TPK); }
int hc_je(struct ctx *x, struct cur *c, struct wr *w) { return to_lmk(x, c, w, HSM_KT_ZPK); }

/* BA: a clear PIN (card issuance, demo data) to PIN under LMK. */
int hc_ba(struct ctx *x, struct cur *c, struct wr *w)
{
    int len = 0;
    char pin[13], pan[20], out[33];
    int rc = hc_get_num(c, 2, &len);
    if (rc == HSM_E_OK && (len < 4 || len > 12))
        rc = HSM_E_PIN_LEN;
    if (rc == HSM_E_OK) rc = hc_get_digits(c, (size_t)len, pin);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_lmk_pin_encrypt(x->lmk, pin, pan, out), HSM_E_INTERNAL);
    if (rc == HSM_E_OK)
        hc_puts(w, out);
    WIPE(pin);
    return rc;
}

static int get_lmk_pin(struct ctx *x, struct cur *c, char pin_hex[33])
{
    (void)x;
    return hc_get_hex(c, 32, pin_hex);
}

/* Offset field: 12 characters, the offset digits left-justified, F-filled. */
static int get_offset(struct cur *c, char off[13])
{
    const char *s = hc_take(c, 12);
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
    hc_puts(w, f);
}

struct ibm_params {
    char dectab[17], valdata[17];
};

static int get_ibm(struct cur *c, struct ibm_params *p)
{
    int rc = hc_get_digits(c, 16, p->dectab);
    if (rc == HSM_E_OK)
        rc = hc_get_hex(c, 16, p->valdata);
    return rc;
}

int hc_dg(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key pvk;
    int pvki = 0;
    char ph[33], pan[20], pin[13], pvv[5];
    int rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY1, &pvk);
    if (rc == HSM_E_OK) rc = get_lmk_pin(x, c, ph);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_get_num(c, 1, &pvki);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_lmk_pin_decrypt(x->lmk, ph, pan, pin), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_card_pvv(&pvk, pan, pvki, pin, pvv), HSM_E_KEY1);
    if (rc == HSM_E_OK)
        hc_puts(w, pvv);
    WIPE(pin);
    WIPE(pvk);
    return rc;
}

int hc_de(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key pvk;
    struct ibm_params ip;
    char ph[33], pan[20], pin[13], off[13];
    int rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY1, &pvk);
    if (rc == HSM_E_OK) rc = get_lmk_pin(x, c, ph);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_lmk_pin_decrypt(x->lmk, ph, pan, pin), HSM_E_INTERNAL);
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_card_ibm_offset(&pvk, ip.dectab, ip.valdata, pin, off), HSM_E_KEY1);
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
    int rc = hc_map_pc(pc_card_pvv(pvk, pan, pvki, pin, want), HSM_E_KEY2);
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
    return hc_map_pc(pc_card_ibm_verify(pvk, ip->dectab, ip->valdata, pin, off), HSM_E_KEY2);
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
    int rc = hc_get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_get_num(c, 1, &pvki);
    if (rc == HSM_E_OK) rc = hc_get_digits(c, 4, pvv);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_pvv(&pvk, pan, pvki, pin, pvv);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

int hc_dc(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return pvv_verify_cmd(x, c, HSM_KT_TPK); }
int hc_ec(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return pvv_verify_cmd(x, c, HSM_KT_ZPK); }

/* DA (TPK) / EA (ZPK): verify a PIN block against an IBM 3624 offset. */
static int ibm_verify_cmd(struct ctx *x, struct cur *c, const char *type)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    struct ibm_params ip;
    char pan[20], pin[13], off[13];
    int rc = hc_get_key(x, c, type, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK) rc = get_offset(c, off);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_ibm(&pvk, &ip, pin, off);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

int hc_da(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return ibm_verify_cmd(x, c, HSM_KT_TPK); }
int hc_ea(struct ctx *x, struct cur *c, struct wr *w) { (void)w; return ibm_verify_cmd(x, c, HSM_KT_ZPK); }

/* BDK and KSN to the DUKPT transaction key for PIN (TDES variant, or the AES
 * working key AES-128 for PIN) or MAC. KSN: 20 hex (TDES BDK), 24 (AES). */
static int get_dukpt(struct ctx *x, struct cur *c, bool mac, pc_key *k, pc_key *bdk_out)
{
    pc_key bdk, txn = {0};
    uint8_t ksn[12];
    char h[25];
    int rc = hc_get_key(x, c, HSM_KT_BDK, HSM_E_KEY1, &bdk);
    if (rc)
        return rc;
    size_t kl = bdk.alg == PC_ALG_TDES ? 20 : 24;
    if ((rc = hc_get_hex(c, kl, h)) == HSM_E_OK)
        (void)pc_hex_decode(h, kl, ksn, sizeof ksn);
    if (rc == HSM_E_OK && bdk.alg == PC_ALG_TDES) {
        if (bdk.len != 16)
            rc = HSM_E_KEY_TYPE;
        else if ((rc = pc_dukpt_tdes_txn_key(&bdk, ksn, k)) == PC_ERR_ARG)
            rc = HSM_E_DUKPT;
        else if ((rc = hc_map_pc(rc, HSM_E_KEY1)) == HSM_E_OK)
            pc_dukpt_tdes_variant(k, mac ? PC_DUKPT_MAC_REQ : PC_DUKPT_PIN);
    } else if (rc == HSM_E_OK) {
        rc = pc_dukpt_aes_txn_key(&bdk, ksn, &txn);
        rc = rc == PC_ERR_ARG ? HSM_E_DUKPT : hc_map_pc(rc, HSM_E_KEY1);
        if (rc == HSM_E_OK)
            rc = hc_map_pc(pc_dukpt_aes_working_key(&txn, ksn,
                            mac ? PC_DUKPT_AES_MAC_GEN : PC_DUKPT_AES_PIN,
                            PC_ALG_AES, 16, k), HSM_E_KEY1);
    }
    if (bdk_out)
        *bdk_out = bdk;
    WIPE(bdk);
    WIPE(txn);
    return rc;
}

int hc_gq(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    int pvki = 0;
    enum pc_pin_format f;
    char pan[20], pin[13], pvv[5];
    (void)w;
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = hc_get_num(c, 1, &pvki);
    if (rc == HSM_E_OK) rc = hc_get_digits(c, 4, pvv);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_pvv(&pvk, pan, pvki, pin, pvv);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

int hc_go(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, pvk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format f;
    struct ibm_params ip;
    char pan[20], pin[13], off[13];
    (void)w;
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
    if (rc == HSM_E_OK) rc = get_offset(c, off);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = verify_ibm(&pvk, &ip, pin, off);
    WIPE(pin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

/* G0: DUKPT PIN block to a PIN block under a ZPK. */
int hc_g0(struct ctx *x, struct cur *c, struct wr *w)
{
    pc_key k, zpk;
    uint8_t b[16];
    size_t n = 0;
    enum pc_pin_format sf, df;
    char pan[20], pin[13];
    int rc = get_dukpt(x, c, false, &k, NULL);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_ZPK, HSM_E_KEY2, &zpk);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &sf);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &df);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, sf, b, n, pan, pin);
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
    const char *flag = hc_take(c, 1);
    if (!flag || (*flag != '1' && *flag != '2'))
        return HSM_E_INPUT;
    int rc = hc_get_key(x, c, *flag == '1' ? HSM_KT_TPK : HSM_KT_ZPK, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, HSM_KT_PVK, HSM_E_KEY2, &pvk);
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, b, &n);
    if (rc == HSM_E_OK) rc = hc_get_fmt(c, &f);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (ibm) {
        if (rc == HSM_E_OK) rc = get_ibm(c, &ip);
        if (rc == HSM_E_OK) rc = get_offset(c, ref);
    } else {
        if (rc == HSM_E_OK) rc = hc_get_num(c, 1, &pvki);
        if (rc == HSM_E_OK) rc = hc_get_digits(c, 4, ref);
    }
    if (rc == HSM_E_OK) rc = hc_get_pinblock(c, &k, nb, &nn);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, b, n, pan, pin);
    if (rc == HSM_E_OK) rc = ibm ? verify_ibm(&pvk, &ip, pin, ref) : verify_pvv(&pvk, pan, pvki, pin, ref);
    if (rc == HSM_E_OK) rc = hc_pin_decrypt(&k, f, nb, nn, pan, npin);
    if (rc == HSM_E_OK && ibm)
        rc = hc_map_pc(pc_card_ibm_offset(&pvk, ip.dectab, ip.valdata, npin, out), HSM_E_KEY2);
    else if (rc == HSM_E_OK)
        rc = hc_map_pc(pc_card_pvv(&pvk, pan, pvki, npin, out), HSM_E_KEY2);
    if (rc == HSM_E_OK && ibm)
        put_offset(w, out);
    else if (rc == HSM_E_OK)
        hc_puts(w, out);
    WIPE(pin);
    WIPE(npin);
    WIPE(k);
    WIPE(pvk);
    return rc;
}

int hc_cu(struct ctx *x, struct cur *c, struct wr *w) { return pin_change(x, c, w, false); }
int hc_du(struct ctx *x, struct cur *c, struct wr *w) { return pin_change(x, c, w, true); }

/* CW / CY: CVV, CVV2 (service code 000), iCVV (999) with a CVK pair. */
static int cvv_fields(struct ctx *x, struct cur *c, bool verify, char cvv[4])
{
    pc_key cvk;
    char pan[20], exp[5], svc[4], want[4];
    int rc = hc_get_key(x, c, HSM_KT_CVK, HSM_E_KEY1, &cvk);
    if (rc == HSM_E_OK && verify) rc = hc_get_digits(c, 3, cvv);
    if (rc == HSM_E_OK) rc = hc_get_pan(c, pan);
    if (rc == HSM_E_OK) rc = hc_get_digits(c, 4, exp);
    if (rc == HSM_E_OK) rc = hc_get_digits(c, 3, svc);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_map_pc(pc_card_cvv(&cvk, pan, exp, svc, want), HSM_E_KEY1);
    if (rc == HSM_E_OK && verify && !pc_equal(want, cvv, 3))
        rc = HSM_E_VERIFY;
    if (rc == HSM_E_OK && !verify)
        memcpy(cvv, want, 4);
    WIPE(cvk);
    return rc;
}

int hc_cw(struct ctx *x, struct cur *c, struct wr *w)
{
    char cvv[4];
    int rc = cvv_fields(x, c, false, cvv);
    if (rc == HSM_E_OK)
        hc_puts(w, cvv);
    return rc;
}

int hc_cy(struct ctx *x, struct cur *c, struct wr *w)
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
    int rc = hc_get_hex(c, 4, h);
    if (rc)
        return rc;
    size_t n = strtoul(h, NULL, 16);
    const char *m = hc_take(c, n);
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
        return hc_map_pc(pc_mac_retail(k, pad, m, n, mac), HSM_E_KEY_TYPE);
    return hc_map_pc(pc_mac_cmac(k, m, n, mac, &ml), HSM_E_KEY_TYPE);
}

/* M6 / M8: MAC generate / verify with a TAK or ZAK. */
static int mac_cmd(struct ctx *x, struct cur *c, struct wr *w, bool verify)
{
    static uint8_t m[HSM_MSG_MAX];
    uint8_t mac[16];
    char t[4], given[17];
    pc_key k;
    size_t n = 0;
    const char *f = hc_take(c, 5);
    if (!f || f[0] != '0' || (f[1] != '0' && f[1] != '1') || (f[2] != '0' && f[2] != '1') ||
        (f[3] != '3' && f[3] != '6') || (f[4] != '1' && f[4] != '2'))
        return HSM_E_INPUT;
    int rc = hc_get_type(c, t);
    if (rc == HSM_E_OK && strcmp(t, HSM_KT_TAK) && strcmp(t, HSM_KT_ZAK))
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = hc_get_key(x, c, t, HSM_E_KEY1, &k);
    if (rc == HSM_E_OK) rc = get_message(c, f[1] == '1', m, sizeof m, &n);
    size_t macl = f[2] == '0' ? 4 : 8;
    if (rc == HSM_E_OK && verify) rc = hc_get_hex(c, 2 * macl, given);
    if (rc == HSM_E_OK && c->n)
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = compute_mac(&k, f[3], f[4] == '1' ? PC_MAC_PAD1 : PC_MAC_PAD2, m, n, mac);
    if (rc == HSM_E_OK && verify) {
        uint8_t g[8];
        (void)pc_hex_decode(given, 2 * macl, g, sizeof g);
        if (!pc_equal(g, mac, macl))
            rc = HSM_E_VERIFY;
    } else if (rc == HSM_E_OK) {
        hc_put_hex(w, mac, macl);
    }
    WIPE(k);
    return rc;
}

int hc_m6(struct ctx *x, struct cur *c, struct wr *w) { return mac_cmd(x, c, w, false); }
int hc_m8(struct ctx *x, struct cur *c, struct wr *w) { return mac_cmd(x, c, w, true); }

/* GW: verify a MAC made with a DUKPT MAC key (TDES: retail MAC, padding 1,
 * request variant; AES: CMAC with the MAC-generation working key). */
int hc_gw(struct ctx *x, struct cur *c, struct wr *w)
{
    static uint8_t m[HSM_MSG_MAX];
    uint8_t mac[16], g[8];
    char given[17];
    pc_key k;
    size_t n = 0;
    (void)w;
    int rc = get_dukpt(x, c, true, &k, NULL);
    const char *sz = rc == HSM_E_OK ? hc_take(c, 1) : NULL;
    if (rc == HSM_E_OK && (!sz || (*sz != '0' && *sz != '1')))
        rc = HSM_E_INPUT;
    if (rc == HSM_E_OK) rc = get_message(c, false, m, sizeof m, &n);
    size_t macl = sz && *sz == '1' ? 8 : 4;
    if (rc == HSM_E_OK) rc = hc_get_hex(c, 2 * macl, given);
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

