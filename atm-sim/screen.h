/*
 * screen: the keyboard and text screen of the simulators' interactive
 * modes (atm-sim, pos-sim), on plain stdio.
 *
 * On a terminal a new screen clears it (ANSI) and secrets (PIN, card code,
 * CVV2) are typed without echo, one '*' per character (termios; the
 * terminal's settings come back even when a signal ends the program
 * during the entry). When input is not a terminal (a pipe, a test) every
 * answer is one line read plainly; it is written back after its prompt so
 * that the output reads as a transcript, a secret as '*'s only.
 *
 * Nothing here sees the switch. Functions that read return false at the
 * end of input, which ends a session.
 */
#ifndef SCREEN_H
#define SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct scr {
	FILE *in, *out;
	bool tty_in, tty_out;
};

/* Looks at whether in and out are terminals. */
void scr_init(struct scr *s, FILE *in, FILE *out);

/* A new screen: cleared on a terminal, a rule line otherwise; then the
 * title. */
void scr_screen(struct scr *s, const char *title);

/* Prints the prompt and reads one line (without its newline) into
 * buf[0..cap); a longer line is cut. Leading and trailing blanks are
 * removed. False at the end of input. */
bool scr_line(struct scr *s, const char *prompt, char *buf, size_t cap);

/* An account number or the like: typed as scr_line on a terminal (the
 * person sees it), but written back to a transcript as '*'s and its last
 * 4 characters. False at the end of input. */
bool scr_line_private(struct scr *s, const char *prompt, char *buf, size_t cap);

/* The same without echo (see above). False at the end of input. */
bool scr_secret(struct scr *s, const char *prompt, char *buf, size_t cap);

/* Asks until the secret is min..max digits, or empty (cancel). False at
 * the end of input. */
bool scr_secret_digits(struct scr *s, const char *prompt, size_t min, size_t max, char *buf,
                       size_t cap);

/* Asks until the answer is a number in [min, max]; *out gets it. False at
 * the end of input. */
bool scr_choose(struct scr *s, const char *prompt, int min, int max, int *out);

/* An amount as a person types it: "20", "20.5", "20.50", "1,000.00" ->
 * minor units. False for anything else, zero, or more than 10 digits
 * before the point. */
bool scr_parse_amount(const char *text, uint64_t *minor);

/* Asks until the answer is an amount (or empty: *minor = 0, "cancel"). */
bool scr_amount(struct scr *s, const char *prompt, uint64_t *minor);

#endif
