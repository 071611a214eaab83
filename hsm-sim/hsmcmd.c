#include "hsmcmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmcmd_int.h"
#include "paycrypto.h"

/* ---- engine ---- */

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

static const struct command commands[] = {
    {"A0", hc_a0}, {"A6", hc_a6}, {"A8", hc_a8}, {"B2", hc_b2}, {"BA", hc_ba},
    {"BU", hc_bu}, {"CA", hc_ca}, {"CC", hc_cc}, {"CU", hc_cu}, {"CW", hc_cw},
    {"CY", hc_cy}, {"DA", hc_da}, {"DC", hc_dc}, {"DE", hc_de}, {"DG", hc_dg},
    {"DU", hc_du}, {"EA", hc_ea}, {"EC", hc_ec}, {"FK", hc_fk}, {"G0", hc_g0},
    {"GO", hc_go}, {"GQ", hc_gq}, {"GW", hc_gw}, {"HC", hc_hc}, {"JC", hc_jc},
    {"JE", hc_je}, {"M6", hc_m6}, {"M8", hc_m8}, {"NC", hc_nc},
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

void hsmcmd_set_authorised(hsmcmd_engine *e, bool on)
{
    e->x.authorised = on;
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
        hc_put(&w, msg, len < h ? len : h);
        for (size_t i = len; i < h; i++)
            hc_put(&w, "0", 1);
        err = HSM_E_INPUT;
        if (cmd_out)
            memcpy(cmd_out, "ZZ", 3);
    } else {
        hc_put(&w, msg, h);
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
        hc_put(&w, resp, 2);
        hc_put(&w, "00", 2);
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
    hc_put(&w, resp, 2);
    hc_put(&w, "15", 2);
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

