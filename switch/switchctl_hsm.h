/* switchctl's synchronous use of hsm-sim: one connection, one command at a
 * time, the client library's deadline bounding every wait. */
#ifndef SWITCHCTL_HSM_H
#define SWITCHCTL_HSM_H

#include <stdbool.h>

#include "hsmclient.h"

typedef struct schsm schsm;

/* A command's outcome, filled by schsm_on_reply (pass the schsm_wait as the
 * callback argument). */
struct schsm_wait {
    bool done;
    hsmc_reply r; /* r.fields is cleared: valid only during the callback */
};

/* Connects to hsm-sim at "HOST:PORT" and waits (up to 5 s) until the
 * connection is up. NULL after a one-line error on stderr. */
schsm *schsm_open(const char *addr) __attribute__((warn_unused_result));
void schsm_close(schsm *h);
hsmc_pool *schsm_pool(schsm *h);

void schsm_on_reply(const hsmc_reply *r, void *arg);

/* send_rc is what the hsmc_* call returned. Runs the loop until w is
 * answered; true when the HSM answered with error 00. Prints nothing. */
bool schsm_done(schsm *h, int send_rc, struct schsm_wait *w) __attribute__((warn_unused_result));

/* The one-line error for a failed schsm_done: "switchctl: hsm WHAT: ...". */
void schsm_perror(int send_rc, const struct schsm_wait *w, const char *what);

#endif
