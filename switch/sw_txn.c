/*
 * The transaction state machine (STYLE.md 7): one request from a terminal,
 * through the terminal's keys, the MAC, the card's PIN data, the HSM and
 * the database, to one answer.
 *
 * The money rule: an approval is sent only after authorise() has committed
 * (pgpool calls back after the Sync). At txn_deadline_ms the terminal gets
 * 91, whatever is in flight; if that was the posting, or the answer's MAC,
 * or if the answer could not be delivered because the terminal left, the
 * switch reverses the original itself once the outcome is known (or
 * unknown: a lost connection). reverse() is idempotent and answers 25 when
 * nothing was committed, so a reversal is always safe to send and to
 * retry; it is retried with backoff until the database confirms it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sw_log.h"
#include "sw_metrics.h"
#include "sw_txn_int.h"

static const char *const state_names[] = {
	"new",          "wait_original", "term_load", "mac_verify", "card_lookup", "pin_verify",
	"post",         "pin_translate", "upstream", "key_exchange", "key_store",
	"mac_answer",   "late",      "reversing",  "done"};


static void financial_after_term(struct sw_txn *t);
static void txn_reverse(struct sw_txn *t);
static void step_post(struct sw_txn *t);
static void pan_hash(struct sw_txn *t);

void txn_set_state(struct sw_txn *t, enum txn_state to)
{
	swlog(SWLOG_DEBUG, t->conn ? t->conn->id : 0, t->id, "txn_state", "from=%s to=%s",
	      state_names[t->state], state_names[to]);
	t->state = to;
}

static bool txn_answered(const struct sw_txn *t)
{
	return t->state == TXN_LATE || t->state == TXN_REVERSING || t->state == TXN_DONE;
}

void txn_set_rc(struct sw_txn *t, const char *rc, const char *rule)
{
	snprintf(t->rc, sizeof t->rc, "%s", rc);
	snprintf(t->rule, sizeof t->rule, "%s", rule);
}

/* ---- database statements -------------------------------------------------- */

#define RESULT_COLS                                                                        \
	"response_code, rule, auth_id, approval_code, amount_acct, currency_acct, fee, "     \
	"ledger_balance, available_balance, hold_id, entry_id, duplicate"

int sw_txn_prepare(struct pgpool *db)
{
	int rc = 0;
	rc |= pgpool_prepare(db, "terminal_keys", "SELECT * FROM terminal_keys($1)", 1);
	rc |= pgpool_prepare(db, "terminal_set_keys", "SELECT terminal_set_keys($1, $2, $3, $4, $5)",
	                     5);
	rc |= pgpool_prepare(db, "card_lookup",
	                     "SELECT card_id, status, pin_method, pvki, pin_verify_data, pvk_lmk, "
	                     "cvk_lmk, expiry_yymm FROM card_lookup($1::bytea)",
	                     1);
	rc |= pgpool_prepare(db, "authorise",
	                     "SELECT " RESULT_COLS " FROM authorise($1, $2, $3, $4, $5, $6::bytea, "
	                     "$7::bigint, $8::smallint, $9, $10, $11, $12, $13, $14::date, $15, "
	                     "$16::boolean, $17, $18, $19::bigint, to_timestamp($20::float8))",
	                     20);
	rc |= pgpool_prepare(db, "pin_change",
	                     "SELECT " RESULT_COLS " FROM pin_change($1, $2, $3, $4, $5::bytea, $6, "
	                     "$7, $8, $9, $10::date)",
	                     10);
	rc |= pgpool_prepare(db, "voucher_lookup",
	                     "SELECT status, amount, currency, code_offset, pvk_lmk FROM voucher_lookup($1)", 1);
	rc |= pgpool_prepare(db, "voucher_redeem",
	                     "SELECT " RESULT_COLS " FROM voucher_redeem($1, $2, $3, $4, $5, $6::boolean, "
	                     "$7::bigint, $8::smallint, to_timestamp($9::float8))",
	                     9);
	rc |= pgpool_prepare(db, "auth_log_local",
	                     "SELECT auth_log_local($1, $2, $3, $4, $5, $6, $7, $8::bytea, "
	                     "$9::bigint, $10::smallint, $11, $12)",
	                     12);
	rc |= pgpool_prepare(db, "reverse",
	                     "SELECT " RESULT_COLS " FROM reverse($1, $2, $3, $4, $5, $6, $7::bigint, "
	                     "$8)",
	                     8);
	rc |= pgpool_prepare(db, "reverse_terminal",
	                     "SELECT " RESULT_COLS " FROM reverse_terminal($1, $2, $3, $4, $5, $6, "
	                     "$7::bigint, $8, $9, $10::bytea, $11::bigint, $12::smallint)",
	                     12);
	rc |= pgpool_prepare(db, "authorise_advice",
	                     "SELECT " RESULT_COLS " FROM authorise_advice($1, $2, $3, $4, $5, "
	                     "$6::bytea, $7::bigint, $8::smallint, $9, $10, $11, $12, $13, $14)",
	                     14);
	rc |= pgpool_prepare(db, "terminal_reconcile",
	                     "SELECT " RESULT_COLS " FROM terminal_reconcile($1, $2, $3, $4, "
	                     "$5::smallint, $6::bigint[])",
	                     6);
	rc |= pgpool_prepare(db, "complete",
	                     "SELECT " RESULT_COLS " FROM complete_preauth($1, $2, $3, $4, $5, $6, "
	                     "$7::bigint, $8)",
	                     8);
	return rc ? -1 : 0;
}

/* Send a statement for t; on a refusal the answer is 91 at once. */
bool txn_db_exec(struct sw_txn *t, enum txn_state st, const char *stmt, int n,
                    const char *const *vals, pgp_cb cb)
{
	int err = 0;
	txn_set_state(t, st);
	t->dbreq = pgp_exec(t->sw->db, stmt, n, vals, cb, t, &err);
	if (!t->dbreq) {
		swm_inc(SWM_DB_UNAVAILABLE);
		swlog(SWLOG_WARN, t->conn ? t->conn->id : 0, t->id, "db", "stmt=%s error=\"%s\"", stmt,
		      pgp_strerror(err));
		return false;
	}
	t->op_pending = true;
	return true;
}

/* Common entry of every database and HSM callback: the operation is over.
 * Returns false when the transaction was already answered at its deadline
 * (the caller then only settles what may have committed). */
bool txn_op_done(struct sw_txn *t)
{
	t->op_pending = false;
	t->dbreq = NULL;
	return t->state != TXN_LATE;
}

