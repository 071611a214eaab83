#include "pc_cipher.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Implicit fetches (EVP_des_ede3_ecb()) go through the provider store on
 * every init in OpenSSL 3, which costs more than the cipher itself for one
 * block; fetch each algorithm once. */
enum { C_TDES_ECB, C_TDES_CBC, C_AES128_ECB, C_AES192_ECB, C_AES256_ECB,
       C_AES128_CBC, C_AES192_CBC, C_AES256_CBC, C_N };
static const char *const cipher_names[C_N] = {
    "DES-EDE3-ECB", "DES-EDE3-CBC", "AES-128-ECB", "AES-192-ECB",
    "AES-256-ECB", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC",
};
static EVP_CIPHER *ciphers[C_N];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    for (int i = 0; i < C_N; i++)
        ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
}

const char *pc_strerror(int err)
{
    switch (err) {
    case PC_OK: return "success";
    case PC_ERR_ARG: return "invalid argument";
    case PC_ERR_CRYPTO: return "cryptographic library failure";
    case PC_ERR_PARITY: return "key parity error";
    case PC_ERR_PIN_LEN: return "PIN length not 4..12";
    case PC_ERR_PIN_BLOCK: return "PIN block does not contain valid values";
    case PC_ERR_FORMAT: return "PIN block format not supported";
    case PC_ERR_PAN: return "invalid PAN";
    case PC_ERR_KEY_LEN: return "invalid key length";
    case PC_ERR_UNWRAP: return "key cryptogram integrity check failed";
    case PC_ERR_EXHAUSTED: return "DUKPT counter exhausted";
    case PC_ERR_HEX: return "invalid hexadecimal";
    case PC_ERR_MISMATCH: return "verification failed";
    default: return "unknown error";
    }
}

int pc_key_set(pc_key *k, enum pc_alg alg, const uint8_t *bytes, size_t len)
{
    bool ok = alg == PC_ALG_TDES ? (len == 8 || len == 16 || len == 24)
            : alg == PC_ALG_AES ? (len == 16 || len == 24 || len == 32)
            : false;
    if (!ok || !bytes)
        return PC_ERR_KEY_LEN;
    memset(k, 0, sizeof *k);
    k->alg = (uint8_t)alg;
    k->len = (uint8_t)len;
    memcpy(k->b, bytes, len);
    return PC_OK;
}

size_t pc_block_size(const pc_key *k)
{
    return k->alg == PC_ALG_AES ? 16 : 8;
}

/* Single and double length DES keys run as DES-EDE3 with repeated parts:
 * K|K|K is single DES, K1|K2|K1 is two-key TDES. */
static int pick(const pc_key *k, bool cbc, uint8_t key24[24], EVP_CIPHER **c)
{
    pthread_once(&fetch_once, fetch_all);
    if (k->alg == PC_ALG_TDES) {
        if (k->len == 8) {
            memcpy(key24, k->b, 8); memcpy(key24 + 8, k->b, 8);
            memcpy(key24 + 16, k->b, 8);
        } else if (k->len == 16) {
            memcpy(key24, k->b, 16); memcpy(key24 + 16, k->b, 8);
        } else if (k->len == 24) {
            memcpy(key24, k->b, 24);
        } else {
            return PC_ERR_KEY_LEN;
        }
        *c = ciphers[cbc ? C_TDES_CBC : C_TDES_ECB];
    } else if (k->alg == PC_ALG_AES) {
        int i = k->len == 16 ? 0 : k->len == 24 ? 1 : k->len == 32 ? 2 : -1;
        if (i < 0)
            return PC_ERR_KEY_LEN;
        *c = ciphers[(cbc ? C_AES128_CBC : C_AES128_ECB) + i];
    } else {
        return PC_ERR_KEY_LEN;
    }
    return *c ? PC_OK : PC_ERR_CRYPTO;
}

