#include "pc_lmk.h"

#include "pc_pin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define KEK_CACHE 64

struct kek_entry {
    char tag[4]; /* type[3] + scheme */
    uint8_t kek[32];
};

struct pc_lmk {
    uint8_t master[PC_LMK_LEN];
    size_t n;
    struct kek_entry cache[KEK_CACHE];
};

static EVP_CIPHER *wrap_cipher[3]; /* AES-128/192/256-WRAP */
static pthread_once_t wrap_once = PTHREAD_ONCE_INIT;

static void fetch_wrap(void)
{
    wrap_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-128-WRAP", NULL);
    wrap_cipher[1] = EVP_CIPHER_fetch(NULL, "AES-192-WRAP", NULL);
    wrap_cipher[2] = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
}

pc_lmk *pc_lmk_new(const uint8_t master[PC_LMK_LEN])
{
    pc_lmk *l = calloc(1, sizeof *l);
    if (l)
        memcpy(l->master, master, PC_LMK_LEN);
    return l;
}

void pc_lmk_free(pc_lmk *lmk)
{
    if (!lmk)
        return;
    pc_wipe(lmk, sizeof *lmk);
    free(lmk);
}

int pc_lmk_kcv(const pc_lmk *lmk, uint8_t kcv[3])
{
    pc_key k;
    int rc = pc_key_set(&k, PC_ALG_AES, lmk->master, PC_LMK_LEN);
    if (rc == PC_OK)
        rc = pc_kcv(&k, kcv);
    pc_wipe(&k, sizeof k);
    return rc;
}

static int scheme_of(char s, enum pc_alg *alg, size_t *len)
{
    switch (s) {
    case 'U': *alg = PC_ALG_TDES; *len = 16; return PC_OK;
    case 'T': *alg = PC_ALG_TDES; *len = 24; return PC_OK;
    case 'P': *alg = PC_ALG_AES; *len = 16; return PC_OK;
    case 'Q': *alg = PC_ALG_AES; *len = 24; return PC_OK;
    case 'R': *alg = PC_ALG_AES; *len = 32; return PC_OK;
    default: return PC_ERR_KEY_LEN;
    }
}

static char scheme_for(const pc_key *k)
{
    if (k->alg == PC_ALG_TDES)
        return k->len == 16 ? 'U' : k->len == 24 ? 'T' : 0;
    if (k->alg == PC_ALG_AES)
        return k->len == 16 ? 'P' : k->len == 24 ? 'Q' : k->len == 32 ? 'R' : 0;
    return 0;
}

size_t pc_lmk_field_len(char scheme)
{
    enum pc_alg alg;
    size_t len;
    if (scheme_of(scheme, &alg, &len) != PC_OK)
        return 0;
    return 1 + 2 * (len + 8);
}

static const uint8_t *kek_for(pc_lmk *l, const char type[3], char scheme)
{
    char tag[4] = {type[0], type[1], type[2], scheme};
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->cache[i].tag, tag, 4) == 0)
            return l->cache[i].kek;
    /* Cache full: recycle the last slot (there are far fewer key types). */
    size_t slot = l->n < KEK_CACHE ? l->n++ : KEK_CACHE - 1;
    struct kek_entry *e = &l->cache[slot];
    uint8_t msg[18];
    memcpy(msg, "hsm-sim LMK v1", 14);
    memcpy(msg + 14, tag, 4);
    unsigned int outl = 0;
    if (!HMAC(EVP_sha256(), l->master, PC_LMK_LEN, msg, sizeof msg, e->kek, &outl) ||
        outl != 32) {
        l->n = slot; /* do not keep a half-made entry */
        return NULL;
    }
    memcpy(e->tag, tag, 4);
    return e->kek;
}