void txn_db_failed(struct sw_txn *t, int status, const PGresult *res)
{
	swm_inc(SWM_DB_ERRORS);
	swlog(SWLOG_ERROR, t->conn ? t->conn->id : 0, t->id, "db", "state=%s error=\"%s\" %s",
	      state_names[t->state], pgp_strerror(status),
	      res ? PQresultErrorMessage(res) : "");
}


/* Decide here, answer now. */
void txn_answer_now(struct sw_txn *t, const char *rc, const char *rule)
{
	txn_set_rc(t, rc, rule);
	txn_answer(t);
}

/* Common start of the callbacks of reads and HSM checks (nothing to undo
 * when late). Returns true when the transaction goes on; otherwise it has
 * been answered (91) or, being already answered, let go. */
bool txn_db_back(struct sw_txn *t, int status, const PGresult *res)
{
	if (!txn_op_done(t)) {
		txn_free(t);
		return false;
	}
	if (status != PGP_OK) {
		txn_db_failed(t, status, res);
		txn_answer_now(t, "91", "db_unavailable");
		return false;
	}
	return true;
}

bool txn_hsm_back(struct sw_txn *t, const hsmc_reply *r, const char *what)
{
	if (!txn_op_done(t)) {
		txn_free(t);
		return false;
	}
	if (r->status != 0) {
		swm_inc(SWM_HSM_ERRORS);
		swlog(SWLOG_WARN, t->conn ? t->conn->id : 0, t->id, "hsm", "%s tid=%s: %s", what, t->tid,
		      hsmc_strerror(r->status));
		txn_answer_now(t, "91", "hsm_unavailable");
		return false;
	}
	return true;
}

/* ---- the answer ----------------------------------------------------------- */

static void log_txn(struct sw_txn *t, uint64_t us)
{
	char pan[24];
	fields_masked_pan(t, pan);
	enum swlog_level lvl = strcmp(t->rc, "96") && strcmp(t->rc, "91") ? SWLOG_INFO : SWLOG_WARN;
	swlog(lvl, t->conn ? t->conn->id : 0, t->id, "txn",
	      "mti=%s proc=%s tid=%s stan=%s pan=%s amount=%s cur=%s rc=%s rule=%s auth=%s "
	      "us=%llu",
	      t->mti, t->proc[0] ? t->proc : "-", t->tid[0] ? t->tid : "-",
	      t->stan[0] ? t->stan : "-", pan, t->amount[0] ? t->amount : "-",
	      t->currency[0] ? t->currency : "-", t->rc, t->rule[0] ? t->rule : "-",
	      t->auth_id[0] ? t->auth_id : "-", (unsigned long long)us);
}

static void on_logged_local(void *arg, int status, const PGresult *res)
{
	(void)arg;
	if (status != PGP_OK)
		swlog(SWLOG_WARN, 0, 0, "db", "auth_log_local: %s %s", pgp_strerror(status),
		      res ? PQresultErrorMessage(res) : "");
}

/* A financial message answered here rather than by the database's rules
 * (no PIN, MAC failure, format error, 91, another institution's answer):
 * recorded in the authorisation log as msg_class 'local', without waiting
 * and without holding the transaction. */
static void log_local(struct sw_txn *t)
{
	if (t->kind == TK_NETMGMT || t->db_decided)
		return;
	if (t->pan[0] && !t->pan_hash[0])
		pan_hash(t);
	const char *type = t->kind == TK_ADVICE       ? "advice"
	                   : t->kind == TK_REVERSAL   ? "reversal"
	                   : t->kind == TK_COMPLETION ? "completion"
	                   : t->kind == TK_RECONCILE  ? "reconcile"
	                                              : t->txn_type;
	const char *v[12] = {t->mti, type[0] ? type : NULL, t->proc[0] ? t->proc : NULL,
	                     t->acq[0] ? t->acq : NULL, t->tid[0] ? t->tid : NULL,
	                     t->stan[0] ? t->stan : NULL, t->de7[0] ? t->de7 : NULL,
	                     t->pan_hash[0] ? t->pan_hash : NULL,
	                     fields_all_digits(t->amount) ? t->amount : NULL,
	                     fields_all_digits(t->currency) ? t->currency : NULL, t->rc,
	                     t->rule[0] ? t->rule : "-"};
	int err;
	if (!pgp_exec(t->sw->db, "auth_log_local", 12, v, on_logged_local, NULL, &err))
		swlog(SWLOG_WARN, t->conn ? t->conn->id : 0, t->id, "db",
		      "auth_log_local not sent: %s", pgp_strerror(err));
}

/* Queue the packed answer, account for it, and let go of the connection.
 * Returns whether the terminal was still there to receive it. */
static bool txn_deliver(struct sw_txn *t)
{
	uint64_t us = sw_now_us() - t->t0_us;
	swm_answer(t->mti, t->rc, us);
	log_txn(t, us);
	log_local(t);
	struct sw_conn *c = t->conn;
	t->sw->inflight--;
	event_del(t->deadline);
	if (!c) {
		swm_inc(SWM_UNDELIVERED);
		return false;
	}
	if (t->mti[2] == '2' && !strcmp(t->rc, "91")) {
		/* An advice (0120, 0220, 0420 and their repeats) is acknowledged
		 * only once it is recorded: terminals take any answer to it as
		 * the acknowledgement and stop repeating. Not recorded (the
		 * database or the deadline): no answer, and the terminal
		 * repeats it. */
		swlog(SWLOG_WARN, c->id, t->id, "txn", "mti=%.4s stan=%s not acknowledged (%s): the terminal repeats it",
		      t->mti, t->stan, t->rule);
	} else if (t->outlen) {
		sw_conn_send(c, t->out, t->outlen);
	}
	if (t->cprev)
		t->cprev->cnext = t->cnext;
	else
		c->txns = t->cnext;
	if (t->cnext)
		t->cnext->cprev = t->cprev;
	t->cprev = t->cnext = NULL;
	t->conn = NULL;
	sw_conn_txn_done(c);
	return true;
}

/* Send the answer. Anything that may have committed an approval the
 * terminal did not receive as an approval (it got a decline, or it was
 * gone) is reversed. */
static void txn_send(struct sw_txn *t)
{
	bool delivered = txn_deliver(t);
	if (t->maybe_approved && (!delivered || strcmp(t->rc, "00") != 0)) {
		txn_reverse(t);
		return;
	}
	txn_set_state(t, TXN_DONE);
	if (!t->op_pending)
		txn_free(t);
}

