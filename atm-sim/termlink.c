/* The terminal side of the terminal link (termlink.h). */
#include "termlink.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlconn.h"
#include "tlreq.h"

#define TL_BUF 8192 /* receive buffer: two maximum messages and headers */

struct tl_term {
	struct tl_config cfg;
	struct tlq_ident id;
	char host[256], ca[512];
	pc_key tmk, tpk, tak;
	bool has_tmk, has_tpk, has_tak;
	unsigned stan;
	tlc_conn *conn;
	struct tlq_req last;     /* for tl_repeat */
	struct tlq_req last_fin; /* for tl_reverse */
	uint8_t rbuf[TL_BUF];
	size_t rlen;
	uint8_t msg[TL_BUF]; /* the current answer's bytes; ans views point here */
	size_t msglen;
	struct iso_msg ans;
	bool has_ans;
	char reason[256];
};

const char *tl_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case TL_ERR_ARG: return "bad argument";
	case TL_ERR_NOMEM: return "out of memory";
	case TL_ERR_CONNECT: return "cannot connect";
	case TL_ERR_IO: return "I/O error";
	case TL_ERR_CLOSED: return "connection closed";
	case TL_ERR_TIMEOUT: return "no answer in time";
	case TL_ERR_FRAME: return "bad framing from the switch";
	case TL_ERR_DECODE: return "undecodable message from the switch";
	case TL_ERR_ENCODE: return "cannot encode the request";
	case TL_ERR_NO_KEY: return "key missing";
	case TL_ERR_KEYS: return "key change refused";
	case TL_ERR_CRYPTO: return "crypto failure";
	case TL_ERR_FILE: return "bad key file";
	case TL_ERR_NO_ORIGINAL: return "no earlier request";
	default: return "unknown error";
	}
}

static int fail(tl_term *t, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(tl_term *t, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->reason, sizeof t->reason, fmt, ap);
	va_end(ap);
	return err;
}

const char *tl_reason(const tl_term *t)
{
	return t->reason;
}

static bool is_text(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Copies an optional configuration string; false when it does not fit. */
static bool keep(char *dst, size_t cap, const char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return true;
	}
	if (strlen(src) >= cap)
		return false;
	strcpy(dst, src);
	return true;
}

tl_term *tl_new(const struct tl_config *cfg, int *err)
{
	int dummy;
	if (err == NULL)
		err = &dummy;
	*err = TL_ERR_ARG;
	if (cfg->terminal_id == NULL || !is_text(cfg->terminal_id, 1, 8) ||
	    cfg->acquirer_id == NULL || !tlf_digits(cfg->acquirer_id, 1, 11) ||
	    (cfg->mcc && !tlf_digits(cfg->mcc, 4, 4)) ||
	    (cfg->merchant_id && !is_text(cfg->merchant_id, 1, 15)) ||
	    (cfg->location && !is_text(cfg->location, 1, 40)) ||
	    (cfg->framing != ISO_FRAME_BIN2 && cfg->framing != ISO_FRAME_ASCII4) ||
	    (cfg->profile != ISO_ASCII87 && cfg->profile != ISO_BINARY87) ||
	    cfg->max_msg > 4096)
		return NULL;
	tl_term *t = calloc(1, sizeof *t);
	if (t == NULL) {
		*err = TL_ERR_NOMEM;
		return NULL;
	}
	t->cfg = *cfg;
	struct tlq_ident *id = &t->id;
	if (!keep(id->tid, sizeof id->tid, cfg->terminal_id) ||
	    !keep(id->acq, sizeof id->acq, cfg->acquirer_id) ||
	    !keep(id->mcc, sizeof id->mcc, cfg->mcc ? cfg->mcc : "6011") ||
	    !keep(id->mid, sizeof id->mid, cfg->merchant_id) ||
	    !keep(id->loc, sizeof id->loc, cfg->location) ||
	    !keep(t->host, sizeof t->host, cfg->host ? cfg->host : "127.0.0.1") ||
	    !keep(t->ca, sizeof t->ca, cfg->tls_ca)) {
		free(t);
		return NULL;
	}
	t->cfg.terminal_id = id->tid;
	t->cfg.acquirer_id = id->acq;
	t->cfg.mcc = id->mcc;
	t->cfg.merchant_id = id->mid[0] ? id->mid : NULL;
	t->cfg.location = id->loc[0] ? id->loc : NULL;
	t->cfg.host = t->host;
	t->cfg.tls_ca = t->ca[0] ? t->ca : NULL;
	if (t->cfg.max_msg == 0)
		t->cfg.max_msg = 4096;
	if (t->cfg.framing == ISO_FRAME_ASCII4 && t->cfg.max_msg > 9999)
		t->cfg.max_msg = 9999;
	if (t->cfg.timeout_ms == 0)
		t->cfg.timeout_ms = 5000;
	t->stan = 1;
	*err = 0;
	return t;
}

