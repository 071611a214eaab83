/* Display text for field values, masked so that nothing printed can leak a
 * PAN, track data, a PIN block or a MAC (ARCHITECTURE.md, "Money, time,
 * identifiers"). */
#include "iso8583.h"

#include <stdio.h>
#include <string.h>

/* Appending writer: keeps counting past the end like snprintf. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void out_s(struct out *o, const char *s)
{
	while (*s)
		out_c(o, *s++);
}

static void out_hex(struct out *o, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		out_c(o, hx[p[i] >> 4]);
		out_c(o, hx[p[i] & 15]);
	}
}

static void out_hidden(struct out *o, const char *what, size_t n, const char *unit)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "<%s hidden, %zu %s>", what, n, unit);
	out_s(o, tmp);
}

static int out_end(struct out *o)
{
	if (o->cap > 0)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return (int)o->len;
}

size_t iso_mask_pan(const char *pan, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++, n++) {
		bool show = len >= 13 && (i < 6 || i >= len - 4);
		out[n] = show ? pan[i] : '*';
	}
	out[n] = '\0';
	return n;
}

static void out_masked(struct out *o, const char *s, size_t n)
{
	char tmp[64];
	if (n >= sizeof tmp)
		n = sizeof tmp - 1;
	iso_mask_pan(s, n, tmp, sizeof tmp);
	out_s(o, tmp);
}

/* EMV tags that identify the card or its holder, or carry PIN data. */
static bool tlv_secret(uint32_t tag)
{
	switch (tag) {
	case 0x56:   /* track 1 equivalent */
	case 0x57:   /* track 2 equivalent */
	case 0x99:   /* transaction PIN data */
	case 0x5f20: /* cardholder name */
	case 0x9f0b: /* cardholder name extended */
	case 0x9f1f: /* track 1 discretionary data */
	case 0x9f20: /* track 2 discretionary data */
	case 0x9f6b: /* track 2 data (contactless) */
		return true;
	default:
		return false;
	}
}

static void out_tlv(struct out *o, const uint8_t *p, size_t n, unsigned depth)
{
	struct iso_tlv_iter it;
	struct iso_tlv t;
	int rc;
	bool first = true;

	iso_tlv_begin(&it, p, n);
	while ((rc = iso_tlv_next(&it, &t)) == 1) {
		char tag[16];
		snprintf(tag, sizeof tag, "%s%X", first ? "" : " ", (unsigned)t.tag);
		out_s(o, tag);
		first = false;
		if (t.constructed && depth < 4) {
			out_c(o, '{');
			out_tlv(o, t.val, t.len, depth + 1);
			out_c(o, '}');
		} else if (t.constructed) {
			/* Too deep to walk: its bytes may hold 5A or 57, so never
			 * dump them. */
			out_c(o, '=');
			out_hidden(o, "nested template", t.len, "bytes");
		} else if (t.tag == 0x5a) {
			char digits[40];
			size_t k = 0;
			for (size_t i = 0; i < t.len && k + 2 < sizeof digits; i++) {
				digits[k++] = (char)('0' + (t.val[i] >> 4));
				digits[k++] = (char)('0' + (t.val[i] & 15));
			}
			while (k > 0 && digits[k - 1] == '0' + 0xf) /* F padding */
				k--;
			out_c(o, '=');
			out_masked(o, digits, k);
		} else if (tlv_secret(t.tag)) {
			out_c(o, '=');
			out_hidden(o, "card data", t.len, "bytes");
		} else {
			out_c(o, '=');
			out_hex(o, t.val, t.len);
		}
	}
	if (rc < 0) {
		char tmp[48];
		snprintf(tmp, sizeof tmp, " <malformed TLV at byte %zu>", it.pos);
		out_s(o, tmp);
	}
}

int iso_format_value(const struct iso_msg *m, unsigned de, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	const struct iso_field_def *d = iso_field_def(de);
	if (d == NULL || !iso_has(m, de))
		return out_end(&o);
	const struct iso_view *v = &m->f[de];
	char val[1000];
	size_t n = v->len < sizeof val ? v->len : sizeof val - 1;
	for (size_t i = 0; i < n; i++)
		val[i] = (char)iso_view_at(v, i);

	switch (de) {
	case 2:
	case 34:
		out_masked(&o, val, n);
		break;
	case 35: {
		const char *sep = memchr(val, '=', n);
		size_t panlen = sep ? (size_t)(sep - val) : n;
		out_masked(&o, val, panlen);
		out_s(&o, "=");
		out_hidden(&o, "track data", n - panlen, "chars");
		break;
	}
	case 36:
	case 45:
		out_hidden(&o, "track data", n, "chars");
		break;
	case 52:
		out_hidden(&o, "PIN block", n, "bytes");
		break;
	case 64:
	case 96:
	case 128:
		out_hidden(&o, "MAC", n, "bytes");
		break;
	case 102:
	case 103:
		for (size_t i = 0; i < n; i++)
			out_c(&o, i + 4 < n ? '*' : val[i]);
		break;
	case 55:
		out_tlv(&o, (const uint8_t *)val, n, 0);
		break;
	default:
		if (d->type == ISO_T_B)
			out_hex(&o, (const uint8_t *)val, n);
		else
			for (size_t i = 0; i < n; i++)
				out_c(&o, val[i]);
		break;
	}
	return out_end(&o);
}
