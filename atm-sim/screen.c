/* The interactive modes' screen and keyboard (screen.h). */
#include "screen.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "paycrypto.h"

void scr_init(struct scr *s, FILE *in, FILE *out)
{
	s->in = in;
	s->out = out;
	s->tty_in = isatty(fileno(in)) == 1;
	s->tty_out = isatty(fileno(out)) == 1;
}

void scr_screen(struct scr *s, const char *title)
{
	if (s->tty_out)
		fputs("\033[H\033[2J", s->out);
	else
		fputs("\n------------------------------------------------\n", s->out);
	fprintf(s->out, "%s\n\n", title);
	fflush(s->out);
}

static void trim(char *buf)
{
	size_t n = strlen(buf);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	size_t i = 0;
	while (buf[i] && isspace((unsigned char)buf[i]))
		i++;
	memmove(buf, buf + i, n - i + 1);
}

/* One line from `in`; the rest of an over-long line is read and dropped. */
static bool read_line(FILE *in, char *buf, size_t cap)
{
	if (fgets(buf, (int)cap, in) == NULL)
		return false;
	if (strchr(buf, '\n') == NULL) {
		int c;
		while ((c = getc(in)) != EOF && c != '\n')
			;
	}
	trim(buf);
	return true;
}

/* The prompt, then one line; a newline ends the prompt at the end of input. */
static bool prompt_line(struct scr *s, const char *prompt, char *buf, size_t cap)
{
	fputs(prompt, s->out);
	fflush(s->out);
	if (read_line(s->in, buf, cap))
		return true;
	fputc('\n', s->out);
	return false;
}

bool scr_line(struct scr *s, const char *prompt, char *buf, size_t cap)
{
	if (!prompt_line(s, prompt, buf, cap))
		return false;
	if (!s->tty_in)
		fprintf(s->out, "%s\n", buf);
	return true;
}

bool scr_line_private(struct scr *s, const char *prompt, char *buf, size_t cap)
{
	if (!prompt_line(s, prompt, buf, cap))
		return false;
	if (!s->tty_in) {
		size_t n = strlen(buf);
		for (size_t i = 0; i + 4 < n; i++)
			fputc('*', s->out);
		fprintf(s->out, "%s\n", buf + (n > 4 ? n - 4 : 0));
	}
	return true;
}

/* The terminal's settings while a secret is typed, for the signal handler. */
static struct termios saved;
static int saved_fd = -1;

static void restore_and_die(int sig)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads a secret from a terminal key by key: no echo, a '*' per digit,
 * backspace erases, Enter ends. */
static bool read_secret_tty(struct scr *s, char *buf, size_t cap)
{
	int fd = fileno(s->in);
	if (tcgetattr(fd, &saved) != 0)
		return read_line(s->in, buf, cap);
	struct termios raw = saved;
	raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	struct sigaction sa = {.sa_handler = restore_and_die}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	saved_fd = fd;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	tcsetattr(fd, TCSAFLUSH, &raw);
	size_t n = 0;
	bool ok = true;
	for (;;) {
		unsigned char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0) {
			ok = n > 0;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if ((c == 0x7f || c == '\b') && n > 0) {
			n--;
			fputs("\b \b", s->out);
		} else if (isprint(c) && n + 1 < cap) {
			buf[n++] = (char)c;
			fputc('*', s->out);
		}
		fflush(s->out);
	}
	buf[n] = '\0';
	tcsetattr(fd, TCSAFLUSH, &saved);
	saved_fd = -1;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	fputc('\n', s->out);
	return ok;
}

bool scr_secret(struct scr *s, const char *prompt, char *buf, size_t cap)
{
	fputs(prompt, s->out);
	fflush(s->out);
	bool ok;
	if (s->tty_in) {
		ok = read_secret_tty(s, buf, cap);
	} else {
		ok = read_line(s->in, buf, cap);
		if (ok) {
			size_t n = strlen(buf);
			for (size_t i = 0; i < n; i++)
				fputc('*', s->out);
		}
		fputc('\n', s->out);
	}
	if (!ok)
		pc_wipe(buf, cap);
	return ok;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strspn(s, "0123456789");
	return s[n] == '\0' && n >= min && n <= max;
}

bool scr_secret_digits(struct scr *s, const char *prompt, size_t min, size_t max, char *buf,
                       size_t cap)
{
	for (;;) {
		if (!scr_secret(s, prompt, buf, cap))
			return false;
		if (buf[0] == '\0' || all_digits(buf, min, max))
			return true;
		pc_wipe(buf, cap);
		fprintf(s->out, "Please type %zu to %zu digits (Enter: cancel).\n", min, max);
	}
}

bool scr_choose(struct scr *s, const char *prompt, int min, int max, int *out)
{
	char buf[32];
	for (;;) {
		if (!scr_line(s, prompt, buf, sizeof buf))
			return false;
		char *end;
		long v = strtol(buf, &end, 10);
		if (buf[0] && *end == '\0' && v >= min && v <= max) {
			*out = (int)v;
			return true;
		}
		fprintf(s->out, "Please choose %d to %d.\n", min, max);
	}
}

bool scr_parse_amount(const char *text, uint64_t *minor)
{
	uint64_t whole = 0;
	unsigned digits = 0, decimals = 0, frac = 0;
	const char *p = text;
	for (; *p && *p != '.'; p++) {
		if (*p == ',' && digits > 0)
			continue;
		if (!isdigit((unsigned char)*p) || ++digits > 10)
			return false;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0)
		return false;
	if (*p == '.') {
		for (p++; *p; p++) {
			if (!isdigit((unsigned char)*p) || ++decimals > 2)
				return false;
			frac = frac * 10 + (unsigned)(*p - '0');
		}
		if (decimals == 0)
			return false;
		if (decimals == 1)
			frac *= 10;
	}
	*minor = whole * 100 + frac;
	return *minor > 0;
}

bool scr_amount(struct scr *s, const char *prompt, uint64_t *minor)
{
	char buf[40];
	for (;;) {
		if (!scr_line(s, prompt, buf, sizeof buf))
			return false;
		if (buf[0] == '\0') {
			*minor = 0;
			return true;
		}
		if (scr_parse_amount(buf, minor))
			return true;
		fprintf(s->out, "Please type an amount such as 20 or 20.50 (Enter: cancel).\n");
	}
}
