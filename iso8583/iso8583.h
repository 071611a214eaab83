/*
 * iso8583: an ISO 8583:1987 message codec.
 *
 * No I/O, no logging, no globals, no heap. Decoding fills a struct iso_msg
 * with (pointer, length) views into the caller's buffer; the buffer must
 * outlive the message. Encoding writes into a caller buffer through a
 * bounds-checked writer. The profiles (ascii87, binary87) and every profile
 * choice are described in docs/message-profile.md.
 *
 * Errors: every function returning int returns 0 (or a documented positive
 * value) on success and a negative ISO_ERR_* on failure; iso_strerror()
 * names it. Decode and encode also fill a struct iso_error saying which data
 * element and which byte offset.
 */
#ifndef ISO8583_H
#define ISO8583_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iso_profile {
	ISO_ASCII87 = 0,  /* MTI, lengths, numbers as ASCII; bitmaps and b fields as hex */
	ISO_BINARY87 = 1, /* MTI, lengths, numbers as packed BCD; bitmaps and b raw */
};

/* Content formats of ISO 8583:1987 (FIELDS.md). */
enum iso_type {
	ISO_T_N,   /* numeric digits */
	ISO_T_ANS, /* printable ASCII 0x20..0x7E */
	ISO_T_B,   /* binary; lengths count bytes */
	ISO_T_Z,   /* track data: digits and the separator '=' */
	ISO_T_XN,  /* 'C' (credit) or 'D' (debit) then digits */
};

enum iso_lentype { ISO_FIXED, ISO_LLVAR, ISO_LLLVAR };

struct iso_field_def {
	const char *name;
	uint16_t max;    /* digits, characters or bytes; for x+n the digits */
	uint8_t type;    /* enum iso_type */
	uint8_t lentype; /* enum iso_lentype */
};

#define ISO_MAX_DE 128

/* The definition of data element 2..128, or NULL for 0, 1, 65 (bitmaps,
 * handled by the codec itself) and anything out of range. */
const struct iso_field_def *iso_field_def(unsigned de);

/* How a value's bytes are laid out; decoding yields the profile's wire
 * encoding, setters take logical values (CHARS, or RAW for b fields). */
enum iso_enc {
	ISO_ENC_CHARS = 1, /* one byte per character (the logical value) */
	ISO_ENC_HEX,       /* b: two hex characters per byte */
	ISO_ENC_RAW,       /* b: the bytes themselves */
	ISO_ENC_BCD_L,     /* n: packed BCD, odd count has a leading 0 nibble */
	ISO_ENC_BCD_R,     /* n, z: packed BCD, odd count has a trailing 0 nibble;
	                      for z the nibble D stands for '=' */
	ISO_ENC_XBCD,      /* x+n: the sign byte 'C'/'D', then BCD_L digits */
};

/* A field value: `size` bytes at `p` in encoding `enc`, holding `len`
 * logical units (characters or digits, the sign included for x+n; bytes
 * for b). Valid only while the field's bit is set in the message. */
struct iso_view {
	const uint8_t *p;
	uint16_t size;
	uint16_t len;
	uint8_t enc;
};

#define ISO_SCRATCH 512

/* A message. `bitmap` says which data elements are present (bit n is
 * data element n, bit 1 the secondary bitmap, set by the encoder as
 * needed); f[n] is meaningful only for present elements. */
struct iso_msg {
	char mti[4];
	uint8_t bitmap[16];
	struct iso_view f[ISO_MAX_DE + 1];
	uint16_t scratch_used;
	uint8_t scratch[ISO_SCRATCH]; /* copies made by iso_set_copy/iso_set_num */
};

/* Where and why decoding or encoding failed. */
struct iso_error {
	int code;      /* ISO_ERR_* */
	uint16_t de;   /* data element, 0 for the MTI, 1 for the bitmaps */
	size_t offset; /* byte offset in the message (decode) or output (encode) */
};