void tl_free(tl_term *t)
{
	if (t == NULL)
		return;
	tl_disconnect(t);
	pc_wipe(t, sizeof *t);
	free(t);
}

/* ---- keys ------------------------------------------------------------------ */

static int tdes_key(pc_key *k, const uint8_t *b, size_t len)
{
	if ((len != 16 && len != 24) || !pc_des_parity_ok(b, len))
		return TL_ERR_ARG;
	return pc_key_set(k, PC_ALG_TDES, b, len) == 0 ? 0 : TL_ERR_ARG;
}

int tl_set_tmk(tl_term *t, const uint8_t *key, size_t len)
{
	if (tdes_key(&t->tmk, key, len) != 0)
		return fail(t, TL_ERR_ARG, "TMK: not a double- or triple-length TDES key with odd parity");
	t->has_tmk = true;
	return 0;
}

int tl_load_tmk(tl_term *t, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fail(t, TL_ERR_FILE, "%s: cannot open", path);
	char line[256];
	unsigned ln = 0;
	int rc = fail(t, TL_ERR_FILE, "%s: no key for terminal %s", path, t->id.tid);
	while (fgets(line, sizeof line, f)) {
		ln++;
		char id[64], hex[64], extra[2];
		char *s = line + strspn(line, " \t");
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		if (sscanf(s, "%63s %63s %1s", id, hex, extra) != 2) {
			rc = fail(t, TL_ERR_FILE, "%s:%u: want TERMINAL-ID HEX-KEY", path, ln);
			break;
		}
		if (strcmp(id, t->id.tid) != 0)
			continue;
		uint8_t k[24];
		int n = pc_hex_decode(hex, strlen(hex), k, sizeof k);
		rc = n < 0 ? TL_ERR_ARG : tl_set_tmk(t, k, (size_t)n);
		pc_wipe(k, sizeof k);
		pc_wipe(hex, sizeof hex);
		if (rc != 0)
			fail(t, TL_ERR_ARG, "%s:%u: key of %s is not 32 or 48 hex of a TDES key with odd parity",
			     path, ln, id);
		break;
	}
	pc_wipe(line, sizeof line);
	fclose(f);
	return rc;
}

int tl_set_working_keys(tl_term *t, const pc_key *tpk, const pc_key *tak)
{
	if ((tpk && (tpk->alg != PC_ALG_TDES || tpk->len < 16)) ||
	    (tak && (tak->alg != PC_ALG_TDES || tak->len != 16)))
		return fail(t, TL_ERR_ARG, "working keys must be TDES (TAK double length)");
	t->has_tpk = tpk != NULL;
	t->has_tak = tak != NULL;
	if (tpk)
		t->tpk = *tpk;
	if (tak)
		t->tak = *tak;
	return 0;
}

bool tl_has_tmk(const tl_term *t) { return t->has_tmk; }
bool tl_has_tpk(const tl_term *t) { return t->has_tpk; }
bool tl_has_tak(const tl_term *t) { return t->has_tak; }

void tl_set_stan(tl_term *t, unsigned stan)
{
	t->stan = stan >= 1 && stan <= 999999 ? stan : 1;
}

/* The STAN the next new message gets; it is used up by next_stan. */
static void peek_stan(const tl_term *t, char out[7])
{
	unsigned c = t->stan;
	tlq_next_stan(&c, out);
}

static void next_stan(tl_term *t, char out[7])
{
	tlq_next_stan(&t->stan, out);
}

