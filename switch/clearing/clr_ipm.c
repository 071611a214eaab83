/* clr_ipm.c: Mastercard IPM (Integrated Product Messages) clearing files,
 * read from memory and written as a stream. docs/clearing-ipm.md describes
 * the layout as used here, what counts as a structural error, and names the
 * sources of the layout. */
#include "clr_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Framing. Each message is preceded by a 4-byte big-endian RDW holding its
 * length. A blocked file is cut into 1014-byte blocks: 1012 bytes of that
 * stream, then two 0x40 bytes; the last block is filled up with 0x40. */
#define IPM_BLOCK      1014u
#define IPM_BLOCK_DATA 1012u
#define IPM_PAD        0x40u
/* The longest message the layout below allows: MTI 4 + two bitmaps 16 +
 * fixed-length fields 191 + LLVAR fields 224 + LLLVAR fields 8431. A longer
 * RDW cannot frame a message; it also bounds the scratch buffer that holds a
 * message cut by a block boundary. */
#define IPM_MAX_MSG    8866u
/* PDS 0301 is n-16: a checksum above it cannot be stated in a trailer. */
#define IPM_MAX_SUM    9999999999999999ull

#define E_SPACE 0x40u   /* EBCDIC ' ' */
#define E_R     0xd9u   /* EBCDIC 'R' */
#define E_BSL   0xe0u   /* EBCDIC '\' */

enum de_type { DE_UNDEF = 0, DE_N, DE_ANS, DE_B };

struct de_def {
	uint8_t type;     /* enum de_type; DE_UNDEF: not in the IPM layout */
	uint8_t prefix;   /* 0: fixed length; 2: LLVAR; 3: LLLVAR (EBCDIC digits) */
	uint16_t len;     /* the fixed length, or the variable field's maximum */
};

#define FIX(t, n) {t, 0, n}
#define LL(t, n)  {t, 2, n}
#define LLL(t, n) {t, 3, n}
/* The data elements of IPM Clearing Formats that appear in 1240, 1442,
 * 1644 and 1740 messages, with their published formats and maxima. DE 1 is
 * the secondary bitmap, handled apart. */
static const struct de_def ipm_de[129] = {
	[2] = LL(DE_N, 19),        /* PAN */
	[3] = FIX(DE_N, 6),        /* processing code */
	[4] = FIX(DE_N, 12),       /* amount, transaction */
	[5] = FIX(DE_N, 12),       /* amount, reconciliation */
	[6] = FIX(DE_N, 12),       /* amount, cardholder billing */
	[9] = FIX(DE_N, 8),        /* conversion rate, reconciliation */
	[10] = FIX(DE_N, 8),       /* conversion rate, cardholder billing */
	[12] = FIX(DE_N, 12),      /* date and time, local transaction YYMMDDhhmmss */
	[14] = FIX(DE_N, 4),       /* date, expiration */
	[22] = FIX(DE_ANS, 12),    /* point of service data code */
	[23] = FIX(DE_N, 3),       /* card sequence number */
	[24] = FIX(DE_N, 3),       /* function code */
	[25] = FIX(DE_N, 4),       /* message reason code */
	[26] = FIX(DE_N, 4),       /* card acceptor business code (MCC) */
	[30] = FIX(DE_N, 24),      /* amounts, original */
	[31] = LL(DE_ANS, 23),     /* acquirer reference data */
	[32] = LL(DE_N, 11),       /* acquiring institution ID code */
	[33] = LL(DE_N, 11),       /* forwarding institution ID code */
	[37] = FIX(DE_ANS, 12),    /* retrieval reference number */
	[38] = FIX(DE_ANS, 6),     /* approval code */
	[40] = FIX(DE_ANS, 3),     /* service code */
	[41] = FIX(DE_ANS, 8),     /* card acceptor terminal ID */
	[42] = FIX(DE_ANS, 15),    /* card acceptor ID code */
	[43] = LL(DE_ANS, 99),     /* card acceptor name/location */
	[48] = LLL(DE_ANS, 999),   /* additional data (PDS) */
	[49] = FIX(DE_N, 3),       /* currency code, transaction */
	[50] = FIX(DE_N, 3),       /* currency code, reconciliation */
	[51] = FIX(DE_N, 3),       /* currency code, cardholder billing */
	[54] = LLL(DE_ANS, 120),   /* amounts, additional */
	[55] = LLL(DE_B, 255),     /* ICC system-related data */
	[62] = LLL(DE_ANS, 999),   /* additional data 2 (PDS) */
	[63] = LLL(DE_ANS, 16),    /* transaction life cycle ID */
	[71] = FIX(DE_N, 8),       /* message number */
	[72] = LLL(DE_ANS, 999),   /* data record */
	[73] = FIX(DE_N, 6),       /* date, action */
	[93] = LL(DE_N, 11),       /* transaction destination institution ID code */
	[94] = LL(DE_N, 11),       /* transaction originator institution ID code */
	[95] = LL(DE_ANS, 10),     /* card issuer reference data */
	[100] = LL(DE_N, 11),      /* receiving institution ID code */
	[111] = LLL(DE_N, 12),     /* amount, currency conversion assessment */
	[123] = LLL(DE_ANS, 999),  /* additional data 3 (PDS) */
	[124] = LLL(DE_ANS, 999),  /* additional data 4 (PDS) */
	[125] = LLL(DE_ANS, 999),  /* additional data 5 (PDS) */
	[126] = LLL(DE_ANS, 999),  /* private data */
	[127] = LLL(DE_ANS, 999),  /* network data */
};

/* The data elements that carry PDS lists, in the order they are filled. */
static const uint8_t ipm_pds_des[] = {48, 62, 123, 124, 125};

static bool e_digits(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0xf0 || p[i] > 0xf9)
			return false;
	return true;
}