/* Common start of the callbacks of operations that may have moved money
 * (the posting, the approval's MAC): when 91 already went out at the
 * deadline, undo what may have committed and stop here. */
static bool money_back(struct sw_txn *t)
{
	if (txn_op_done(t))
		return true;
	if (t->maybe_approved)
		txn_reverse(t);
	else
		txn_free(t);
	return false;
}

/* The answer could not be MACed: the terminal gets 91 (HSM unreachable)
 * or 96, unMACed, and an approval is undone by txn_send. */
static void answer_unmaced(struct sw_txn *t, const char *rc, const char *rule)
{
	txn_set_rc(t, rc, rule);
	t->approval[0] = '\0';
	t->have_balances = false;
	if (!fields_answer(t, false))
		t->outlen = 0;
	txn_send(t);
}

static void on_mac_answer(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!money_back(t))
		return;
	if (r->status != 0 || r->hsm_err != HSM_E_OK) {
		swm_inc(SWM_HSM_ERRORS);
		swlog(SWLOG_ERROR, t->conn ? t->conn->id : 0, t->id, "hsm", "mac of answer: %s",
		      r->status ? hsmc_strerror(r->status) : hsmc_hsm_strerror(r->hsm_err));
		answer_unmaced(t, r->status ? "91" : "96", "answer_mac_failed");
		return;
	}
	fields_put_mac(t, r->value);
	txn_send(t);
}

/* Build the answer; MAC it through the HSM when the terminal has a TAK and
 * the request was a MACed one. */
void txn_answer(struct sw_txn *t)
{
	bool mac = t->tak[0] && t->kind != TK_NETMGMT && t->mac_de;
	if (!fields_answer(t, mac)) {
		swlog(SWLOG_ERROR, t->conn ? t->conn->id : 0, t->id, "txn", "cannot pack the answer");
		answer_unmaced(t, "96", "answer_unpackable");
		return;
	}
	if (!mac) {
		txn_send(t);
		return;
	}
	txn_set_state(t, TXN_MAC_ANSWER);
	if (hsmc_generate_mac(t->sw->hsm, HSM_KT_TAK, t->tak, '3', 8, t->out, fields_mac_len(t),
	                      on_mac_answer, t) == 0) {
		t->op_pending = true;
		return;
	}
	swm_inc(SWM_HSM_ERRORS);
	answer_unmaced(t, "91", "hsm_unavailable");
}

/* ---- the deadline ---------------------------------------------------------- */

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sw_txn *t = arg;
	if (txn_answered(t))
		return;
	swm_inc(SWM_DEADLINE_91);
	enum txn_state was = t->state;
	if (t->dbreq && pgp_cancel(t->sw->db, t->dbreq)) {
		/* Never sent: nothing can commit. */
		t->dbreq = NULL;
		t->op_pending = false;
	}
	if (was == TXN_WAIT_ORIGINAL) {
		struct sw_txn **q = &t->waits_on->waiters;
		while (*q && *q != t)
			q = &(*q)->wnext;
		if (*q)
			*q = t->wnext;
		t->waits_on = NULL;
	}
	if (was == TXN_UPSTREAM) {
		/* The link reverses an approval that still comes. */
		sw_link_abandon(t->link, t->link_handle);
		t->op_pending = false;
	}
	txn_set_rc(t, "91", "deadline");
	snprintf(t->rule, sizeof t->rule, "deadline_in_%s", state_names[was]);
	t->approval[0] = '\0';
	t->have_balances = false;
	t->de48[0] = '\0';
	if (!fields_answer(t, false))
		t->outlen = 0;
	if (!t->op_pending) {
		txn_send(t);
		return;
	}
	/* Something is in flight: its callback decides what is left to undo
	 * (a posting or an approval waiting for its MAC), or just drops it (a
	 * read, an HSM check). */
	txn_deliver(t);
	t->late_from = was;
	txn_set_state(t, TXN_LATE);
}

/* ---- switch-initiated reversals ------------------------------------------- */

static void on_retry(evutil_socket_t fd, short what, void *arg);

static void on_reversed(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	t->op_pending = false;
	t->dbreq = NULL;
	if (status == PGP_OK && PQntuples(res) == 1) {
		swlog(SWLOG_WARN, 0, t->id, "reversal",
		      "done by the switch: tid=%s stan=%s de7=%s rc=%s rule=%s", t->tid, t->stan, t->de7,
		      PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		t->sw->pending_reversals--;
		txn_set_state(t, TXN_DONE);
		txn_free(t);
		return;
	}
	swm_inc(SWM_LATE_REVERSAL_FAILURES);
	t->rev_tries++;
	unsigned ms = 250u << (t->rev_tries < 7 ? t->rev_tries : 7);
	swlog(t->rev_tries > 5 ? SWLOG_ERROR : SWLOG_WARN, 0, t->id, "reversal",
	      "not confirmed (try %u, next in %u ms): tid=%s stan=%s de7=%s error=\"%s\" %s",
	      t->rev_tries, ms, t->tid, t->stan, t->de7, pgp_strerror(status),
	      res ? PQresultErrorMessage(res) : "");
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(t->retry, &tv);
}

static void reversal_send(struct sw_txn *t)
{
	const char *v[8] = {t->acq, t->tid, t->stan, t->de7, t->stan, t->de7, "0", "0420"};
	int err = 0;
	t->dbreq = pgp_exec(t->sw->db, "reverse", 8, v, on_reversed, t, &err);
	if (t->dbreq) {
		t->op_pending = true;
		return;
	}
	on_reversed(t, err, NULL);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reversal_send(arg);
}

/* Reverse t's original (its own key: DE 32, 41, 11, 7) with a 0420 of the
 * same key, as the terminal would after a time-out. */
static void txn_reverse(struct sw_txn *t)
{
	if (t->link) {
		sw_link_reverse(t->link, &t->link_orig);
		txn_set_state(t, TXN_DONE);
		if (!t->op_pending)
			txn_free(t);
		return;
	}
	if (t->kind != TK_FINANCIAL) {
		/* Reversals and completions are advices the terminal repeats
		 * until answered; nothing to undo here. */
		txn_set_state(t, TXN_DONE);
		if (!t->op_pending)
			txn_free(t);
		return;
	}
	swm_inc(SWM_LATE_REVERSALS);
	t->sw->pending_reversals++;
	txn_set_state(t, TXN_REVERSING);
	reversal_send(t);
}

/* ---- terminal keys ------------------------------------------------------------ */

static void term_copy(struct sw_txn *t, const struct sw_term *k)
{
	t->term_known = true;
	t->term_active = k->active;
	snprintf(t->term_kind, sizeof t->term_kind, "%s", k->kind);
	snprintf(t->tmk, sizeof t->tmk, "%s", k->tmk);
	snprintf(t->tpk, sizeof t->tpk, "%s", k->tpk);
	snprintf(t->tak, sizeof t->tak, "%s", k->tak);
	snprintf(t->bdk, sizeof t->bdk, "%s", k->bdk);
	snprintf(t->aes_bdk, sizeof t->aes_bdk, "%s", k->aes_bdk);
	snprintf(t->term_acq, sizeof t->term_acq, "%s", k->acquirer);
	if (!t->acq[0])
		snprintf(t->acq, sizeof t->acq, "%s", k->acquirer);
}

static void on_term(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	struct sw_term *cached = sw_term_get(t->sw, t->tid, UINT64_MAX);
	if (status != PGP_OK && cached && txn_op_done(t)) {
		/* Database away: the keys we had are better than no service
		 * (sign-on works through an outage; keys only change here). */
		txn_db_failed(t, status, res);
		term_copy(t, cached);
		t->after_term(t);
		return;
	}
	if (!txn_db_back(t, status, res))
		return;
	if (PQntuples(res) == 1) {
		struct sw_term *k = sw_term_put(t->sw, t->tid, res);
		if (k)
			term_copy(t, k);
	}
	t->after_term(t);
}

/* Whether `acq` is one of the comma-separated ids in `list`. */
static bool acquirer_listed(const char *list, const char *acq)
{
	size_t n = strlen(acq);
	for (const char *p = list; n && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, acq, n))
			return true;
		p += len + (e != NULL);
	}
	return false;
}

