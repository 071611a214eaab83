/*
 * keycomp: reading clear key components typed or piped in by key
 * custodians (hsmctl form-key, switchctl terminal set-tmk). Components are
 * read from a stream, never from the command line (shell history, ps). The
 * module only reads and checks; forming the key is the HSM's job (FK).
 */
#ifndef KEYCOMP_H
#define KEYCOMP_H

#include <stddef.h>
#include <stdio.h>

#define KEYCOMP_MAX 3
#define KEYCOMP_HEX_MAX 64

/* Hex digits of one component of a key of this scheme: 'U' 32, 'T' 48
 * (TDES), 'P' 32, 'Q' 48, 'R' 64 (AES-128/192/256); 0 for anything else. */
size_t keycomp_hex_len(char scheme);

typedef struct keycomp {
    unsigned n;                                 /* 1..KEYCOMP_MAX */
    char c[KEYCOMP_MAX][KEYCOMP_HEX_MAX + 1];   /* upper-case hex, NUL-terminated */
} keycomp;

/* Reads 1..3 components from f, one per line, for a key of the scheme
 * (keycomp_hex_len digits each). Spaces and tabs inside a line are
 * ignored (key forms print components in groups of four); an empty line or
 * the end of the input ends the list. When f is a terminal, prompts on
 * stderr and turns echo off while reading. Returns 0, or -1 with a one-line
 * reason in err (which never contains any part of a component); out is
 * wiped on failure. */
int keycomp_read(FILE *f, char scheme, keycomp *out, char *err, size_t errlen);

/* Overwrites the components. */
void keycomp_wipe(keycomp *k);

#endif
