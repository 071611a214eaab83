/*
 * Reading a terminal's request and building switchd's answer
 * (docs/message-profile.md, ../shared/design/WIRE.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_txn_int.h"

static bool fail(struct sw_txn *t, const char *rc, const char *rule)
{
	snprintf(t->rc, sizeof t->rc, "%s", rc);
	snprintf(t->rule, sizeof t->rule, "%s", rule);
	return false;
}

/* Copy a present field's logical value; false when absent, too long, or
 * not within [min, max] characters. */
static bool get(const struct sw_txn *t, unsigned de, char *dst, size_t cap, size_t min)
{
	if (!iso_has(&t->req, de))
		return false;
	int n = iso_get(&t->req, de, dst, cap);
	return n >= 0 && (size_t)n >= min;
}

bool fields_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool luhn_ok(const char *pan)
{
	size_t n = strlen(pan);
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(pan[n - 1 - i] - '0');
		if (i & 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

/* YYMM -> the last day of that month, "YYYY-MM-DD" (cards expire at the
 * end of their month). */
static bool expiry_date(const char *yymm, char out[11])
{
	if (strlen(yymm) < 4)
		return false;
	int yy = (yymm[0] - '0') * 10 + (yymm[1] - '0');
	int mm = (yymm[2] - '0') * 10 + (yymm[3] - '0');
	if (yy < 0 || yy > 99 || mm < 1 || mm > 12)
		return false;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 2000 + yy, d = mdays[mm - 1];
	if (mm == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		d = 29;
	snprintf(out, 11, "%04d-%02d-%02d", y, mm, d);
	return true;
}

/* PAN and expiry from DE 2 / DE 14, or from track 2 (DE 35). */
static bool card_fields(struct sw_txn *t)
{
	char tr2[40] = "", yymm[5] = "";
	bool has35 = get(t, 35, tr2, sizeof tr2, 1);
	if (!get(t, 2, t->pan, sizeof t->pan, 12)) {
		char *sep = has35 ? strchr(tr2, '=') : NULL;
		if (!sep || sep - tr2 < 12 || sep - tr2 > 19)
			return fail(t, "30", "format: no PAN (DE 2 or 35)");
		memcpy(t->pan, tr2, (size_t)(sep - tr2));
		t->pan[sep - tr2] = '\0';
	}
	if (!luhn_ok(t->pan))
		return fail(t, "14", "pan_check_digit");
	if (get(t, 14, yymm, sizeof yymm, 4)) {
		/* DE 14 wins */
	} else if (has35) {
		char *sep = strchr(tr2, '=');
		if (sep && strlen(sep + 1) >= 4)
			memcpy(yymm, sep + 1, 4);
	}
	if (yymm[0] && !expiry_date(yymm, t->expiry))
		return fail(t, "30", "format: bad expiry date (DE 14/35)");
	return true;
}

static bool key_fields(struct sw_txn *t)
{
	if (!get(t, 7, t->de7, sizeof t->de7, 10))
		return fail(t, "30", "format: DE 7 missing");
	if (!get(t, 11, t->stan, sizeof t->stan, 6))
		return fail(t, "30", "format: DE 11 missing");
	if (!get(t, 41, t->tid, sizeof t->tid, 1))
		return fail(t, "30", "format: DE 41 missing");
	/* DE 41 is ans 8, space-filled: the terminal id is what precedes the spaces. */
	for (size_t n = strlen(t->tid); n && t->tid[n - 1] == ' '; n--)
		t->tid[n - 1] = '\0';
	if (!t->tid[0])
		return fail(t, "30", "format: DE 41 blank");
	if (iso_has(&t->req, 32) && !get(t, 32, t->acq, sizeof t->acq, 1))
		return fail(t, "30", "format: DE 32 unreadable");
	return true;
}

static bool amount_fields(struct sw_txn *t)
{
	if (!get(t, 4, t->amount, sizeof t->amount, 12))
		return fail(t, "30", "format: DE 4 missing");
	if (!get(t, 49, t->currency, sizeof t->currency, 3) || !fields_all_digits(t->currency))
		return fail(t, "30", "format: DE 49 missing or not an ISO 4217 numeric code");
	return true;
}

/* DE 3 type (and the class of the MTI, '1' authorisation or '2'
 * financial) to the type authorise() knows. */
static void map_type(struct sw_txn *t, char mti_class)
{
	const char *p = t->proc;
	const char *ty = NULL;
	if (mti_class == '1') {
		if (!strncmp(p, "00", 2))
			ty = "preauth";
	} else if (!strncmp(p, "00", 2)) {
		ty = "purchase";
	} else if (!strncmp(p, "01", 2)) {
		ty = "cash";
	} else if (!strncmp(p, "09", 2)) {
		ty = "cashback";
	} else if (!strncmp(p, "20", 2)) {
		ty = "refund";
	} else if (!strncmp(p, "30", 2) || !strncmp(p, "31", 2)) {
		ty = "balance";
	} else if (!strncmp(p, "92", 2)) {
		ty = "pin_change";
	} else if (!strncmp(p, "93", 2)) {
		ty = "cardless";
	}
	if (ty)
		snprintf(t->txn_type, sizeof t->txn_type, "%s", ty);
	else /* authorise() answers 12 and logs it */
		snprintf(t->txn_type, sizeof t->txn_type, "proc_%.2s", p);
}

/* A tag of DE 48 (tag 2, length 3 digits, value: docs/message-profile.md).
 * 1: found and copied; 0: absent; -1: DE 48 malformed or the value too long. */
static int de48_tag(const struct sw_txn *t, const char *tag, char *dst, size_t cap)
{
	char v[1000]; /* DE 48 is LLL: up to 999 */
	if (!iso_has(&t->req, 48))
		return 0;
	int n = iso_get(&t->req, 48, v, sizeof v);
	if (n < 0)
		return -1;
	for (int i = 0; i < n;) {
		if (n - i < 5 || v[i + 2] < '0' || v[i + 2] > '9' || v[i + 3] < '0' || v[i + 3] > '9' ||
		    v[i + 4] < '0' || v[i + 4] > '9')
			return -1;
		int len = (v[i + 2] - '0') * 100 + (v[i + 3] - '0') * 10 + (v[i + 4] - '0');
		if (len > n - i - 5)
			return -1;
		if (!memcmp(v + i, tag, 2)) {
			if ((size_t)len >= cap)
				return -1;
			memcpy(dst, v + i + 5, (size_t)len);
			dst[len] = '\0';
			explicit_bzero(v, sizeof v);
			return 1;
		}
		i += 5 + len;
	}
	explicit_bzero(v, sizeof v);
	return 0;
}

/* The cash part of a cash-back: DE 54's group of amount type 40 (20
 * characters: account type, amount type, currency, C/D, 12 digits), in
 * DE 49's currency and not above DE 4. Without DE 54 the whole amount is
 * cash to the fee rules (authorise()). */
static bool cashback_amount(struct sw_txn *t)
{
	char v[121]; /* DE 54 is LLL of up to 120: six groups */
	t->cash_amount[0] = '\0';
	if (!iso_has(&t->req, 54))
		return true;
	int n = iso_get(&t->req, 54, v, sizeof v);
	if (n < 0 || n % 20 != 0)
		return fail(t, "30", "format: DE 54 not groups of 20");
	for (int i = 0; i < n; i += 20) {
		const char *g = v + i;
		if (memcmp(g + 2, "40", 2) != 0)
			continue;
		bool digits = true;
		for (int k = 8; k < 20; k++)
			digits = digits && g[k] >= '0' && g[k] <= '9';
		if (!digits || g[7] != 'C' || memcmp(g + 4, t->currency, 3) != 0)
			return fail(t, "30", "format: DE 54 cash-back amount not a credit in DE 49's currency");
		memcpy(t->cash_amount, g + 8, 12);
		t->cash_amount[12] = '\0';
		if (strcmp(t->cash_amount, t->amount) > 0) /* both 12 digits */
			return fail(t, "30", "format: DE 54 cash-back above DE 4");
		return true;
	}
	return true;
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Card-present entry modes without the card's own data need a CVV2
 * (01 key-entered, 10 credential on file, 81 e-commerce); DE 25 08 (mail
 * or telephone order) and 59 (e-commerce) say the card is not present. */
static bool card_not_present(const struct sw_txn *t)
{
	static const char *const cnp_entry[] = {"01", "10", "81"};
	for (size_t i = 0; i < sizeof cnp_entry / sizeof cnp_entry[0]; i++)
		if (!strncmp(t->entry_mode, cnp_entry[i], 2))
			return true;
	return !strcmp(t->cond_code, "08") || !strcmp(t->cond_code, "59");
}

/* Cardholder verification: DE 52, DE 48 C2 and RC, DE 22 and 25
 * (docs/message-profile.md, "Cardholder verification"). */
static bool verification_fields(struct sw_txn *t)
{
	char rc[4] = "";
	int r1 = de48_tag(t, "C2", t->cvv2, sizeof t->cvv2);
	int r2 = de48_tag(t, "NP", t->new_pin_block, sizeof t->new_pin_block);
	int r3 = de48_tag(t, "RC", rc, sizeof rc);
	if (r1 < 0 || r2 < 0 || r3 < 0)
		return fail(t, "30", "format: DE 48 tags malformed");
	if (r1 > 0 && (strlen(t->cvv2) != 3 || !fields_all_digits(t->cvv2)))
		return fail(t, "30", "format: DE 48 C2 is not 3 digits");
	if (r2 > 0 && !is_hex(t->new_pin_block, 16))
		return fail(t, "30", "format: DE 48 NP is not a 16-hex PIN block");
	t->recurring = r3 > 0 && !strcmp(rc, "1");
	/* DUKPT: the KSN, and for AES the format-4 block (DE 52 is 8 bytes). */
	char p4[40] = "";
	int r4 = de48_tag(t, "KS", t->ksn, sizeof t->ksn);
	int r5 = de48_tag(t, "P4", p4, sizeof p4);
	if (r4 < 0 || r5 < 0)
		return fail(t, "30", "format: DE 48 tags malformed");
	if (r4 > 0 && !is_hex(t->ksn, 20) && !is_hex(t->ksn, 24))
		return fail(t, "30", "format: DE 48 KS is not a 20- or 24-hex KSN");
	if (r5 > 0) {
		if (!is_hex(p4, 32) || strlen(t->ksn) != 24 || t->pin_block[0])
			return fail(t, "30", "format: DE 48 P4 needs 32 hex, a 24-hex KS and no DE 52");
		memcpy(t->pin_block, p4, 33);
	} else if (strlen(t->ksn) == 24 && t->pin_block[0]) {
		return fail(t, "30", "format: an AES KSN with a DE 52 PIN block (use P4)");
	}
	explicit_bzero(p4, sizeof p4);
	if (iso_has(&t->req, 22) && (!get(t, 22, t->entry_mode, sizeof t->entry_mode, 3) ||
	                             !fields_all_digits(t->entry_mode)))
		return fail(t, "30", "format: DE 22 unreadable");
	if (iso_has(&t->req, 25) && !get(t, 25, t->cond_code, sizeof t->cond_code, 2))
		return fail(t, "30", "format: DE 25 unreadable");
	if (t->pin_block[0])
		t->cvm = "pin";
	else if (t->cvv2[0])
		t->cvm = "cvv2";
	else if (t->recurring)
		t->cvm = "cof";
	else if (!strncmp(t->entry_mode, "07", 2) || !strncmp(t->entry_mode, "91", 2))
		t->cvm = "contactless";
	else if (card_not_present(t))
		t->cvm = "cnp";
	else
		t->cvm = "signature";
	return true;
}

/* What a reversal says of its original besides DE 90 (WIRE.md: it echoes
 * DE 2, 3, 4, 49): kept to answer an original that arrives after its
 * reversal (reverse_advice()). A PAN that does not read is left out. */
static void original_content(struct sw_txn *t, char orig_class)
{
	if (iso_has(&t->req, 2) || iso_has(&t->req, 35)) {
		if (!card_fields(t)) {
			t->pan[0] = '\0';
			t->rc[0] = '\0';
			t->rule[0] = '\0';
		}
	}
	if (get(t, 3, t->proc, sizeof t->proc, 6))
		map_type(t, orig_class);
	if (!get(t, 4, t->amount, sizeof t->amount, 12) || !fields_all_digits(t->amount))
		t->amount[0] = '\0';
	if (!get(t, 49, t->currency, sizeof t->currency, 3) || !fields_all_digits(t->currency))
		t->currency[0] = '\0';
}

/* DE 90: original MTI 4, STAN 6, DE 7 10, acquirer 11, forwarder 11. */
static bool original_fields(struct sw_txn *t)
{
	char de90[43];
	if (!get(t, 90, de90, sizeof de90, 42))
		return fail(t, "30", "format: DE 90 missing");
	if (t->kind == TK_REVERSAL)
		original_content(t, de90[1]);
	memcpy(t->orig_stan, de90 + 4, 6);
	t->orig_stan[6] = '\0';
	memcpy(t->orig_de7, de90 + 10, 10);
	t->orig_de7[10] = '\0';
	return true;
}

/* 0500: settlement currency (DE 50, USD when absent) and the batch totals,
 * counts DE 74-77 and amounts DE 86-89 (0 when absent), in the order
 * terminal_reconcile() takes them. */
static bool batch_totals(struct sw_txn *t)
{
	static const unsigned des[8] = {74, 75, 76, 77, 86, 87, 88, 89};
	if (!iso_has(&t->req, 50))
		strcpy(t->currency, "840");
	else if (!get(t, 50, t->currency, sizeof t->currency, 3) || !fields_all_digits(t->currency))
		return fail(t, "30", "format: DE 50 not an ISO 4217 numeric code");
	size_t n = 0;
	t->totals[n++] = '{';
	for (int i = 0; i < 8; i++) {
		char v[20] = "0";
		if (iso_has(&t->req, des[i]) && (!get(t, des[i], v, sizeof v, 1) || !fields_all_digits(v)))
			return fail(t, "30", "format: a batch total (DE 74-77, 86-89) not numeric");
		const char *d = v;
		while (d[0] == '0' && d[1])
			d++; /* leading zeros */
		n += (size_t)snprintf(t->totals + n, sizeof t->totals - n, "%s%s", i ? "," : "", d);
	}
	snprintf(t->totals + n, sizeof t->totals - n, "}");
	return true;
}

static bool mac_field(struct sw_txn *t)
{
	bool secondary = false;
	for (unsigned de = 65; de <= 128 && !secondary; de++)
		secondary = iso_has(&t->req, de);
	if (iso_has(&t->req, 128))
		t->mac_de = 128;
	else if (iso_has(&t->req, 64))
		t->mac_de = secondary ? 1 : 64; /* 1: misplaced, refused with 63 later */
	return true;
}

bool fields_parse(struct sw_txn *t)
{
	memcpy(t->mti, t->req.mti, 4);
	t->mti[4] = '\0';
	memcpy(t->resp_mti, t->mti, 5);
	t->resp_mti[2] = (char)(t->mti[2] + 1);
	t->resp_mti[3] = '0';
	t->rc[0] = '\0';
	mac_field(t);

	switch (t->kind) {
	case TK_NETMGMT:
		if (!get(t, 70, t->nmic, sizeof t->nmic, 3))
			return fail(t, "30", "format: DE 70 missing");
		if (!get(t, 7, t->de7, sizeof t->de7, 10) || !get(t, 11, t->stan, sizeof t->stan, 6))
			return fail(t, "30", "format: DE 7 or 11 missing");
		if (strcmp(t->nmic, "301") != 0 && !key_fields(t))
			return false;
		return true;
	case TK_FINANCIAL:
		if (!key_fields(t) || !amount_fields(t))
			return false;
		if (!get(t, 3, t->proc, sizeof t->proc, 6))
			return fail(t, "30", "format: DE 3 missing");
		map_type(t, t->mti[1]);
		if (!strcmp(t->txn_type, "cardless")) {
			/* No card: the voucher's cash-account number in DE 102. */
			if (!get(t, 102, t->reference, sizeof t->reference, 6) ||
			    !fields_all_digits(t->reference))
				return fail(t, "30", "format: DE 102 (cash-account number) missing");
		} else if (!card_fields(t)) {
			return false;
		}
		if (iso_has(&t->req, 52)) {
			uint8_t pb[9];
			if (iso_get(&t->req, 52, (char *)pb, sizeof pb) != 8)
				return fail(t, "30", "format: DE 52 not 8 bytes");
			static const char hex[] = "0123456789ABCDEF";
			for (int i = 0; i < 8; i++) {
				t->pin_block[2 * i] = hex[pb[i] >> 4];
				t->pin_block[2 * i + 1] = hex[pb[i] & 15];
			}
			t->pin_block[16] = '\0';
		}
		get(t, 42, t->merchant, sizeof t->merchant, 1);
		for (size_t n = strlen(t->merchant); n && t->merchant[n - 1] == ' '; n--)
			t->merchant[n - 1] = '\0';
		get(t, 18, t->mcc, sizeof t->mcc, 4);
		get(t, 37, t->rrn, sizeof t->rrn, 1);
		if (!strcmp(t->txn_type, "cashback") && !cashback_amount(t))
			return false;
		return verification_fields(t);
	case TK_REVERSAL:
	case TK_COMPLETION:
		if (!key_fields(t) || !original_fields(t))
			return false;
		if (t->kind == TK_COMPLETION && !get(t, 4, t->amount, sizeof t->amount, 12))
			return fail(t, "30", "format: DE 4 missing");
		strcpy(t->replacement, "0");
		if (t->kind == TK_REVERSAL && iso_has(&t->req, 95)) {
			char de95[43];
			if (!get(t, 95, de95, sizeof de95, 12))
				return fail(t, "30", "format: DE 95 unreadable");
			de95[12] = '\0';
			if (!fields_all_digits(de95))
				return fail(t, "30", "format: DE 95 amount not numeric");
			snprintf(t->replacement, sizeof t->replacement, "%lld", atoll(de95));
		}
		return true;
	case TK_RECONCILE:
		return key_fields(t) && batch_totals(t);
	case TK_ADVICE:
		if (!key_fields(t) || !amount_fields(t))
			return false;
		if (!get(t, 3, t->proc, sizeof t->proc, 6))
			return fail(t, "30", "format: DE 3 missing");
		if (!card_fields(t))
			return false;
		map_type(t, '1');
		if (!strncmp(t->proc, "01", 2))
			strcpy(t->txn_type, "cash");
		get(t, 38, t->approval, sizeof t->approval, 1); /* the stand-in's code, kept */
		get(t, 42, t->merchant, sizeof t->merchant, 1);
		for (size_t n = strlen(t->merchant); n && t->merchant[n - 1] == ' '; n--)
			t->merchant[n - 1] = '\0';
		get(t, 18, t->mcc, sizeof t->mcc, 4);
		get(t, 37, t->rrn, sizeof t->rrn, 1);
		return true;
	case TK_UNSUPPORTED:
		key_fields(t);
		return fail(t, "12", "unsupported_message");
	}
	return false;
}

/* Fields an answer echoes (WIRE.md), when the request had them. */
static const unsigned echo_fields[] = {2,  3,  4,  7,  11, 12, 13, 32, 37, 41, 42, 49, 50, 70,
                                       74, 75, 76, 77, 86, 87, 88, 89, 90, 95, 97};

bool fields_answer(struct sw_txn *t, bool with_mac)
{
	struct iso_msg *m = &t->resp;
	iso_init(m, t->resp_mti);
	for (size_t i = 0; i < sizeof echo_fields / sizeof echo_fields[0]; i++)
		if (iso_has(&t->req, echo_fields[i]))
			iso_set_view(m, echo_fields[i], &t->req.f[echo_fields[i]]);
	iso_set_str(m, 39, t->rc);
	if (!strcmp(t->rc, "00") && t->approval[0])
		iso_set_str(m, 38, t->approval);
	if (t->de48[0])
		iso_set_str(m, 48, t->de48);
	if (t->have_balances && !strcmp(t->rc, "00")) {
		char fee[10], de54[41];
		snprintf(fee, sizeof fee, "D%08lld", t->fee < 0 ? 0 : t->fee % 100000000);
		iso_set_copy(m, 28, fee, 9);
		/* Account type from DE 3 ("from" account), amount type 01 ledger
		 * and 02 available, currency, sign, 12 digits. */
		snprintf(de54, sizeof de54, "%.2s01%.3s%c%012lld%.2s02%.3s%c%012lld", t->proc + 2,
		         t->cur_acct, t->ledger < 0 ? 'D' : 'C', llabs(t->ledger) % 1000000000000LL,
		         t->proc + 2, t->cur_acct, t->avail < 0 ? 'D' : 'C',
		         llabs(t->avail) % 1000000000000LL);
		iso_set_copy(m, 54, de54, 40);
	}
	if (t->up54[0] && !strcmp(t->rc, "00"))
		iso_set_str(m, 54, t->up54); /* the issuer's balances, as it sent them */
	if (t->up28[0] && !strcmp(t->rc, "00"))
		iso_set_str(m, 28, t->up28); /* and the fee it charged */
	if (with_mac) {
		static const uint8_t zero[8];
		bool secondary = false;
		for (unsigned de = 65; de <= 127 && !secondary; de++)
			secondary = iso_has(m, de);
		iso_set(m, secondary ? 128 : 64, zero, 8);
	}
	struct iso_error err;
	return iso_pack(t->profile, m, t->out, sizeof t->out, &t->outlen, &err) == 0;
}

size_t fields_mac_len(const struct sw_txn *t)
{
	return t->outlen - (t->profile == ISO_ASCII87 ? 16 : 8);
}

void fields_put_mac(struct sw_txn *t, const char *mac_hex)
{
	uint8_t *p = t->out + fields_mac_len(t);
	if (t->profile == ISO_ASCII87) {
		memcpy(p, mac_hex, 16);
		return;
	}
	for (int i = 0; i < 8; i++) {
		unsigned v;
		sscanf(mac_hex + 2 * i, "%2x", &v);
		p[i] = (uint8_t)v;
	}
}

bool fields_request_mac(const struct sw_txn *t, char mac_hex[17], size_t *covered)
{
	if (t->mac_de != 64 && t->mac_de != 128)
		return false;
	const struct iso_view *v = &t->req.f[t->mac_de];
	if (v->p + v->size != t->raw + t->rawlen)
		return false; /* not the last field */
	uint8_t mac[9];
	if (iso_get(&t->req, t->mac_de, (char *)mac, sizeof mac) != 8)
		return false;
	static const char hex[] = "0123456789ABCDEF";
	for (int i = 0; i < 8; i++) {
		mac_hex[2 * i] = hex[mac[i] >> 4];
		mac_hex[2 * i + 1] = hex[mac[i] & 15];
	}
	mac_hex[16] = '\0';
	*covered = (size_t)(v->p - t->raw);
	return true;
}

void fields_key_tags(struct sw_txn *t, const hsmc_reply *r)
{
	snprintf(t->de48, sizeof t->de48, "KP%03zu%sCP006%.6sKA%03zu%sCA006%.6s", strlen(r->key_kek),
	         r->key_kek, r->kcv, strlen(r->key2_kek), r->key2_kek, r->kcv2);
}

void fields_masked_pan(const struct sw_txn *t, char out[24])
{
	if (t->pan[0])
		iso_mask_pan(t->pan, strlen(t->pan), out, 24);
	else
		strcpy(out, "-");
}