/* RFC 3394 wrap/unwrap of in (multiple of 8 bytes) under an AES key. */
static int aes_wrap(const uint8_t *kek, size_t keklen, bool wrap,
                    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    pthread_once(&wrap_once, fetch_wrap);
    int idx = keklen == 16 ? 0 : keklen == 24 ? 1 : keklen == 32 ? 2 : -1;
    if (idx < 0 || !wrap_cipher[idx])
        return PC_ERR_CRYPTO;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0, rc = wrap ? PC_ERR_CRYPTO : PC_ERR_UNWRAP;
    if (ctx && EVP_CipherInit_ex2(ctx, wrap_cipher[idx], kek, NULL, wrap ? 1 : 0, NULL) == 1 &&
        EVP_CipherUpdate(ctx, out, &l1, in, (int)inlen) == 1 &&
        EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1) {
        *outlen = (size_t)(l1 + l2);
        rc = PC_OK;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int pc_lmk_wrap(pc_lmk *lmk, const char type[3], const pc_key *k,
                char out[PC_LMK_KEY_MAX + 1])
{
    uint8_t buf[40];
    size_t n = 0;
    if (!lmk || !type || !k || !out)
        return PC_ERR_ARG;
    char s = scheme_for(k);
    if (!s)
        return PC_ERR_KEY_LEN;
    const uint8_t *kek = kek_for(lmk, type, s);
    if (!kek)
        return PC_ERR_CRYPTO;
    int rc = aes_wrap(kek, 32, true, k->b, k->len, buf, &n);
    if (rc)
        return rc;
    out[0] = s;
    pc_hex_encode(buf, n, out + 1);
    return PC_OK;
}

int pc_lmk_unwrap(pc_lmk *lmk, const char type[3], const char *in, size_t len,
                  pc_key *k)
{
    uint8_t ct[40], pt[40];
    enum pc_alg alg;
    size_t klen, n = 0;
    if (!lmk || !type || !in || !k || len == 0)
        return PC_ERR_ARG;
    if (scheme_of(in[0], &alg, &klen) != PC_OK || len != pc_lmk_field_len(in[0]))
        return PC_ERR_KEY_LEN;
    int got = pc_hex_decode(in + 1, len - 1, ct, sizeof ct);
    if (got < 0)
        return got;
    const uint8_t *kek = kek_for(lmk, type, in[0]);
    if (!kek)
        return PC_ERR_CRYPTO;
    int rc = aes_wrap(kek, 32, false, ct, (size_t)got, pt, &n);
    if (rc == PC_OK && n != klen)
        rc = PC_ERR_UNWRAP;
    if (rc == PC_OK && alg == PC_ALG_TDES && !pc_des_parity_ok(pt, klen))
        rc = PC_ERR_PARITY;
    if (rc == PC_OK)
        rc = pc_key_set(k, alg, pt, klen);
    pc_wipe(pt, sizeof pt);
    return rc;
}

int pc_kek_wrap(const pc_key *kek, const pc_key *k, char *out, size_t cap)
{
    uint8_t buf[40];
    size_t n = 0;
    int rc;
    if (!kek || !k || !out)
        return PC_ERR_ARG;
    if (kek->alg == PC_ALG_TDES && k->alg == PC_ALG_TDES) {
        n = k->len;
        rc = pc_ecb(kek, true, k->b, buf, n);
    } else if (kek->alg == PC_ALG_AES) {
        rc = aes_wrap(kek->b, kek->len, true, k->b, k->len, buf, &n);
    } else {
        return PC_ERR_KEY_LEN;
    }
    if (rc == PC_OK && cap < 2 * n + 1)
        rc = PC_ERR_ARG;
    if (rc == PC_OK)
        pc_hex_encode(buf, n, out);
    return rc;
}

int pc_kek_unwrap(const pc_key *kek, enum pc_alg alg, const char *hex,
                  size_t len, pc_key *k)
{
    uint8_t ct[40], pt[40];
    size_t n = 0;
    int rc;
    if (!kek || !hex || !k)
        return PC_ERR_ARG;
    int got = pc_hex_decode(hex, len, ct, sizeof ct);
    if (got < 0)
        return got;
    if (kek->alg == PC_ALG_TDES && alg == PC_ALG_TDES) {
        if (got != 16 && got != 24)
            return PC_ERR_KEY_LEN;
        n = (size_t)got;
        rc = pc_ecb(kek, false, ct, pt, n);
    } else if (kek->alg == PC_ALG_AES) {
        rc = aes_wrap(kek->b, kek->len, false, ct, (size_t)got, pt, &n);
    } else {
        return PC_ERR_KEY_LEN;
    }
    if (rc == PC_OK && alg == PC_ALG_TDES && !pc_des_parity_ok(pt, n))
        rc = PC_ERR_PARITY;
    if (rc == PC_OK)
        rc = pc_key_set(k, alg, pt, n);
    pc_wipe(pt, sizeof pt);
    return rc;
}

static int pin_key(pc_lmk *lmk, pc_key *k)
{
    const uint8_t *kek = kek_for(lmk, "PIN", 'R');
    if (!kek)
        return PC_ERR_CRYPTO;
    return pc_key_set(k, PC_ALG_AES, kek, 32);
}

int pc_lmk_pin_encrypt(pc_lmk *lmk, const char *pin, const char *pan,
                       char out[33])
{
    uint8_t blk[16];
    pc_key k;
    int rc = pc_pin_clear_encode(PC_PIN_ISO0, pin, pan, NULL, blk);
    if (rc == PC_OK)
        rc = pc_random(blk + 8, 8);
    if (rc == PC_OK)
        rc = pin_key(lmk, &k);
    if (rc == PC_OK)
        rc = pc_ecb(&k, true, blk, blk, 16);
    if (rc == PC_OK)
        pc_hex_encode(blk, 16, out);
    pc_wipe(blk, sizeof blk);
    pc_wipe(&k, sizeof k);
    return rc;
}

int pc_lmk_pin_decrypt(pc_lmk *lmk, const char *hex32, const char *pan,
                       char pin[13])
{
    uint8_t blk[16];
    pc_key k;
    if (!hex32 || pc_hex_decode(hex32, 32, blk, sizeof blk) != 16)
        return PC_ERR_HEX;
    int rc = pin_key(lmk, &k);
    if (rc == PC_OK)
        rc = pc_ecb(&k, false, blk, blk, 16);
    if (rc == PC_OK)
        rc = pc_pin_clear_decode(PC_PIN_ISO0, blk, pan, pin);
    pc_wipe(blk, sizeof blk);
    pc_wipe(&k, sizeof k);
    return rc;
}