/* Only after e_digits (n <= 19). */
static uint64_t e_num(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(p[i] - 0xf0);
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* EBCDIC text into a NUL-terminated ASCII string of at most cap - 1 bytes,
 * trailing spaces removed. What is not printable ASCII becomes '?': the
 * records go to a UTF-8 database and into CSV, and a control byte or a lone
 * Latin-1 byte belongs in neither. */
static void e_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	if (n > cap - 1)
		n = cap - 1;
	while (n > 0 && src[n - 1] == E_SPACE)
		n--;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = clr_e2a[src[i]];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* ---------------------------------------------------------------- reader */

struct ipm_msg {
	const uint8_t *p;          /* the message after its RDW (in place or in scratch) */
	uint32_t len;              /* its length, from the RDW */
	uint64_t lstart;           /* logical offset of p[0] in the deblocked stream */
	unsigned mti;
	uint16_t off[129];         /* offset in p of each present DE's data; 0: absent */
	uint16_t dlen[129];
};

struct ipm_view {
	uint16_t off, len;         /* a PDS's data: offset in the message, length */
	bool present;
};

struct ipm_pds {
	struct ipm_view p0025, p0105, p0301, p0306;
};

struct ipm_rd {
	const uint8_t *buf;
	size_t len;
	bool blocked;
	uint64_t llen;             /* length of the deblocked stream */
	struct clr_file_info *info;
	struct clr_error *err;
	uint32_t seq;              /* number of the message being read; the header is 1 */
	uint64_t rdw_at;           /* its RDW's offset in the original file */
	uint64_t checksum;         /* DE 4 summed over all messages, capped at IPM_MAX_SUM + 1 */
	uint64_t last_de71;
	bool seen_de71, header, trailer;
	uint8_t file_id[25];       /* the header's PDS 0105, EBCDIC */
	uint8_t scratch[IPM_MAX_MSG];
};

/* Offset in the original file of logical byte l. */
static uint64_t ipm_orig(const struct ipm_rd *rd, uint64_t l)
{
	return rd->blocked ? l + 2 * (l / IPM_BLOCK_DATA) : l;
}

/* n logical bytes from l: in place when one block holds them, else gathered
 * into dst. The caller has checked that they exist. */
static const uint8_t *ipm_get(const struct ipm_rd *rd, uint64_t l, size_t n, uint8_t *dst)
{
	if (!rd->blocked || l % IPM_BLOCK_DATA + n <= IPM_BLOCK_DATA)
		return rd->buf + ipm_orig(rd, l);
	size_t done = 0;
	while (done < n) {
		size_t room = IPM_BLOCK_DATA - (size_t)(l % IPM_BLOCK_DATA);
		size_t k = n - done < room ? n - done : room;
		memcpy(dst + done, rd->buf + ipm_orig(rd, l), k);
		done += k;
		l += k;
	}
	return dst;
}

__attribute__((format(printf, 4, 0)))
static int ipm_vfail(struct ipm_rd *rd, uint64_t offset, uint32_t record, const char *fmt, va_list ap)
{
	char reason[sizeof rd->err->reason];
	vsnprintf(reason, sizeof reason, fmt, ap);
	return clr_fail(rd->err, offset, record, "%s", reason);
}

/* A fault of the message as a whole: at its RDW. */
__attribute__((format(printf, 2, 3)))
static int msg_fail(struct ipm_rd *rd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = ipm_vfail(rd, rd->rdw_at, rd->seq, fmt, ap);
	va_end(ap);
	return rc;
}

/* A fault of one field: at byte pos of the message. */
__attribute__((format(printf, 4, 5)))
static int field_fail(struct ipm_rd *rd, const struct ipm_msg *m, uint32_t pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = ipm_vfail(rd, ipm_orig(rd, m->lstart + pos), rd->seq, fmt, ap);
	va_end(ap);
	return rc;
}

/* MTI, bitmaps and every data element the bitmap names, checked against the
 * layout; the message must end exactly where its RDW says. */
static int ipm_fields(struct ipm_rd *rd, struct ipm_msg *m)
{
	const uint8_t *p = m->p;
	uint32_t n = m->len;
	if (n < 12)
		return msg_fail(rd, "RDW at offset %" PRIu64 " says %" PRIu32 " bytes, too few for an MTI and a bitmap",
		                rd->rdw_at, n);
	if (!e_digits(p, 4))
		return msg_fail(rd, "MTI is not 4 EBCDIC digits (bytes %02X %02X %02X %02X)", p[0], p[1], p[2], p[3]);
	m->mti = (unsigned)e_num(p, 4);
	const uint8_t *bm = p + 4;
	unsigned nbits = 64;
	uint32_t pos = 12;
	if (bm[0] & 0x80) {
		if (n < 20)
			return msg_fail(rd, "RDW says %" PRIu32 " bytes, too few for the secondary bitmap", n);
		nbits = 128;
		pos = 20;
	}
	memset(m->off, 0, sizeof m->off);
	/* the set bits in ascending order, a byte at a time; bit 1 is DE 1 */
	for (unsigned i = 0; i < nbits / 8; i++) {
		unsigned bits = i == 0 ? bm[0] & 0x7fu : bm[i];
		while (bits) {
			unsigned top = (unsigned)__builtin_clz(bits) - (unsigned)(8 * sizeof bits - 8);
			bits &= ~(0x80u >> top);
			unsigned de = 8 * i + top + 1;
			const struct de_def *d = &ipm_de[de];
			if (d->type == DE_UNDEF)
				return field_fail(rd, m, pos, "DE %u is in the bitmap but not in the IPM layout", de);
			uint32_t at = pos, flen = d->len;
			if (d->prefix) {
				if (n - pos < d->prefix)
					return msg_fail(rd, "DE %u runs past the end of the message (RDW says %" PRIu32 " bytes)", de, n);
				if (!e_digits(p + pos, d->prefix))
					return field_fail(rd, m, at, "DE %u's length prefix is not EBCDIC digits", de);
				flen = (uint32_t)e_num(p + pos, d->prefix);
				if (flen > d->len)
					return field_fail(rd, m, at, "DE %u says %" PRIu32 " bytes, more than its maximum of %u",
					                  de, flen, d->len);
				if (flen == 0)   /* LL is 01-99, LLL 001-999 */
					return field_fail(rd, m, at, "DE %u has length 0", de);
				pos += d->prefix;
			}
			if (flen > n - pos)
				return msg_fail(rd, "DE %u runs past the end of the message (RDW says %" PRIu32 " bytes)", de, n);
			if (d->type == DE_N && !e_digits(p + pos, flen))
				return field_fail(rd, m, at, "DE %u has a non-digit", de);
			m->off[de] = (uint16_t)pos;
			m->dlen[de] = (uint16_t)flen;
			pos += flen;
		}
	}
	if (pos != n)
		return msg_fail(rd, "RDW says %" PRIu32 " bytes but the message's data elements end after %" PRIu32,
		                n, pos);
	return 0;
}

static bool has(const struct ipm_msg *m, unsigned de)
{
	return m->off[de] != 0;
}

static const uint8_t *de_at(const struct ipm_msg *m, unsigned de)
{
	return m->p + m->off[de];
}

/* Walk the PDS lists (4-digit tag, 3-digit length, data) of DE 48, 62 and
 * 123-125; note the first of each PDS this reader uses. */
static int ipm_pds(struct ipm_rd *rd, const struct ipm_msg *m, struct ipm_pds *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof ipm_pds_des; i++) {
		unsigned de = ipm_pds_des[i];
		if (!has(m, de))
			continue;
		const uint8_t *d = de_at(m, de);
		uint32_t n = m->dlen[de], pos = 0;
		while (pos < n) {
			uint32_t at = m->off[de] + pos;
			if (n - pos < 7)
				return field_fail(rd, m, at, "DE %u: a PDS there has %" PRIu32 " bytes, too few for its "
				                  "4-digit tag and 3-digit length", de, n - pos);
			if (!e_digits(d + pos, 7))
				return field_fail(rd, m, at, "DE %u: a PDS tag or length there is not EBCDIC digits", de);
			unsigned tag = (unsigned)e_num(d + pos, 4);
			uint32_t plen = (uint32_t)e_num(d + pos + 4, 3);
			if (plen > n - pos - 7)
				return field_fail(rd, m, at, "DE %u: PDS %04u says %" PRIu32 " bytes but only %" PRIu32
				                  " remain in the data element", de, tag, plen, n - pos - 7);
			struct ipm_view v = {(uint16_t)(at + 7), (uint16_t)plen, true};
			struct ipm_view *slot = tag == 25    ? &out->p0025
			                        : tag == 105 ? &out->p0105
			                        : tag == 301 ? &out->p0301
			                        : tag == 306 ? &out->p0306
			                                     : NULL;
			if (slot && !slot->present)
				*slot = v;
			pos += 7 + plen;
		}
	}
	return 0;
}