int tl_keys_from_de48(const pc_key *tmk, const char *de48, size_t len,
                      pc_key *tpk, pc_key *tak, char *why, size_t cap)
{
	struct tlf_keytags kt;
	char tag[3];
	int rc = tlf_keytags_parse(de48, len, &kt, tag);
	if (rc != 0) {
		snprintf(why, cap, "DE 48%s%s: %s", tag[0] ? " tag " : "", tag, tlf_strerror(rc));
		return TL_ERR_KEYS;
	}
	const struct {
		const char *name, *hex, *kcv;
		pc_key *out;
	} k[2] = {{"TPK", kt.kp, kt.cp, tpk}, {"TAK", kt.ka, kt.ca, tak}};
	pc_key tmp[2];
	rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		uint8_t b[24], kcv[3];
		char kcvhex[7];
		int n = pc_hex_decode(k[i].hex, strlen(k[i].hex), b, sizeof b);
		if (i == 1 && n != 16) {
			snprintf(why, cap, "TAK is not double length");
			rc = TL_ERR_KEYS;
		} else if (n < 0 || pc_ecb(tmk, false, b, b, (size_t)n) != 0 ||
		           pc_key_set(&tmp[i], PC_ALG_TDES, b, (size_t)n) != 0 ||
		           pc_kcv(&tmp[i], kcv) != 0) {
			snprintf(why, cap, "%s: cannot decrypt", k[i].name);
			rc = TL_ERR_KEYS;
		} else {
			pc_hex_encode(kcv, 3, kcvhex);
			if (strcasecmp(kcvhex, k[i].kcv) != 0) {
				snprintf(why, cap, "%s check value mismatch (got %s, computed %s)",
				         k[i].name, k[i].kcv, kcvhex);
				rc = TL_ERR_KEYS;
			}
		}
		pc_wipe(b, sizeof b);
	}
	if (rc == 0) {
		*tpk = tmp[0];
		*tak = tmp[1];
	}
	pc_wipe(tmp, sizeof tmp);
	pc_wipe(&kt, sizeof kt);
	return rc;
}

int tl_pin_block(const pc_key *tpk, const char *pin, const char *pan, uint8_t out[8])
{
	uint8_t blk[PC_PIN_BLOCK_MAX];
	size_t n = 0;
	int rc = pc_pin_encrypt(tpk, PC_PIN_ISO0, pin, pan, NULL, blk, &n);
	if (rc == 0 && n == 8)
		memcpy(out, blk, 8);
	pc_wipe(blk, sizeof blk);
	if (rc == PC_ERR_PIN_LEN || rc == PC_ERR_PAN || rc == PC_ERR_FORMAT)
		return TL_ERR_ARG;
	return rc == 0 && n == 8 ? 0 : TL_ERR_CRYPTO;
}

/* ---- MAC ------------------------------------------------------------------- */

unsigned tl_mac_field(const struct iso_msg *m)
{
	for (unsigned de = 65; de <= ISO_MAX_DE; de++)
		if (de != 128 && iso_has(m, de))
			return 128;
	return 64;
}

/* How many bytes the MAC occupies on the wire. */
static size_t mac_wire(enum iso_profile prof)
{
	return prof == ISO_ASCII87 ? 16 : 8;
}

int tl_pack_mac(const pc_key *tak, enum iso_profile prof, struct iso_msg *m,
                uint8_t *out, size_t cap, size_t *outlen)
{
	static const uint8_t zero[8];
	struct iso_error e;
	iso_unset(m, 64);
	iso_unset(m, 128);
	unsigned de = tak ? tl_mac_field(m) : 0;
	if (de && iso_set(m, de, zero, 8) != 0)
		return TL_ERR_ENCODE;
	if (iso_pack(prof, m, out, cap, outlen, &e) != 0)
		return TL_ERR_ENCODE;
	if (!de)
		return 0;
	/* The MAC field is the last one and fixed-size: its bytes are the tail
	 * of the packed message, and everything before them is the MAC input
	 * (docs/message-profile.md "MAC"). */
	size_t w = mac_wire(prof);
	uint8_t mac[8];
	if (*outlen < w || pc_mac_retail(tak, PC_MAC_PAD1, out, *outlen - w, mac) != 0)
		return TL_ERR_CRYPTO;
	if (prof == ISO_ASCII87) {
		char hex[17];
		pc_hex_encode(mac, 8, hex);
		memcpy(out + *outlen - w, hex, 16);
	} else {
		memcpy(out + *outlen - w, mac, 8);
	}
	return 0;
}