/* Find t->tid's keys (from the cache unless `fresh`), then continue. */
void txn_with_terminal(struct sw_txn *t, bool fresh, void (*next)(struct sw_txn *))
{
	if (t->peer_zpk) {
		/* Another institution's terminal, behind its switch: not in our
		 * terminals table; the link itself is what is trusted, for the
		 * acquirers configured on it. */
		t->term_known = t->term_active = true;
		t->term_kind[0] = '\0';
		if (t->kind != TK_NETMGMT && !acquirer_listed(t->peer_acquirers, t->acq)) {
			txn_answer_now(t, "03", "peer_acquirer_not_allowed");
			return;
		}
		snprintf(t->term_acq, sizeof t->term_acq, "%s", t->acq);
		next(t);
		return;
	}
	struct sw_term *k = sw_term_get(t->sw, t->tid, fresh ? 0 : SW_TERM_TTL_MS);
	if (!k && fresh) {
		/* Sign-on reloads, unless the database is known to be away. */
		struct pgpool_stats ps;
		pgpool_stats(t->sw->db, &ps);
		if (ps.connected == 0)
			k = sw_term_get(t->sw, t->tid, UINT64_MAX);
	}
	if (k) {
		term_copy(t, k);
		next(t);
		return;
	}
	t->after_term = next;
	const char *v[1] = {t->tid};
	if (!txn_db_exec(t, TXN_TERM_LOAD, "terminal_keys", 1, v, on_term)) {
		txn_answer_now(t, "91", "db_unavailable");
	}
}

/* ---- financial messages --------------------------------------------------- */

void txn_posted(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	bool ok = status == PGP_OK && PQntuples(res) == 1;
	bool approved = ok && !strcmp(PQgetvalue(res, 0, 0), "00");
	/* A lost connection leaves the outcome unknown: treat it as an
	 * approval that must be undone. */
	t->maybe_approved = approved || status == PGP_ERR_LOST;
	if (!ok && !t->maybe_approved && t->state == TXN_LATE) {
		/* Answered 91 at the deadline already; the database's word on
		 * it (an approval past the deadline is refused: migration 025). */
		const char *m = res ? PQresultErrorMessage(res) : pgp_strerror(status);
		swlog(SWLOG_WARN, 0, t->id, "db", "late outcome, nothing committed: %.*s",
		      (int)strcspn(m, "\n"), m);
	}
	if (!money_back(t))
		return;
	if (!ok) {
		txn_db_failed(t, status, res);
		txn_answer_now(t, "91", "db_unavailable");
		return;
	}
	t->db_decided = true;
	snprintf(t->rc, sizeof t->rc, "%s", PQgetvalue(res, 0, 0));
	snprintf(t->rule, sizeof t->rule, "%s", PQgetvalue(res, 0, 1));
	snprintf(t->auth_id, sizeof t->auth_id, "%s", PQgetvalue(res, 0, 2));
	snprintf(t->approval, sizeof t->approval, "%s", PQgetvalue(res, 0, 3));
	snprintf(t->cur_acct, sizeof t->cur_acct, "%03d", atoi(PQgetvalue(res, 0, 5)));
	t->fee = atoll(PQgetvalue(res, 0, 6));
	if (!PQgetisnull(res, 0, 7) && !PQgetisnull(res, 0, 8) &&
	    (!strcmp(t->txn_type, "cash") || !strcmp(t->txn_type, "balance") ||
	     !strcmp(t->txn_type, "pin_change"))) {
		t->ledger = atoll(PQgetvalue(res, 0, 7));
		t->avail = atoll(PQgetvalue(res, 0, 8));
		t->have_balances = true;
	}
	txn_answer(t);
}

/* The transaction's deadline on the wall clock, as seconds since the
 * epoch: authorise() and voucher_redeem() commit no approval after it
 * (migrations 025, 028), so a switch that dies after answering 91 leaves
 * no approval standing. */
void txn_deadline_wall(const struct sw_txn *t, char *out, size_t cap)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t left_us = (int64_t)t->sw->cfg.txn_deadline_ms * 1000 - (int64_t)(sw_now_us() - t->t0_us);
	double at = (double)now.tv_sec + (double)now.tv_nsec / 1e9 + (double)left_us / 1e6;
	snprintf(out, cap, "%.6f", at);
}

