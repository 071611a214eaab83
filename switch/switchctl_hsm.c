#include "switchctl_hsm.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct schsm {
    struct event_base *base;
    hsmc_pool *pool;
};

void schsm_on_reply(const hsmc_reply *r, void *arg)
{
    struct schsm_wait *w = arg;
    w->r = *r;
    w->r.fields = NULL;
    w->done = true;
}

schsm *schsm_open(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof host || port <= 0 ||
        port > 65535) {
        fprintf(stderr, "switchctl: --hsm wants HOST:PORT, got '%s'\n", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';

    schsm *h = calloc(1, sizeof *h);
    hsmc_config cfg = {0};
    cfg.host = host;
    cfg.port = (uint16_t)port;
    cfg.connections = 1;
    cfg.timeout_ms = 5000;
    int err = HSMC_ERR_NOMEM;
    if (h && (h->base = event_base_new()) != NULL)
        h->pool = hsmc_pool_new(h->base, &cfg, &err);
    if (!h || !h->pool) {
        fprintf(stderr, "switchctl: hsm: %s\n", hsmc_strerror(err));
        schsm_close(h);
        return NULL;
    }
    struct timeval tick = {0, 20000};
    for (int i = 0; i < 250 && hsmc_pool_ready(h->pool) == 0; i++) {
        event_base_loopexit(h->base, &tick);
        event_base_dispatch(h->base);
    }
    if (hsmc_pool_ready(h->pool) == 0) {
        fprintf(stderr, "switchctl: hsm: cannot connect to %s\n", addr);
        schsm_close(h);
        return NULL;
    }
    return h;
}

void schsm_close(schsm *h)
{
    if (!h)
        return;
    if (h->pool)
        hsmc_pool_free(h->pool);
    if (h->base)
        event_base_free(h->base);
    free(h);
}

hsmc_pool *schsm_pool(schsm *h)
{
    return h->pool;
}

bool schsm_done(schsm *h, int send_rc, struct schsm_wait *w)
{
    if (send_rc != 0)
        return false;
    while (!w->done)
        event_base_loop(h->base, EVLOOP_ONCE);
    return w->r.status == 0 && w->r.hsm_err == 0;
}

void schsm_perror(int send_rc, const struct schsm_wait *w, const char *what)
{
    if (send_rc != 0)
        fprintf(stderr, "switchctl: hsm %s: %s\n", what, hsmc_strerror(send_rc));
    else if (w->r.status != 0)
        fprintf(stderr, "switchctl: hsm %s: %s\n", what, hsmc_strerror(w->r.status));
    else
        fprintf(stderr, "switchctl: hsm %s: error %02d (%s)\n", what, w->r.hsm_err,
                hsmc_hsm_strerror(w->r.hsm_err));
}