enum tl_mac tl_mac_verify(const pc_key *tak, enum iso_profile prof,
                          const uint8_t *raw, size_t len, const struct iso_msg *m)
{
	unsigned de = tl_mac_field(m);
	if (!iso_has(m, de))
		return TL_MAC_MISSING;
	const struct iso_view *v = &m->f[de];
	size_t w = mac_wire(prof);
	/* The field must be the last one and lie inside raw. */
	if (v->size != w || v->p < raw || (size_t)(v->p - raw) != len - w)
		return TL_MAC_BAD;
	uint8_t mac[8], got[8];
	if (pc_mac_retail(tak, PC_MAC_PAD1, raw, len - w, mac) != 0)
		return TL_MAC_BAD;
	if (prof == ISO_ASCII87) {
		if (pc_hex_decode((const char *)v->p, 16, got, 8) != 8)
			return TL_MAC_BAD;
	} else {
		memcpy(got, v->p, 8);
	}
	return pc_equal(mac, got, 8) ? TL_MAC_OK : TL_MAC_BAD;
}

/* ---- connection -------------------------------------------------------- */

int tl_connect(tl_term *t)
{
	tl_disconnect(t);
	struct tlc_opts o = {.host = t->cfg.host, .port = t->cfg.port, .tls = t->cfg.tls,
	                     .tls_ca = t->cfg.tls_ca};
	char why[200];
	int rc = tlc_open(&o, tlc_now_ms() + t->cfg.timeout_ms, &t->conn, why, sizeof why);
	if (rc != 0)
		return fail(t, rc == TLC_ERR_TIMEOUT ? TL_ERR_TIMEOUT : TL_ERR_CONNECT, "%s", why);
	return 0;
}

void tl_disconnect(tl_term *t)
{
	tlc_close(t->conn);
	t->conn = NULL;
	t->rlen = 0;
}

bool tl_connected(const tl_term *t)
{
	return t->conn != NULL;
}

/* Maps a tlconn failure, dropping the connection unless it only timed out. */
static int conn_fail(tl_term *t, int rc, const char *what)
{
	fail(t, rc == TLC_ERR_TIMEOUT ? TL_ERR_TIMEOUT : rc == TLC_ERR_CLOSED ? TL_ERR_CLOSED : TL_ERR_IO,
	     "%s: %s", what, tlc_reason(t->conn));
	if (rc != TLC_ERR_TIMEOUT)
		tl_disconnect(t);
	return rc == TLC_ERR_TIMEOUT ? TL_ERR_TIMEOUT : rc == TLC_ERR_CLOSED ? TL_ERR_CLOSED : TL_ERR_IO;
}

int tl_send_raw(tl_term *t, const uint8_t *bytes, size_t len)
{
	if (t->conn == NULL)
		return fail(t, TL_ERR_CLOSED, "not connected");
	int rc = tlc_write(t->conn, bytes, len, tlc_now_ms() + t->cfg.timeout_ms);
	return rc ? conn_fail(t, rc, "send") : 0;
}

int tl_wait_close(tl_term *t, unsigned timeout_ms)
{
	if (t->conn == NULL)
		return fail(t, TL_ERR_CLOSED, "not connected");
	int64_t deadline = tlc_now_ms() + timeout_ms;
	t->rlen = 0;
	for (;;) {
		int n = tlc_read(t->conn, t->rbuf, sizeof t->rbuf, deadline);
		if (n == TLC_ERR_TIMEOUT)
			return fail(t, TL_ERR_TIMEOUT, "connection still open after %u ms", timeout_ms);
		if (n < 0) {
			tl_disconnect(t);
			return 0;
		}
	}
}

/* Frames and writes one packed message. */
static int send_msg(tl_term *t, const uint8_t *msg, size_t len)
{
	uint8_t hdr[4];
	int h = iso_frame_put(t->cfg.framing, len, hdr);
	if (h <= 0 || len > t->cfg.max_msg)
		return fail(t, TL_ERR_ENCODE, "request of %zu bytes does not fit the framing", len);
	int64_t deadline = tlc_now_ms() + t->cfg.timeout_ms;
	int rc = tlc_write(t->conn, hdr, (size_t)h, deadline);
	if (rc == 0)
		rc = tlc_write(t->conn, msg, len, deadline);
	return rc ? conn_fail(t, rc, "send") : 0;
}

