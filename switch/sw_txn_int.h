/*
 * Inside a transaction: shared by sw_txn.c (the state machine and its
 * database and HSM steps) and sw_fields.c (reading the request, building
 * the answer).
 */
#ifndef SW_TXN_INT_H
#define SW_TXN_INT_H

#include "sw.h"
#include "sw_link.h"

/* What the transaction waits for. Changed only by txn_set_state(). */
enum txn_state {
	TXN_NEW,
	TXN_WAIT_ORIGINAL,/* a reversal whose original is still being processed here */
	TXN_TERM_LOAD,    /* database: terminal_keys() */
	TXN_MAC_VERIFY,   /* HSM: the request's MAC */
	TXN_CARD_LOOKUP,  /* database: card_lookup() for PIN data */
	TXN_PIN_VERIFY,   /* HSM: PIN against PVV / offset */
	TXN_POST,         /* database: authorise() / reverse() / complete_preauth() */
	TXN_PIN_TRANSLATE,/* HSM: PIN block from the TPK to a route's ZPK */
	TXN_UPSTREAM,     /* a route's link: another institution decides */
	TXN_KEY_EXCHANGE, /* HSM: new TPK and TAK under the TMK */
	TXN_KEY_STORE,    /* database: terminal_set_keys() */
	TXN_MAC_ANSWER,   /* HSM: the answer's MAC */
	TXN_LATE,         /* answered 91 at the deadline; the operation in flight decides what is left to undo */
	TXN_REVERSING,    /* a switch-initiated reversal in flight or waiting to be retried */
	TXN_DONE,
};

enum txn_kind {
	TK_NETMGMT,
	TK_FINANCIAL,
	TK_ADVICE, /* 0120: a stand-in approval to record, always acknowledged */
	TK_REVERSAL,
	TK_COMPLETION,
	TK_RECONCILE,
	TK_UNSUPPORTED,
};

struct sw_txn {
	uint64_t id;
	struct sw *sw;
	struct sw_conn *conn;      /* NULL once answered or when the terminal left */
	struct sw_txn *cprev, *cnext;
	struct sw_txn *gprev, *gnext; /* financial transactions alive in this process */
	bool in_live;
	struct sw_txn *waits_on;      /* TXN_WAIT_ORIGINAL: the original */
	struct sw_txn *waiters, *wnext; /* reversals waiting for this one */
	enum txn_state state;
	enum txn_state late_from;  /* TXN_LATE: what was in flight at the deadline */
	enum txn_kind kind;
	enum iso_profile profile;
	bool op_pending;           /* a database or HSM callback will come */
	struct pgp_req *dbreq;     /* the database request, while cancellable */
	struct event *deadline;
	struct event *retry;
	void (*after_term)(struct sw_txn *);
	uint64_t t0_us;
	unsigned rev_tries;
	bool maybe_approved;       /* something may have committed that a reversal must undo */

	uint8_t *raw;              /* the request as received */
	size_t rawlen, rawcap;
	struct iso_msg req, resp;
	uint8_t out[8192];
	size_t outlen;

	/* The request, validated. */
	char mti[5], resp_mti[5], proc[7], tid[9], acq[12], stan[7], de7[11];
	char pan[20], expiry[11], currency[4], amount[13], merchant[16], mcc[5], rrn[13];
	char cash_amount[13];      /* a cash-back's cash part (DE 54 amount type 40), "" if none */
	char txn_type[16], pan_hash[68], nmic[4];
	char pin_block[33];        /* hex: DE 52 (16), or DE 48 P4 (32, AES DUKPT) */
	char ksn[25];              /* DE 48 KS: DUKPT key serial number, 20 or 24 hex */
	char orig_stan[7], orig_de7[11], replacement[13];
	unsigned mac_de;           /* 64 or 128 when the request carries a MAC */
	char entry_mode[4], cond_code[3]; /* DE 22, DE 25 */
	char cvv2[4], new_pin_block[17];  /* DE 48 tags C2, NP */
	char reference[17];        /* DE 102: a cardless-cash voucher's cash-account number */
	char totals[200];          /* 0500: DE 74-77, 86-89 as a PostgreSQL array literal */
	bool recurring;            /* DE 48 tag RC = 1: a card-on-file recurring charge */
	const char *cvm;           /* how the cardholder was verified, for authorise() */

	/* A network link from another institution (listener peer_zpk): its
	 * ZPK and the acquirer ids it may send; NULL on a terminal listener. */
	const char *peer_zpk, *peer_acquirers;

	/* The terminal (copied from the cache). */
	bool term_known, term_active;
	char term_acq[12];         /* its owner's acquirer id (terminals table) */
	char term_kind[4], tmk[82], tpk[82], tak[82], bdk[82], aes_bdk[82];

	/* card_lookup() */
	char pin_method[8], pvki[4], pin_data[16], pvk[82], cvk[82], card_yymm[5];
	char pin_result[4], cvv2_result[4], new_pin_data[13];

