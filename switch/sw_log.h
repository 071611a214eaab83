/*
 * sw_log: switchd's levelled log, one line per event on stderr, as text or
 * JSON lines, each carrying the connection and transaction ids (0 = none).
 *
 * Callers never pass a PAN, track data, a PIN block or a key: PANs go
 * through iso_mask_pan() first (first 6, last 4). Disabled levels cost one
 * comparison (the macro tests the level before formatting).
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum swlog_level { SWLOG_ERROR = 0, SWLOG_WARN, SWLOG_INFO, SWLOG_DEBUG };

extern enum swlog_level swlog_max;

/* Parse "error|warn|info|debug"; false when unknown. */
bool swlog_level_parse(const char *s, enum swlog_level *out);
void swlog_setup(enum swlog_level max, bool json);

/* `event` is a short machine-readable name ("txn", "conn_open", ...);
 * the formatted text holds key=value pairs. */
void swlog_emit(enum swlog_level lvl, uint64_t conn, uint64_t txn, const char *event,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define swlog(lvl, conn, txn, event, ...)                                      \
	do {                                                                   \
		if ((lvl) <= swlog_max)                                        \
			swlog_emit((lvl), (conn), (txn), (event), __VA_ARGS__); \
	} while (0)

#endif
