/*
 * sw_live: the admin port's live view for operators (docs/switchd.md,
 * "Live view"). GET /live is one self-contained page (sw_live.html, built
 * into the binary: no external resources) that polls GET /live.json every
 * 2 s: throughput over 10 s and 60 s, approval rate, declines by response
 * code, latency percentiles, the database, HSM and route links, uptime.
 *
 * With [admin] token_file set, both need the file's token, as
 * `Authorization: Bearer TOKEN` or `?token=TOKEN`, compared in constant
 * time (SHA-256 of both, CRYPTO_memcmp); otherwise 401 with an empty body.
 * Only the token's digest is kept; the token is never logged.
 *
 * Single-threaded: the switch's event loop.
 */
#ifndef SW_LIVE_H
#define SW_LIVE_H

#include <stddef.h>

#include "sw.h"
#include "sw_metrics.h"

struct evhttp;

/* Read the token file (when configured) and add /live and /live.json to
 * the admin server. Returns 0, or -1 with the reason in err (unreadable or
 * unusable token file). */
int sw_live_start(struct evhttp *admin, struct sw *sw, char *err, size_t errlen);

/* Forget the token digest (exit). */
void sw_live_stop(void);

/* The gauges /metrics, /healthz and /live.json share. */
void sw_gauges(const struct sw *sw, struct swm_gauges *g);

#endif