/* A PDS that must be exactly n digits; its value in *v. */
static int pds_num(struct ipm_rd *rd, const struct ipm_msg *m, const struct ipm_view *v,
                   unsigned tag, uint32_t n, uint64_t *val)
{
	if (v->len != n || !e_digits(m->p + v->off, n))
		return field_fail(rd, m, v->off, "PDS %04u is not %" PRIu32 " digits", tag, n);
	*val = e_num(m->p + v->off, n);
	return 0;
}

static int ipm_header(struct ipm_rd *rd, const struct ipm_msg *m, const struct ipm_pds *pds)
{
	uint64_t unused;
	if (!pds->p0105.present)
		return msg_fail(rd, "file header has no PDS 0105 (file ID)");
	if (pds_num(rd, m, &pds->p0105, 105, 25, &unused) != 0)
		return -1;
	const uint8_t *id = m->p + pds->p0105.off;
	memcpy(rd->file_id, id, sizeof rd->file_id);
	e_text(rd->info->file_id, sizeof rd->info->file_id, id, 25);
	/* file type n-3, then the file reference date YYMMDD */
	memcpy(rd->info->business_day, "20", 2);
	e_text(rd->info->business_day + 2, sizeof rd->info->business_day - 2, id + 3, 6);
	rd->header = true;
	return 0;
}

static int ipm_trailer(struct ipm_rd *rd, const struct ipm_msg *m, const struct ipm_pds *pds)
{
	uint64_t count = 0, sum = 0;
	if (pds->p0105.present && (pds->p0105.len != 25 || memcmp(m->p + pds->p0105.off, rd->file_id, 25) != 0))
		return field_fail(rd, m, pds->p0105.off, "trailer PDS 0105 (file ID) differs from the header's");
	if (!pds->p0306.present)
		return msg_fail(rd, "trailer has no PDS 0306 (file message count)");
	if (pds_num(rd, m, &pds->p0306, 306, 8, &count) != 0)
		return -1;
	if (count != rd->seq)
		return msg_fail(rd, "trailer PDS 0306 says %" PRIu64 " messages, file has %" PRIu32, count, rd->seq);
	if (pds->p0301.present) {
		if (pds_num(rd, m, &pds->p0301, 301, 16, &sum) != 0)
			return -1;
		if (rd->checksum > IPM_MAX_SUM)
			return msg_fail(rd, "the file's DE 4 amounts sum to more than trailer PDS 0301 can hold");
		if (sum != rd->checksum)
			return msg_fail(rd, "trailer PDS 0301 says DE 4 amounts sum to %" PRIu64 ", file's sum to %" PRIu64,
			                sum, rd->checksum);
	}
	rd->trailer = true;
	return 0;
}