static int run(const pc_key *k, bool cbc, bool encrypt, const uint8_t *iv,
               const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t key24[24];
    EVP_CIPHER *c = NULL;
    size_t bs = pc_block_size(k);
    if (len % bs != 0 || len > (size_t)1 << 30 || (!in && len))
        return PC_ERR_ARG;
    int rc = pick(k, cbc, key24, &c);
    if (rc)
        return rc;
    const uint8_t *key = k->alg == PC_ALG_TDES ? key24 : k->b;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0;
    rc = PC_ERR_CRYPTO;
    if (ctx && EVP_CipherInit_ex2(ctx, c, key, iv, encrypt ? 1 : 0, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1 &&
        EVP_CipherFinal_ex(ctx, out + outl, &fin) == 1 &&
        (size_t)(outl + fin) == len)
        rc = PC_OK;
    EVP_CIPHER_CTX_free(ctx);
    pc_wipe(key24, sizeof key24);
    return rc;
}

int pc_ecb(const pc_key *k, bool encrypt, const uint8_t *in, uint8_t *out,
           size_t len)
{
    if (!k || !out)
        return PC_ERR_ARG;
    return run(k, false, encrypt, NULL, in, out, len);
}

int pc_cbc(const pc_key *k, bool encrypt, const uint8_t *iv,
           const uint8_t *in, uint8_t *out, size_t len)
{
    if (!k || !out || !iv)
        return PC_ERR_ARG;
    return run(k, true, encrypt, iv, in, out, len);
}

static int odd_parity(uint8_t b)
{
    b ^= (uint8_t)(b >> 4);
    b ^= (uint8_t)(b >> 2);
    b ^= (uint8_t)(b >> 1);
    return b & 1;
}

bool pc_des_parity_ok(const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!odd_parity(key[i]))
            return false;
    return true;
}

void pc_des_set_parity(uint8_t *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!odd_parity(key[i]))
            key[i] ^= 1;
}

/* FIPS 74 (1981) section 3.6: the 4 weak and 12 semi-weak DES keys, with
 * odd parity; compared with the parity bits masked off. */
static const uint8_t des_weak[16][8] = {
    {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01}, {0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE},
    {0xE0, 0xE0, 0xE0, 0xE0, 0xF1, 0xF1, 0xF1, 0xF1}, {0x1F, 0x1F, 0x1F, 0x1F, 0x0E, 0x0E, 0x0E, 0x0E},
    {0x01, 0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E}, {0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E, 0x01},
    {0x01, 0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1}, {0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1, 0x01},
    {0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE}, {0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01},
    {0x1F, 0xE0, 0x1F, 0xE0, 0x0E, 0xF1, 0x0E, 0xF1}, {0xE0, 0x1F, 0xE0, 0x1F, 0xF1, 0x0E, 0xF1, 0x0E},
    {0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E, 0xFE}, {0xFE, 0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E},
    {0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1, 0xFE}, {0xFE, 0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1},
};

static bool des_part_equal(const uint8_t *a, const uint8_t *b)
{
    for (size_t i = 0; i < 8; i++)
        if ((a[i] ^ b[i]) & 0xFE)
            return false;
    return true;
}

bool pc_tdes_key_weak(const uint8_t *key, size_t len)
{
    if (!key || (len != 8 && len != 16 && len != 24))
        return true;
    for (size_t off = 0; off < len; off += 8) {
        for (size_t w = 0; w < sizeof des_weak / sizeof des_weak[0]; w++)
            if (des_part_equal(key + off, des_weak[w]))
                return true;
        /* E(K1) D(K2) E(K3): K1 = K2 or K2 = K3 cancels two of the three
         * steps, leaving single DES. */
        if (off > 0 && des_part_equal(key + off - 8, key + off))
            return true;
    }
    return false;
}

int pc_kcv(const pc_key *k, uint8_t kcv[3])
{
    uint8_t zero[16] = {0}, out[16];
    int rc = pc_ecb(k, true, zero, out, pc_block_size(k));
    if (rc == PC_OK)
        memcpy(kcv, out, 3);
    return rc;
}

int pc_random(uint8_t *out, size_t len)
{
    if (len > (size_t)1 << 20)
        return PC_ERR_ARG;
    return RAND_bytes(out, (int)len) == 1 ? PC_OK : PC_ERR_CRYPTO;
}

int pc_key_generate(pc_key *k, enum pc_alg alg, size_t len)
{
    uint8_t raw[32];
    if (len > sizeof raw)
        return PC_ERR_KEY_LEN;
    int rc = pc_random(raw, len);
    if (rc == PC_OK && alg == PC_ALG_TDES)
        pc_des_set_parity(raw, len);
    if (rc == PC_OK)
        rc = pc_key_set(k, alg, raw, len);
    pc_wipe(raw, sizeof raw);
    return rc;
}

void pc_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int pc_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap)
{
    if (!hex || hexlen % 2 != 0 || hexlen / 2 > outcap || hexlen / 2 > INT32_MAX)
        return PC_ERR_HEX;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PC_ERR_HEX;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(hexlen / 2);
}

void pc_wipe(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}

bool pc_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
