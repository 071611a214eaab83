/* ISO 8583:1987 decode and encode for the ascii87 and binary87 profiles. */
#include "iso8583_int.h"

#include <stdio.h>
#include <string.h>

#define BIT(m, de) ((m)->bitmap[((de) - 1) >> 3] & (0x80u >> (((de) - 1) & 7)))

static const char hexdig[] = "0123456789ABCDEF";

/* ---- character classes ---------------------------------------------------- */

static inline int hexval(unsigned c)
{
	if (c - '0' < 10)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6)
		return (int)(c - 'a' + 10);
	return -1;
}

/* Offset of the first non-digit in p[0..n), or n. Eight bytes at a time:
 * a byte is a digit iff its high nibble is 3 both before and after adding 6
 * (0x3A..0x3F carry into the high nibble; nothing carries across bytes). */
static size_t first_nondigit(const uint8_t *p, size_t n)
{
	const uint64_t hi = 0xF0F0F0F0F0F0F0F0u, three = 0x3030303030303030u,
	               six = 0x0606060606060606u;
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		if ((x & hi) != three || ((x + six) & hi) != three)
			break;
	}
	for (; i < n; i++)
		if ((unsigned)p[i] - '0' >= 10)
			return i;
	return n;
}

static size_t first_nonprint(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return i;
	return n;
}

static size_t first_nontrack(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned)p[i] - '0' >= 10 && p[i] != '=')
			return i;
	return n;
}

static size_t first_nonhex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hexval(p[i]) < 0)
			return i;
	return n;
}

/* ---- errors ------------------------------------------------------------- */

const char *iso_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case ISO_ERR_TRUNCATED: return "message ends inside a field the bitmap promises";
	case ISO_ERR_TRAILING: return "trailing bytes after the last field";
	case ISO_ERR_MTI: return "invalid MTI";
	case ISO_ERR_BITMAP: return "invalid bitmap";
	case ISO_ERR_NOT_DIGIT: return "non-digit in numeric field";
	case ISO_ERR_BAD_CHAR: return "character not allowed in field";
	case ISO_ERR_BAD_HEX: return "non-hex character in binary field";
	case ISO_ERR_TOO_LONG: return "length over the field maximum";
	case ISO_ERR_BAD_LENGTH: return "wrong length";
	case ISO_ERR_BAD_PAD: return "BCD padding nibble is not 0";
	case ISO_ERR_BAD_SIGN: return "amount sign is not C or D";
	case ISO_ERR_NO_FIELD: return "no such data element";
	case ISO_ERR_NOSPACE: return "buffer too small";
	case ISO_ERR_FRAME_ZERO: return "zero message length";
	case ISO_ERR_FRAME_LONG: return "message length over the maximum";
	case ISO_ERR_FRAME_DIGIT: return "length header is not 4 ASCII digits";
	case ISO_ERR_TLV: return "malformed TLV";
	default: return "unknown error";
	}
}

int iso_error_format(const struct iso_error *e, char *buf, size_t cap)
{
	const struct iso_field_def *d = iso_fdef(e->de);
	if (e->de == 0)
		return snprintf(buf, cap, "%s: %s at byte %zu",
		                e->code == ISO_ERR_MTI ? "MTI" : "message", iso_strerror(e->code),
		                e->offset);
	if (d == NULL)
		return snprintf(buf, cap, "bitmap: %s at byte %zu", iso_strerror(e->code), e->offset);
	return snprintf(buf, cap, "DE %u (%s): %s at byte %zu", (unsigned)e->de, d->name,
	                iso_strerror(e->code), e->offset);
}

static int fail(struct iso_error *err, int code, unsigned de, size_t off)
{
	if (err != NULL) {
		err->code = code;
		err->de = (uint16_t)de;
		err->offset = off;
	}
	return code;
}

/* ---- decoding ----------------------------------------------------------- */

static bool mti_valid(const char *t)
{
	/* ISO 8583:1987 is version 0; class 1..8, function 0..4, origin 0..5. */
	return t[0] == '0' && t[1] >= '1' && t[1] <= '8' && t[2] >= '0' && t[2] <= '4' &&
	       t[3] >= '0' && t[3] <= '5';
}