/* Card acceptor name\street\city\postal code (10) region (3) country (3). */
static void ipm_de43(struct clr_record *r, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n, *part[4] = {p, NULL, NULL, NULL};
	unsigned k = 1;
	for (const uint8_t *q = p; q < end && k < 4; q++)
		if (*q == E_BSL)
			part[k++] = q + 1;
	const uint8_t *name_end = part[1] ? part[1] - 1 : end;
	e_text(r->merchant_name, sizeof r->merchant_name, p, (size_t)(name_end - p));
	if (k < 4)
		return;
	e_text(r->merchant_city, sizeof r->merchant_city, part[2], (size_t)(part[3] - 1 - part[2]));
	size_t rest = (size_t)(end - part[3]);
	if (rest >= 3) {
		const uint8_t *c = end - 3;
		size_t cn = 3;
		while (cn > 0 && *c == E_SPACE) {
			c++;
			cn--;
		}
		e_text(r->merchant_country, sizeof r->merchant_country, c, cn);
	}
}

static const char *de_name(unsigned de)
{
	switch (de) {
	case 2: return "PAN";
	case 3: return "processing code";
	case 4: return "amount, transaction";
	case 24: return "function code";
	case 31: return "acquirer reference data";
	case 49: return "currency code, transaction";
	default: return "";
	}
}

/* A financial message (1240, 1442, 1740) into a record for the callback. */
static int ipm_record(struct ipm_rd *rd, const struct ipm_msg *m, const struct ipm_pds *pds, unsigned func,
                      clr_record_fn fn, void *arg)
{
	static const uint8_t need_card[] = {2, 3, 4, 24, 31, 49};
	static const uint8_t need_fee[] = {3, 4, 24, 49};
	const uint8_t *need = m->mti == 1740 ? need_fee : need_card;
	size_t nneed = m->mti == 1740 ? sizeof need_fee : sizeof need_card;
	for (size_t i = 0; i < nneed; i++)
		if (!has(m, need[i]))
			return msg_fail(rd, "%u message has no DE %u (%s)", m->mti, (unsigned)need[i], de_name(need[i]));

	struct clr_record r;
	memset(&r, 0, sizeof r);
	r.seq = rd->seq;
	r.offset = rd->rdw_at;
	e_text(r.mti, sizeof r.mti, m->p, 4);
	e_text(r.func, sizeof r.func, de_at(m, 24), 3);
	if (pds->p0025.present) {
		uint8_t c = pds->p0025.len ? m->p[pds->p0025.off] : 0;
		if (c != E_R && c != E_SPACE)
			return field_fail(rd, m, pds->p0025.off, "PDS 0025 (message reversal indicator) is neither R nor a space");
		r.reversal = c == E_R;
	}
	if (m->mti == 1240) {
		bool credit = de_at(m, 3)[0] == 0xf2 && de_at(m, 3)[1] == 0xf0;
		if (func == 200)
			r.kind = credit ? (r.reversal ? CLR_CREDIT_REVERSAL : CLR_CREDIT)
			                : (r.reversal ? CLR_PRESENTMENT_REVERSAL : CLR_PRESENTMENT);
		else if (func == 205 || func == 282)
			r.kind = CLR_REPRESENTMENT;
		else
			return field_fail(rd, m, m->off[24], "1240 with function code %03u (a presentment is 200, "
			                  "a second presentment 205 or 282)", func);
	} else {
		r.kind = m->mti == 1442 ? CLR_CHARGEBACK : CLR_FEE;
	}

	e_text(r.proc, sizeof r.proc, de_at(m, 3), 6);
	r.amount = (int64_t)e_num(de_at(m, 4), 12);
	r.currency = (uint16_t)e_num(de_at(m, 49), 3);
	if (has(m, 2))
		e_text(r.pan, sizeof r.pan, de_at(m, 2), m->dlen[2]);
	if (has(m, 6))
		r.bill_amount = (int64_t)e_num(de_at(m, 6), 12);
	if (has(m, 51))
		r.bill_currency = (uint16_t)e_num(de_at(m, 51), 3);
	if (has(m, 12)) {
		memcpy(r.txn_date, "20", 2);
		e_text(r.txn_date + 2, sizeof r.txn_date - 2, de_at(m, 12), 6);
	}
	if (has(m, 38))
		e_text(r.approval, sizeof r.approval, de_at(m, 38), m->dlen[38]);
	if (has(m, 31))
		e_text(r.arn, sizeof r.arn, de_at(m, 31), m->dlen[31]);
	unsigned acq = has(m, 33) ? 33 : 32;
	if (has(m, acq))
		e_text(r.acquirer_id, sizeof r.acquirer_id, de_at(m, acq), m->dlen[acq]);
	if (has(m, 41))
		e_text(r.terminal_id, sizeof r.terminal_id, de_at(m, 41), m->dlen[41]);
	if (has(m, 42))
		e_text(r.merchant_id, sizeof r.merchant_id, de_at(m, 42), m->dlen[42]);
	if (has(m, 43))
		ipm_de43(&r, de_at(m, 43), m->dlen[43]);
	if (has(m, 26))
		e_text(r.mcc, sizeof r.mcc, de_at(m, 26), 4);
	if (has(m, 25))
		e_text(r.reason, sizeof r.reason, de_at(m, 25), 4);

	rd->info->records++;
	rd->info->amount_total += r.amount;
	return fn ? fn(arg, &r) : 0;
}

/* One message, framed and field-checked: its place in the file, then what
 * it means. */
