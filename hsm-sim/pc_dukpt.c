#include "pc_dukpt.h"

#include <string.h>

/* ---------------- TDES ---------------- */

static const uint8_t key_mask[16] = {
    0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0,
};

static uint32_t ksn_counter(const uint8_t ksn[10])
{
    return ((uint32_t)(ksn[7] & 0x1F) << 16) | ((uint32_t)ksn[8] << 8) | ksn[9];
}

static void ksn_set_counter(uint8_t ksn[10], uint32_t c)
{
    ksn[7] = (uint8_t)((ksn[7] & 0xE0) | ((c >> 16) & 0x1F));
    ksn[8] = (uint8_t)(c >> 8);
    ksn[9] = (uint8_t)c;
}

static int popcount32(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* X9.24-1 non-reversible key generation process: the right half of the new
 * key is DES_left(R8 ^ right) ^ right; the left half the same with the key
 * XORed with C0C0C0C000000000C0C0C0C000000000. */
static int nrkgp(const uint8_t key[16], const uint8_t r8[8], uint8_t out[16])
{
    uint8_t k[16], a[8], b[8];
    pc_key des;
    int rc = PC_OK;
    memcpy(k, key, 16);
    for (int pass = 0; pass < 2 && rc == PC_OK; pass++) {
        uint8_t *dst = pass == 0 ? a : b;
        for (int i = 0; i < 8; i++)
            dst[i] = r8[i] ^ k[8 + i];
        if ((rc = pc_key_set(&des, PC_ALG_TDES, k, 8)) == PC_OK)
            rc = pc_ecb(&des, true, dst, dst, 8);
        for (int i = 0; i < 8; i++)
            dst[i] ^= k[8 + i];
        for (int i = 0; i < 16; i++)
            k[i] ^= key_mask[i];
    }
    memcpy(out, b, 8);
    memcpy(out + 8, a, 8);
    pc_wipe(k, sizeof k);
    pc_wipe(&des, sizeof des);
    return rc;
}

int pc_dukpt_tdes_ipek(const pc_key *bdk, const uint8_t ksn[10], pc_key *ipek)
{
    uint8_t base[8], out[16];
    pc_key k2;
    int rc;
    if (!bdk || bdk->alg != PC_ALG_TDES || bdk->len != 16 || !ksn || !ipek)
        return PC_ERR_KEY_LEN;
    /* Leftmost 8 bytes of the KSN with the counter cleared. */
    memcpy(base, ksn, 8);
    base[7] &= 0xE0;
    rc = pc_ecb(bdk, true, base, out, 8);
    if (rc == PC_OK) {
        k2 = *bdk;
        for (int i = 0; i < 16; i++)
            k2.b[i] ^= key_mask[i];
        rc = pc_ecb(&k2, true, base, out + 8, 8);
        pc_wipe(&k2, sizeof k2);
    }
    if (rc == PC_OK)
        rc = pc_key_set(ipek, PC_ALG_TDES, out, 16);
    pc_wipe(out, sizeof out);
    return rc;
}

int pc_dukpt_tdes_txn_key(const pc_key *bdk, const uint8_t ksn[10], pc_key *key)
{
    pc_key ipek;
    uint8_t r8[8];
    int rc = pc_dukpt_tdes_ipek(bdk, ksn, &ipek);
    if (rc)
        return rc;
    uint32_t c = ksn_counter(ksn);
    if (c == 0)
        return PC_ERR_ARG;
    /* R8: rightmost 8 KSN bytes with the counter cleared, then each set
     * counter bit from the top is added and a key generated from it. */
    memcpy(r8, ksn + 2, 8);
    r8[5] &= 0xE0; r8[6] = 0; r8[7] = 0;
    uint8_t cur[16];
    memcpy(cur, ipek.b, 16);
    for (uint32_t bit = 1u << 20; bit && rc == PC_OK; bit >>= 1) {
        if (!(c & bit))
            continue;
        r8[5] |= (uint8_t)(bit >> 16);
        r8[6] |= (uint8_t)(bit >> 8);
        r8[7] |= (uint8_t)bit;
        rc = nrkgp(cur, r8, cur);
    }
    if (rc == PC_OK)
        rc = pc_key_set(key, PC_ALG_TDES, cur, 16);
    pc_wipe(cur, sizeof cur);
    pc_wipe(&ipek, sizeof ipek);
    return rc;
}

void pc_dukpt_tdes_variant(pc_key *key, enum pc_dukpt_tdes_variant v)
{
    int pos = v == PC_DUKPT_PIN ? 7 : v == PC_DUKPT_MAC_REQ ? 6
            : v == PC_DUKPT_MAC_RESP ? 4 : 5;
    key->b[pos] ^= 0xFF;
    key->b[8 + pos] ^= 0xFF;
}

/* Key for counter c|bit derived from the key of counter c (register of
 * the lowest set bit above it). */
static int tdes_child(const uint8_t parent[16], const uint8_t ksn[10],
                      uint32_t counter, uint8_t out[16])
{
    uint8_t r8[8];
    memcpy(r8, ksn + 2, 8);
    r8[5] = (uint8_t)((r8[5] & 0xE0) | ((counter >> 16) & 0x1F));
    r8[6] = (uint8_t)(counter >> 8);
    r8[7] = (uint8_t)counter;
    return nrkgp(parent, r8, out);
}

int pc_dukpt_tdes_term_load(pc_dukpt_tdes_term *t, const pc_key *ipek,
                            const uint8_t ksn[10])
{
    int rc = PC_OK;
    if (!t || !ipek || ipek->alg != PC_ALG_TDES || ipek->len != 16 || !ksn)
        return PC_ERR_KEY_LEN;
    memset(t, 0, sizeof *t);
    memcpy(t->ksn, ksn, 10);
    ksn_set_counter(t->ksn, 0);
    for (int i = 0; i < PC_DUKPT_TDES_REGS && rc == PC_OK; i++) {
        rc = tdes_child(ipek->b, t->ksn, 1u << i, t->fk[i]);
        t->valid |= 1u << i;
    }
    ksn_set_counter(t->ksn, 1);
    if (rc)
        pc_wipe(t, sizeof *t);
    return rc;
}

int pc_dukpt_tdes_term_next(pc_dukpt_tdes_term *t, uint8_t ksn[10], pc_key *key)
{
    uint32_t c = ksn_counter(t->ksn);
    if (c == 0 || c >= 1u << 21)
        return PC_ERR_EXHAUSTED;
    int p = 0;
    while (!(c & (1u << p)))
        p++;
    if (!(t->valid & (1u << p)))
        return PC_ERR_EXHAUSTED;
    int rc = pc_key_set(key, PC_ALG_TDES, t->fk[p], 16);
    memcpy(ksn, t->ksn, 10);
    /* Children exist only while the counter stays within 10 one bits. */
    if (rc == PC_OK && popcount32(c) < 10)
        for (int j = p - 1; j >= 0 && rc == PC_OK; j--) {
            rc = tdes_child(t->fk[p], t->ksn, c | (1u << j), t->fk[j]);
            t->valid |= 1u << j;
        }
    pc_wipe(t->fk[p], 16);
    t->valid &= ~(1u << p);
    c = popcount32(c) < 10 ? c + 1 : c + (1u << p);
    ksn_set_counter(t->ksn, c >= 1u << 21 ? 0 : c);
    return rc;
}

/* ---------------- AES ---------------- */

static int aes_algo_code(enum pc_alg alg, size_t len, uint16_t *code, uint16_t *bits)
{
    if (alg == PC_ALG_TDES && len == 16) { *code = 0; *bits = 128; }
    else if (alg == PC_ALG_TDES && len == 24) { *code = 1; *bits = 192; }
    else if (alg == PC_ALG_AES && len == 16) { *code = 2; *bits = 128; }
    else if (alg == PC_ALG_AES && len == 24) { *code = 3; *bits = 192; }
    else if (alg == PC_ALG_AES && len == 32) { *code = 4; *bits = 256; }
    else return PC_ERR_KEY_LEN;
    return PC_OK;
}

/* X9.24-3 derivation: AES-ECB of 16-byte derivation data (version 01, key
 * block counter, usage, algorithm, length in bits, 8 bytes of KSN data),
 * one block per 128 bits of output with the counter 1, 2. */
static int aes_derive(const pc_key *k, uint16_t usage, enum pc_alg alg,
                      size_t len, const uint8_t data8[8], pc_key *out)
{
    uint16_t code, bits;
    uint8_t dd[16], buf[32];
    int rc;
    if (k->alg != PC_ALG_AES)
        return PC_ERR_KEY_LEN;
    if ((rc = aes_algo_code(alg, len, &code, &bits)) != PC_OK)
        return rc;
    dd[0] = 0x01;
    dd[2] = (uint8_t)(usage >> 8); dd[3] = (uint8_t)usage;
    dd[4] = (uint8_t)(code >> 8); dd[5] = (uint8_t)code;
    dd[6] = (uint8_t)(bits >> 8); dd[7] = (uint8_t)bits;
    memcpy(dd + 8, data8, 8);
    for (size_t blk = 0; blk * 16 < len && rc == PC_OK; blk++) {
        dd[1] = (uint8_t)(blk + 1);
        rc = pc_ecb(k, true, dd, buf + 16 * blk, 16);
    }
    if (rc == PC_OK)
        rc = pc_key_set(out, alg, buf, len);
    pc_wipe(buf, sizeof buf);
    return rc;
}

static uint32_t aes_counter(const uint8_t ksn[12])
{
    return (uint32_t)ksn[8] << 24 | (uint32_t)ksn[9] << 16 |
           (uint32_t)ksn[10] << 8 | ksn[11];
}

static void aes_data(const uint8_t ksn[12], uint32_t c, uint8_t d[8])
{
    memcpy(d, ksn + 4, 4);
    d[4] = (uint8_t)(c >> 24); d[5] = (uint8_t)(c >> 16);
    d[6] = (uint8_t)(c >> 8); d[7] = (uint8_t)c;
}

int pc_dukpt_aes_initial_key(const pc_key *bdk, const uint8_t ikid[8], pc_key *ik)
{
    if (!bdk || !ikid || !ik)
        return PC_ERR_ARG;
    return aes_derive(bdk, 0x8001, PC_ALG_AES, bdk->len, ikid, ik);
}

int pc_dukpt_aes_txn_key(const pc_key *bdk, const uint8_t ksn[12], pc_key *key)
{
    pc_key cur;
    uint8_t d[8];
    if (!bdk || !ksn || !key)
        return PC_ERR_ARG;
    uint32_t c = aes_counter(ksn), wc = 0;
    if (c == 0 || popcount32(c) > 16)
        return PC_ERR_ARG;
    int rc = pc_dukpt_aes_initial_key(bdk, ksn, &cur);
    for (uint32_t bit = 0x80000000u; bit && rc == PC_OK; bit >>= 1) {
        if (!(c & bit))
            continue;
        wc |= bit;
        aes_data(ksn, wc, d);
        rc = aes_derive(&cur, 0x8000, PC_ALG_AES, cur.len, d, &cur);
    }
    if (rc == PC_OK)
        *key = cur;
    pc_wipe(&cur, sizeof cur);
    return rc;
}

int pc_dukpt_aes_working_key(const pc_key *txn, const uint8_t ksn[12],
                             enum pc_dukpt_aes_usage usage,
                             enum pc_alg out_alg, size_t out_len, pc_key *out)
{
    uint8_t d[8];
    if (!txn || !ksn || !out)
        return PC_ERR_ARG;
    aes_data(ksn, aes_counter(ksn), d);
    return aes_derive(txn, (uint16_t)usage, out_alg, out_len, d, out);
}

int pc_dukpt_aes_term_load(pc_dukpt_aes_term *t, const pc_key *ik,
                           const uint8_t ikid[8])
{
    pc_key k;
    uint8_t d[8];
    int rc = PC_OK;
    if (!t || !ik || ik->alg != PC_ALG_AES || !ikid)
        return PC_ERR_KEY_LEN;
    memset(t, 0, sizeof *t);
    memcpy(t->ksn, ikid, 8);
    t->alg_len = ik->len;
    for (int i = 0; i < PC_DUKPT_AES_REGS && rc == PC_OK; i++) {
        aes_data(t->ksn, 1u << i, d);
        if ((rc = aes_derive(ik, 0x8000, PC_ALG_AES, ik->len, d, &k)) == PC_OK)
            memcpy(t->fk[i], k.b, k.len);
        t->valid |= 1u << i;
    }
    t->ksn[11] = 1;
    pc_wipe(&k, sizeof k);
    if (rc)
        pc_wipe(t, sizeof *t);
    return rc;
}

int pc_dukpt_aes_term_next(pc_dukpt_aes_term *t, uint8_t ksn[12], pc_key *txn)
{
    uint32_t c = aes_counter(t->ksn);
    uint8_t d[8];
    pc_key parent, child;
    if (c == 0)
        return PC_ERR_EXHAUSTED;
    int p = 0;
    while (!(c & (1u << p)))
        p++;
    if (!(t->valid & (1u << p)))
        return PC_ERR_EXHAUSTED;
    int rc = pc_key_set(&parent, PC_ALG_AES, t->fk[p], t->alg_len);
    if (rc == PC_OK)
        *txn = parent;
    memcpy(ksn, t->ksn, 12);
    if (rc == PC_OK && popcount32(c) < 16)
        for (int j = p - 1; j >= 0 && rc == PC_OK; j--) {
            aes_data(t->ksn, c | (1u << j), d);
            if ((rc = aes_derive(&parent, 0x8000, PC_ALG_AES, parent.len, d,
                                 &child)) == PC_OK)
                memcpy(t->fk[j], child.b, child.len);
            t->valid |= 1u << j;
        }
    pc_wipe(t->fk[p], sizeof t->fk[p]);
    t->valid &= ~(1u << p);
    uint64_t next = popcount32(c) < 16 ? (uint64_t)c + 1 : (uint64_t)c + (1u << p);
    c = next > 0xFFFFFFFFu ? 0 : (uint32_t)next;
    t->ksn[8] = (uint8_t)(c >> 24); t->ksn[9] = (uint8_t)(c >> 16);
    t->ksn[10] = (uint8_t)(c >> 8); t->ksn[11] = (uint8_t)c;
    pc_wipe(&parent, sizeof parent);
    pc_wipe(&child, sizeof child);
    return rc;
}