static inline unsigned nib(const uint8_t *p, size_t i)
{
	return (i & 1) ? (p[i >> 1] & 0x0fu) : (p[i >> 1] >> 4);
}

/* Check `digits` BCD digits at p laid out with a leading (lpad) or
 * trailing pad nibble when odd; `track` allows nibble D ('='). Returns 0 or
 * the error with *bad the offending byte's index. */
static int check_bcd(const uint8_t *p, size_t digits, bool lpad, bool track, size_t *bad)
{
	size_t nibbles = digits + (digits & 1);
	size_t first = (lpad && (digits & 1)) ? 1 : 0;
	if (digits & 1) {
		size_t padpos = lpad ? 0 : nibbles - 1;
		if (nib(p, padpos) != 0) {
			*bad = padpos >> 1;
			return ISO_ERR_BAD_PAD;
		}
	}
	for (size_t i = first; i < first + digits; i++) {
		unsigned v = nib(p, i);
		if (v > 9 && !(track && v == 0xd)) {
			*bad = i >> 1;
			return track ? ISO_ERR_BAD_CHAR : ISO_ERR_NOT_DIGIT;
		}
	}
	return 0;
}

struct rd {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static int rd_prefix(enum iso_profile prof, struct rd *r, uint8_t lt, unsigned de,
                     size_t *n, struct iso_error *err)
{
	size_t digits = lt == ISO_LLVAR ? 2 : 3;
	size_t bytes = prof == ISO_ASCII87 ? digits : (digits + 1) / 2;
	if (bytes > r->len - r->pos)
		return fail(err, ISO_ERR_TRUNCATED, de, r->len);
	const uint8_t *p = r->buf + r->pos;
	size_t v = 0;
	if (prof == ISO_ASCII87) {
		for (size_t i = 0; i < digits; i++) {
			if ((unsigned)p[i] - '0' >= 10)
				return fail(err, ISO_ERR_NOT_DIGIT, de, r->pos + i);
			v = v * 10 + (size_t)(p[i] - '0');
		}
	} else {
		for (size_t i = 0; i < bytes * 2; i++) {
			unsigned d = nib(p, i);
			if (d > 9)
				return fail(err, ISO_ERR_NOT_DIGIT, de, r->pos + (i >> 1));
			v = v * 10 + d;
		}
	}
	r->pos += bytes;
	*n = v;
	return 0;
}

static int unpack_field(enum iso_profile prof, struct rd *r, unsigned de,
                        struct iso_view *v, struct iso_error *err)
{
	const struct iso_field_def *d = iso_fdef(de);
	size_t start = r->pos, n, size;
	int rc;

	if (d == NULL)
		return fail(err, ISO_ERR_BITMAP, de, start);
	if (d->lentype == ISO_FIXED) {
		n = d->max + (d->type == ISO_T_XN);
	} else {
		if ((rc = rd_prefix(prof, r, d->lentype, de, &n, err)) != 0)
			return rc;
		size_t lim = d->max;
		if (d->type == ISO_T_B && prof == ISO_ASCII87)
			lim = 999; /* the prefix counts hex characters; checked below */
		if (n > lim)
			return fail(err, ISO_ERR_TOO_LONG, de, start);
	}
	const uint8_t *p = r->buf + r->pos;
	size_t off = r->pos, bad;