/* Reads the next framed message into t->msg before the deadline. */
static int recv_msg(tl_term *t, int64_t deadline)
{
	for (;;) {
		size_t hdr, mlen;
		int p = iso_frame_peek(t->cfg.framing, t->cfg.max_msg, t->rbuf, t->rlen, &hdr, &mlen);
		if (p < 0) {
			fail(t, TL_ERR_FRAME, "length header from the switch: %s", iso_strerror(p));
			tl_disconnect(t);
			return TL_ERR_FRAME;
		}
		if (p == 1) {
			memcpy(t->msg, t->rbuf + hdr, mlen);
			t->msglen = mlen;
			memmove(t->rbuf, t->rbuf + hdr + mlen, t->rlen - hdr - mlen);
			t->rlen -= hdr + mlen;
			return 0;
		}
		int n = tlc_read(t->conn, t->rbuf + t->rlen, sizeof t->rbuf - t->rlen, deadline);
		if (n < 0)
			return conn_fail(t, n, "receive");
		t->rlen += (size_t)n;
	}
}

/* An answer to `req`: response function of the same class, same DE 11
 * and DE 41 (docs/atm-sim.md "Matching"). */
static bool answers(const struct iso_msg *req, const struct iso_msg *m)
{
	if (m->mti[0] != '0' || m->mti[1] != req->mti[1] ||
	    m->mti[2] != (char)((req->mti[2] - '0') / 2 * 2 + 1 + '0'))
		return false;
	char a[8], b[8];
	if (iso_get(req, 11, a, sizeof a) < 0 || iso_get(m, 11, b, sizeof b) < 0 || strcmp(a, b) != 0)
		return false;
	char c[10] = "", d[10] = "";
	if (iso_has(req, 41) && (iso_get(req, 41, c, sizeof c) < 0 || iso_get(m, 41, d, sizeof d) < 0))
		return false;
	return strcmp(c, d) == 0;
}

static void read_answer(const struct iso_msg *m, struct tl_answer *a)
{
	memcpy(a->mti, m->mti, 4);
	a->mti[4] = '\0';
	if (iso_get(m, 39, a->rc, sizeof a->rc) < 0)
		a->rc[0] = '\0';
	if (iso_get(m, 38, a->approval, sizeof a->approval) < 0)
		a->approval[0] = '\0';
	char buf[128];
	int n = iso_get(m, 28, buf, sizeof buf);
	a->has_fee = n > 0 && tlf_xn_parse(buf, (size_t)n, &a->fee_sign, &a->fee) == 0;
	char b54[128];
	n = iso_get(m, 54, b54, sizeof b54);
	a->nbal = 0;
	if (n >= 0) {
		int k = tlf_balances_parse(b54, (size_t)n, a->bal, TL_MAX_BAL);
		a->nbal = k < 0 ? -1 : k;
	}
}

int tl_exchange(tl_term *t, struct iso_msg *req, bool mac, struct tl_answer *a)
{
	uint8_t out[4096];
	size_t len;
	t->has_ans = false;
	if (t->conn == NULL)
		return fail(t, TL_ERR_CLOSED, "not connected");
	bool macing = mac && t->has_tak;
	int rc = tl_pack_mac(macing ? &t->tak : NULL, t->cfg.profile, req, out, sizeof out, &len);
	if (rc != 0)
		return fail(t, rc, "cannot build the %.4s request", req->mti);
	memcpy(a->sent_mti, req->mti, 4);
	a->sent_mti[4] = '\0';
	if (iso_get(req, 11, a->stan, sizeof a->stan) < 0)
		a->stan[0] = '\0';
	a->mti[0] = a->rc[0] = a->approval[0] = '\0';
	a->mac = TL_MAC_NONE;
	a->has_fee = false;
	a->nbal = 0;
	if (t->cfg.trace)
		t->cfg.trace(t->cfg.trace_arg, "send", req);
	int64_t start = tlc_now_ms();
	rc = send_msg(t, out, len);
	pc_wipe(out, sizeof out);
	if (rc != 0)
		return rc;
	a->sends++;
	int64_t deadline = start + t->cfg.timeout_ms;
	for (;;) {
		rc = recv_msg(t, deadline);
		if (rc == TL_ERR_TIMEOUT)
			return fail(t, rc, "no answer to %.4s STAN %s within %u ms", req->mti, a->stan,
			            t->cfg.timeout_ms);
		if (rc != 0)
			return rc;
		struct iso_error e;
		if (iso_unpack(t->cfg.profile, t->msg, t->msglen, &t->ans, &e) != 0) {
			char where[96];
			iso_error_format(&e, where, sizeof where);
			return fail(t, TL_ERR_DECODE, "message from the switch: %s", where);
		}
		if (t->cfg.trace)
			t->cfg.trace(t->cfg.trace_arg, "recv", &t->ans);
		if (answers(req, &t->ans))
			break;
		a->skipped++;
	}
	a->latency_ms = (unsigned)(tlc_now_ms() - start);
	t->has_ans = true;
	read_answer(&t->ans, a);
	if (macing)
		a->mac = tl_mac_verify(&t->tak, t->cfg.profile, t->msg, t->msglen, &t->ans);
	return 0;
}

