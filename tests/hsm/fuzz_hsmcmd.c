/*
 * libFuzzer target for the hsm-sim command processor (hsmcmd), linked
 * without the server. Input: one message body (header + command + fields),
 * as it arrives after the 2-byte length. The engine uses the public test
 * LMK so that seeds with real key cryptograms reach the crypto paths, and
 * runs in the authorised state so that FK's component parsing is reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hsmcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hsmcmd_engine *e;
    static uint8_t out[HSM_MSG_MAX];
    if (!e) {
        uint8_t lmk[PC_LMK_LEN];
        for (size_t i = 0; i < sizeof lmk; i++)
            lmk[i] = (uint8_t)i;
        e = hsmcmd_new(pc_lmk_new(lmk), HSM_HEADER_LEN_DEFAULT);
        if (!e)
            abort();
        hsmcmd_set_authorised(e, true);
    }
    if (size > HSM_MSG_MAX)
        return 0;
    char cmd[3];
    int err = 0;
    size_t n = hsmcmd_process(e, data, size, out, sizeof out, cmd, &err);
    /* Every answer carries at least header, response code and error code. */
    if (n < HSM_HEADER_LEN_DEFAULT + 4 || err < 0 || err > 99)
        abort();
    return 0;
}
