/*
 * hsmcmd internals shared by the processor (hsmcmd.c), the field readers and
 * writers (hsmcmd_fields.c) and the command handlers (hsmcmd_ops.c). Field
 * helpers return 0 or an HSM_E_* code; handlers read their fields in the
 * order docs/hsm.md lists them and write the answer's fields.
 */
#ifndef HSMCMD_INT_H
#define HSMCMD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmproto.h"
#include "paycrypto.h"

/* A bounds-checked cursor over the command's fields. */
struct cur {
    const uint8_t *p;
    size_t n;
};

/* A sticky-error writer: every put is a no-op after the first failure. */
struct wr {
    uint8_t *p;
    size_t cap, len;
    bool err;
};

struct ctx {
    pc_lmk *lmk;
    bool authorised; /* key ceremony commands accepted (hsm-sim --authorised) */
};

#define WIPE(v) pc_wipe(&(v), sizeof(v))

const char *hc_take(struct cur *c, size_t n);
void hc_put(struct wr *w, const void *s, size_t n);
void hc_puts(struct wr *w, const char *s);
int hc_map_pc(int rc, int key_err);
int hc_get_digits(struct cur *c, size_t n, char *out);
int hc_get_num(struct cur *c, size_t n, int *v);
int hc_get_hex(struct cur *c, size_t n, char *out);
int hc_get_pan(struct cur *c, char pan[20]);
int hc_get_fmt(struct cur *c, enum pc_pin_format *f);
const char *hc_fmt_code(enum pc_pin_format f);
int hc_get_pinblock(struct cur *c, const pc_key *k, uint8_t b[16], size_t *n);
void hc_put_hex(struct wr *w, const uint8_t *b, size_t n);
void hc_put_kcv(struct wr *w, const pc_key *k);
int hc_put_lmk_key(struct ctx *x, struct wr *w, const char *type, const pc_key *k);
int hc_get_type(struct cur *c, char t[4]);
int hc_scheme_key(char s, enum pc_alg *alg, size_t *len);
int hc_get_kek(struct ctx *x, struct cur *c, int key_err, pc_key *kek);
int hc_get_key(struct ctx *x, struct cur *c, const char *type, int key_err, pc_key *k);
int hc_pin_decrypt(const pc_key *k, enum pc_pin_format f, const uint8_t *b, size_t n, const char *pan, char pin[13]);

/* Command handlers: return the error code of the answer. */
int hc_a0(struct ctx *x, struct cur *c, struct wr *w);
int hc_a6(struct ctx *x, struct cur *c, struct wr *w);
int hc_a8(struct ctx *x, struct cur *c, struct wr *w);
int hc_b2(struct ctx *x, struct cur *c, struct wr *w);
int hc_ba(struct ctx *x, struct cur *c, struct wr *w);
int hc_bu(struct ctx *x, struct cur *c, struct wr *w);
int hc_ca(struct ctx *x, struct cur *c, struct wr *w);
int hc_cc(struct ctx *x, struct cur *c, struct wr *w);
int hc_cu(struct ctx *x, struct cur *c, struct wr *w);
int hc_cw(struct ctx *x, struct cur *c, struct wr *w);
int hc_cy(struct ctx *x, struct cur *c, struct wr *w);
int hc_da(struct ctx *x, struct cur *c, struct wr *w);
int hc_dc(struct ctx *x, struct cur *c, struct wr *w);
int hc_de(struct ctx *x, struct cur *c, struct wr *w);
int hc_dg(struct ctx *x, struct cur *c, struct wr *w);
int hc_du(struct ctx *x, struct cur *c, struct wr *w);
int hc_ea(struct ctx *x, struct cur *c, struct wr *w);
int hc_ec(struct ctx *x, struct cur *c, struct wr *w);
int hc_fk(struct ctx *x, struct cur *c, struct wr *w);
int hc_g0(struct ctx *x, struct cur *c, struct wr *w);
int hc_go(struct ctx *x, struct cur *c, struct wr *w);
int hc_gq(struct ctx *x, struct cur *c, struct wr *w);
int hc_gw(struct ctx *x, struct cur *c, struct wr *w);
int hc_hc(struct ctx *x, struct cur *c, struct wr *w);
int hc_jc(struct ctx *x, struct cur *c, struct wr *w);
int hc_je(struct ctx *x, struct cur *c, struct wr *w);
int hc_m6(struct ctx *x, struct cur *c, struct wr *w);
int hc_m8(struct ctx *x, struct cur *c, struct wr *w);
int hc_nc(struct ctx *x, struct cur *c, struct wr *w);

#endif