bool tl_mac_failed(const struct tl_answer *a)
{
	return a->mac == TL_MAC_BAD || a->mac == TL_MAC_MISSING;
}

int tl_exchange_repeat(tl_term *t, struct iso_msg *req, unsigned repeats, struct tl_answer *a)
{
	int rc = tl_exchange(t, req, true, a);
	for (unsigned i = 0; i < repeats && (rc == TL_ERR_TIMEOUT || (rc == 0 && tl_mac_failed(a))); i++) {
		/* An answer that cannot be trusted is waited out as no answer
		 * would be: a switch without its HSM answers every repeat
		 * unMACed at once, and would use them all up in milliseconds. */
		if (rc == 0 && a->latency_ms < t->cfg.timeout_ms)
			tlc_sleep_ms(t->cfg.timeout_ms - a->latency_ms);
		req->mti[3] = '1';
		rc = tl_exchange(t, req, true, a);
	}
	return rc;
}

bool tl_unsure(int rc, const struct tl_answer *a)
{
	return rc == TL_ERR_TIMEOUT || (rc == 0 && strcmp(a->rc, "00") == 0 && tl_mac_failed(a));
}

const struct iso_msg *tl_last_answer(const tl_term *t)
{
	return t->has_ans ? &t->ans : NULL;
}

/* ---- requests (built by tlreq) ----------------------------------------- */

/* Builds r's message with `mti` and exchanges it, MACed. */
static int send_req(tl_term *t, const struct tlq_req *r, const char *mti, struct tl_answer *a)
{
	struct iso_msg m;
	if (tlq_build(&t->id, r, mti, &m) != 0)
		return fail(t, TL_ERR_ENCODE, "cannot build the %s request", mti);
	int rc = tl_exchange(t, &m, true, a);
	pc_wipe(&m, sizeof m);
	return rc;
}

int tl_network(tl_term *t, enum tl_netcode code, struct tl_answer *a)
{
	if (code != TL_NM_SIGNON && code != TL_NM_SIGNOFF && code != TL_NM_ECHO &&
	    code != TL_NM_KEYCHANGE)
		return fail(t, TL_ERR_ARG, "network management code %d", (int)code);
	struct tlq_req r = {.kind = TLQ_NONE};
	struct iso_msg m;
	memset(a, 0, sizeof *a);
	next_stan(t, r.stan);
	tlq_stamp(&r, time(NULL));
	if (tlq_network(&t->id, &r, (unsigned)code, &m) != 0)
		return fail(t, TL_ERR_ENCODE, "cannot build the 0800 request");
	return tl_exchange(t, &m, false, a);
}

