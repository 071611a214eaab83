/* iso8583: decode, encode and convert ISO 8583:1987 messages from the shell.
 * Output is masked (iso_format_value); there is no option to unmask. */
#include "iso8583.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (16u << 20)
#define MAX_MSG 65535

static const char *prog = "iso8583";

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: iso8583 decode  [--profile ascii87|binary87] [--framing auto|none|bin2|ascii4] [--hex] [FILE]\n"
	        "       iso8583 encode  [--profile ascii87|binary87] [--framing none|bin2|ascii4] [--hex] [FILE]\n"
	        "       iso8583 convert --from PROFILE --to PROFILE [--framing auto|none|bin2|ascii4]\n"
	        "                       [--out-framing none|bin2|ascii4] [--hex] [FILE]\n"
	        "         (output framing defaults to the input's)\n"
	        "\n"
	        "decode   prints each message field by field, PAN and secrets masked.\n"
	        "encode   reads lines N=value (MTI=0200 or 0=0200 for the MTI; b fields in hex;\n"
	        "         '#' starts a comment; a blank line ends a message) and writes the messages.\n"
	        "convert  re-encodes messages from one profile to the other.\n"
	        "--hex    input (decode, convert) or output (encode, convert) is hex text.\n"
	        "FILE     defaults to standard input. Framed input holds any number of messages.\n");
}

__attribute__((format(printf, 2, 3))) static int die(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int parse_profile(const char *s, enum iso_profile *p)
{
	if (strcmp(s, "ascii87") == 0)
		*p = ISO_ASCII87;
	else if (strcmp(s, "binary87") == 0)
		*p = ISO_BINARY87;
	else
		return -1;
	return 0;
}

/* -1 for "auto" */
static int parse_framing(const char *s, int *f, bool allow_auto)
{
	if (strcmp(s, "none") == 0)
		*f = ISO_FRAME_NONE;
	else if (strcmp(s, "bin2") == 0)
		*f = ISO_FRAME_BIN2;
	else if (strcmp(s, "ascii4") == 0)
		*f = ISO_FRAME_ASCII4;
	else if (allow_auto && strcmp(s, "auto") == 0)
		*f = -1;
	else
		return -1;
	return 0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : stdin;
	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap + 1);
	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			if (cap >= MAX_INPUT) {
				fprintf(stderr, "%s: input over %u bytes\n", prog, MAX_INPUT);
				free(buf);
				buf = NULL;
				break;
			}
			uint8_t *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf != NULL && ferror(f)) {
		fprintf(stderr, "%s: read error\n", prog);
		free(buf);
		buf = NULL;
	}
	if (path)
		fclose(f);
	if (buf != NULL) {
		buf[n] = 0;
		*len = n;
	}
	return buf;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text (whitespace ignored) to bytes, in place. `report`: say why on
 * stderr; callers with their own message pass false, so that an error stays
 * one line. */
