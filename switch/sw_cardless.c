/*
 * Cardless cash (processing code 93): the recipient of a voucher types its
 * cash-account number (DE 102) and its 8-digit code on the ATM. The code
 * arrives as an ISO 9564 format-0 PIN block under the ATM's TPK with the
 * cash-account number in place of the PAN; hsm-sim checks it against the
 * voucher's IBM 3624 offset (DA), exactly like a PIN, so the code is never
 * in clear here. voucher_redeem() then decides and posts in one
 * transaction (tries, lock, expiry, amount, suspense -> ATM cash).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_log.h"
#include "sw_metrics.h"
#include "sw_txn_int.h"

static void redeem(struct sw_txn *t, bool code_ok)
{
	char deadline[32];
	txn_deadline_wall(t, deadline, sizeof deadline);
	const char *v[9] = {t->acq, t->tid, t->stan, t->de7, t->reference,
	                    code_ok ? "true" : "false", t->amount, t->currency, deadline};
	if (!txn_db_exec(t, TXN_POST, "voucher_redeem", 9, v, txn_posted))
		txn_answer_now(t, "91", "db_unavailable");
}

static void on_code(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "voucher code verify"))
		return;
	int v = txn_hsm_verdict(t, r, "voucher code verify");
	if (v >= 0)
		redeem(t, v == 1);
}

/* voucher_lookup(): status, amount, currency, code_offset, pvk_lmk, tries. */
static void on_voucher(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	if (!txn_db_back(t, status, res))
		return;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "active") != 0 ||
	    PQgetisnull(res, 0, 3) || PQgetisnull(res, 0, 4)) {
		/* Unknown, used, locked or expired: voucher_redeem() answers by
		 * the voucher's state before it looks at the code (14, 75, 54). */
		redeem(t, false);
		return;
	}
	char offset[13], pvk[82], valdata[17];
	snprintf(offset, sizeof offset, "%s", PQgetvalue(res, 0, 3));
	snprintf(pvk, sizeof pvk, "%s", PQgetvalue(res, 0, 4));
	txn_ibm_valdata(t->reference, valdata);
	hsmc_pin_src src;
	if (!txn_pin_src(t, &src))
		return;
	txn_set_state(t, TXN_PIN_VERIFY);
	int err = hsmc_verify_pin_ibm(t->sw->hsm, &src, t->reference, pvk, IBM_DECTAB, valdata,
	                              offset, on_code, t);
	if (err) {
		txn_hsm_refused(t, err);
		return;
	}
	t->op_pending = true;
}

void txn_cardless(struct sw_txn *t)
{
	if (strcmp(t->term_kind, "atm") != 0) {
		txn_answer_now(t, "58", "terminal_not_atm");
		return;
	}
	if (!t->pin_block[0]) {
		txn_answer_now(t, "55", "voucher_code_required");
		return;
	}
	hsmc_pin_src src;
	if (!txn_pin_src(t, &src))
		return;
	const char *v[1] = {t->reference};
	if (!txn_db_exec(t, TXN_CARD_LOOKUP, "voucher_lookup", 1, v, on_voucher))
		txn_answer_now(t, "91", "db_unavailable");
}