	/* Routed to another institution (sw_link.h). */
	struct sw_link *link;
	uint64_t link_handle;
	struct swl_orig link_orig;
	char zpk_block[17];
	char up54[121], up28[10]; /* the issuer's DE 54 and DE 28 (fee), relayed */

	/* Outcome. */
	bool db_decided;           /* the answer came from the database's rules (else logged as 'local') */
	char rc[3], rule[64], approval[7], auth_id[24], cur_acct[4];
	long long fee, ledger, avail;
	bool have_balances;
	char de48[256];
	char tpk_lmk[82], tak_lmk[82];
};

void txn_set_state(struct sw_txn *t, enum txn_state to);

/* sw_txn.c: the steps the other parts of the state machine share. */
void txn_set_rc(struct sw_txn *t, const char *rc, const char *rule);
/* Build and send (MACed when due) the answer for t->rc. */
void txn_answer(struct sw_txn *t);
/* txn_set_rc, then txn_answer. */
void txn_answer_now(struct sw_txn *t, const char *rc, const char *rule);
/* Return t to the free list (nothing may be pending on it). */
void txn_free(struct sw_txn *t);
/* Send a prepared statement for t, moving to state st; false when the
 * pool refused it (the caller answers 91). */
bool txn_db_exec(struct sw_txn *t, enum txn_state st, const char *stmt, int n,
                 const char *const *vals, pgp_cb cb);
void txn_db_failed(struct sw_txn *t, int status, const PGresult *res);
/* An operation's callback has come. False when t was already answered at
 * its deadline (TXN_LATE). */
bool txn_op_done(struct sw_txn *t);
/* Start of read / HSM-check callbacks: false when t has been answered
 * (91) or let go here. */
bool txn_db_back(struct sw_txn *t, int status, const PGresult *res);
bool txn_hsm_back(struct sw_txn *t, const hsmc_reply *r, const char *what);
/* Load t->tid's keys (from the cache unless fresh), then next(t). */
void txn_with_terminal(struct sw_txn *t, bool fresh, void (*next)(struct sw_txn *));

/* The callback of the statements that decide (authorise() and its
 * kin, returning an auth_result): records the outcome and answers. */
void txn_posted(void *arg, int status, const PGresult *res);
/* t's deadline on the wall clock ("seconds.micros" since the epoch), for
 * the statements that refuse to commit an approval after it. */
void txn_deadline_wall(const struct sw_txn *t, char *out, size_t cap);
/* An HSM check's verdict: 1 verified, 0 wrong, -1 an HSM error (logged
 * and answered 96 here). */
int txn_hsm_verdict(struct sw_txn *t, const hsmc_reply *r, const char *what);
/* Where t's PIN block comes from: the terminal's TPK, or its PIN pad's
 * DUKPT key (BDK + KSN). False when that key is missing (answered 55). */
bool txn_pin_src(struct sw_txn *t, hsmc_pin_src *src);
/* An hsmc_* call refused to send (err): 96 for a bad request, else 91. */
void txn_hsm_refused(struct sw_txn *t, int err);
/* IBM 3624 parameters (docs/switchd.md): the fixed decimalisation table,
 * and the validation data of an account number (PAN or voucher). */
#define IBM_DECTAB "0123456789012345"
void txn_ibm_valdata(const char *pan, char out[17]);

/* sw_cardless.c: a cardless-cash withdrawal (processing code 93). */
void txn_cardless(struct sw_txn *t);

/* sw_netm.c: an 0800. */
void txn_netmgmt(struct sw_txn *t);
/* sw_route.c: forward a financial request on t->link. */
void txn_route(struct sw_txn *t);

/* sw_fields.c */

/* Validate the request for its kind and fill the parsed fields. Returns
 * true, or false with t->rc = "30" (or "12") and t->rule saying why. */
bool fields_parse(struct sw_txn *t);
/* Build and pack the answer for t->rc into t->out (MAC field zeroed when
 * with_mac). Returns false when it cannot be packed. */
bool fields_answer(struct sw_txn *t, bool with_mac);
/* Where the MAC input ends / the MAC goes in t->out. */
size_t fields_mac_len(const struct sw_txn *t);
void fields_put_mac(struct sw_txn *t, const char *mac_hex);
/* The request's MAC (16 hex) and the length of the request it covers;
 * false when the MAC field is not the last field. */
bool fields_request_mac(const struct sw_txn *t, char mac_hex[17], size_t *covered);
/* The key-change DE 48 from the HSM's answer. */
void fields_key_tags(struct sw_txn *t, const hsmc_reply *r);
/* Non-empty and only the digits 0-9. */
bool fields_all_digits(const char *s);
/* Masked PAN for logs. */
void fields_masked_pan(const struct sw_txn *t, char out[24]);

#endif
