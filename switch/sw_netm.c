/* Network management (0800): sign-on, sign-off, echo, key change
 * (docs/message-profile.md); part of the transaction state machine. */
#include <stdio.h>
#include <string.h>

#include "sw_log.h"
#include "sw_metrics.h"
#include "sw_txn_int.h"

/* ---- network management (0800) ---------------------------------------------- */

static void on_keys_stored(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	if (!txn_op_done(t)) {
		txn_free(t);
		return;
	}
	if (status != PGP_OK) {
		txn_db_failed(t, status, res);
		t->de48[0] = '\0';
		txn_set_rc(t, "91", "db_unavailable");
	} else {
		sw_term_set_keys(t->sw, t->tid, t->tpk_lmk, t->tak_lmk);
		swm_inc(SWM_KEY_CHANGES);
		txn_set_rc(t, "00", "key_change");
	}
	txn_answer(t);
}

static void on_key_exchange(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "key exchange"))
		return;
	if (r->hsm_err != HSM_E_OK) {
		swlog(SWLOG_ERROR, t->conn ? t->conn->id : 0, t->id, "hsm", "key exchange tid=%s: %s",
		      t->tid, hsmc_hsm_strerror(r->hsm_err));
		txn_answer_now(t, "96", "key_exchange_failed");
		return;
	}
	fields_key_tags(t, r);
	snprintf(t->tpk_lmk, sizeof t->tpk_lmk, "%s", r->key_lmk);
	snprintf(t->tak_lmk, sizeof t->tak_lmk, "%s", r->key2_lmk);
	const char *v[5] = {t->tid, r->key_lmk, r->kcv, r->key2_lmk, r->kcv2};
	if (!txn_db_exec(t, TXN_KEY_STORE, "terminal_set_keys", 5, v, on_keys_stored)) {
		t->de48[0] = '\0';
		txn_answer_now(t, "91", "db_unavailable");
	}
}

static void netmgmt_after_term(struct sw_txn *t)
{
	struct sw_conn *c = t->conn;
	if (!t->term_known || !t->term_active) {
		txn_answer_now(t, "03", t->term_known ? "terminal_inactive" : "unknown_terminal");
		return;
	}
	if (!strcmp(t->nmic, "001")) {
		if (c && !c->signed_on) {
			c->signed_on = true;
			t->sw->nsigned_on++;
		}
		if (c)
			snprintf(c->tid, sizeof c->tid, "%s", t->tid);
		txn_answer_now(t, "00", "sign_on");
		return;
	}
	/* 101: key change */
	if (!t->tmk[0]) {
		txn_answer_now(t, "03", "no_tmk");
		return;
	}
	txn_set_state(t, TXN_KEY_EXCHANGE);
	if (hsmc_key_exchange(t->sw->hsm, t->tmk, 'U', on_key_exchange, t) != 0) {
		swm_inc(SWM_HSM_ERRORS);
		txn_answer_now(t, "91", "hsm_unavailable");
		return;
	}
	t->op_pending = true;
}

void txn_netmgmt(struct sw_txn *t)
{
	struct sw_conn *c = t->conn;
	if (!strcmp(t->nmic, "301")) {
		txn_answer_now(t, "00", "echo");
	} else if (!strcmp(t->nmic, "002")) {
		if (c && c->signed_on) {
			c->signed_on = false;
			t->sw->nsigned_on--;
		}
		txn_answer_now(t, "00", "sign_off");
	} else if (!strcmp(t->nmic, "001") || !strcmp(t->nmic, "101")) {
		/* Sign-on reloads the terminal: keys may have changed elsewhere. */
		txn_with_terminal(t, !strcmp(t->nmic, "001"), netmgmt_after_term);
	} else {
		txn_answer_now(t, "12", "unknown_network_code");
	}
}