static void step_post(struct sw_txn *t)
{
	bool ok;
	if (t->kind == TK_FINANCIAL && !strcmp(t->txn_type, "pin_change")) {
		const char *v[10] = {t->acq, t->tid, t->stan, t->de7, t->pan_hash,
		                     t->pin_result[0] ? t->pin_result : NULL,
		                     t->new_pin_data[0] ? t->new_pin_data : NULL, t->mti, t->proc,
		                     t->expiry[0] ? t->expiry : NULL};
		ok = txn_db_exec(t, TXN_POST, "pin_change", 10, v, txn_posted);
	} else if (t->kind == TK_ADVICE) {
		if (!t->pan_hash[0])
			pan_hash(t);
		char mti[5];
		memcpy(mti, t->mti, 5);
		mti[3] = '0'; /* a repeat is logged as the advice */
		const char *v[14] = {t->txn_type, t->acq, t->tid, t->stan, t->de7, t->pan_hash, t->amount,
		                     t->currency, t->approval[0] ? t->approval : NULL,
		                     t->merchant[0] ? t->merchant : NULL, t->mcc[0] ? t->mcc : NULL,
		                     t->rrn[0] ? t->rrn : NULL, mti, t->proc};
		ok = txn_db_exec(t, TXN_POST, "authorise_advice", 14, v, txn_posted);
	} else if (t->kind == TK_RECONCILE) {
		const char *v[6] = {t->acq, t->tid, t->stan, t->de7, t->currency, t->totals};
		ok = txn_db_exec(t, TXN_POST, "terminal_reconcile", 6, v, txn_posted);
	} else if (t->kind == TK_FINANCIAL) {
		char deadline[32];
		txn_deadline_wall(t, deadline, sizeof deadline);
		const char *v[20] = {t->txn_type, t->acq, t->tid, t->stan, t->de7, t->pan_hash,
		                     t->amount, t->currency, t->merchant[0] ? t->merchant : NULL,
		                     t->mcc[0] ? t->mcc : NULL, t->rrn[0] ? t->rrn : NULL, t->mti,
		                     t->proc, t->expiry[0] ? t->expiry : NULL,
		                     t->pin_result[0] ? t->pin_result : NULL,
		                     t->recurring ? "true" : "false", t->cvm,
		                     t->cvv2_result[0] ? t->cvv2_result : NULL,
		                     t->cash_amount[0] ? t->cash_amount : NULL, deadline};
		ok = txn_db_exec(t, TXN_POST, "authorise", 20, v, txn_posted);
	} else {
		char mti[5];
		/* Repeats are logged under the original's MTI. */
		memcpy(mti, t->mti, 5);
		mti[3] = '0';
		if (t->kind == TK_REVERSAL && t->pan[0] && !t->pan_hash[0])
			pan_hash(t);
		/* reverse_terminal(): a cardless withdrawal's (migration 016), or
		 * reverse_advice(): reverse(), and a placeholder for an original
		 * not seen yet (migration 012); complete_preauth() */
		const char *v[12] = {t->acq, t->tid, t->stan, t->de7, t->orig_stan, t->orig_de7,
		                     t->kind == TK_REVERSAL ? t->replacement : t->amount, mti,
		                     t->txn_type[0] ? t->txn_type : NULL,
		                     t->pan_hash[0] ? t->pan_hash : NULL,
		                     t->amount[0] ? t->amount : NULL,
		                     t->currency[0] ? t->currency : NULL};
		if (t->kind == TK_REVERSAL)
			ok = txn_db_exec(t, TXN_POST, "reverse_terminal", 12, v, txn_posted);
		else
			ok = txn_db_exec(t, TXN_POST, "complete", 8, v, txn_posted);
	}
	if (!ok) {
		txn_answer_now(t, "91", "db_unavailable");
	}
}

/* An HSM check's verdict: 1 verified, 0 wrong (a PIN block that decrypts
 * to no valid PIN is a wrong PIN), -1 an HSM error (logged, answered 96). */
int txn_hsm_verdict(struct sw_txn *t, const hsmc_reply *r, const char *what)
{
	switch (r->hsm_err) {
	case HSM_E_OK:
		return 1;
	case HSM_E_VERIFY:
	case HSM_E_PIN_BLOCK:
	case HSM_E_PIN_LEN:
		return 0;
	default:
		swlog(SWLOG_ERROR, t->conn ? t->conn->id : 0, t->id, "hsm",
		      "%s tid=%s: HSM error %02d (%s)", what, t->tid, r->hsm_err,
		      hsmc_hsm_strerror(r->hsm_err));
		txn_answer_now(t, "96", "hsm_error");
		return -1;
	}
}

/* PIN verification (DC/DA) or PIN change (CU/DU, whose answer carries the
 * new PVV or offset). */
static void on_pin(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "pin verify"))
		return;
	int v = txn_hsm_verdict(t, r, "pin verify");
	if (v < 0)
		return;
	strcpy(t->pin_result, v ? "ok" : "bad");
	if (v && !strcmp(t->txn_type, "pin_change"))
		snprintf(t->new_pin_data, sizeof t->new_pin_data, "%.12s", r->value);
	step_post(t);
}

/* IBM 3624 validation data: the PAN's 11 digits before the check digit
 * and 'N'-style padding with F, 16 hex (docs/switchd.md). */
void txn_ibm_valdata(const char *pan, char out[17])
{
	size_t n = strlen(pan);
	size_t take = n - 1 < 11 ? n - 1 : 11;
	memcpy(out, pan + (n - 1 - take), take);
	memset(out + take, 'F', 16 - take);
	out[16] = '\0';
}

void txn_hsm_refused(struct sw_txn *t, int err)
{
	swm_inc(SWM_HSM_ERRORS);
	txn_answer_now(t, err == HSMC_ERR_ARG ? "96" : "91",
	               err == HSMC_ERR_ARG ? "hsm_bad_request" : "hsm_unavailable");
}

static void on_cvv2(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "cvv2 verify"))
		return;
	int v = txn_hsm_verdict(t, r, "cvv2 verify");
	if (v < 0)
		return;
	strcpy(t->cvv2_result, v ? "ok" : "bad");
	step_post(t);
}