	if (prof == ISO_ASCII87 || d->type == ISO_T_ANS) {
		if (d->type == ISO_T_B) {
			size = d->lentype == ISO_FIXED ? 2 * n : n;
			if (size & 1)
				return fail(err, ISO_ERR_BAD_LENGTH, de, start);
			if (size / 2 > d->max)
				return fail(err, ISO_ERR_TOO_LONG, de, start);
		} else {
			size = n;
		}
		if (size > r->len - r->pos)
			return fail(err, ISO_ERR_TRUNCATED, de, r->len);
		switch (d->type) {
		case ISO_T_N:
			if ((bad = first_nondigit(p, size)) != size)
				return fail(err, ISO_ERR_NOT_DIGIT, de, off + bad);
			break;
		case ISO_T_ANS:
			if ((bad = first_nonprint(p, size)) != size)
				return fail(err, ISO_ERR_BAD_CHAR, de, off + bad);
			break;
		case ISO_T_Z:
			if ((bad = first_nontrack(p, size)) != size)
				return fail(err, ISO_ERR_BAD_CHAR, de, off + bad);
			break;
		case ISO_T_XN:
			if (p[0] != 'C' && p[0] != 'D')
				return fail(err, ISO_ERR_BAD_SIGN, de, off);
			if ((bad = first_nondigit(p + 1, size - 1)) != size - 1)
				return fail(err, ISO_ERR_NOT_DIGIT, de, off + 1 + bad);
			break;
		case ISO_T_B:
			if ((bad = first_nonhex(p, size)) != size)
				return fail(err, ISO_ERR_BAD_HEX, de, off + bad);
			break;
		}
		v->enc = d->type == ISO_T_B ? ISO_ENC_HEX : ISO_ENC_CHARS;
		v->len = (uint16_t)(d->type == ISO_T_B ? size / 2 : size);
	} else {
		switch (d->type) {
		case ISO_T_N:
		case ISO_T_Z: {
			bool lpad = d->lentype == ISO_FIXED;
			size = (n + 1) / 2;
			if (size > r->len - r->pos)
				return fail(err, ISO_ERR_TRUNCATED, de, r->len);
			if ((rc = check_bcd(p, n, lpad, d->type == ISO_T_Z, &bad)) != 0)
				return fail(err, rc, de, off + bad);
			v->enc = lpad ? ISO_ENC_BCD_L : ISO_ENC_BCD_R;
			break;
		}
		case ISO_T_XN:
			size = 1 + (n - 1 + 1) / 2;
			if (size > r->len - r->pos)
				return fail(err, ISO_ERR_TRUNCATED, de, r->len);
			if (p[0] != 'C' && p[0] != 'D')
				return fail(err, ISO_ERR_BAD_SIGN, de, off);
			if ((rc = check_bcd(p + 1, n - 1, true, false, &bad)) != 0)
				return fail(err, rc, de, off + 1 + bad);
			v->enc = ISO_ENC_XBCD;
			break;
		default: /* ISO_T_B */
			size = n;
			if (size > r->len - r->pos)
				return fail(err, ISO_ERR_TRUNCATED, de, r->len);
			v->enc = ISO_ENC_RAW;
			break;
		}
		v->len = (uint16_t)n;
	}
	v->p = p;
	v->size = (uint16_t)size;
	r->pos += size;
	return 0;
}

static int unpack_bitmap(enum iso_profile prof, struct rd *r, uint8_t out[8],
                         struct iso_error *err)
{
	if (prof == ISO_BINARY87) {
		if (8 > r->len - r->pos)
			return fail(err, ISO_ERR_TRUNCATED, 1, r->len);
		memcpy(out, r->buf + r->pos, 8);
		r->pos += 8;
		return 0;
	}
	if (16 > r->len - r->pos)
		return fail(err, ISO_ERR_TRUNCATED, 1, r->len);
	const uint8_t *p = r->buf + r->pos;
	for (int i = 0; i < 8; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(err, ISO_ERR_BITMAP, 1, r->pos + 2 * (size_t)i + (hi >= 0));
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	r->pos += 16;
	return 0;
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int iso_unpack(enum iso_profile prof, const uint8_t *buf, size_t len,
               struct iso_msg *m, struct iso_error *err)
{
	struct rd r = {buf, len, 0};
	int rc;

	m->scratch_used = 0;
	if (prof == ISO_ASCII87) {
		if (len < 4)
			return fail(err, ISO_ERR_TRUNCATED, 0, len);
		memcpy(m->mti, buf, 4);
		r.pos = 4;
	} else {
		if (len < 2)
			return fail(err, ISO_ERR_TRUNCATED, 0, len);
		for (int i = 0; i < 4; i++) {
			unsigned d = nib(buf, (size_t)i);
			m->mti[i] = (char)(d > 9 ? 'X' : '0' + d);
		}
		r.pos = 2;
	}
	if (!mti_valid(m->mti))
		return fail(err, ISO_ERR_MTI, 0, 0);

	if ((rc = unpack_bitmap(prof, &r, m->bitmap, err)) != 0)
		return rc;
	if (m->bitmap[0] & 0x80) {
		size_t at = r.pos;
		if ((rc = unpack_bitmap(prof, &r, m->bitmap + 8, err)) != 0)
			return rc;
		/* DE 65 would announce a tertiary bitmap, which 1987 never uses. */
		if (m->bitmap[8] & 0x80)
			return fail(err, ISO_ERR_BITMAP, 1, at);
	} else {
		memset(m->bitmap + 8, 0, 8);
	}

	for (unsigned w = 0; w < 2; w++) {
		uint64_t bits = load_be64(m->bitmap + 8 * w);
		if (w == 0)
			bits &= ~(1ull << 63); /* bit 1: the secondary bitmap */
		while (bits) {
			unsigned de = 64 * w + (unsigned)__builtin_clzll(bits) + 1;
			bits &= ~(1ull << (64 * (w + 1) - de));
			if ((rc = unpack_field(prof, &r, de, &m->f[de], err)) != 0)
				return rc;
		}
	}
	if (r.pos != len)
		return fail(err, ISO_ERR_TRAILING, 0, r.pos);
	return 0;
}

/* ---- values ----------------------------------------------------------------- */

unsigned iso_view_at(const struct iso_view *v, size_t i)
{
	unsigned d;
	switch (v->enc) {
	case ISO_ENC_HEX:
		return (unsigned)(hexval(v->p[2 * i]) << 4 | hexval(v->p[2 * i + 1]));
	case ISO_ENC_BCD_L:
		d = nib(v->p, i + (v->len & 1));
		break;
	case ISO_ENC_BCD_R:
		d = nib(v->p, i);
		break;
	case ISO_ENC_XBCD:
		if (i == 0)
			return v->p[0];
		d = nib(v->p + 1, i - 1 + ((v->len - 1u) & 1));
		break;
	default: /* CHARS, RAW */
		return v->p[i];
	}
	return d == 0xd ? '=' : '0' + d;
}

void iso_init(struct iso_msg *m, const char mti[4])
{
	memcpy(m->mti, mti, 4);
	memset(m->bitmap, 0, sizeof m->bitmap);
	m->scratch_used = 0;
}

void iso_unset(struct iso_msg *m, unsigned de)
{
	if (de >= 2 && de <= ISO_MAX_DE)
		m->bitmap[(de - 1) >> 3] &= (uint8_t)~(0x80u >> ((de - 1) & 7));
}

static void mark(struct iso_msg *m, unsigned de)
{
	m->bitmap[(de - 1) >> 3] |= (uint8_t)(0x80u >> ((de - 1) & 7));
}

int iso_set(struct iso_msg *m, unsigned de, const void *val, size_t len)
{
	const struct iso_field_def *d = iso_fdef(de);
	const uint8_t *p = val;
	if (d == NULL)
		return ISO_ERR_NO_FIELD;
	size_t max = d->max + (d->type == ISO_T_XN);
	if (len > max)
		return ISO_ERR_TOO_LONG;
	if (d->lentype == ISO_FIXED &&
	    (len == 0 || (len != max && (d->type == ISO_T_B || d->type == ISO_T_XN))))
		return ISO_ERR_BAD_LENGTH;
	switch (d->type) {
	case ISO_T_N:
		if (first_nondigit(p, len) != len)
			return ISO_ERR_NOT_DIGIT;
		break;
	case ISO_T_ANS:
		if (first_nonprint(p, len) != len)
			return ISO_ERR_BAD_CHAR;
		break;
	case ISO_T_Z:
		if (first_nontrack(p, len) != len)
			return ISO_ERR_BAD_CHAR;
		break;
	case ISO_T_XN:
		if (p[0] != 'C' && p[0] != 'D')
			return ISO_ERR_BAD_SIGN;
		if (first_nondigit(p + 1, len - 1) != len - 1)
			return ISO_ERR_NOT_DIGIT;
		break;
	default:
		break;
	}
	struct iso_view *v = &m->f[de];
	v->p = p;
	v->size = (uint16_t)len;
	v->len = (uint16_t)len;
	v->enc = d->type == ISO_T_B ? ISO_ENC_RAW : ISO_ENC_CHARS;
	mark(m, de);
	return 0;
}

int iso_set_str(struct iso_msg *m, unsigned de, const char *s)
{
	return iso_set(m, de, s, strlen(s));
}

int iso_set_copy(struct iso_msg *m, unsigned de, const void *val, size_t len)
{
	if (len > (size_t)ISO_SCRATCH - m->scratch_used)
		return ISO_ERR_NOSPACE;
	uint8_t *dst = m->scratch + m->scratch_used;
	memcpy(dst, val, len);
	int rc = iso_set(m, de, dst, len);
	if (rc == 0)
		m->scratch_used = (uint16_t)(m->scratch_used + len);
	return rc;
}

int iso_set_num(struct iso_msg *m, unsigned de, uint64_t v)
{
	const struct iso_field_def *d = iso_fdef(de);
	/* Room for the widest fixed n field (DE 90, 42 digits), not just for
	 * the 20 digits of a uint64_t: the zero fill below writes d->max. */
	char tmp[48];
	size_t n = 0;
	if (d == NULL || d->type != ISO_T_N)
		return ISO_ERR_NO_FIELD;
	if (d->max > sizeof tmp)
		return ISO_ERR_TOO_LONG;
	do {
		tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (n > d->max)
		return ISO_ERR_TOO_LONG;
	if (d->lentype == ISO_FIXED) {
		while (n < d->max)
			tmp[sizeof tmp - 1 - n++] = '0';
	}
	return iso_set_copy(m, de, tmp + sizeof tmp - n, n);
}

int iso_set_view(struct iso_msg *m, unsigned de, const struct iso_view *v)
{
	if (iso_fdef(de) == NULL)
		return ISO_ERR_NO_FIELD;
	m->f[de] = *v;
	mark(m, de);
	return 0;
}

int iso_get(const struct iso_msg *m, unsigned de, char *dst, size_t cap)
{
	if (!iso_has(m, de) || iso_fdef(de) == NULL)
		return ISO_ERR_NO_FIELD;
	const struct iso_view *v = &m->f[de];
	if (cap <= v->len)
		return ISO_ERR_NOSPACE;
	if (v->enc == ISO_ENC_CHARS || v->enc == ISO_ENC_RAW) {
		memcpy(dst, v->p, v->len);
	} else {
		for (size_t i = 0; i < v->len; i++)
			dst[i] = (char)iso_view_at(v, i);
	}
	dst[v->len] = '\0';
	return v->len;
}

int iso_get_num(const struct iso_msg *m, unsigned de, uint64_t *out)
{
	const struct iso_field_def *d = iso_fdef(de);
	if (!iso_has(m, de) || d == NULL)
		return ISO_ERR_NO_FIELD;
	if (d->type != ISO_T_N)
		return ISO_ERR_NOT_DIGIT;
	const struct iso_view *v = &m->f[de];
	if (v->len > 19)
		return ISO_ERR_TOO_LONG;
	uint64_t x = 0;
	for (size_t i = 0; i < v->len; i++)
		x = x * 10 + (iso_view_at(v, i) - '0');
	*out = x;
	return 0;
}

/* ---- encoding ------------------------------------------------------------- */

/* Sticky-error writer: after the first failed reservation every further one
 * fails too, so callers check once at the end (STYLE.md 4). */
struct wr {
	uint8_t *p;
	size_t len;
	size_t cap;
	bool full;
};

static inline uint8_t *wr_take(struct wr *w, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return NULL;
	}
	uint8_t *at = w->p + w->len;
	w->len += n;
	return at;
}

static void put_prefix(enum iso_profile prof, struct wr *w, uint8_t lt, size_t n)
{
	if (prof == ISO_ASCII87) {
		uint8_t *o = wr_take(w, lt == ISO_LLVAR ? 2 : 3);
		if (o == NULL)
			return;
		if (lt == ISO_LLLVAR)
			*o++ = (uint8_t)('0' + n / 100);
		o[0] = (uint8_t)('0' + n / 10 % 10);
		o[1] = (uint8_t)('0' + n % 10);
	} else if (lt == ISO_LLVAR) {
		uint8_t *o = wr_take(w, 1);
		if (o != NULL)
			o[0] = (uint8_t)((n / 10 % 10) << 4 | n % 10);
	} else {
		uint8_t *o = wr_take(w, 2);
		if (o != NULL) {
			o[0] = (uint8_t)(n / 100 % 10);
			o[1] = (uint8_t)((n / 10 % 10) << 4 | n % 10);
		}
	}
}

static inline unsigned digit_nibble(unsigned c)
{
	return c == '=' ? 0xd : c - '0';
}

/* Pack `pad` zero digits then the view's digits from index `from`, as BCD,
 * with the pad nibble leading (lpad) or trailing when the total is odd. */
static void put_bcd(struct wr *w, const struct iso_view *v, size_t from, size_t pad, bool lpad)
{
	size_t digits = pad + v->len - from;
	size_t bytes = (digits + 1) / 2;
	uint8_t *o = wr_take(w, bytes);
	if (o == NULL)
		return;
	size_t lead = (lpad && (digits & 1)) ? 1 : 0;
	memset(o, 0, bytes);
	if (v->enc == ISO_ENC_CHARS && pad == 0 && lead == 0) {
		const uint8_t *s = v->p + from;
		size_t i = 0;
		for (; i + 1 < digits; i += 2)
			o[i >> 1] = (uint8_t)(digit_nibble(s[i]) << 4 | digit_nibble(s[i + 1]));
		if (i < digits)
			o[i >> 1] = (uint8_t)(digit_nibble(s[i]) << 4);
		return;
	}
	for (size_t k = 0; k < digits; k++) {
		unsigned d = k < pad ? 0 : digit_nibble(iso_view_at(v, from + k - pad));
		size_t pos = k + lead;
		o[pos >> 1] |= (uint8_t)((pos & 1) ? d : d << 4);
	}
}

static void put_chars(struct wr *w, const struct iso_view *v, size_t from)
{
	size_t n = v->len - from;
	uint8_t *o = wr_take(w, n);
	if (o == NULL)
		return;
	if (v->enc == ISO_ENC_CHARS) {
		memcpy(o, v->p + from, n);
	} else {
		for (size_t i = 0; i < n; i++)
			o[i] = (uint8_t)iso_view_at(v, from + i);
	}
}

static void put_fill(struct wr *w, uint8_t c, size_t n)
{
	uint8_t *o = wr_take(w, n);
	if (o != NULL)
		memset(o, c, n);
}

static void put_binary(enum iso_profile prof, struct wr *w, const struct iso_view *v)
{
	if (prof == ISO_BINARY87) {
		uint8_t *o = wr_take(w, v->len);
		if (o == NULL)
			return;
		if (v->enc == ISO_ENC_RAW)
			memcpy(o, v->p, v->len);
		else
			for (size_t i = 0; i < v->len; i++)
				o[i] = (uint8_t)iso_view_at(v, i);
		return;
	}
	uint8_t *o = wr_take(w, 2 * (size_t)v->len);
	if (o == NULL)
		return;
	if (v->enc == ISO_ENC_HEX) {
		/* Emit upper case whatever case was received (WIRE.md). */
		for (size_t i = 0; i < v->size; i++) {
			uint8_t c = v->p[i];
			o[i] = (uint8_t)(c >= 'a' ? c - 0x20 : c);
		}
		return;
	}
	for (size_t i = 0; i < v->len; i++) {
		unsigned b = iso_view_at(v, i);
		o[2 * i] = (uint8_t)hexdig[b >> 4];
		o[2 * i + 1] = (uint8_t)hexdig[b & 15];
	}
}

static uint8_t wire_enc(enum iso_profile prof, const struct iso_field_def *d)
{
	if (prof == ISO_ASCII87)
		return d->type == ISO_T_B ? ISO_ENC_HEX : ISO_ENC_CHARS;
	switch (d->type) {
	case ISO_T_N: return d->lentype == ISO_FIXED ? ISO_ENC_BCD_L : ISO_ENC_BCD_R;
	case ISO_T_Z: return ISO_ENC_BCD_R;
	case ISO_T_XN: return ISO_ENC_XBCD;
	case ISO_T_B: return ISO_ENC_RAW;
	default: return ISO_ENC_CHARS;
	}
}

static int pack_field(enum iso_profile prof, struct wr *w, unsigned de, const struct iso_view *v,
                      struct iso_error *err)
{
	const struct iso_field_def *d = iso_fdef(de);
	if (d == NULL)
		return fail(err, ISO_ERR_NO_FIELD, de, w->len);
	size_t max = d->max + (d->type == ISO_T_XN);
	if (v->len > max)
		return fail(err, ISO_ERR_TOO_LONG, de, w->len);
	size_t pad = d->lentype == ISO_FIXED ? max - v->len : 0;

	/* A value already in this profile's wire form is copied as it is
	 * (hex is re-cased instead, see put_binary). */
	uint8_t want = wire_enc(prof, d);
	bool same = pad == 0 && v->enc == want && want != ISO_ENC_HEX;
	if (d->lentype != ISO_FIXED) {
		size_t n = v->len;
		if (d->type == ISO_T_B && prof == ISO_ASCII87) {
			n *= 2;
			if (n > 999)
				return fail(err, ISO_ERR_TOO_LONG, de, w->len);
		}
		put_prefix(prof, w, d->lentype, n);
	}
	if (same) {
		uint8_t *o = wr_take(w, v->size);
		if (o != NULL)
			memcpy(o, v->p, v->size);
		return 0;
	}
	switch (d->type) {
	case ISO_T_B:
		if (d->lentype == ISO_FIXED && v->len != d->max)
			return fail(err, ISO_ERR_BAD_LENGTH, de, w->len);
		put_binary(prof, w, v);
		break;
	case ISO_T_ANS:
		put_chars(w, v, 0);
		put_fill(w, ' ', pad);
		break;
	case ISO_T_XN: {
		uint8_t *o = wr_take(w, 1);
		if (o != NULL)
			*o = (uint8_t)iso_view_at(v, 0);
		if (prof == ISO_ASCII87) {
			put_fill(w, '0', pad);
			put_chars(w, v, 1);
		} else {
			put_bcd(w, v, 1, pad, true);
		}
		break;
	}
	default: /* N, Z */
		if (prof == ISO_ASCII87) {
			put_fill(w, '0', pad);
			put_chars(w, v, 0);
		} else {
			put_bcd(w, v, 0, pad, d->lentype == ISO_FIXED);
		}
		break;
	}
	return 0;
}

int iso_pack(enum iso_profile prof, const struct iso_msg *m, uint8_t *out, size_t cap,
             size_t *outlen, struct iso_error *err)
{
	struct wr w = {out, 0, cap, false};
	uint8_t bm[16];
	int rc;

	if (!mti_valid(m->mti))
		return fail(err, ISO_ERR_MTI, 0, 0);
	memcpy(bm, m->bitmap, 16);
	bm[0] &= 0x7f;
	bm[8] &= 0x7f; /* DE 65 is never sent */
	bool secondary = load_be64(bm + 8) != 0;
	if (secondary)
		bm[0] |= 0x80;
	size_t nbm = secondary ? 16 : 8;

	if (prof == ISO_ASCII87) {
		uint8_t *o = wr_take(&w, 4 + 2 * nbm);
		if (o == NULL)
			return fail(err, ISO_ERR_NOSPACE, 0, 0);
		memcpy(o, m->mti, 4);
		for (size_t i = 0; i < nbm; i++) {
			o[4 + 2 * i] = (uint8_t)hexdig[bm[i] >> 4];
			o[5 + 2 * i] = (uint8_t)hexdig[bm[i] & 15];
		}
	} else {
		uint8_t *o = wr_take(&w, 2 + nbm);
		if (o == NULL)
			return fail(err, ISO_ERR_NOSPACE, 0, 0);
		o[0] = (uint8_t)((m->mti[0] - '0') << 4 | (m->mti[1] - '0'));
		o[1] = (uint8_t)((m->mti[2] - '0') << 4 | (m->mti[3] - '0'));
		memcpy(o + 2, bm, nbm);
	}

	for (unsigned wd = 0; wd < 2; wd++) {
		uint64_t bits = load_be64(bm + 8 * wd);
		if (wd == 0)
			bits &= ~(1ull << 63);
		while (bits) {
			unsigned de = 64 * wd + (unsigned)__builtin_clzll(bits) + 1;
			bits &= ~(1ull << (64 * (wd + 1) - de));
			if ((rc = pack_field(prof, &w, de, &m->f[de], err)) != 0)
				return rc;
			if (w.full)
				return fail(err, ISO_ERR_NOSPACE, de, w.len);
		}
	}
	*outlen = w.len;
	return 0;
}
