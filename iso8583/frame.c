/* Length-prefix framing of a TCP stream (WIRE.md "Framing"). */
#include "iso8583.h"

size_t iso_frame_hdrlen(enum iso_framing kind)
{
	return kind == ISO_FRAME_BIN2 ? 2 : kind == ISO_FRAME_ASCII4 ? 4 : 0;
}

int iso_frame_peek(enum iso_framing kind, size_t max, const uint8_t *buf, size_t len,
                   size_t *hdr, size_t *msglen)
{
	size_t h = iso_frame_hdrlen(kind), n = 0;
	if (h == 0) {
		/* Unframed: the whole buffer is one message. */
		if (len == 0)
			return 0;
		if (len > max)
			return ISO_ERR_FRAME_LONG;
		*hdr = 0;
		*msglen = len;
		return 1;
	}
	/* Judge each header byte as soon as it arrives, so that garbage is
	 * refused without waiting for more of it. */
	if (kind == ISO_FRAME_ASCII4) {
		for (size_t i = 0; i < len && i < 4; i++)
			if ((unsigned)buf[i] - '0' >= 10)
				return ISO_ERR_FRAME_DIGIT;
	}
	if (len < h)
		return 0;
	if (kind == ISO_FRAME_BIN2)
		n = (size_t)buf[0] << 8 | buf[1];
	else
		for (size_t i = 0; i < 4; i++)
			n = n * 10 + (size_t)(buf[i] - '0');
	if (n == 0)
		return ISO_ERR_FRAME_ZERO;
	if (n > max)
		return ISO_ERR_FRAME_LONG;
	if (n > len - h)
		return 0;
	*hdr = h;
	*msglen = n;
	return 1;
}

int iso_frame_put(enum iso_framing kind, size_t msglen, uint8_t *out)
{
	if (msglen == 0)
		return ISO_ERR_FRAME_ZERO;
	switch (kind) {
	case ISO_FRAME_BIN2:
		if (msglen > 0xffff)
			return ISO_ERR_FRAME_LONG;
		out[0] = (uint8_t)(msglen >> 8);
		out[1] = (uint8_t)msglen;
		return 2;
	case ISO_FRAME_ASCII4:
		if (msglen > 9999)
			return ISO_ERR_FRAME_LONG;
		out[0] = (uint8_t)('0' + msglen / 1000);
		out[1] = (uint8_t)('0' + msglen / 100 % 10);
		out[2] = (uint8_t)('0' + msglen / 10 % 10);
		out[3] = (uint8_t)('0' + msglen % 10);
		return 4;
	default:
		return 0;
	}
}