static int unhex_inplace(uint8_t *buf, size_t *len, bool report)
{
	size_t o = 0, nd = 0;
	int hi = 0;
	for (size_t i = 0; i < *len; i++) {
		int c = buf[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		int v = hexval(c);
		if (v < 0) {
			if (report)
				fprintf(stderr, "%s: hex input: not a hex digit at byte %zu\n", prog, i);
			return -1;
		}
		if (nd++ & 1)
			buf[o++] = (uint8_t)(hi << 4 | v);
		else
			hi = v;
	}
	if (nd & 1) {
		if (report)
			fprintf(stderr, "%s: hex input: odd number of hex digits\n", prog);
		return -1;
	}
	*len = o;
	return 0;
}

/* Does the whole buffer split exactly into frames of this kind (and, when
 * `decode`, does every frame decode in profile `prof`)? */
static bool frames_exactly(enum iso_framing k, const uint8_t *b, size_t n, bool decode,
                           enum iso_profile prof)
{
	static struct iso_msg m;
	size_t pos = 0, hdr, ml;
	if (n == 0)
		return false;
	while (pos < n) {
		size_t max = k == ISO_FRAME_NONE ? MAX_INPUT : MAX_MSG;
		if (iso_frame_peek(k, max, b + pos, n - pos, &hdr, &ml) != 1)
			return false;
		if (decode && iso_unpack(prof, b + pos + hdr, ml, &m, NULL) != 0)
			return false;
		pos += hdr + ml;
	}
	return true;
}

/* An unframed message can look framed: ascii87 "0100" followed by exactly
 * 100 bytes reads as an ASCII4 header, binary87 02 00 followed by 512 bytes
 * as a BIN2 one. So prefer the framing under which everything decodes, and
 * fall back to the structural split only to report the error. */
static enum iso_framing detect_framing(const uint8_t *b, size_t n, enum iso_profile prof)
{
	static const enum iso_framing order[] = {ISO_FRAME_BIN2, ISO_FRAME_ASCII4, ISO_FRAME_NONE};
	for (size_t i = 0; i < 3; i++)
		if (frames_exactly(order[i], b, n, true, prof))
			return order[i];
	if (frames_exactly(ISO_FRAME_BIN2, b, n, false, prof))
		return ISO_FRAME_BIN2;
	if (frames_exactly(ISO_FRAME_ASCII4, b, n, false, prof))
		return ISO_FRAME_ASCII4;
	return ISO_FRAME_NONE;
}

static const char *type_name(const struct iso_field_def *d, char *buf, size_t cap)
{
	static const char *t[] = {"n", "ans", "b", "z", "x+n"};
	const char *pre = d->lentype == ISO_FIXED ? "" : "..";
	const char *suf = d->lentype == ISO_LLVAR ? " LL" : d->lentype == ISO_LLLVAR ? " LLL" : "";
	snprintf(buf, cap, "%s %s%u%s", t[d->type], pre, (unsigned)d->max, suf);
	return buf;
}

static void print_msg(const struct iso_msg *m, size_t index, size_t len, enum iso_profile prof)
{
	printf("message %zu: %zu bytes, %s\n", index, len, prof == ISO_ASCII87 ? "ascii87" : "binary87");
	printf("  MTI     %.4s\n", m->mti);
	for (unsigned de = 2; de <= ISO_MAX_DE; de++) {
		const struct iso_field_def *d = iso_field_def(de);
		if (d == NULL || !iso_has(m, de))
			continue;
		char val[4096], ty[32];
		iso_format_value(m, de, val, sizeof val);
		printf("  DE %-3u  %-13s %-42s %s\n", de, type_name(d, ty, sizeof ty), d->name, val);
	}
}

struct opts {
	enum iso_profile from, to;
	int framing_in;  /* -1 auto */
	int framing_out; /* -1: as the input */
	bool hex;
	const char *file;
};

/* Walk the messages of an input; calls fn for each decoded message. */
typedef int (*msg_fn)(const struct opts *o, struct iso_msg *m, size_t idx, size_t len, FILE *out);

static int each_message(const struct opts *opt, msg_fn fn)
{
	struct opts local = *opt, *o = &local;
	size_t n;
	uint8_t *buf = read_all(o->file, &n);
	if (buf == NULL)
		return 1;
	if (o->hex && unhex_inplace(buf, &n, true) != 0) {
		free(buf);
		return 1;
	}
	enum iso_framing fr =
	    o->framing_in < 0 ? detect_framing(buf, n, o->from) : (enum iso_framing)o->framing_in;
	if (o->framing_out < 0)
		o->framing_out = (int)fr;
	size_t pos = 0, idx = 0;
	int rc = 0;
	static struct iso_msg m;
	if (n == 0) {
		fprintf(stderr, "%s: empty input\n", prog);
		rc = 1;
	}
	while (rc == 0 && pos < n) {
		size_t hdr, ml;
		int pr = iso_frame_peek(fr, fr == ISO_FRAME_NONE ? MAX_INPUT : MAX_MSG, buf + pos,
		                        n - pos, &hdr, &ml);
		idx++;
		if (pr == 0) {
			fprintf(stderr, "%s: message %zu: truncated frame at byte %zu\n", prog, idx, pos);
			rc = 1;
			break;
		}
		if (pr < 0) {
			fprintf(stderr, "%s: message %zu: framing: %s at byte %zu\n", prog, idx,
			        iso_strerror(pr), pos);
			rc = 1;
			break;
		}
		struct iso_error e;
		if (iso_unpack(o->from, buf + pos + hdr, ml, &m, &e) != 0) {
			char msg[256];
			iso_error_format(&e, msg, sizeof msg);
			fprintf(stderr, "%s: message %zu: %s\n", prog, idx, msg);
			rc = 1;
			break;
		}
		rc = fn(o, &m, idx, ml, stdout);
		pos += hdr + ml;
	}
	free(buf);
	return rc;
}

static int write_msg(const struct opts *o, const struct iso_msg *m, FILE *out, const char *where)
{
	static uint8_t buf[4 + MAX_MSG];
	size_t len;
	struct iso_error e;
	if (iso_pack(o->to, m, buf + 4, MAX_MSG, &len, &e) != 0) {
		char msg[256];
		iso_error_format(&e, msg, sizeof msg);
		fprintf(stderr, "%s: %s: %s\n", prog, where, msg);
		return 1;
	}
	uint8_t hdr[4];
	int h = iso_frame_put((enum iso_framing)o->framing_out, len, hdr);
	if (h < 0) {
		fprintf(stderr, "%s: %s: framing: %s\n", prog, where, iso_strerror(h));
		return 1;
	}
	memcpy(buf + 4 - h, hdr, (size_t)h);
	const uint8_t *p = buf + 4 - h;
	size_t total = len + (size_t)h;
	if (o->hex) {
		for (size_t i = 0; i < total; i++)
			fprintf(out, "%02X", p[i]);
		fputc('\n', out);
	} else if (fwrite(p, 1, total, out) != total) {
		fprintf(stderr, "%s: write error\n", prog);
		return 1;
	}
	return 0;
}

static int on_decode(const struct opts *o, struct iso_msg *m, size_t idx, size_t len, FILE *out)
{
	(void)out;
	if (idx > 1)
		putchar('\n');
	print_msg(m, idx, len, o->from);
	return 0;
}

static int on_convert(const struct opts *o, struct iso_msg *m, size_t idx, size_t len, FILE *out)
{
	(void)len;
	char where[32];
	snprintf(where, sizeof where, "message %zu", idx);
	return write_msg(o, m, out, where);
}

/* encode: N=value lines, blank line between messages. */
static int do_encode(const struct opts *o)
{
	size_t n;
	uint8_t *buf = read_all(o->file, &n);
	if (buf == NULL)
		return 1;
	static struct iso_msg m;
	bool open = false;
	size_t lineno = 0, count = 0;
	int rc = 0;
	char *save = NULL, where[48];
	char *text = (char *)buf;

	for (char *line = text; rc == 0 && line != NULL; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		size_t ll = strlen(line);
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (line[0] == '#')
			continue;
		if (ll == 0) {
			if (open) {
				snprintf(where, sizeof where, "message ending line %zu", lineno - 1);
				rc = write_msg(o, &m, stdout, where);
				open = false;
				count++;
			}
			continue;
		}
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			fprintf(stderr, "%s: line %zu: expected N=value\n", prog, lineno);
			rc = 1;
			break;
		}
		*eq = '\0';
		char *val = eq + 1, *end;
		size_t vl = strlen(val);
		unsigned long de;
		if (strcmp(line, "MTI") == 0 || strcmp(line, "mti") == 0) {
			de = 0;
		} else {
			errno = 0;
			de = strtoul(line, &end, 10);
			if (errno || end == line || *end != '\0' || de > ISO_MAX_DE) {
				fprintf(stderr, "%s: line %zu: '%s' is not a data element number\n", prog,
				        lineno, line);
				rc = 1;
				break;
			}
		}
		if (de == 0) {
			if (vl != 4) {
				fprintf(stderr, "%s: line %zu: MTI must be 4 digits\n", prog, lineno);
				rc = 1;
				break;
			}
			if (open) {
				fprintf(stderr, "%s: line %zu: second MTI without a blank line\n", prog, lineno);
				rc = 1;
				break;
			}
			iso_init(&m, val);
			open = true;
			continue;
		}
		if (!open) {
			fprintf(stderr, "%s: line %zu: field before the MTI\n", prog, lineno);
			rc = 1;
			break;
		}
		const struct iso_field_def *d = iso_field_def((unsigned)de);
		if (d == NULL) {
			fprintf(stderr, "%s: line %zu: DE %lu cannot be set (bitmap positions are computed)\n",
			        prog, lineno, de);
			rc = 1;
			break;
		}
		if (d->type == ISO_T_B) {
			size_t bl = vl;
			if (unhex_inplace((uint8_t *)val, &bl, false) != 0) {
				fprintf(stderr, "%s: line %zu: DE %lu takes hex\n", prog, lineno, de);
				rc = 1;
				break;
			}
			vl = bl;
		}
		int sr = iso_set(&m, (unsigned)de, val, vl);
		if (sr != 0) {
			fprintf(stderr, "%s: line %zu: DE %lu (%s): %s\n", prog, lineno, de, d->name,
			        iso_strerror(sr));
			rc = 1;
		}
	}
	if (rc == 0 && open) {
		snprintf(where, sizeof where, "message ending line %zu", lineno);
		rc = write_msg(o, &m, stdout, where);
		count++;
	}
	if (rc == 0 && count == 0) {
		fprintf(stderr, "%s: no message in input\n", prog);
		rc = 1;
	}
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	bool is_decode = strcmp(cmd, "decode") == 0, is_encode = strcmp(cmd, "encode") == 0,
	     is_convert = strcmp(cmd, "convert") == 0;
	if (!is_decode && !is_encode && !is_convert)
		return die(2, "unknown command '%s' (decode, encode, convert; --help)", cmd);

	struct opts o = {ISO_ASCII87, ISO_ASCII87, is_encode ? ISO_FRAME_NONE : -1,
	                 is_encode ? ISO_FRAME_NONE : -1, false, NULL};
	bool have_from = false, have_to = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--hex") == 0) {
			o.hex = true;
		} else if (strcmp(a, "--profile") == 0 && v && !is_convert) {
			if (parse_profile(v, &o.from) != 0)
				return die(2, "unknown profile '%s' (ascii87, binary87)", v);
			o.to = o.from;
			i++;
		} else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) && v && is_convert) {
			bool from = a[2] == 'f';
			if (parse_profile(v, from ? &o.from : &o.to) != 0)
				return die(2, "unknown profile '%s' (ascii87, binary87)", v);
			if (from)
				have_from = true;
			else
				have_to = true;
			i++;
		} else if (strcmp(a, "--framing") == 0 && v) {
			int *dst = is_encode ? &o.framing_out : &o.framing_in;
			if (parse_framing(v, dst, !is_encode) != 0)
				return die(2, "unknown framing '%s' for %s", v, cmd);
			i++;
		} else if (strcmp(a, "--out-framing") == 0 && v && is_convert) {
			if (parse_framing(v, &o.framing_out, false) != 0)
				return die(2, "unknown framing '%s' for %s", v, cmd);
			i++;
		} else if (a[0] == '-' && a[1] != '\0') {
			return die(2, "unknown or incomplete option '%s' for %s (--help)", a, cmd);
		} else if (o.file == NULL) {
			o.file = a;
		} else {
			return die(2, "more than one input file ('%s')", a);
		}
	}
	if (is_convert && (!have_from || !have_to))
		return die(2, "convert needs --from and --to");
	if (is_decode)
		return each_message(&o, on_decode);
	if (is_convert)
		return each_message(&o, on_convert);
	return do_encode(&o);
}