static int ipm_message(struct ipm_rd *rd, const struct ipm_msg *m, clr_record_fn fn, void *arg)
{
	if (m->mti != 1240 && m->mti != 1442 && m->mti != 1644 && m->mti != 1740)
		return msg_fail(rd, "MTI %04u is not an IPM clearing message (1240, 1442, 1644, 1740)", m->mti);
	if (!has(m, 24))
		return msg_fail(rd, "%u message has no DE 24 (function code)", m->mti);
	unsigned func = (unsigned)e_num(de_at(m, 24), 3);
	if (!rd->header && !(m->mti == 1644 && func == 697))
		return msg_fail(rd, "file does not start with a file header (1644/697): its first message is %u/%03u",
		                m->mti, func);
	if (rd->header && m->mti == 1644 && func == 697)
		return msg_fail(rd, "a second file header (1644/697)");
	if (has(m, 71)) {
		uint64_t no = e_num(de_at(m, 71), 8);
		if (rd->seen_de71 && no <= rd->last_de71)
			return field_fail(rd, m, m->off[71], "DE 71 (message number) %" PRIu64 " is not above the "
			                  "previous message's %" PRIu64, no, rd->last_de71);
		rd->last_de71 = no;
		rd->seen_de71 = true;
	}
	if (has(m, 4) && rd->checksum <= IPM_MAX_SUM)
		rd->checksum += e_num(de_at(m, 4), 12);
	struct ipm_pds pds;
	if (ipm_pds(rd, m, &pds) != 0)
		return -1;
	if (m->mti != 1644)
		return ipm_record(rd, m, &pds, func, fn, arg);
	if (func == 697)
		return ipm_header(rd, m, &pds);
	if (func == 695)
		return ipm_trailer(rd, m, &pds);
	return 0;   /* other 1644s (addenda, reconciliation, notices): counted, not passed on */
}

/* Nothing but 0x40 from logical byte l to the end. */
static bool ipm_only_pad(const struct ipm_rd *rd, uint64_t l)
{
	uint8_t tmp[1];
	for (; l < rd->llen; l++)
		if (*ipm_get(rd, l, 1, tmp) != IPM_PAD)
			return false;
	return true;
}

/* What may follow the trailer: an RDW of 0, then only 0x40 padding. */
static int ipm_tail(struct ipm_rd *rd, uint64_t l)
{
	uint8_t tmp[8];
	rd->seq++;
	if (rd->llen - l >= 4 && memcmp(ipm_get(rd, l, 4, tmp), "\0\0\0\0", 4) == 0)
		l += 4;
	for (uint64_t i = l; i < rd->llen; i++) {
		if (*ipm_get(rd, i, 1, tmp) == IPM_PAD)
			continue;
		uint64_t at = ipm_orig(rd, i);
		if (i == l && rd->llen - l >= 8) {
			const uint8_t *h = ipm_get(rd, l, 8, tmp);
			if (be32(h) >= 12 && e_digits(h + 4, 4))
				return clr_fail(rd->err, at, rd->seq, "a message (MTI %u) after the trailer",
				                (unsigned)e_num(h + 4, 4));
		}
		return clr_fail(rd->err, at, rd->seq, "byte %02X after the trailer: only an RDW of 0 and 0x40 "
		                "padding may follow it", *ipm_get(rd, i, 1, tmp));
	}
	return 0;
}

/* Blocked: a whole number of 1014-byte blocks, each ending in 0x40 0x40. */
static bool ipm_is_blocked(const uint8_t *buf, size_t len)
{
	if (len == 0 || len % IPM_BLOCK != 0)
		return false;
	for (size_t b = IPM_BLOCK_DATA; b < len; b += IPM_BLOCK)
		if (buf[b] != IPM_PAD || buf[b + 1] != IPM_PAD)
			return false;
	return true;
}

static int ipm_walk(struct ipm_rd *rd, clr_record_fn fn, void *arg)
{
	struct ipm_msg m;
	uint8_t rdw[4];
	uint64_t l = 0;
	for (;;) {
		rd->seq++;
		rd->rdw_at = ipm_orig(rd, l);
		uint64_t left = rd->llen - l;
		if (left == 0)
			break;
		if (left < 4)
			return msg_fail(rd, "%" PRIu64 " bytes at offset %" PRIu64 ", too few for an RDW", left, rd->rdw_at);
		uint32_t n = be32(ipm_get(rd, l, 4, rdw));
		if (n == 0 || (n == 0x40404040u && ipm_only_pad(rd, l)))
			break;   /* the end: an RDW of 0, or a blocked file's fill */
		if (n > left - 4)
			return msg_fail(rd, "RDW at offset %" PRIu64 " says %" PRIu32 " bytes but only %" PRIu64 " remain",
			                rd->rdw_at, n, left - 4);
		if (n > IPM_MAX_MSG)
			return msg_fail(rd, "RDW at offset %" PRIu64 " says %" PRIu32 " bytes, more than the longest "
			                "IPM message (%u)", rd->rdw_at, n, IPM_MAX_MSG);
		m.lstart = l + 4;
		m.len = n;
		m.p = ipm_get(rd, l + 4, n, rd->scratch);
		rd->info->messages++;
		int rc = ipm_fields(rd, &m);
		if (rc == 0)
			rc = ipm_message(rd, &m, fn, arg);
		if (rc != 0)
			return rc;
		l += 4 + (uint64_t)n;
		if (rd->trailer)
			return ipm_tail(rd, l);
	}
	if (!rd->header)
		return msg_fail(rd, rd->llen == 0 ? "the file is empty" : "the file has no file header (1644/697)");
	return msg_fail(rd, "the file ends at offset %" PRIu64 " without a file trailer (1644/695)", rd->rdw_at);
}

/* A file that fails read unblocked may be a damaged blocked one: its length
 * a multiple of 1014 with a pad that is not 0x40 0x40 while another is, or
 * every whole block's pad right but the length not a multiple. Say so. */
