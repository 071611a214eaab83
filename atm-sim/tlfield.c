/* Field values of the terminal side (tlfield.h). */
#include "tlfield.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *tlf_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case TLF_ERR_FORMAT: return "bad format";
	case TLF_ERR_TRUNCATED: return "truncated";
	case TLF_ERR_RANGE: return "value out of range";
	case TLF_ERR_MISSING: return "required item missing";
	case TLF_ERR_DUPLICATE: return "item given twice";
	case TLF_ERR_NOSPACE: return "output too small";
	default: return "unknown error";
	}
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned)s[i] - '0' >= 10)
			return false;
	return true;
}

bool tlf_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && all_digits(s, n);
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static uint64_t digits_value(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

int tlf_amount_parse(const char *s, uint64_t *minor)
{
	const char *dot = strchr(s, '.');
	if (dot == NULL || dot == s)
		return TLF_ERR_FORMAT;
	size_t ip = (size_t)(dot - s);
	if (!all_digits(s, ip) || strlen(dot + 1) != 2 || !all_digits(dot + 1, 2))
		return TLF_ERR_FORMAT;
	if (ip > 10)
		return TLF_ERR_RANGE;
	*minor = digits_value(s, ip) * 100 + digits_value(dot + 1, 2);
	return 0;
}

int tlf_amount_format(uint64_t minor, char *out, size_t cap)
{
	return snprintf(out, cap, "%llu.%02u", (unsigned long long)(minor / 100),
	                (unsigned)(minor % 100));
}

static const struct {
	const char *alpha, *num;
} currencies[] = {{"USD", "840"}, {"KHR", "116"}};

int tlf_currency_code(const char *s, char out[4])
{
	for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++) {
		if (strcmp(s, currencies[i].num) == 0 ||
		    (strlen(s) == 3 && strncasecmp(s, currencies[i].alpha, 3) == 0)) {
			memcpy(out, currencies[i].num, 4);
			return 0;
		}
	}
	return TLF_ERR_FORMAT;
}

const char *tlf_currency_alpha(const char *numeric3)
{
	for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
		if (strcmp(numeric3, currencies[i].num) == 0)
			return currencies[i].alpha;
	return NULL;
}

int tlf_track2(const char *pan, const char *expiry, const char *service,
               const char *disc, char *out, size_t cap)
{
	size_t pl = strlen(pan), dl = disc ? strlen(disc) : 0;
	if (pl < 12 || pl > 19 || !all_digits(pan, pl))
		return TLF_ERR_FORMAT;
	if (strlen(expiry) != 4 || !all_digits(expiry, 4))
		return TLF_ERR_FORMAT;
	unsigned month = (unsigned)digits_value(expiry + 2, 2);
	if (month < 1 || month > 12)
		return TLF_ERR_FORMAT;
	if (strlen(service) != 3 || !all_digits(service, 3) || !all_digits(disc ? disc : "", dl))
		return TLF_ERR_FORMAT;
	if (cap < 38)
		return TLF_ERR_NOSPACE;
	size_t n = pl + 1 + 4 + 3;
	size_t room = 37 - n;
	if (dl > room)
		dl = room;
	memcpy(out, pan, pl);
	out[pl] = '=';
	memcpy(out + pl + 1, expiry, 4);
	memcpy(out + pl + 5, service, 3);
	if (dl)
		memcpy(out + n, disc, dl);
	out[n + dl] = '\0';
	return (int)(n + dl);
}

/* Where a tag's value goes, and which lengths it may have. */
struct tagslot {
	const char *tag;
	size_t off, cap;
	unsigned len1, len2;
};

static const struct tagslot keytag_slots[] = {
	{"KP", offsetof(struct tlf_keytags, kp), sizeof ((struct tlf_keytags *)0)->kp, 32, 48},
	{"CP", offsetof(struct tlf_keytags, cp), sizeof ((struct tlf_keytags *)0)->cp, 6, 6},
	{"KA", offsetof(struct tlf_keytags, ka), sizeof ((struct tlf_keytags *)0)->ka, 32, 48},
	{"CA", offsetof(struct tlf_keytags, ca), sizeof ((struct tlf_keytags *)0)->ca, 6, 6},
};

#define NSLOTS (sizeof keytag_slots / sizeof keytag_slots[0])

static int keytag_fail(int err, char *bad_tag, const char *tag)
{
	if (bad_tag) {
		bad_tag[0] = tag ? tag[0] : '\0';
		bad_tag[1] = tag ? tag[1] : '\0';
		bad_tag[2] = '\0';
	}
	return err;
}

