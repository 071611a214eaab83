/* BER-TLV as EMV uses it in DE 55 (EMV Book 3, Annex B): tags of one to
 * four bytes, definite lengths in short form or long form up to 0x83, and
 * 0x00 bytes allowed between objects. */
#include "iso8583.h"

void iso_tlv_begin(struct iso_tlv_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->pos = 0;
}

int iso_tlv_next(struct iso_tlv_iter *it, struct iso_tlv *t)
{
	const uint8_t *b = it->buf;
	size_t n = it->len, p = it->pos;

	while (p < n && b[p] == 0x00)
		p++;
	if (p == n) {
		it->pos = p;
		return 0;
	}
	size_t start = p;
	uint32_t tag = b[p++];
	if ((tag & 0x1f) == 0x1f) {
		/* Subsequent tag bytes follow while b8 is set. */
		int more = 0;
		do {
			if (p == n || ++more > 3) {
				it->pos = p;
				return ISO_ERR_TLV;
			}
			tag = tag << 8 | b[p];
		} while (b[p++] & 0x80);
	}
	if (p == n) {
		it->pos = p;
		return ISO_ERR_TLV;
	}
	size_t len = b[p++];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		/* 0x80 is BER's indefinite form, which EMV forbids. */
		if (k == 0 || k > 3 || k > n - p) {
			it->pos = p - 1;
			return ISO_ERR_TLV;
		}
		len = 0;
		while (k--)
			len = len << 8 | b[p++];
	}
	if (len > n - p) {
		it->pos = p;
		return ISO_ERR_TLV;
	}
	t->tag = tag;
	t->constructed = (b[start] & 0x20) != 0;
	t->val = b + p;
	t->len = len;
	t->offset = start;
	it->pos = p + len;
	return 1;
}

int iso_tlv_validate(const uint8_t *buf, size_t len, unsigned depth, size_t *bad_offset)
{
	struct iso_tlv_iter it;
	struct iso_tlv t;
	int rc;

	iso_tlv_begin(&it, buf, len);
	while ((rc = iso_tlv_next(&it, &t)) == 1) {
		if (!t.constructed)
			continue;
		size_t inner;
		if (depth == 0) {
			*bad_offset = t.offset;
			return ISO_ERR_TLV;
		}
		if (iso_tlv_validate(t.val, t.len, depth - 1, &inner) != 0) {
			*bad_offset = (size_t)(t.val - buf) + inner;
			return ISO_ERR_TLV;
		}
	}
	if (rc < 0) {
		*bad_offset = it.pos;
		return rc;
	}
	return 0;
}
