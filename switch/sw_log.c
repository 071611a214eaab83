/* switchd's log lines: text or JSON, see sw_log.h. */
#include "sw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum swlog_level swlog_max = SWLOG_INFO;
static bool log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

bool swlog_level_parse(const char *s, enum swlog_level *out)
{
	for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum swlog_level)i;
			return true;
		}
	}
	return false;
}

void swlog_setup(enum swlog_level max, bool json)
{
	swlog_max = max;
	log_json = json;
}

/* Append s to out as the inside of a JSON string. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

void swlog_emit(enum swlog_level lvl, uint64_t conn, uint64_t txn, const char *event,
                const char *fmt, ...)
{
	char text[1024], ts[40];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);

	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", now.tv_nsec / 1000000);

	if (log_json) {
		char esc[2048];
		json_escape(esc, sizeof esc, text);
		fprintf(stderr,
		        "{\"ts\":\"%s\",\"level\":\"%s\",\"conn\":%llu,\"txn\":%llu,"
		        "\"event\":\"%s\",\"msg\":\"%s\"}\n",
		        ts, level_names[lvl], (unsigned long long)conn, (unsigned long long)txn, event,
		        esc);
	} else {
		fprintf(stderr, "%s %-5s conn=%llu txn=%llu %s: %s\n", ts, level_names[lvl],
		        (unsigned long long)conn, (unsigned long long)txn, event, text);
	}
}