int tlf_keytags_parse(const char *de48, size_t len, struct tlf_keytags *kt,
                      char bad_tag[3])
{
	bool seen[NSLOTS] = {false};
	size_t pos = 0;
	memset(kt, 0, sizeof *kt);
	while (pos < len) {
		const char *tag = de48 + pos;
		if (len - pos < 5)
			return keytag_fail(TLF_ERR_TRUNCATED, bad_tag, len - pos >= 2 ? tag : NULL);
		if (!all_digits(tag + 2, 3))
			return keytag_fail(TLF_ERR_FORMAT, bad_tag, tag);
		size_t vl = (size_t)digits_value(tag + 2, 3);
		pos += 5;
		if (vl > len - pos)
			return keytag_fail(TLF_ERR_TRUNCATED, bad_tag, tag);
		const char *val = de48 + pos;
		pos += vl;
		for (size_t i = 0; i < NSLOTS; i++) {
			const struct tagslot *s = &keytag_slots[i];
			if (memcmp(tag, s->tag, 2) != 0)
				continue;
			if (seen[i])
				return keytag_fail(TLF_ERR_DUPLICATE, bad_tag, tag);
			if ((vl != s->len1 && vl != s->len2) || !all_hex(val, vl))
				return keytag_fail(TLF_ERR_FORMAT, bad_tag, tag);
			char *dst = (char *)kt + s->off;
			memcpy(dst, val, vl);
			dst[vl] = '\0';
			seen[i] = true;
		}
	}
	for (size_t i = 0; i < NSLOTS; i++)
		if (!seen[i])
			return keytag_fail(TLF_ERR_MISSING, bad_tag, keytag_slots[i].tag);
	return keytag_fail(0, bad_tag, NULL);
}

int tlf_tag_put(char *buf, size_t cap, size_t *len, const char *tag, const char *value)
{
	size_t vl = strlen(value);
	if (strlen(tag) != 2 || !isalnum((unsigned char)tag[0]) || !isalnum((unsigned char)tag[1]))
		return TLF_ERR_FORMAT;
	for (size_t i = 0; i < vl; i++)
		if (value[i] < 0x20 || value[i] > 0x7e)
			return TLF_ERR_FORMAT;
	if (vl > 999)
		return TLF_ERR_RANGE;
	if (*len >= cap || cap - *len < 5 + vl + 1)
		return TLF_ERR_NOSPACE;
	snprintf(buf + *len, cap - *len, "%.2s%03zu%s", tag, vl, value);
	*len += 5 + vl;
	return 0;
}

int tlf_amount_group(const struct tlf_balance *b, char out[21])
{
	if (!tlf_digits(b->acct_type, 2, 2) || !tlf_digits(b->amount_type, 2, 2) ||
	    !tlf_digits(b->currency, 3, 3) || (b->sign != 'C' && b->sign != 'D'))
		return TLF_ERR_FORMAT;
	if (b->amount > 999999999999ull)
		return TLF_ERR_RANGE;
	snprintf(out, 21, "%s%s%s%c%012llu", b->acct_type, b->amount_type, b->currency, b->sign,
	         (unsigned long long)b->amount);
	return 0;
}

int tlf_balances_parse(const char *s, size_t len, struct tlf_balance *out, size_t max)
{
	if (len % 20 != 0)
		return TLF_ERR_FORMAT;
	size_t n = len / 20;
	if (n > max)
		return TLF_ERR_RANGE;
	for (size_t i = 0; i < n; i++) {
		const char *g = s + 20 * i;
		if (!all_digits(g, 7) || (g[7] != 'C' && g[7] != 'D') || !all_digits(g + 8, 12))
			return TLF_ERR_FORMAT;
		struct tlf_balance *b = &out[i];
		memcpy(b->acct_type, g, 2);
		b->acct_type[2] = '\0';
		memcpy(b->amount_type, g + 2, 2);
		b->amount_type[2] = '\0';
		memcpy(b->currency, g + 4, 3);
		b->currency[3] = '\0';
		b->sign = g[7];
		b->amount = digits_value(g + 8, 12);
	}
	return (int)n;
}

int tlf_xn_parse(const char *s, size_t len, char *sign, uint64_t *value)
{
	if (len < 2 || (s[0] != 'C' && s[0] != 'D') || !all_digits(s + 1, len - 1))
		return TLF_ERR_FORMAT;
	if (len - 1 > 18)
		return TLF_ERR_RANGE;
	*sign = s[0];
	*value = digits_value(s + 1, len - 1);
	return 0;
}

/* An institution id, right-justified and zero-filled to 11 digits. */
static int put_inst11(const char *id, char *dst)
{
	size_t n = id ? strlen(id) : 0;
	if (!all_digits(id ? id : "", n))
		return TLF_ERR_FORMAT;
	if (n > 11)
		return TLF_ERR_RANGE;
	memset(dst, '0', 11 - n);
	if (n)
		memcpy(dst + 11 - n, id, n);
	return 0;
}

int tlf_de90(const char *mti, const char *stan, const char *de7,
             const char *acquirer, const char *forwarder, char out[43])
{
	if (strlen(mti) != 4 || !all_digits(mti, 4) || strlen(stan) != 6 ||
	    !all_digits(stan, 6) || strlen(de7) != 10 || !all_digits(de7, 10))
		return TLF_ERR_FORMAT;
	memcpy(out, mti, 4);
	memcpy(out + 4, stan, 6);
	memcpy(out + 10, de7, 10);
	int rc = put_inst11(acquirer, out + 20);
	if (rc == 0)
		rc = put_inst11(forwarder, out + 31);
	out[42] = '\0';
	return rc;
}

int tlf_de95(uint64_t actual, char out[43])
{
	if (actual > 999999999999ull)
		return TLF_ERR_RANGE;
	snprintf(out, 43, "%012llu%012uC%08uC%08u", (unsigned long long)actual, 0u, 0u, 0u);
	return 0;
}

void tlf_rrn(int year, int yday, int hour, const char *stan6, char out[13])
{
	snprintf(out, 13, "%01u%03u%02u%.6s", (unsigned)(year % 10), (unsigned)(yday % 1000),
	         (unsigned)(hour % 100), stan6);
}
