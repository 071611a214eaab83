/*
 * Helpers for the hsm-sim integration tests: start the real hsm-sim binary
 * on a free loopback port with a private copy of the test LMK, and drive
 * the asynchronous client synchronously.
 */
#ifndef HSMTEST_H
#define HSMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "hsmclient.h"
#include "paycrypto.h"

struct hsmtest_server {
    pid_t pid;
    unsigned port;
    char dir[256];
};

/* The test LMK's 32 bytes (tests/hsm/test.lmk). */
extern const uint8_t hsmtest_lmk[32];

/* Starts `bin` (path of hsm-sim) with extra arguments (NULL-terminated
 * list, may be NULL). port 0 = any free port. Returns 0 when listening. */
int hsmtest_start(struct hsmtest_server *s, const char *bin, unsigned port,
                  const char *const *extra);
void hsmtest_stop(struct hsmtest_server *s);
/* Stops and removes the private directory. */
void hsmtest_cleanup(struct hsmtest_server *s);

/* A key under the test LMK, as the HSM would return it. */
void hsmtest_wrap(const char *type, enum pc_alg alg, const char *hexkey, char out[82]);

#endif
