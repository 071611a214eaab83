#include "pc_mac.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int pc_mac_retail(const pc_key *k, enum pc_mac_pad pad, const uint8_t *data,
                  size_t len, uint8_t mac[8])
{
    pc_key k1;
    uint8_t h[8] = {0}, blk[8];
    int rc;
    if (!k || k->alg != PC_ALG_TDES || k->len != 16)
        return PC_ERR_KEY_LEN;
    if ((!data && len) || !mac || (pad != PC_MAC_PAD1 && pad != PC_MAC_PAD2))
        return PC_ERR_ARG;
    if ((rc = pc_key_set(&k1, PC_ALG_TDES, k->b, 8)) != PC_OK)
        return rc;
    size_t total = pad == PC_MAC_PAD2 ? len / 8 * 8 + 8
                 : len == 0 ? 8 : (len + 7) / 8 * 8;
    /* CBC with the single-DES key K over every padded block. */
    for (size_t off = 0; off < total && rc == PC_OK; off += 8) {
        memset(blk, 0, 8);
        size_t take = len > off ? (len - off < 8 ? len - off : 8) : 0;
        if (take)
            memcpy(blk, data + off, take);
        if (pad == PC_MAC_PAD2 && take < 8 && off + take == len)
            blk[take] = 0x80;
        for (size_t i = 0; i < 8; i++)
            h[i] ^= blk[i];
        rc = pc_ecb(&k1, true, h, h, 8);
    }
    /* Output transformation 3: E_K(D_K'(H)) = the two-key TDES E-D-E step
     * with the first E already done, i.e. D with K' then E with K. */
    if (rc == PC_OK) {
        pc_key k2;
        if ((rc = pc_key_set(&k2, PC_ALG_TDES, k->b + 8, 8)) == PC_OK)
            rc = pc_ecb(&k2, false, h, h, 8);
        if (rc == PC_OK)
            rc = pc_ecb(&k1, true, h, h, 8);
        pc_wipe(&k2, sizeof k2);
    }
    if (rc == PC_OK)
        memcpy(mac, h, 8);
    pc_wipe(&k1, sizeof k1);
    return rc;
}

int pc_mac_cmac(const pc_key *k, const uint8_t *data, size_t len,
                uint8_t mac[16], size_t *maclen)
{
    const char *cipher;
    uint8_t key24[24];
    const uint8_t *key = k ? k->b : NULL;
    size_t klen = k ? k->len : 0;
    if (!k || (!data && len) || !mac || !maclen)
        return PC_ERR_ARG;
    if (k->alg == PC_ALG_AES) {
        cipher = k->len == 16 ? "AES-128-CBC" : k->len == 24 ? "AES-192-CBC"
                                                           : "AES-256-CBC";
    } else if (k->alg == PC_ALG_TDES && (k->len == 16 || k->len == 24)) {
        cipher = "DES-EDE3-CBC";
        memcpy(key24, k->b, k->len);
        if (k->len == 16)
            memcpy(key24 + 16, k->b, 8);
        key = key24;
        klen = 24;
    } else {
        return PC_ERR_KEY_LEN;
    }
    int rc = PC_ERR_CRYPTO;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)(uintptr_t)cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t out = 0;
    if (ctx && EVP_MAC_init(ctx, key, klen, params) == 1 &&
        EVP_MAC_update(ctx, data, len) == 1 &&
        EVP_MAC_final(ctx, mac, &out, 16) == 1) {
        *maclen = out;
        rc = PC_OK;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    pc_wipe(key24, sizeof key24);
    return rc;
}