enum {
	ISO_ERR_TRUNCATED = -1,   /* message ends inside a field the bitmap promises */
	ISO_ERR_TRAILING = -2,    /* bytes left after the last field */
	ISO_ERR_MTI = -3,         /* MTI not 4 digits of version 0 with a valid class, function, origin */
	ISO_ERR_BITMAP = -4,      /* bitmap not hex / DE 65 (tertiary) set */
	ISO_ERR_NOT_DIGIT = -5,   /* non-digit in an n field or in a length prefix */
	ISO_ERR_BAD_CHAR = -6,    /* character outside the field's alphabet */
	ISO_ERR_BAD_HEX = -7,     /* not a hex digit in a b field (ascii87) */
	ISO_ERR_TOO_LONG = -8,    /* length over the field's maximum */
	ISO_ERR_BAD_LENGTH = -9,  /* fixed-length value of the wrong length, odd hex count */
	ISO_ERR_BAD_PAD = -10,    /* BCD pad nibble not 0 */
	ISO_ERR_BAD_SIGN = -11,   /* x+n field not starting with C or D */
	ISO_ERR_NO_FIELD = -12,   /* data element number has no definition */
	ISO_ERR_NOSPACE = -13,    /* output buffer (or scratch space) too small */
	ISO_ERR_FRAME_ZERO = -14, /* framing: length zero */
	ISO_ERR_FRAME_LONG = -15, /* framing: length over the configured maximum */
	ISO_ERR_FRAME_DIGIT = -16,/* framing: ASCII length header not 4 digits */
	ISO_ERR_TLV = -17,        /* malformed EMV TLV */
};

const char *iso_strerror(int code);

/* "DE 35: non-digit in numeric field at byte 41". Returns like snprintf. */
int iso_error_format(const struct iso_error *e, char *buf, size_t cap);

/* ---- decoding ---------------------------------------------------------- */

/* Decode exactly `len` bytes (one message, no length header).
 * Returns 0, or ISO_ERR_TRUNCATED, _TRAILING, _MTI, _BITMAP, _NOT_DIGIT,
 * _BAD_CHAR, _BAD_HEX, _TOO_LONG, _BAD_LENGTH, _BAD_PAD, _BAD_SIGN with
 * `err` (may be NULL) saying where. The views point into `buf`. */
int iso_unpack(enum iso_profile prof, const uint8_t *buf, size_t len,
               struct iso_msg *m, struct iso_error *err);

/* ---- building and encoding --------------------------------------------- */

/* Start an empty message with the given 4-digit MTI. */
void iso_init(struct iso_msg *m, const char mti[4]);

static inline bool iso_has(const struct iso_msg *m, unsigned de)
{
	return de >= 1 && de <= ISO_MAX_DE &&
	       (m->bitmap[(de - 1) >> 3] & (0x80u >> ((de - 1) & 7))) != 0;
}

/* Set data element `de` to a logical value (characters; raw bytes for b
 * fields), checked against the field's format; the bytes are NOT copied.
 * Fixed n fields shorter than their size are zero-filled on the left when
 * encoded, fixed ans fields space-filled on the right; fixed b must be exact.
 * Returns 0, ISO_ERR_NO_FIELD, _TOO_LONG, _BAD_LENGTH, _NOT_DIGIT, _BAD_CHAR,
 * _BAD_SIGN. */
int iso_set(struct iso_msg *m, unsigned de, const void *val, size_t len);
/* As iso_set, with a NUL-terminated string. */
int iso_set_str(struct iso_msg *m, unsigned de, const char *s);
/* As iso_set, copying the value into the message's scratch space first
 * (ISO_ERR_NOSPACE when it is full). */
int iso_set_copy(struct iso_msg *m, unsigned de, const void *val, size_t len);
/* Set an n field to a number, zero-filled to the field's size (fixed) or
 * written without leading zeros (variable). */
int iso_set_num(struct iso_msg *m, unsigned de, uint64_t v);
/* Set a field from another message's view (any encoding); not copied. */
int iso_set_view(struct iso_msg *m, unsigned de, const struct iso_view *v);
void iso_unset(struct iso_msg *m, unsigned de);

/* Encode into out[0..cap). On success returns 0 and sets *outlen.
 * Returns ISO_ERR_NOSPACE, ISO_ERR_TOO_LONG (a value longer than the
 * profile can carry, e.g. DE 55 over 499 bytes in ascii87), ISO_ERR_MTI. */
