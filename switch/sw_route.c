/* Cards of other institutions: a transaction forwarded on a route
 * (sw_link.h, docs/switchd.md "Routes"); part of the state machine. */
#include <stdio.h>
#include <string.h>

#include "sw_log.h"
#include "sw_metrics.h"
#include "sw_txn_int.h"

/* ---- cards of other institutions: forwarded on a route ------------------------ */

static void on_upstream(void *arg, int status, const struct iso_msg *resp,
                        const struct swl_orig *orig)
{
	struct sw_txn *t = arg;
	t->link_orig = *orig;
	if (!txn_op_done(t)) {
		txn_free(t);
		return;
	}
	if (status != SWL_OK) {
		txn_answer_now(t, "91", status == SWL_TIMEOUT ? "upstream_timeout" : "upstream_down");
		return;
	}
	char rc[3] = "", code[7] = "";
	if (iso_get(resp, 39, rc, sizeof rc) != 2) {
		/* Undecidable answer: treat as possibly approved. */
		t->maybe_approved = true;
		txn_answer_now(t, "96", "upstream_answer_without_39");
		return;
	}
	iso_get(resp, 38, code, sizeof code);
	if (iso_has(resp, 54))
		iso_get(resp, 54, t->up54, sizeof t->up54);
	if (iso_has(resp, 28))
		iso_get(resp, 28, t->up28, sizeof t->up28);
	snprintf(t->approval, sizeof t->approval, "%s", code);
	t->maybe_approved = !strcmp(rc, "00");
	char rule[64];
	snprintf(rule, sizeof rule, "upstream_%s", sw_link_name(t->link));
	txn_answer_now(t, rc, rule);
}

static void route_send(struct sw_txn *t)
{
	txn_set_state(t, TXN_UPSTREAM);
	int err = sw_link_send(t->link, &t->req, t->zpk_block[0] ? t->zpk_block : NULL, on_upstream,
	                       t, &t->link_handle);
	explicit_bzero(t->zpk_block, sizeof t->zpk_block);
	if (err) {
		txn_answer_now(t, err == SWL_DOWN ? "91" : "96",
		           err == SWL_DOWN ? "upstream_down" : "upstream_unbuildable");
		return;
	}
	t->op_pending = true;
}

static void on_translated(const hsmc_reply *r, void *arg)
{
	struct sw_txn *t = arg;
	if (!txn_hsm_back(t, r, "pin translate"))
		return;
	if (r->hsm_err != HSM_E_OK || strlen(r->pin_block) != 16) {
		/* A block that does not decrypt to a PIN under the TPK is a wrong
		 * PIN to the issuer; nothing else can be forwarded. */
		txn_answer_now(t, r->hsm_err == HSM_E_PIN_BLOCK ? "55" : "96", "pin_translate_failed");
		return;
	}
	snprintf(t->zpk_block, sizeof t->zpk_block, "%s", r->pin_block);
	route_send(t);
}

void txn_route(struct sw_txn *t)
{
	if (!t->pin_block[0]) {
		route_send(t);
		return;
	}
	hsmc_pin_src src;
	if (!txn_pin_src(t, &src))
		return;
	if (!sw_link_zpk(t->link)[0]) {
		txn_answer_now(t, "96", "route_without_zpk");
		return;
	}
	txn_set_state(t, TXN_PIN_TRANSLATE);
	if (hsmc_translate_pin(t->sw->hsm, &src, sw_link_zpk(t->link), HSM_PBF_ISO0, t->pan, 12,
	                       on_translated, t) != 0) {
		swm_inc(SWM_HSM_ERRORS);
		txn_answer_now(t, "91", "hsm_unavailable");
		return;
	}
	t->op_pending = true;
}