static void ipm_block_hint(const uint8_t *buf, size_t len, struct clr_error *err)
{
	if (!err || len < IPM_BLOCK)
		return;
	size_t good = 0, bad = 0, first_bad = 0;
	for (size_t b = IPM_BLOCK_DATA; b + 1 < len; b += IPM_BLOCK) {
		if (buf[b] == IPM_PAD && buf[b + 1] == IPM_PAD) {
			good++;
		} else if (bad++ == 0) {
			first_bad = b;
		}
	}
	char hint[120];
	if (len % IPM_BLOCK == 0 && good > 0 && bad > 0)
		snprintf(hint, sizeof hint, " (if the file is 1014-blocked: the pad bytes at offset %zu are "
		         "%02X %02X, not 40 40)", first_bad, buf[first_bad], buf[first_bad + 1]);
	else if (len % IPM_BLOCK != 0 && bad == 0)
		snprintf(hint, sizeof hint, " (if the file is 1014-blocked: its length %zu is not a "
		         "multiple of 1014)", len);
	else
		return;
	size_t have = strlen(err->reason);
	if (have + strlen(hint) < sizeof err->reason)
		memcpy(err->reason + have, hint, strlen(hint) + 1);
}

int clr_ipm_read(const uint8_t *buf, size_t len, struct clr_file_info *info,
                 clr_record_fn fn, void *arg, struct clr_error *err)
{
	struct clr_file_info scratch_info;
	struct ipm_rd rd_mem, *rd = &rd_mem;   /* the scratch buffer needs no clearing */
	memset(rd, 0, offsetof(struct ipm_rd, scratch));
	rd->info = info ? info : &scratch_info;
	memset(rd->info, 0, sizeof *rd->info);
	rd->info->scheme = CLR_MASTERCARD;
	rd->info->ebcdic = true;
	rd->buf = buf;
	rd->len = len;
	rd->err = err;
	rd->blocked = ipm_is_blocked(buf, len);
	rd->info->blocked = rd->blocked;
	rd->llen = rd->blocked ? len / IPM_BLOCK * IPM_BLOCK_DATA : len;
	int rc = ipm_walk(rd, fn, arg);
	if (rc == -1 && !rd->blocked)
		ipm_block_hint(buf, len, err);
	return rc;
}

/* ---------------------------------------------------------------- writer */

struct ipm_wr {
	bool blocked;
	bool overflow;             /* sticky: the message being built outgrew msg */
	bool io_failed;            /* sticky: a write failed */
	unsigned last_de;          /* data elements go in ascending order */
	uint32_t inblock;          /* bytes of the current block written */
	uint32_t msgno;            /* DE 71 of the last message */
	uint64_t checksum;         /* DE 4 over all messages, for PDS 0301 */
	char file_id[26];
	size_t n;
	uint8_t msg[4 + IPM_MAX_MSG];
};