bool txn_pin_src(struct sw_txn *t, hsmc_pin_src *src)
{
	if (t->peer_zpk) {
		*src = (hsmc_pin_src){.kind = HSMC_SRC_ZPK, .key = t->peer_zpk, .pin_block = t->pin_block,
		                      .format = HSM_PBF_ISO0};
		return true;
	}
	if (t->ksn[0]) {
		bool aes = strlen(t->ksn) == 24;
		const char *bdk = aes ? t->aes_bdk : t->bdk;
		if (!bdk[0]) {
			txn_answer_now(t, "55", "no_bdk");
			return false;
		}
		*src = (hsmc_pin_src){.kind = HSMC_SRC_DUKPT, .key = bdk, .ksn = t->ksn,
		                      .pin_block = t->pin_block,
		                      .format = aes ? HSM_PBF_ISO4 : HSM_PBF_ISO0};
		return true;
	}
	if (!t->tpk[0]) {
		/* No TPK yet (no key change): the PIN block cannot be read. */
		txn_answer_now(t, "55", "no_tpk");
		return false;
	}
	*src = (hsmc_pin_src){.kind = HSMC_SRC_TPK, .key = t->tpk, .pin_block = t->pin_block,
	                      .format = HSM_PBF_ISO0};
	return true;
}

/* The PIN block (and for a PIN change the new one) to hsm-sim. */
static void pin_verify(struct sw_txn *t)
{
	hsmc_pin_src src;
	if (!txn_pin_src(t, &src))
		return;
	if (t->ksn[0] && !strcmp(t->txn_type, "pin_change")) {
		/* CU/DU take a TPK or ZPK: PIN changes are an ATM's, not a PIN pad's. */
		txn_answer_now(t, "12", "pin_change_with_dukpt");
		return;
	}
	bool ibm = strcmp(t->pin_method, "pvv") != 0;
	char valdata[17];
	txn_ibm_valdata(t->pan, valdata);
	int err;
	txn_set_state(t, TXN_PIN_VERIFY);
	if (!strcmp(t->txn_type, "pin_change"))
		err = hsmc_pin_change(t->sw->hsm, &src, t->pan, t->pvk, ibm, atoi(t->pvki),
		                      t->pin_data, IBM_DECTAB, valdata, t->pin_data,
		                      t->new_pin_block, on_pin, t);
	else if (!ibm)
		err = hsmc_verify_pin_pvv(t->sw->hsm, &src, t->pan, t->pvk, atoi(t->pvki), t->pin_data,
		                          on_pin, t);
	else
		err = hsmc_verify_pin_ibm(t->sw->hsm, &src, t->pan, t->pvk, IBM_DECTAB, valdata,
		                          t->pin_data, on_pin, t);
	if (err) {
		txn_hsm_refused(t, err);
		return;
	}
	t->op_pending = true;
}

static void on_card(void *arg, int status, const PGresult *res)
{
	struct sw_txn *t = arg;
	if (!txn_db_back(t, status, res))
		return;
	if (PQntuples(res) != 1) {
		/* Unknown card: authorise() answers 14 and logs it. */
		step_post(t);
		return;
	}
	if (!t->pin_block[0]) {
		/* A CVV2 to check. */
		if (PQgetisnull(res, 0, 6)) {
			txn_answer_now(t, "05", "no_cvk");
			return;
		}
		snprintf(t->cvk, sizeof t->cvk, "%s", PQgetvalue(res, 0, 6));
		snprintf(t->card_yymm, sizeof t->card_yymm, "%s", PQgetvalue(res, 0, 7));
		txn_set_state(t, TXN_PIN_VERIFY);
		int err = hsmc_verify_cvv(t->sw->hsm, t->cvk, t->pan, t->card_yymm, "000", t->cvv2,
		                          on_cvv2, t);
		if (err) {
			txn_hsm_refused(t, err);
			return;
		}
		t->op_pending = true;
		return;
	}
	if (PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 5)) {
		/* A PIN was entered but the card has no PIN data to check it
		 * against: never approve on an unchecked PIN. */
		txn_answer_now(t, "55", "no_pin_data");
		return;
	}
	snprintf(t->pin_method, sizeof t->pin_method, "%s", PQgetvalue(res, 0, 2));
	snprintf(t->pvki, sizeof t->pvki, "%s", PQgetisnull(res, 0, 3) ? "1" : PQgetvalue(res, 0, 3));
	snprintf(t->pin_data, sizeof t->pin_data, "%s", PQgetvalue(res, 0, 4));
	snprintf(t->pvk, sizeof t->pvk, "%s", PQgetvalue(res, 0, 5));
	pin_verify(t);
}

static void pan_hash(struct sw_txn *t)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	HMAC(EVP_sha256(), t->sw->pan_key, (int)t->sw->pan_key_len, (const uint8_t *)t->pan,
	     strlen(t->pan), md, &mdlen);
	static const char hex[] = "0123456789abcdef";
	t->pan_hash[0] = '\\';
	t->pan_hash[1] = 'x';
	for (unsigned i = 0; i < mdlen && i < 32; i++) {
		t->pan_hash[2 + 2 * i] = hex[md[i] >> 4];
		t->pan_hash[3 + 2 * i] = hex[md[i] & 15];
	}
	t->pan_hash[2 + 2 * 32] = '\0';
}

static void financial_after_mac(struct sw_txn *t)
{
	if (t->kind != TK_FINANCIAL) {
		step_post(t);
		return;
	}
	if ((t->link = sw_link_for_pan(t->sw, t->pan)) != NULL) {
		txn_route(t);
		return;
	}
	bool pin_change = !strcmp(t->txn_type, "pin_change");
	bool at_atm = !strcmp(t->term_kind, "atm");
	bool needs_pin = !strcmp(t->txn_type, "cash") || !strcmp(t->txn_type, "balance") ||
	                 pin_change;
	if (!t->pin_block[0] && needs_pin && at_atm) {
		txn_answer_now(t, "55", "pin_required");
		return;
	}
	if (pin_change && !t->new_pin_block[0]) {
		txn_answer_now(t, "30", "format: PIN change without DE 48 NP");
		return;
	}
	if (!strcmp(t->txn_type, "cardless")) {
		txn_cardless(t);
		return;
	}
	pan_hash(t);
	if (!t->pin_block[0] && !t->cvv2[0]) {
		step_post(t);
		return;
	}
	hsmc_pin_src src;
	if (t->pin_block[0] && !txn_pin_src(t, &src))
		return; /* answered: no key for the PIN block */
	const char *v[1] = {t->pan_hash};
	if (!txn_db_exec(t, TXN_CARD_LOOKUP, "card_lookup", 1, v, on_card)) {
		txn_answer_now(t, "91", "db_unavailable");
	}
}

static void on_mac_verified(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "mac verify"))
		return;
	if (r->hsm_err != HSM_E_OK) {
		swm_inc(SWM_MAC_FAILURES);
		txn_answer_now(t, "63", "mac_wrong");
		return;
	}
	financial_after_mac(t);
}

