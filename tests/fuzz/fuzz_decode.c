/* Fuzz iso_unpack. The first byte picks the profile. Oracles: a message
 * that decodes must re-encode, the re-encoding must decode to the same
 * logical values and encode to the same bytes again, and the other profile
 * must carry the same values; printing any field must stay in bounds. */
#include "iso8583.h"

#include <stdlib.h>
#include <string.h>

static void same_values(const struct iso_msg *a, const struct iso_msg *b)
{
	static char va[2048], vb[2048];
	if (memcmp(a->mti, b->mti, 4) != 0)
		abort();
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		if (iso_field_def(de) == NULL)
			continue;
		if (iso_has(a, de) != iso_has(b, de))
			abort();
		if (!iso_has(a, de))
			continue;
		int la = iso_get(a, de, va, sizeof va), lb = iso_get(b, de, vb, sizeof vb);
		if (la < 0 || la != lb || memcmp(va, vb, (size_t)la) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iso_msg m, m2, m3;
	static uint8_t out[16384], out2[16384], other[16384];
	static char text[4096];
	size_t n, n2, no;
	struct iso_error e;

	if (size < 1)
		return 0;
	enum iso_profile prof = (data[0] & 1) ? ISO_BINARY87 : ISO_ASCII87;
	enum iso_profile alt = prof == ISO_ASCII87 ? ISO_BINARY87 : ISO_ASCII87;
	if (iso_unpack(prof, data + 1, size - 1, &m, &e) != 0) {
		if (e.code >= 0 || e.offset > size - 1)
			abort();
		iso_error_format(&e, text, sizeof text);
		return 0;
	}
	for (unsigned de = 2; de <= ISO_MAX_DE; de++)
		iso_format_value(&m, de, text, sizeof text);

	if (iso_pack(prof, &m, out, sizeof out, &n, &e) != 0)
		abort();
	if (iso_unpack(prof, out, n, &m2, &e) != 0)
		abort();
	same_values(&m, &m2);
	if (iso_pack(prof, &m2, out2, sizeof out2, &n2, &e) != 0 || n2 != n ||
	    memcmp(out, out2, n) != 0)
		abort();

	/* The other profile: only DE 55 over 499 bytes may not fit ascii87. */
	int rc = iso_pack(alt, &m, other, sizeof other, &no, &e);
	if (rc != 0) {
		if (!(rc == ISO_ERR_TOO_LONG && alt == ISO_ASCII87 && e.de == 55))
			abort();
		return 0;
	}
	if (iso_unpack(alt, other, no, &m3, &e) != 0)
		abort();
	same_values(&m, &m3);
	return 0;
}
