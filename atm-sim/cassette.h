/*
 * cassette: the simulated cash dispenser of atm-sim's interactive mode.
 *
 * The ATM holds cassettes of notes, each of one currency and denomination
 * with a count. Before it asks the switch for a withdrawal it plans the
 * notes (the fewest that make the amount, within the counts and the
 * dispenser's limit of notes per withdrawal), and refuses an amount it
 * cannot pay out; after an approval it dispenses the plan. A jam can be
 * armed (a test, or a demonstration of a partial dispense): the next
 * dispense stops after that many notes, and the ATM reverses the rest.
 *
 * The specification is a comma-separated list CUR:NOTExCOUNT, the note in
 * major units: "USD:100x200,USD:20x500,KHR:50000x100".
 *
 * Pure: no I/O. Errors: 0 or a negative CAS_ERR_*; cas_parse writes a
 * one-line reason into the caller's buffer.
 */
#ifndef CASSETTE_H
#define CASSETTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CAS_ERR_SYNTAX = -1,   /* a bad specification */
	CAS_ERR_CANNOT = -2,   /* the amount cannot be paid out with these notes */
};

#define CAS_MAX 8          /* cassettes */
#define CAS_MAX_NOTES 200  /* the most notes one withdrawal may take */

struct cas_unit {
	char currency[4];      /* numeric */
	uint64_t note;         /* minor units */
	unsigned count;
};

struct cas_set {
	struct cas_unit u[CAS_MAX];
	size_t n;
	unsigned max_notes;    /* per withdrawal, 1..CAS_MAX_NOTES */
	unsigned jam_after;    /* armed when not 0: the next dispense stops after this many notes */
};

/* The default load: USD 100, 50, 20, 10 and KHR 100000, 50000, 20000,
 * 10000, a few hundred notes each; 50 notes per withdrawal. */
#define CAS_DEFAULT \
	"USD:100x200,USD:50x200,USD:20x500,USD:10x500," \
	"KHR:100000x200,KHR:50000x200,KHR:20000x500,KHR:10000x500"

/* Parses a specification; max_notes is set to 50. Errors: CAS_ERR_SYNTAX. */
int cas_parse(const char *spec, struct cas_set *s, char *why, size_t cap);

/* The notes of each cassette (take[i] for s->u[i]) that pay `amount` (minor
 * units) of `currency` with the fewest notes. Errors: CAS_ERR_CANNOT. */
int cas_plan(const struct cas_set *s, const char *currency, uint64_t amount,
             unsigned take[CAS_MAX]);

/* Pays out a plan: the notes leave the cassettes; an armed jam stops it
 * after jam_after notes (and is then disarmed). Returns the amount paid. */
uint64_t cas_dispense(struct cas_set *s, const unsigned take[CAS_MAX]);

/* The smallest note of a currency (0: none loaded), for "multiples of". */
uint64_t cas_smallest(const struct cas_set *s, const char *currency);

#endif
