/* hsmcmd: commands of the authorised state (key ceremony). payShield takes
 * clear key components only at its console or from a host while it is
 * authorised by its key custodians; hsm-sim's equivalent of that state is
 * the --authorised start option (docs/hsm.md, FK). */
#include "hsmcmd_int.h"

#include <string.h>

/* Keys a bank enters as clear components: master keys (ZMK from another
 * network, TMK for a terminal), the card keys a scheme or a personalisation
 * bureau hands over (PVK, CVK) and the DUKPT BDK. Working keys (TPK, TAK,
 * ZPK, ZAK) travel under a master key instead and are refused. */
static bool formable(const char *t)
{
    static const char *const types[] = {HSM_KT_ZMK, HSM_KT_TMK, HSM_KT_PVK,
                                        HSM_KT_BDK, HSM_KT_CVK};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i], t) == 0)
            return true;
    return false;
}

/* FK: key = component 1 XOR ... XOR component n (n = 1..3). TDES: odd
 * parity set on the result (DES ignores the parity bits, so this does not
 * change the key a terminal computes from the same components); refused
 * (27) when it is a weak key or collapses to single DES. AES (schemes P, Q,
 * R, e.g. an AES DUKPT BDK): refused (27) when the result is all zeros.
 * Nothing of the components is logged or kept. */
int hc_fk(struct ctx *x, struct cur *c, struct wr *w)
{
    char t[4], h[65];
    uint8_t part[32], key[32] = {0};
    enum pc_alg alg;
    size_t len;
    int n = 0;
    pc_key k;
    if (!x->authorised)
        return HSM_E_NOT_AUTHORISED;
    int rc = hc_get_type(c, t);
    if (rc)
        return rc;
    if (!formable(t))
        return HSM_E_INPUT;
    const char *s = hc_take(c, 1);
    if (!s || hc_scheme_key(*s, &alg, &len) != HSM_E_OK)
        return HSM_E_INPUT;
    if ((rc = hc_get_num(c, 1, &n)) != HSM_E_OK || n < 1 || n > 3)
        return HSM_E_INPUT;
    for (int i = 0; i < n && rc == HSM_E_OK; i++) {
        rc = hc_get_hex(c, 2 * len, h);
        if (rc == HSM_E_OK && pc_hex_decode(h, 2 * len, part, sizeof part) != (int)len)
            rc = HSM_E_INPUT;
        for (size_t j = 0; rc == HSM_E_OK && j < len; j++)
            key[j] ^= part[j];
    }
    if (rc == HSM_E_OK && alg == PC_ALG_TDES) {
        pc_des_set_parity(key, len);
        if (pc_tdes_key_weak(key, len))
            rc = HSM_E_KEY_TYPE;
    } else if (rc == HSM_E_OK) {
        uint8_t any = 0;
        for (size_t j = 0; j < len; j++)
            any |= key[j];
        if (!any)
            rc = HSM_E_KEY_TYPE;
    }
    if (rc == HSM_E_OK)
        rc = hc_map_pc(pc_key_set(&k, alg, key, len), HSM_E_INTERNAL);
    if (rc == HSM_E_OK)
        rc = hc_put_lmk_key(x, w, t, &k);
    if (rc == HSM_E_OK)
        hc_put_kcv(w, &k);
    WIPE(h);
    WIPE(part);
    WIPE(key);
    WIPE(k);
    return rc;
}