__attribute__((format(printf, 2, 3)))
static int w_fail(struct clr_writer *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Room for n more bytes in the message being built, or NULL (sticky). */
static uint8_t *b_room(struct ipm_wr *s, size_t n)
{
	if (s->overflow || n > sizeof s->msg - s->n) {
		s->overflow = true;
		return NULL;
	}
	uint8_t *o = s->msg + s->n;
	s->n += n;
	return o;
}

/* ASCII text as EBCDIC, space-padded to width (width 0: as long as it is). */
static void b_text(struct ipm_wr *s, const char *a, size_t n, size_t width)
{
	uint8_t *o = b_room(s, width > n ? width : n);
	if (!o)
		return;
	for (size_t i = 0; i < n; i++)
		o[i] = clr_a2e[(uint8_t)a[i]];
	if (width > n)
		memset(o + n, E_SPACE, width - n);
}

/* v as width EBCDIC digits (v < 10^width). */
static void b_digits(struct ipm_wr *s, uint64_t v, unsigned width)
{
	uint8_t *o = b_room(s, width);
	if (!o)
		return;
	for (unsigned i = width; i-- > 0; v /= 10)
		o[i] = (uint8_t)(0xf0 + v % 10);
}

static void b_begin(struct ipm_wr *s, unsigned mti)
{
	s->n = 4;
	s->overflow = false;
	s->last_de = 1;
	b_digits(s, mti, 4);
	/* after RDW and MTI the bitmaps; IPM messages always carry the secondary */
	memset(s->msg + 8, 0, 16);
	s->msg[8] = 0x80;
	s->n = 24;
}

/* Mark a data element present and, if variable, write its length prefix. */
static void b_de(struct ipm_wr *s, unsigned de, size_t len)
{
	const struct de_def *d = &ipm_de[de];
	if (de <= s->last_de || len > d->len || (!d->prefix && len != d->len)) {
		s->overflow = true;   /* a bug in this file, caught like an overflow */
		return;
	}
	s->last_de = de;
	s->msg[8 + (de - 1) / 8] |= (uint8_t)(0x80u >> ((de - 1) % 8));
	if (d->prefix)
		b_digits(s, len, d->prefix);
}

static void b_num(struct ipm_wr *s, unsigned de, uint64_t v)
{
	b_de(s, de, ipm_de[de].len);
	b_digits(s, v, ipm_de[de].len);
}

/* A fixed text field (space-padded) or a variable one. */
static void b_str(struct ipm_wr *s, unsigned de, const char *a)
{
	size_t n = strlen(a);
	if (!ipm_de[de].prefix && n > ipm_de[de].len)
		s->overflow = true;
	b_de(s, de, ipm_de[de].prefix ? n : ipm_de[de].len);
	b_text(s, a, n, ipm_de[de].prefix ? 0 : ipm_de[de].len);
}

static void b_opt(struct ipm_wr *s, unsigned de, const char *a)
{
	if (a[0])
		b_str(s, de, a);
}

static int w_emit(struct clr_writer *w, struct ipm_wr *s, const uint8_t *p, size_t n)
{
	static const uint8_t pad[2] = {IPM_PAD, IPM_PAD};
	if (!s->blocked) {
		if (fwrite(p, 1, n, w->out) != n)
			s->io_failed = true;
		return s->io_failed ? -1 : 0;
	}
	while (n > 0) {
		size_t k = IPM_BLOCK_DATA - s->inblock;
		if (k > n)
			k = n;
		if (fwrite(p, 1, k, w->out) != k)
			s->io_failed = true;
		p += k;
		n -= k;
		s->inblock += (uint32_t)k;
		if (s->inblock == IPM_BLOCK_DATA) {
			if (fwrite(pad, 1, 2, w->out) != 2)
				s->io_failed = true;
			s->inblock = 0;
		}
	}
	return s->io_failed ? -1 : 0;
}

/* DE 71, the RDW, and out. */
static int b_finish(struct clr_writer *w, struct ipm_wr *s)
{
	b_num(s, 71, s->msgno + 1);
	if (s->overflow)
		return w_fail(w, "IPM message would exceed %u bytes", IPM_MAX_MSG);
	uint32_t n = (uint32_t)(s->n - 4);
	s->msg[0] = (uint8_t)(n >> 24);
	s->msg[1] = (uint8_t)(n >> 16);
	s->msg[2] = (uint8_t)(n >> 8);
	s->msg[3] = (uint8_t)n;
	if (w_emit(w, s, s->msg, s->n) != 0)
		return w_fail(w, "writing the IPM file failed");
	s->msgno++;
	w->info.messages++;
	return 0;
}

static bool all_digits(const char *a, size_t min, size_t max)
{
	size_t n = strlen(a);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (a[i] < '0' || a[i] > '9')
			return false;
	return true;
}

int clr_ipm_w_header(struct clr_writer *w)
{
	struct ipm_wr *s = malloc(sizeof *s);
	if (!s)
		return w_fail(w, "out of memory");
	memset(s, 0, offsetof(struct ipm_wr, msg));
	w->fmt = s;
	s->blocked = w->info.blocked;
	w->info.ebcdic = true;
	if (w->info.file_id[0]) {
		if (!all_digits(w->info.file_id, 25, 25))
			return w_fail(w, "IPM file ID (PDS 0105) must be 25 digits");
		memcpy(s->file_id, w->info.file_id, 26);
	} else {
		/* file type 002, reference date YYMMDD, processor ID and sequence unknown */
		if (!all_digits(w->info.business_day, 8, 8))
			return w_fail(w, "IPM file needs a file ID or a business day (YYYYMMDD)");
		snprintf(s->file_id, sizeof s->file_id, "002%.6s0000000000000001", w->info.business_day + 2);
		memcpy(w->info.file_id, s->file_id, 26);
	}
	memcpy(w->info.business_day, "20", 2);
	memcpy(w->info.business_day + 2, s->file_id + 3, 6);
	w->info.business_day[8] = '\0';

	char pds[40];
	snprintf(pds, sizeof pds, "0105025%s", s->file_id);
	b_begin(s, 1644);
	b_str(s, 24, "697");
	b_str(s, 48, pds);
	return b_finish(w, s);
}

/* What the reader would refuse, or read back as a different record. */
static int w_check(struct clr_writer *w, const struct clr_record *r, unsigned *mti, const char **func)
{
	uint32_t no = w->info.records + 1;   /* the record's number among those added */
	bool fee = r->kind == CLR_FEE;
#define TERMINATED(f) (memchr(r->f, '\0', sizeof r->f) != NULL)
	if (!(TERMINATED(mti) && TERMINATED(func) && TERMINATED(proc) && TERMINATED(pan) && TERMINATED(txn_date) &&
	      TERMINATED(approval) && TERMINATED(arn) && TERMINATED(acquirer_id) && TERMINATED(terminal_id) &&
	      TERMINATED(merchant_id) && TERMINATED(merchant_name) && TERMINATED(merchant_city) &&
	      TERMINATED(merchant_country) && TERMINATED(mcc) && TERMINATED(reason)))
		return w_fail(w, "record %" PRIu32 ": a text field is not NUL-terminated", no);
#undef TERMINATED
	switch (r->kind) {
	case CLR_PRESENTMENT:
	case CLR_PRESENTMENT_REVERSAL:
	case CLR_CREDIT:
	case CLR_CREDIT_REVERSAL: {
		bool credit = r->kind == CLR_CREDIT || r->kind == CLR_CREDIT_REVERSAL;
		*mti = 1240;
		*func = "200";
		if (r->func[0] && strcmp(r->func, "200") != 0)
			return w_fail(w, "record %" PRIu32 ": a presentment or credit has function code 200", no);
		if (credit != (strncmp(r->proc, "20", 2) == 0))
			return w_fail(w, "record %" PRIu32 ": a credit, and only a credit, has processing code 20xxxx", no);
		if (r->reversal != (r->kind == CLR_PRESENTMENT_REVERSAL || r->kind == CLR_CREDIT_REVERSAL))
			return w_fail(w, "record %" PRIu32 ": reversal flag disagrees with its kind", no);
		break;
	}
	case CLR_REPRESENTMENT:
		*mti = 1240;
		*func = r->func[0] ? r->func : "205";
		if (strcmp(*func, "205") != 0 && strcmp(*func, "282") != 0)
			return w_fail(w, "record %" PRIu32 ": a second presentment has function code 205 or 282", no);
		break;
	case CLR_CHARGEBACK:
	case CLR_FEE:
		*mti = fee ? 1740 : 1442;
		*func = r->func[0] ? r->func : fee ? "700" : "450";
		break;
	default:
		return w_fail(w, "record %" PRIu32 ": unknown kind %d", r->seq, (int)r->kind);
	}
	if (!all_digits(*func, 3, 3))
		return w_fail(w, "record %" PRIu32 ": function code is not 3 digits", no);
	if (!all_digits(r->pan, fee ? 0 : 1, 19))
		return w_fail(w, "record %" PRIu32 ": PAN must be 1 to 19 digits", no);
	if (!all_digits(r->proc, 6, 6))
		return w_fail(w, "record %" PRIu32 ": processing code must be 6 digits", no);
	if (r->amount < 0 || r->amount > 999999999999 || r->bill_amount < 0 || r->bill_amount > 999999999999)
		return w_fail(w, "record %" PRIu32 ": amounts must be 0 to 999999999999 minor units", no);
	if (r->currency < 1 || r->currency > 999 || r->bill_currency > 999 || (!r->bill_currency && r->bill_amount))
		return w_fail(w, "record %" PRIu32 ": currency codes must be 1 to 999, and a billing amount needs its "
		              "currency", no);
	if (r->txn_date[0] && (!all_digits(r->txn_date, 8, 8) || strncmp(r->txn_date, "20", 2) != 0))
		return w_fail(w, "record %" PRIu32 ": transaction date must be 20YYMMDD", no);
	if (!fee && !r->arn[0])
		return w_fail(w, "record %" PRIu32 ": acquirer reference number (DE 31) missing", no);
	if (!all_digits(r->acquirer_id, 0, 11) || !all_digits(r->mcc, 0, 4) || strlen(r->mcc) % 4 ||
	    !all_digits(r->reason, 0, 4) || strlen(r->reason) % 4)
		return w_fail(w, "record %" PRIu32 ": acquirer ID, MCC or reason code is not digits", no);
	if (strchr(r->merchant_name, '\\') || strchr(r->merchant_city, '\\'))
		return w_fail(w, "record %" PRIu32 ": merchant name or city contains the DE 43 delimiter '\\'", no);
	return 0;
}

int clr_ipm_w_record(struct clr_writer *w, const struct clr_record *r)
{
	struct ipm_wr *s = w->fmt;
	unsigned mti = 0;
	const char *func = "";
	if (s->io_failed)
		return w_fail(w, "writing the IPM file failed");
	if (w_check(w, r, &mti, &func) != 0)
		return -1;

	b_begin(s, mti);
	b_opt(s, 2, r->pan);
	b_str(s, 3, r->proc);
	b_num(s, 4, (uint64_t)r->amount);
	if (r->bill_currency)
		b_num(s, 6, (uint64_t)r->bill_amount);
	if (r->txn_date[0]) {
		b_de(s, 12, 12);   /* YYMMDD, and the record has no time of day */
		b_text(s, r->txn_date + 2, 6, 0);
		b_text(s, "000000", 6, 0);
	}
	b_str(s, 24, func);
	b_opt(s, 25, r->reason);
	b_opt(s, 26, r->mcc);
	b_opt(s, 31, r->arn);
	b_opt(s, 33, r->acquirer_id);
	b_opt(s, 38, r->approval);
	b_opt(s, 41, r->terminal_id);
	b_opt(s, 42, r->merchant_id);
	if (r->merchant_name[0] || r->merchant_city[0] || r->merchant_country[0]) {
		/* name\street\city\postal code (10) region (3) country (3); no street, postal code or region */
		size_t name = strlen(r->merchant_name), city = strlen(r->merchant_city);
		b_de(s, 43, name + 2 + city + 1 + 10 + 3 + 3);
		b_text(s, r->merchant_name, name, 0);
		b_text(s, "\\\\", 2, 0);
		b_text(s, r->merchant_city, city, 0);
		b_text(s, "\\", 1, 10 + 3 + 1);
		b_text(s, r->merchant_country, strlen(r->merchant_country), 3);
	}
	if (r->reversal) {
		/* PDS 0025: R, and the date of the original message (here: the transaction's) */
		b_de(s, 48, 7 + 7);
		b_text(s, "0025007R", 8, 0);
		b_text(s, r->txn_date[0] ? r->txn_date + 2 : w->info.business_day + 2, 6, 0);
	}
	b_num(s, 49, r->currency);
	if (r->bill_currency)
		b_num(s, 51, r->bill_currency);
	if (b_finish(w, s) != 0)
		return -1;
	s->checksum += (uint64_t)r->amount;
	w->info.records++;
	w->info.amount_total += r->amount;
	return 0;
}

int clr_ipm_w_trailer(struct clr_writer *w)
{
	struct ipm_wr *s = w->fmt;
	int rc = -1;
	if (!s)
		return w_fail(w, "IPM writer has no header");
	if (s->io_failed) {
		w_fail(w, "writing the IPM file failed");
	} else if (s->checksum > IPM_MAX_SUM) {
		w_fail(w, "the records' amounts sum to more than trailer PDS 0301 can hold");
	} else {
		char pds[80];
		snprintf(pds, sizeof pds, "0105025%s0301016%016" PRIu64 "0306008%08" PRIu32, s->file_id, s->checksum,
		         s->msgno + 1);
		b_begin(s, 1644);
		b_str(s, 24, "695");
		b_str(s, 48, pds);
		static const uint8_t end[4] = {0, 0, 0, 0};   /* an RDW of 0 closes the file */
		if (b_finish(w, s) == 0 && w_emit(w, s, end, sizeof end) == 0)
			rc = 0;
		if (rc == 0 && s->blocked && s->inblock != 0) {
			uint8_t fill[IPM_BLOCK_DATA];   /* the last block filled with 0x40 */
			memset(fill, IPM_PAD, sizeof fill);
			if (w_emit(w, s, fill, IPM_BLOCK_DATA - s->inblock) != 0)
				rc = -1;
		}
		if (rc != 0 && !w->err[0])
			w_fail(w, "writing the IPM file failed");
	}
	free(s);
	w->fmt = NULL;
	return rc;
}