static void financial_after_term(struct sw_txn *t)
{
	struct sw_conn *c = t->conn;
	if (!t->term_known || !t->term_active) {
		txn_answer_now(t, "03", t->term_known ? "terminal_inactive" : "unknown_terminal");
		return;
	}
	if (t->acq[0] && strcmp(t->acq, t->term_acq) != 0) {
		/* DE 32 decides own or foreign pricing: a terminal speaks only for
		 * the institution that owns it. */
		txn_answer_now(t, "03", "acquirer_mismatch");
		return;
	}
	if (c && c->lst->cfg.require_signon &&
	    (!c->signed_on || (!t->peer_zpk && strcmp(c->tid, t->tid)))) {
		txn_answer_now(t, "58", "not_signed_on");
		return;
	}
	if (!t->tak[0]) {
		if (t->mac_de) {
			/* A MAC we have no key to check is not a MAC we can trust. */
			swm_inc(SWM_MAC_FAILURES);
			txn_answer_now(t, "63", "mac_without_tak");
			return;
		}
		financial_after_mac(t);
		return;
	}
	char mac[17];
	size_t covered;
	if (!fields_request_mac(t, mac, &covered)) {
		swm_inc(SWM_MAC_FAILURES);
		t->mac_de = 0; /* the answer is not MACed either */
		txn_answer_now(t, "63", "mac_missing");
		return;
	}
	txn_set_state(t, TXN_MAC_VERIFY);
	if (hsmc_verify_mac(t->sw->hsm, HSM_KT_TAK, t->tak, '3', 8, t->raw, covered, mac,
	                    on_mac_verified, t) != 0) {
		swm_inc(SWM_HSM_ERRORS);
		txn_answer_now(t, "91", "hsm_unavailable");
		return;
	}
	t->op_pending = true;
}

/* ---- start, detach, free --------------------------------------------------- */

static enum txn_kind kind_of(const char mti[4])
{
	/* mti: version, class, function, origin (0 acquirer, 1 its repeat) */
	if (mti[3] != '0' && mti[3] != '1')
		return TK_UNSUPPORTED;
	if (mti[2] != '0' && mti[2] != '2')
		return TK_UNSUPPORTED;
	switch (mti[1]) {
	case '8':
		return mti[2] == '0' ? TK_NETMGMT : TK_UNSUPPORTED;
	case '1':
		return mti[2] == '0' ? TK_FINANCIAL : TK_ADVICE;
	case '2':
		return mti[2] == '0' ? TK_FINANCIAL : TK_COMPLETION;
	case '4':
		return TK_REVERSAL;
	case '5':
		return mti[2] == '0' ? TK_RECONCILE : TK_UNSUPPORTED;
	default:
		return TK_UNSUPPORTED;
	}
}

static struct sw_txn *txn_new(struct sw *sw)
{
	struct sw_txn *t = sw->free_txns;
	if (t) {
		sw->free_txns = t->cnext;
	} else {
		t = malloc(sizeof *t);
		if (!t)
			return NULL;
		t->raw = NULL;
		t->rawcap = 0;
		t->deadline = NULL;
		t->retry = NULL;
	}
	uint8_t *raw = t->raw;
	size_t rawcap = t->rawcap;
	struct event *dl = t->deadline, *rt = t->retry;
	/* Only the scalar part is cleared: the message buffers are filled
	 * before use. */
	memset(t, 0, offsetof(struct sw_txn, req));
	memset(t->mti, 0, sizeof *t - offsetof(struct sw_txn, mti));
	t->raw = raw;
	t->rawcap = rawcap;
	t->deadline = dl ? dl : event_new(sw->base, -1, 0, on_deadline, t);
	t->retry = rt ? rt : event_new(sw->base, -1, 0, on_retry, t);
	if (!t->deadline || !t->retry) {
		free(t);
		return NULL;
	}
	t->outlen = 0;
	t->sw = sw;
	t->id = ++sw->next_txn_id;
	sw->ntxn_live++;
	return t;
}

void txn_free(struct sw_txn *t)
{
	struct sw *sw = t->sw;
	event_del(t->deadline);
	event_del(t->retry);
	explicit_bzero(t->pan, sizeof t->pan);
	explicit_bzero(t->pin_block, sizeof t->pin_block);
	explicit_bzero(t->new_pin_block, sizeof t->new_pin_block);
	explicit_bzero(t->cvv2, sizeof t->cvv2);
	if (t->rawcap)
		explicit_bzero(t->raw, t->rawcap);
	t->state = TXN_DONE;
	if (t->in_live) {
		if (t->gprev)
			t->gprev->gnext = t->gnext;
		else
			sw->live_fin = t->gnext;
		if (t->gnext)
			t->gnext->gprev = t->gprev;
		t->in_live = false;
	}
	struct sw_txn *w = t->waiters;
	t->waiters = NULL;
	t->cnext = sw->free_txns;
	sw->free_txns = t;
	sw->ntxn_live--;
	/* The original is settled: the reversals that waited for it go on. */
	while (w) {
		struct sw_txn *next = w->wnext;
		w->waits_on = NULL;
		w->wnext = NULL;
		txn_with_terminal(w, false, financial_after_term);
		w = next;
	}
}

void sw_txn_free_cache(struct sw *sw)
{
	while (sw->free_txns) {
		struct sw_txn *t = sw->free_txns;
		sw->free_txns = t->cnext;
		event_free(t->deadline);
		event_free(t->retry);
		free(t->raw);
		free(t);
	}
}

void sw_txn_detach_all(struct sw_conn *c)
{
	while (c->txns) {
		struct sw_txn *t = c->txns;
		c->txns = t->cnext;
		t->cprev = t->cnext = NULL;
		t->conn = NULL;
	}
}

/* A terminal that timed out sends its reversal while the original may
 * still be in the switch (same connection, pipelined, or a new one). Run
 * it after the original is settled, or it finds nothing to reverse (25)
 * and the original's approval stands for cash that was never dispensed. */
/* t waits for o, in flight in this process, and goes on when o is freed. */
static void wait_on(struct sw_txn *t, struct sw_txn *o)
{
	t->waits_on = o;
	t->wnext = o->waiters;
	o->waiters = t;
	txn_set_state(t, TXN_WAIT_ORIGINAL);
}

