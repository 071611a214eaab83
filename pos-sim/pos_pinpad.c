/* A DUKPT PIN pad (pos_pinpad.h). */
#include "pos_pinpad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cardfile.h"

struct pp_pad {
	enum pp_alg alg;
	pc_dukpt_tdes_term tdes;
	pc_dukpt_aes_term aes;
};

const char *pp_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case PP_ERR_ARG: return "bad argument";
	case PP_ERR_FILE: return "bad BDK file";
	case PP_ERR_NOMEM: return "out of memory";
	case PP_ERR_CRYPTO: return "crypto failure";
	case PP_ERR_EXHAUSTED: return "KSN counter used up";
	default: return "unknown error";
	}
}

enum pp_alg pp_alg_parse(const char *s)
{
	return strcmp(s, "tdes") == 0 ? PP_TDES : strcmp(s, "aes") == 0 ? PP_AES : 0;
}

size_t pp_ksn_len(enum pp_alg alg)
{
	return alg == PP_AES ? 12 : 10;
}

static const char *alg_name(enum pp_alg alg)
{
	return alg == PP_AES ? "aes" : "tdes";
}

/* A BDK from hex: TDES 16 bytes (X9.24-1 BDKs are double length), AES
 * 16, 24 or 32. */
static int bdk_from_hex(enum pp_alg alg, const char *hex, pc_key *bdk)
{
	uint8_t b[32];
	int n = pc_hex_decode(hex, strlen(hex), b, sizeof b);
	int rc = PP_ERR_ARG;
	if (n > 0 && (alg == PP_AES || n == 16) &&
	    pc_key_set(bdk, alg == PP_AES ? PC_ALG_AES : PC_ALG_TDES, b, (size_t)n) == 0)
		rc = 0;
	pc_wipe(b, sizeof b);
	return rc;
}

struct bdk_search {
	const char *path, *terminal;
	enum pp_alg alg;
	pc_key *bdk;
	char *why;
	size_t cap;
};

/* One line of the BDK file: 1 when it is the terminal's (and good),
 * PP_ERR_FILE when bad, 0 to go on. */
static int bdk_line(char *line, unsigned ln, void *arg)
{
	struct bdk_search *s = arg;
	char *f[4];
	int n = 0;
	for (char *tok = strtok(line, " \t\r"); tok && n < 4; tok = strtok(NULL, " \t\r"))
		f[n++] = tok;
	if (n != 3 || pp_alg_parse(f[1]) == 0) {
		snprintf(s->why, s->cap, "%s:%u: want TERMINAL-ID tdes|aes HEX-BDK", s->path, ln);
		return PP_ERR_FILE;
	}
	if (strcmp(f[0], s->terminal) != 0 || pp_alg_parse(f[1]) != s->alg)
		return 0;
	if (bdk_from_hex(s->alg, f[2], s->bdk) != 0) {
		snprintf(s->why, s->cap, "%s:%u: the %s BDK must be %s hex", s->path, ln,
		         alg_name(s->alg), s->alg == PP_AES ? "32, 48 or 64" : "32");
		return PP_ERR_FILE;
	}
	return 1;
}

int pp_load_bdk(const char *path, const char *terminal, enum pp_alg alg, pc_key *bdk,
                char *why, size_t cap)
{
	char *text = cf_read_file(path, why, cap);
	if (text == NULL)
		return PP_ERR_FILE;
	struct bdk_search s = {path, terminal, alg, bdk, why, cap};
	int rc = cf_each_line(text, bdk_line, &s);
	pc_wipe(text, strlen(text));
	free(text);
	if (rc == 1)
		return 0;
	if (rc == 0)
		snprintf(why, cap, "%s: no %s BDK for terminal %s", path, alg_name(alg), terminal);
	else if (rc != PP_ERR_FILE)
		snprintf(why, cap, "%s: out of memory", path);
	return PP_ERR_FILE;
}

