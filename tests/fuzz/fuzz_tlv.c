/* Fuzz the EMV TLV walker. Oracle: every value it yields lies inside the
 * buffer, the walk always ends, and validate agrees with the walk at the
 * top level. */
#include "iso8583.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(const uint8_t *buf, size_t len, unsigned depth)
{
	struct iso_tlv_iter it;
	struct iso_tlv t;
	int rc;
	size_t last = 0;
	iso_tlv_begin(&it, buf, len);
	while ((rc = iso_tlv_next(&it, &t)) == 1) {
		if (t.val < buf || t.len > len || (size_t)(t.val - buf) > len - t.len)
			abort();
		if (it.pos <= last && last != 0)
			abort(); /* no progress */
		last = it.pos;
		/* validate() refuses templates nested deeper than its limit */
		if (t.constructed && (depth == 0 || walk(t.val, t.len, depth - 1) < 0))
			return -1;
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bad = 0;
	int v = iso_tlv_validate(data, size, 8, &bad);
	int w = walk(data, size, 8);
	if ((v == 0) != (w == 0))
		abort();
	if (v != 0 && bad > size)
		abort();
	return 0;
}