int iso_pack(enum iso_profile prof, const struct iso_msg *m, uint8_t *out,
             size_t cap, size_t *outlen, struct iso_error *err);

/* ---- reading values ------------------------------------------------------ */

/* Copy the logical value of a present field into dst (characters; bytes for
 * b fields), NUL-terminated when room allows. Returns the logical length,
 * or ISO_ERR_NO_FIELD (absent), ISO_ERR_NOSPACE (cap <= length). */
int iso_get(const struct iso_msg *m, unsigned de, char *dst, size_t cap);
/* The value of a present n field as a number (ISO_ERR_NO_FIELD when absent,
 * ISO_ERR_TOO_LONG over 19 digits, ISO_ERR_NOT_DIGIT for other types). */
int iso_get_num(const struct iso_msg *m, unsigned de, uint64_t *v);
/* The i-th logical unit (character, or byte for b) of a view. */
unsigned iso_view_at(const struct iso_view *v, size_t i);

/* ---- framing -------------------------------------------------------------- */

enum iso_framing {
	ISO_FRAME_NONE = 0,
	ISO_FRAME_BIN2 = 1,   /* 2-byte unsigned big-endian length */
	ISO_FRAME_ASCII4 = 2, /* 4 ASCII digits */
};

/* Look at the start of a stream buffer. Returns 1 when a whole message is
 * there (*hdr header bytes, then *msglen message bytes), 0 when more bytes
 * are needed, or ISO_ERR_FRAME_ZERO, _FRAME_LONG, _FRAME_DIGIT. Never reads
 * past `len`; consumes nothing itself. */
int iso_frame_peek(enum iso_framing kind, size_t max, const uint8_t *buf,
                   size_t len, size_t *hdr, size_t *msglen);

/* Header size for a framing (0, 2 or 4). */
size_t iso_frame_hdrlen(enum iso_framing kind);
/* Write the header for a message of msglen bytes; ISO_ERR_FRAME_LONG when it
 * cannot be expressed, ISO_ERR_FRAME_ZERO for 0. Returns header length. */
int iso_frame_put(enum iso_framing kind, size_t msglen, uint8_t *out);

/* ---- EMV TLV (DE 55) -------------------------------------------------- */

struct iso_tlv {
	uint32_t tag;        /* 1 to 4 tag bytes, big-endian in a word */
	bool constructed;    /* a template: value holds TLVs */
	const uint8_t *val;
	size_t len;
	size_t offset;       /* of the tag within the walked buffer */
};

struct iso_tlv_iter {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

void iso_tlv_begin(struct iso_tlv_iter *it, const uint8_t *buf, size_t len);
/* Next TLV at this level (0x00 padding between objects is skipped, as EMV
 * allows). Returns 1 with *t filled, 0 at the end, ISO_ERR_TLV (with
 * it->pos at the bad byte) for a truncated tag, a tag over 4 bytes, an
 * indefinite or over-long length form, or a value past the end. */
int iso_tlv_next(struct iso_tlv_iter *it, struct iso_tlv *t);
/* Check a whole TLV buffer, descending into templates up to `depth`
 * levels. Returns 0 or ISO_ERR_TLV with *bad_offset set. */
int iso_tlv_validate(const uint8_t *buf, size_t len, unsigned depth,
                     size_t *bad_offset);

/* ---- printing ------------------------------------------------------------- */

/* The value of a present data element as display text, masked: PAN (DE 2,
 * 34) as first 6 + last 4, track data (35, 36, 45) reduced to the masked
 * PAN, PIN data (52), MACs (64, 128), the message security code (96) hidden,
 * account identifiers (102, 103) as the last 4, EMV data (55) as a list of
 * tags with card-identifying tags masked. Returns like snprintf. */
int iso_format_value(const struct iso_msg *m, unsigned de, char *buf, size_t cap);

/* Mask a PAN-like digit string: first 6, last 4, '*' between (all '*'
 * when shorter than 13). Writes a NUL-terminated string; returns length. */
size_t iso_mask_pan(const char *pan, size_t len, char *out, size_t cap);

#endif