int tl_key_change(tl_term *t, struct tl_answer *a)
{
	int rc = tl_network(t, TL_NM_KEYCHANGE, a);
	if (rc != 0 || strcmp(a->rc, "00") != 0)
		return rc;
	if (!t->has_tmk)
		return fail(t, TL_ERR_NO_KEY, "key change answered but the terminal has no TMK");
	char de48[1000];
	int n = iso_get(&t->ans, 48, de48, sizeof de48);
	if (n < 0)
		return fail(t, TL_ERR_KEYS, "key change answer without DE 48");
	pc_key tpk, tak;
	char why[160];
	rc = tl_keys_from_de48(&t->tmk, de48, (size_t)n, &tpk, &tak, why, sizeof why);
	pc_wipe(de48, sizeof de48);
	if (rc != 0)
		return fail(t, rc, "%s", why);
	t->tpk = tpk;
	t->tak = tak;
	t->has_tpk = t->has_tak = true;
	pc_wipe(&tpk, sizeof tpk);
	pc_wipe(&tak, sizeof tak);
	return 0;
}

int tl_financial(tl_term *t, const struct tl_fin *f, struct tl_answer *a)
{
	struct tlq_req r;
	char stan[7];
	const char *why = "";
	memset(a, 0, sizeof *a);
	peek_stan(t, stan);
	int rc = tlq_financial(&r, f, t->has_tpk ? &t->tpk : NULL, stan, time(NULL), &why);
	if (rc != 0)
		return fail(t, rc, "%s", why);
	next_stan(t, stan);
	t->last = r;
	if (r.amount > 0)
		t->last_fin = r;
	rc = send_req(t, &r, r.mti, a);
	if (rc == 0 && r.amount > 0)
		strcpy(t->last_fin.approval, a->approval);
	pc_wipe(&r, sizeof r);
	return rc;
}

/* A new 0200 of `r` (card or reference, PIN block and tags filled by the
 * caller): STAN, DE 7 and RRN, remembered for tl_repeat, and for
 * tl_reverse when `reversible` (a cardless withdrawal; a PIN change moves
 * no money). */
static int send_new(tl_term *t, struct tlq_req *r, bool reversible, struct tl_answer *a)
{
	r->kind = TLQ_FIN;
	strcpy(r->mti, "0200");
	next_stan(t, r->stan);
	tlq_stamp(r, time(NULL));
	t->last = *r;
	if (reversible)
		t->last_fin = *r;
	int rc = send_req(t, r, r->mti, a);
	if (rc == 0 && reversible)
		strcpy(t->last_fin.approval, a->approval);
	pc_wipe(r, sizeof *r);
	return rc;
}

int tl_pin_change(tl_term *t, const struct tl_card *c, const char *old_pin, const char *new_pin,
                  struct tl_answer *a)
{
	struct tlq_req r = {.kind = TLQ_FIN};
	uint8_t nb[8];
	memset(a, 0, sizeof *a);
	if (c == NULL || !old_pin || !new_pin)
		return fail(t, TL_ERR_ARG, "bad PIN change request");
	if (tlf_track2(c->pan, c->expiry, c->service, "0000000000000", r.track2, sizeof r.track2) < 0)
		return fail(t, TL_ERR_ARG, "bad card data (PAN, expiry or service code)");
	if (!t->has_tpk)
		return fail(t, TL_ERR_NO_KEY, "no TPK for the PIN blocks (key change first)");
	int rc = tl_pin_block(&t->tpk, old_pin, c->pan, r.pin_block);
	if (rc == 0)
		rc = tl_pin_block(&t->tpk, new_pin, c->pan, nb);
	if (rc != 0)
		return fail(t, rc, "cannot build the PIN blocks");
	static const char hex[] = "0123456789ABCDEF";
	memcpy(r.de48, "NP016", 5);
	for (int i = 0; i < 8; i++) {
		r.de48[5 + 2 * i] = hex[nb[i] >> 4];
		r.de48[6 + 2 * i] = hex[nb[i] & 15];
	}
	pc_wipe(nb, sizeof nb);
	r.has_pin = true;
	strcpy(r.pan, c->pan);
	strcpy(r.expiry, c->expiry);
	strcpy(r.proc, "920000");
	strcpy(r.currency, "840");
	strcpy(r.entry, "021");
	return send_new(t, &r, false, a);
}

