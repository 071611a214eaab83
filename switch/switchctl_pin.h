/* PIN verification data for the demo cards, from a running hsm-sim. */
#ifndef SWITCHCTL_PIN_H
#define SWITCHCTL_PIN_H

#include <libpq-fe.h>

#include "switchctl_hsm.h"

/* The PIN every demo card is issued with (documented in docs/switchctl.md). */
#define DEMO_PIN "1234"

/* Ask the HSM for a PVK (kept under its LMK) and for the Visa
 * PVV of DEMO_PIN on every demo card that has no PIN data yet, and store
 * them in one transaction. Prints one line; returns 0, or 1 after a
 * one-line error on stderr. Clear PINs and PANs are never printed. */
int demo_pin_data(PGconn *db, schsm *hsm);

/* A CVK from hsm-sim (kept under its LMK) for every card that has none,
 * in one transaction: CVV2s can then be checked (docs/switchctl.md). */
int demo_cvk_data(PGconn *db, schsm *hsm);

#endif