int pp_parse_ksn(enum pp_alg alg, const char *hex, uint8_t ksn[12], char *why, size_t cap)
{
	size_t n = pp_ksn_len(alg);
	if (strlen(hex) != 2 * n || pc_hex_decode(hex, 2 * n, ksn, 12) != (int)n) {
		snprintf(why, cap, "KSN %s: want %zu hex digits for %s DUKPT", hex, 2 * n, alg_name(alg));
		return PP_ERR_ARG;
	}
	/* The counter: the low 21 bits (X9.24-1), the last 4 bytes (X9.24-3). */
	bool zero = alg == PP_AES ? (ksn[8] | ksn[9] | ksn[10] | ksn[11]) == 0
	                          : ((ksn[7] & 0x1F) | ksn[8] | ksn[9]) == 0;
	if (!zero) {
		snprintf(why, cap, "KSN %s: an initial KSN has a zero transaction counter", hex);
		return PP_ERR_ARG;
	}
	return 0;
}

pp_pad *pp_new(enum pp_alg alg, const pc_key *bdk, const uint8_t *ksn, int *err)
{
	int dummy;
	if (err == NULL)
		err = &dummy;
	*err = PP_ERR_ARG;
	if ((alg == PP_TDES && (bdk->alg != PC_ALG_TDES || bdk->len != 16)) ||
	    (alg == PP_AES && bdk->alg != PC_ALG_AES) || (alg != PP_TDES && alg != PP_AES))
		return NULL;
	pp_pad *p = calloc(1, sizeof *p);
	if (p == NULL) {
		*err = PP_ERR_NOMEM;
		return NULL;
	}
	p->alg = alg;
	pc_key ik;
	int rc;
	if (alg == PP_TDES) {
		rc = pc_dukpt_tdes_ipek(bdk, ksn, &ik);
		if (rc == 0)
			rc = pc_dukpt_tdes_term_load(&p->tdes, &ik, ksn);
	} else {
		rc = pc_dukpt_aes_initial_key(bdk, ksn, &ik);
		if (rc == 0)
			rc = pc_dukpt_aes_term_load(&p->aes, &ik, ksn);
	}
	pc_wipe(&ik, sizeof ik);
	if (rc != 0) {
		pp_free(p);
		*err = rc == PC_ERR_KEY_LEN ? PP_ERR_ARG : PP_ERR_CRYPTO;
		return NULL;
	}
	*err = 0;
	return p;
}

void pp_free(pp_pad *p)
{
	if (p == NULL)
		return;
	pc_wipe(p, sizeof *p);
	free(p);
}

enum pp_alg pp_alg_of(const pp_pad *p)
{
	return p->alg;
}

int pp_pin(pp_pad *p, const char *pin, const char *pan, const uint8_t *fill, struct pp_entry *e)
{
	char acct[13];
	if (pc_pin_check(pin) != 0 || pc_pan_account12(pan, acct) != 0)
		return PP_ERR_ARG;
	uint8_t ksn[12];
	pc_key txn, key;
	int rc;
	if (p->alg == PP_TDES) {
		rc = pc_dukpt_tdes_term_next(&p->tdes, ksn, &txn);
		if (rc == 0) {
			key = txn;
			pc_dukpt_tdes_variant(&key, PC_DUKPT_PIN);
		}
	} else {
		rc = pc_dukpt_aes_term_next(&p->aes, ksn, &txn);
		if (rc == 0)
			rc = pc_dukpt_aes_working_key(&txn, ksn, PC_DUKPT_AES_PIN, PC_ALG_AES, 16, &key);
	}
	if (rc == 0)
		rc = pc_pin_encrypt(&key, p->alg == PP_TDES ? PC_PIN_ISO0 : PC_PIN_ISO4, pin, pan,
		                    fill, e->block, &e->blen);
	pc_wipe(&txn, sizeof txn);
	pc_wipe(&key, sizeof key);
	if (rc == PC_ERR_EXHAUSTED)
		return PP_ERR_EXHAUSTED;
	if (rc != 0)
		return PP_ERR_CRYPTO;
	pc_hex_encode(ksn, pp_ksn_len(p->alg), e->ksn);
	return 0;
}
