#include "keycomp.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

void keycomp_wipe(keycomp *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

/* Keeps the hex digits of line (upper case) in out; false on any other
 * character than spaces. *n gets the count even past cap, so that a
 * component of the wrong length is reported with its length. */
static bool squeeze(const char *line, char *out, size_t cap, size_t *n)
{
    *n = 0;
    for (const char *p = line; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (!isxdigit((unsigned char)*p))
            return false;
        if (*n < cap)
            out[*n] = (char)toupper((unsigned char)*p);
        (*n)++;
    }
    return true;
}

size_t keycomp_hex_len(char scheme)
{
    switch (scheme) {
    case 'U': case 'P': return 32;
    case 'T': case 'Q': return 48;
    case 'R': return 64;
    default: return 0;
    }
}

int keycomp_read(FILE *f, char scheme, keycomp *out, char *err, size_t errlen)
{
    size_t want = keycomp_hex_len(scheme);
    char line[256], hex[KEYCOMP_HEX_MAX];
    struct termios saved;
    bool tty = isatty(fileno(f)) && tcgetattr(fileno(f), &saved) == 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!want) {
        snprintf(err, errlen, "scheme must be U or T (TDES double or triple length), P, Q or R (AES-128/192/256)");
        return -1;
    }
    if (tty) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(fileno(f), TCSAFLUSH, &quiet);
    }
    for (;;) {
        if (tty && out->n == KEYCOMP_MAX)
            break;
        if (tty)
            fprintf(stderr, "component %u (%zu hex digits; empty line to finish): ", out->n + 1, want);
        if (!fgets(line, sizeof line, f))
            break;
        if (tty)
            fputc('\n', stderr);
        size_t n;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "component %u: line too long", out->n + 1);
            rc = -1;
            break;
        }
        if (!squeeze(line, hex, want, &n)) {
            snprintf(err, errlen, "component %u: not hexadecimal", out->n + 1);
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (out->n == KEYCOMP_MAX) {
            snprintf(err, errlen, "more than %d components", KEYCOMP_MAX);
            rc = -1;
            break;
        }
        if (n != want) {
            snprintf(err, errlen, "component %u: %zu hex digits, want %zu (scheme %c)", out->n + 1, n,
                     want, scheme);
            rc = -1;
            break;
        }
        memcpy(out->c[out->n], hex, want);
        out->c[out->n][want] = '\0';
        out->n++;
    }
    if (tty)
        (void)tcsetattr(fileno(f), TCSAFLUSH, &saved);
    OPENSSL_cleanse(line, sizeof line);
    OPENSSL_cleanse(hex, sizeof hex);
    if (rc == 0 && out->n == 0) {
        snprintf(err, errlen, "no key component on standard input");
        rc = -1;
    }
    if (rc != 0)
        keycomp_wipe(out);
    return rc;
}