int tl_cardless(tl_term *t, const char *reference, const char *code, uint64_t amount,
                const char *currency, struct tl_answer *a)
{
	struct tlq_req r = {.kind = TLQ_FIN};
	memset(a, 0, sizeof *a);
	if (!reference || !tlf_digits(reference, 13, 16) || !tlf_digits(currency, 3, 3) || amount == 0 ||
	    amount > 999999999999ull)
		return fail(t, TL_ERR_ARG, "bad cardless withdrawal (reference 13-16 digits, amount, currency)");
	if (!t->has_tpk)
		return fail(t, TL_ERR_NO_KEY, "no TPK for the code's PIN block (key change first)");
	/* The code is typed on the PIN pad like a PIN, the reference standing
	 * in for the PAN of the format-0 block. */
	int rc = tl_pin_block(&t->tpk, code, reference, r.pin_block);
	if (rc != 0)
		return fail(t, rc, "cannot build the code's PIN block");
	r.has_pin = true;
	strcpy(r.reference, reference);
	strcpy(r.proc, "930000");
	snprintf(r.currency, sizeof r.currency, "%s", currency);
	strcpy(r.entry, "012");
	r.amount = amount;
	return send_new(t, &r, true, a);
}

int tl_repeat(tl_term *t, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (t->last.kind == TLQ_NONE)
		return fail(t, TL_ERR_NO_ORIGINAL, "nothing to repeat");
	char mti[5];
	memcpy(mti, t->last.mti, 5);
	mti[3] = '1';
	return send_req(t, &t->last, mti, a);
}

int tl_resend_amount(tl_term *t, uint64_t amount, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	if (t->last.kind == TLQ_NONE)
		return fail(t, TL_ERR_NO_ORIGINAL, "no earlier request to duplicate");
	struct tlq_req r = t->last;
	if (r.kind == TLQ_REV) {
		r.dispensed = amount;
		r.partial = amount > 0;
	} else
		r.amount = amount;
	int rc = send_req(t, &r, r.mti, a);
	pc_wipe(&r, sizeof r);
	return rc;
}

uint64_t tl_last_amount(const tl_term *t)
{
	return t->last.kind == TLQ_REV ? t->last.dispensed : t->last.kind == TLQ_FIN ? t->last.amount : 0;
}

int tl_reverse(tl_term *t, uint64_t dispensed, unsigned repeats, struct tl_answer *a)
{
	memset(a, 0, sizeof *a);
	struct tlq_req r;
	char stan[7];
	const char *why = "";
	peek_stan(t, stan);
	int rc = tlq_reversal(&r, &t->last_fin, dispensed, stan, time(NULL), &why);
	if (rc != 0)
		return fail(t, rc, "%s", why);
	next_stan(t, stan);
	t->last = r;
	struct iso_msg m;
	if (tlq_build(&t->id, &r, "0420", &m) != 0)
		rc = fail(t, TL_ERR_ENCODE, "cannot build the 0420 request");
	else
		rc = tl_exchange_repeat(t, &m, repeats, a);
	pc_wipe(&m, sizeof m);
	pc_wipe(&r, sizeof r);
	return rc;
}

/* ---- other requests ------------------------------------------------------ */

void tl_new_stamp(tl_term *t, struct tl_stamp *s)
{
	struct tlq_req r = {.kind = TLQ_NONE};
	next_stan(t, r.stan);
	tlq_stamp(&r, time(NULL));
	memcpy(s->stan, r.stan, sizeof s->stan);
	memcpy(s->de7, r.de7, sizeof s->de7);
	memcpy(s->time12, r.time12, sizeof s->time12);
	memcpy(s->date13, r.date13, sizeof s->date13);
	memcpy(s->rrn, r.rrn, sizeof s->rrn);
}

static int set_s(struct iso_msg *m, unsigned de, const char *s)
{
	return iso_set_copy(m, de, s, strlen(s));
}

int tl_put_terminal(const tl_term *t, struct iso_msg *m)
{
	const struct tlq_ident *id = &t->id;
	int rc = set_s(m, 18, id->mcc) | set_s(m, 32, id->acq) | set_s(m, 41, id->tid);
	if (id->mid[0])
		rc |= set_s(m, 42, id->mid);
	if (id->loc[0])
		rc |= set_s(m, 43, id->loc);
	return rc ? TL_ERR_ENCODE : 0;
}

int tl_tpk_pin_block(const tl_term *t, const char *pin, const char *pan, uint8_t out[8])
{
	if (!t->has_tpk)
		return TL_ERR_NO_KEY;
	return tl_pin_block(&t->tpk, pin, pan, out);
}
