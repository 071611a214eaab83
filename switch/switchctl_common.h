/* What every switchctl command shares: usage and help, money and currency
 * display, the PAN hash key, and a card named by id or by PAN.
 * Convention (as switchctl_db.h): functions that can fail return false
 * after a one-line "switchctl: ..." error on stderr. */
#ifndef SWITCHCTL_COMMON_H
#define SWITCHCTL_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Prints text (stdout for --help, stderr for a usage error); returns the
 * exit status: 0, or 2 when err. */
int sc_usage(const char *text, bool err);
/* True when one of the arguments is --help or -h. */
bool sc_wants_help(int argc, char **argv);
/* A bad command line in one line: "switchctl: CMD: WHAT 'ARG' (see
 * switchctl CMD --help)" (ARG may be NULL); returns 2. */
int sc_bad(const char *cmd, const char *what, const char *arg);

/* Minor units as text ("12345") to "123.45" (both our currencies have
 * exponent 2). */
void sc_fmt_money(const char *minor, char *out, size_t n);
/* ISO 4217 numeric as text to its letters ("840" -> "USD"); unknown codes
 * are returned as given. */
const char *sc_cur_alpha(const char *code);
/* "USD"/"KHR" (any case) to "840"/"116"; NULL for anything else. */
const char *sc_cur_code(const char *alpha);

/* An amount as typed ("50", "50.5", "50.00": at most 2 decimals, 13
 * digits before the point) to minor units as text in out; false for
 * anything else. */
bool sc_parse_amount(const char *s, char out[24]) __attribute__((warn_unused_result));

/* The operator's key in environment variable var, or the public demo key
 * fallback (with a warning on stderr when warn). */
const char *sc_pan_key(const char *var, const char *fallback, bool warn);
/* The PAN hash key (SWITCH_PAN_HMAC_KEY, or the demo key) decoded from hex
 * into key[0..*klen). False after a one-line error. */
bool sc_pan_hmac_key(unsigned char key[64], size_t *klen) __attribute__((warn_unused_result));
/* The public demo keys `load demo` falls back to. */
extern const char sc_demo_hmac_key[], sc_demo_enc_key[];

/* A card given on the command line as an id or as --pan PAN. */
struct sc_card_arg {
    const char *id, *pan;
};
/* Takes argv[*i] (and its value) into c when it names the card: "--pan
 * PAN" or a first word that is not an option. False for anything else. */
bool sc_card_take(struct sc_card_arg *c, int argc, char **argv, int *i);
/* Exactly one of id and pan, the id a number; else false after a one-line
 * error (a usage error: exit 2). */
bool sc_card_check(const struct sc_card_arg *c);
/* The card's id as text into out: the id itself, or the card whose PAN
 * hash (HMAC-SHA-256 with SWITCH_PAN_HMAC_KEY, computed here: the PAN is
 * never sent) matches. False after a one-line error. */
bool sc_card_resolve(PGconn *db, const struct sc_card_arg *c, char out[32]) __attribute__((warn_unused_result));

/* True when t is NULL or PostgreSQL reads it as a timestamptz. */
bool sc_valid_time(PGconn *db, const char *t) __attribute__((warn_unused_result));

/* A batch job's command line, "SUBCOMMAND [--now TIMESTAMP]" in argv (cmd
 * names it in errors, e.g. "holds expire"): runs sql (one count; $1 the
 * instant, NULL for now()) and prints "label: N". Returns the exit status:
 * 0, 1 after a one-line error, 2 for a bad command line or a --now that is
 * not a timestamp. */
int sc_job(const char *conninfo, const char *cmd, int argc, char **argv, const char *sql, const char *label);

#endif