static bool wait_for_original(struct sw_txn *t)
{
	for (struct sw_txn *o = t->sw->live_fin; o; o = o->gnext) {
		if (o->kind != TK_FINANCIAL || o->state == TXN_DONE || strcmp(o->tid, t->tid) ||
		    strcmp(o->stan, t->orig_stan) ||
		    strcmp(o->de7, t->orig_de7) || (t->acq[0] && o->acq[0] && strcmp(o->acq, t->acq)))
			continue;
		wait_on(t, o);
		swlog(SWLOG_INFO, t->conn ? t->conn->id : 0, t->id, "txn",
		      "reversal of stan=%s waits for its original (txn %llu, %s)", t->orig_stan,
		      (unsigned long long)o->id, state_names[o->state]);
		return true;
	}
	return false;
}

/* A terminal repeats a reversal (0421) it has had no answer to, every few
 * seconds; while the first copy is still in flight here, a repeat waits
 * for it instead of adding to the database's queue (and then gets the
 * first one's answer from the duplicate check, cheaply). */
static bool wait_for_same_reversal(struct sw_txn *t)
{
	for (struct sw_txn *o = t->sw->live_fin; o; o = o->gnext) {
		if (o == t || o->kind != TK_REVERSAL || o->state == TXN_DONE || strcmp(o->tid, t->tid) ||
		    strcmp(o->stan, t->stan) || strcmp(o->de7, t->de7) ||
		    (t->acq[0] && o->acq[0] && strcmp(o->acq, t->acq)))
			continue;
		wait_on(t, o);
		swlog(SWLOG_INFO, t->conn ? t->conn->id : 0, t->id, "txn",
		      "repeat of reversal stan=%s waits for the first (txn %llu, %s)", t->stan,
		      (unsigned long long)o->id, state_names[o->state]);
		return true;
	}
	return false;
}

void sw_txn_start(struct sw_conn *c, const uint8_t *msg, size_t len)
{
	struct sw *sw = c->sw;
	struct sw_txn *t = txn_new(sw);
	if (!t) {
		sw_conn_close_bad(c, "out of memory");
		return;
	}
	t->t0_us = sw_now_us();
	if (t->rawcap < len) {
		uint8_t *p = realloc(t->raw, len);
		if (!p) {
			txn_free(t);
			sw_conn_close_bad(c, "out of memory");
			return;
		}
		t->raw = p;
		t->rawcap = len;
	}
	memcpy(t->raw, msg, len);
	t->rawlen = len;
	t->profile = c->lst->cfg.profile;
	if (c->lst->cfg.peer_zpk[0]) {
		t->peer_zpk = c->lst->cfg.peer_zpk;
		t->peer_acquirers = c->lst->cfg.peer_acquirers;
	}

	struct iso_error err;
	int rc = iso_unpack(t->profile, t->raw, len, &t->req, &err);
	if (rc == ISO_ERR_MTI || rc == ISO_ERR_BITMAP || (rc != 0 && err.de == 1) ||
	    (rc == ISO_ERR_TRUNCATED && err.de == 0)) {
		/* No MTI or bitmap to answer to: close this one connection. */
		char why[128], e[96];
		iso_error_format(&err, e, sizeof e);
		snprintf(why, sizeof why, "undecodable message: %s", e);
		swm_inc(SWM_MSG_FORMAT_ERROR);
		txn_free(t);
		sw_conn_close_bad(c, why);
		return;
	}

	t->conn = c;
	t->cnext = c->txns;
	if (c->txns)
		c->txns->cprev = t;
	c->txns = t;
	sw->inflight++;
	struct timeval tv = {sw->cfg.txn_deadline_ms / 1000, (sw->cfg.txn_deadline_ms % 1000) * 1000};
	event_add(t->deadline, &tv);

	if (rc != 0) {
		/* Decoded up to a bad field: answer 30, echoing what came before it. */
		char e[96];
		iso_error_format(&err, e, sizeof e);
		for (unsigned de = err.de ? err.de : 2; de <= ISO_MAX_DE; de++)
			if (err.de || rc != ISO_ERR_TRAILING)
				iso_unset(&t->req, de);
		memcpy(t->mti, t->req.mti, 4);
		memcpy(t->resp_mti, t->mti, 4);
		t->kind = kind_of(t->mti);
		t->resp_mti[2] = (char)(t->mti[2] + 1);
		t->resp_mti[3] = '0';
		if (kind_of(t->mti) == TK_UNSUPPORTED && t->mti[2] != '0') {
			/* A response or an advice acknowledgement from the terminal:
			 * nothing to answer. */
			swlog(SWLOG_WARN, c->id, t->id, "format", "mti=%s %s (no answer to a response)",
			      t->mti, e);
			swm_inc(SWM_MSG_FORMAT_ERROR);
			t->maybe_approved = false;
			t->outlen = 0;
			txn_send(t);
			return;
		}
		swm_inc(SWM_MSG_FORMAT_ERROR);
		swlog(SWLOG_WARN, c->id, t->id, "format", "mti=%s %s", t->mti, e);
		txn_answer_now(t, "30", "format_error");
		return;
	}

	t->kind = kind_of(t->req.mti);
	if (t->kind == TK_UNSUPPORTED && t->req.mti[2] != '0' && t->req.mti[2] != '2') {
		/* 0810, 0230, ...: a response to us; we send no requests. */
		memcpy(t->mti, t->req.mti, 4);
		swlog(SWLOG_WARN, c->id, t->id, "txn", "mti=%.4s unexpected response, ignored",
		      t->req.mti);
		txn_set_rc(t, "--", "ignored");
		t->outlen = 0;
		txn_send(t);
		return;
	}
	if (!fields_parse(t)) {
		if (!strcmp(t->rc, "30")) {
			swm_inc(SWM_MSG_FORMAT_ERROR);
			swlog(SWLOG_WARN, c->id, t->id, "format", "mti=%s %s", t->mti, t->rule);
		}
		txn_answer(t);
		return;
	}
	if (t->kind == TK_NETMGMT) {
		txn_netmgmt(t);
		return;
	}
	if (t->kind == TK_REVERSAL && wait_for_same_reversal(t))
		return;
	if (t->kind == TK_FINANCIAL || t->kind == TK_REVERSAL) {
		t->gnext = sw->live_fin;
		if (sw->live_fin)
			sw->live_fin->gprev = t;
		sw->live_fin = t;
		t->in_live = true;
	}
	if (t->kind == TK_REVERSAL && wait_for_original(t))
		return;
	txn_with_terminal(t, false, financial_after_term);
}

uint64_t sw_now_ms(void)
{
	return sw_now_us() / 1000;
}

uint64_t sw_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
