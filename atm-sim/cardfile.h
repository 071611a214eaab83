/*
 * cardfile: the simulators' test cards, read from a text file.
 *
 * One card per line, '#' comments and blank lines ignored:
 *
 *     NAME[,ALIAS...] PAN EXPIRY(YYMM) SERVICE-CODE PIN
 *
 * Names are letters, digits, '.', '_' and '-', unique in the file. The PAN
 * is 12..19 digits (not Luhn-checked: a test may want a bad one), the PIN
 * 4..12 digits. These are test cards; the file holds nothing secret, but
 * nothing here prints a PAN or PIN either.
 *
 * Errors: 0 or a negative CF_ERR_*; the loaders write "FILE:LINE: reason"
 * into the caller's buffer.
 */
#ifndef CARDFILE_H
#define CARDFILE_H

#include <stddef.h>

#include "termlink.h"

enum {
	CF_ERR_FILE = -1,   /* cannot open or read */
	CF_ERR_SYNTAX = -2, /* a bad line */
	CF_ERR_NOMEM = -3,
};

struct cf_card {
	char names[64];     /* as in the file, comma-separated */
	struct tl_card card;
	char pin[13];
};

struct cf_set {
	struct cf_card *cards;
	size_t n;
};

/* Parses `text` (NUL-terminated); `origin` names it in error messages.
 * Errors: CF_ERR_SYNTAX, CF_ERR_NOMEM. */
int cf_parse(const char *text, const char *origin, struct cf_set *set,
             char *why, size_t cap);
/* Reads and parses a file. Errors: CF_ERR_FILE, and those of cf_parse. */
int cf_load(const char *path, struct cf_set *set, char *why, size_t cap);
/* The card one of whose names is `name`, or NULL. */
const struct cf_card *cf_find(const struct cf_set *set, const char *name);
void cf_free(struct cf_set *set);

/* Reads a small text file (at most 16 MiB) into a NUL-terminated buffer
 * the caller frees; NULL with the reason in why[0..cap) on failure. The
 * simulators read their scripts with it too. */
char *cf_read_file(const char *path, char *why, size_t cap);

/* Calls fn for every line of `text` that holds more than blanks before its
 * '#' comment: the line without the comment and the newline, writable
 * (NUL-terminated), and its number (from 1). Stops at the first non-zero
 * return of fn and returns it; 0 when all lines were taken, CF_ERR_NOMEM
 * when a line cannot be copied. */
int cf_each_line(const char *text, int (*fn)(char *line, unsigned ln, void *arg), void *arg);

#endif
