/* Fuzz iso_frame_peek on both header kinds. Oracle: whatever the whole
 * buffer says, every shorter prefix says "need more" (0) or the same error,
 * and a complete frame never claims bytes past the buffer. */
#include "iso8583.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum iso_framing kinds[] = {ISO_FRAME_BIN2, ISO_FRAME_ASCII4};
	size_t max = size > 0 ? 64u + data[0] * 16u : 64u;
	for (int k = 0; k < 2; k++) {
		size_t hdr = 0, len = 0;
		int full = iso_frame_peek(kinds[k], max, data, size, &hdr, &len);
		if (full == 1) {
			if (hdr != iso_frame_hdrlen(kinds[k]) || len == 0 || len > max ||
			    len > size - hdr)
				abort();
		}
		for (size_t p = 0; p < size; p++) {
			size_t h2, l2;
			int r = iso_frame_peek(kinds[k], max, data, p, &h2, &l2);
			if (full == 1 && p < hdr + len && r != 0)
				abort();
			if (full < 0 && r != 0 && r != full)
				abort();
			if (r == 1 && (h2 + l2 > p))
				abort();
		}
	}
	return 0;
}
