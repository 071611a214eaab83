/*
 * hsm-bench: PIN verification throughput of a running hsm-sim over TCP with
 * pipelining (a format 0 PIN block under a TPK checked against a PVV, the
 * DC command), through the client library. It reads the server's LMK file to
 * put its own test keys under the LMK, so run it only against a throw-away
 * LMK (scripts/bench generates one).
 *
 * usage: hsm-bench --lmk FILE --port N [--seconds 5] [--connections 2]
 *                  [--depth 512]
 * prints: bench: hsm.pin_verify <n> op/s
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "hsmclient.h"
#include "paycrypto.h"

static struct event_base *base;
static hsmc_pool *pool;
static hsmc_pin_src src;
static char pvk[PC_LMK_KEY_MAX + 1], pvv[5];
static const char *pan = "4000123456789010";
static unsigned long ok, bad, inflight;
static bool stopping;

static void on_reply(const hsmc_reply *r, void *arg);

static void send_one(void)
{
    if (hsmc_verify_pin_pvv(pool, &src, pan, pvk, 1, pvv, on_reply, NULL) == 0)
        inflight++;
}

static void on_reply(const hsmc_reply *r, void *arg)
{
    (void)arg;
    inflight--;
    if (r->status == 0 && r->hsm_err == 0)
        ok++;
    else
        bad++;
    if (!stopping)
        send_one();
    else if (inflight == 0)
        event_base_loopbreak(base);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    stopping = true;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int read_lmk(const char *path, uint8_t lmk[32])
{
    char line[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        rc = pc_hex_decode(line, 64, lmk, 32) == 32 ? 0 : -1;
        break;
    }
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    const char *lmk_path = NULL;
    unsigned port = 0, conns = 2, depth = 512;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--lmk")) lmk_path = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--connections")) conns = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--depth")) depth = (unsigned)atoi(argv[i + 1]);
    }
    uint8_t master[32];
    if (!lmk_path || !port || read_lmk(lmk_path, master) != 0) {
        fprintf(stderr, "usage: hsm-bench --lmk FILE --port N [--seconds S] [--connections N] [--depth N]\n");
        return 2;
    }
    /* A TPK and a PVK of our own, under the server's LMK. */
    pc_lmk *lmk = pc_lmk_new(master);
    pc_key tpk, pk;
    static char tpk_lmk[PC_LMK_KEY_MAX + 1], block_hex[33];
    uint8_t blk[16];
    size_t n = 0;
    if (!lmk || pc_key_generate(&tpk, PC_ALG_TDES, 16) || pc_key_generate(&pk, PC_ALG_TDES, 16) ||
        pc_lmk_wrap(lmk, HSM_KT_TPK, &tpk, tpk_lmk) || pc_lmk_wrap(lmk, HSM_KT_PVK, &pk, pvk) ||
        pc_pin_encrypt(&tpk, PC_PIN_ISO0, "1234", pan, NULL, blk, &n) ||
        pc_card_pvv(&pk, pan, 1, "1234", pvv)) {
        fprintf(stderr, "hsm-bench: key setup failed\n");
        return 1;
    }
    pc_lmk_free(lmk);
    pc_hex_encode(blk, n, block_hex);
    src = (hsmc_pin_src){HSMC_SRC_TPK, tpk_lmk, NULL, block_hex, HSM_PBF_ISO0};

    base = event_base_new();
    hsmc_config cfg = {0};
    cfg.port = (uint16_t)port;
    cfg.connections = conns;
    cfg.max_inflight = depth;
    cfg.timeout_ms = 10000;
    int err = 0;
    pool = hsmc_pool_new(base, &cfg, &err);
    if (!pool) {
        fprintf(stderr, "hsm-bench: %s\n", hsmc_strerror(err));
        return 1;
    }
    double t0 = now();
    while (hsmc_pool_ready(pool) < conns) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (now() - t0 > 5) {
            fprintf(stderr, "hsm-bench: cannot connect to port %u\n", port);
            return 1;
        }
    }
    /* Warm-up of one second, then the measured run. */
    struct event *stop = evtimer_new(base, on_stop, NULL);
    for (int phase = 0; phase < 2; phase++) {
        double len = phase == 0 ? 1.0 : seconds;
        struct timeval tv = {(time_t)len, (suseconds_t)((len - (double)(time_t)len) * 1e6)};
        stopping = false;
        ok = bad = 0;
        evtimer_add(stop, &tv);
        t0 = now();
        for (unsigned i = 0; i < conns * depth; i++)
            send_one();
        event_base_dispatch(base);
        if (bad) {
            fprintf(stderr, "hsm-bench: %lu verifications failed\n", bad);
            return 1;
        }
    }
    double el = now() - t0;
    printf("bench: hsm.pin_verify %.0f op/s\n", (double)ok / el);
    event_free(stop);
    hsmc_pool_free(pool);
    event_base_free(base);
    return 0;
}
