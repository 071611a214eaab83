#include "hsmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const uint8_t hsmtest_lmk[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,
};

int hsmtest_start(struct hsmtest_server *s, const char *bin, unsigned port,
                  const char *const *extra)
{
    char lmk[300], pf[300], portarg[16];
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/hsmtest.XXXXXX");
        if (!mkdtemp(s->dir))
            return -1;
    }
    /* git does not keep file modes: the LMK copy gets 0600 here. */
    snprintf(lmk, sizeof lmk, "%s/test.lmk", s->dir);
    snprintf(pf, sizeof pf, "%s/port", s->dir);
    unlink(pf);
    FILE *f = fopen(lmk, "w");
    if (!f)
        return -1;
    for (int i = 0; i < 32; i++)
        fprintf(f, "%02X", hsmtest_lmk[i]);
    fputc('\n', f);
    fclose(f);
    chmod(lmk, 0600);
    snprintf(portarg, sizeof portarg, "%u", port);
    const char *argv[32] = {bin, "--lmk", lmk, "--port", portarg, "--port-file", pf};
    size_t n = 7;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(bin, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 500; i++) {
        FILE *p = fopen(pf, "r");
        if (p) {
            int ok = fscanf(p, "%u", &s->port) == 1;
            fclose(p);
            if (ok)
                return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

void hsmtest_stop(struct hsmtest_server *s)
{
    char path[300];
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
        s->pid = 0;
    }
    /* The directory stays for a restart on the same port; its files go. */
    snprintf(path, sizeof path, "%s/test.lmk", s->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/port", s->dir);
    unlink(path);
}

void hsmtest_cleanup(struct hsmtest_server *s)
{
    hsmtest_stop(s);
    if (s->dir[0])
        rmdir(s->dir);
    s->dir[0] = '\0';
}

void hsmtest_wrap(const char *type, enum pc_alg alg, const char *hexkey, char out[82])
{
    uint8_t b[32];
    pc_key k;
    pc_lmk *l = pc_lmk_new(hsmtest_lmk);
    int n = pc_hex_decode(hexkey, strlen(hexkey), b, sizeof b);
    if (!l || n < 0 || pc_key_set(&k, alg, b, (size_t)n) != 0 || pc_lmk_wrap(l, type, &k, out) != 0) {
        fprintf(stderr, "hsmtest_wrap failed\n");
        abort();
    }
    pc_lmk_free(l);
}
