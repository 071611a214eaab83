/* The admin port's live view: see sw_live.h and docs/switchd.md. */
#include "sw_live.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sw_link.h"
#include "sw_log.h"

/* sw_live.html, embedded at build time (cmake/embed.cmake). */
extern const unsigned char sw_live_html[];
extern const size_t sw_live_html_len;

#define TOKEN_MIN 16
#define TOKEN_MAX 256

static struct {
	struct sw *sw;
	uint64_t start_ms;
	bool token_set;
	unsigned char token_md[32]; /* SHA-256 of the token */
	uint64_t refused_log_ms;    /* last refusal logged */
	unsigned long long refused_unlogged;
} live;

/* DE 39 in an operator's words (WIRE.md "Response codes"). */
static const struct {
	const char rc[3], *meaning;
} rc_meanings[] = {
	{"03", "invalid merchant or terminal"},
	{"05", "do not honour"},
	{"12", "invalid transaction"},
	{"13", "invalid amount"},
	{"14", "invalid card number"},
	{"25", "unable to locate original"},
	{"30", "format error"},
	{"41", "lost card (pick up)"},
	{"43", "stolen card (pick up)"},
	{"51", "insufficient funds"},
	{"54", "expired card"},
	{"55", "incorrect PIN"},
	{"57", "not permitted to cardholder"},
	{"58", "not permitted to terminal"},
	{"61", "exceeds amount limit"},
	{"62", "restricted card"},
	{"63", "security violation (MAC)"},
	{"65", "exceeds frequency limit"},
	{"75", "PIN tries exceeded"},
	{"91", "issuer or switch inoperative (database or HSM)"},
	{"94", "duplicate transmission"},
	{"96", "system malfunction"},
};

static const char *rc_meaning(const char *rc)
{
	for (size_t i = 0; i < sizeof rc_meanings / sizeof rc_meanings[0]; i++)
		if (!strcmp(rc_meanings[i].rc, rc))
			return rc_meanings[i].meaning;
	return "other";
}

void sw_gauges(const struct sw *sw, struct swm_gauges *g)
{
	struct pgpool_stats ps;
	pgpool_stats(sw->db, &ps);
	memset(g, 0, sizeof *g);
	g->connections = sw->nconns;
	g->signed_on = sw->nsigned_on;
	g->inflight = sw->inflight;
	g->pending_reversals = sw->pending_reversals + sw_links_pending_reversals(sw);
	g->db_connected = ps.connected;
	g->db_size = ps.size;
	g->db_queued = ps.queued;
	g->db_inflight = ps.inflight;
	g->hsm_connected = hsmc_pool_ready(sw->hsm);
	g->hsm_size = sw->cfg.hsm_connections;
	g->draining = sw->draining;
}

/* ---- the token ------------------------------------------------------------- */

static bool digest(const char *s, size_t n, unsigned char md[32])
{
	unsigned mdlen = 0;
	return EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
}

/* The file holds one token: printable ASCII without spaces, TOKEN_MIN to
 * TOKEN_MAX characters, optionally followed by a newline. */
static int token_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "admin.token_file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
		swlog(SWLOG_WARN, 0, 0, "start", "admin.token_file %s is readable by everyone", path);
	char buf[TOKEN_MAX + 3];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	bool bad_read = ferror(f) != 0;
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	const char *why = NULL;
	if (bad_read)
		why = "read error";
	else if (n < TOKEN_MIN || n > TOKEN_MAX)
		why = "the token must be 16 to 256 characters (e.g. openssl rand -hex 32)";
	for (size_t i = 0; !why && i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			why = "the token must be printable ASCII without spaces, on one line";
	if (!why && !digest(buf, n, live.token_md))
		why = "SHA-256 failed";
	OPENSSL_cleanse(buf, sizeof buf);
	if (why) {
		snprintf(err, errlen, "admin.token_file %s: %s", path, why);
		return -1;
	}
	live.token_set = true;
	return 0;
}

static bool token_matches(const char *given, size_t n)
{
	unsigned char md[32];
	if (n > TOKEN_MAX || !digest(given, n, md))
		return false;
	return CRYPTO_memcmp(md, live.token_md, sizeof md) == 0;
}

/* The Authorization header when there is one, else ?token=. */
static bool authorised(struct evhttp_request *req)
{
	if (!live.token_set)
		return true;
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (h) {
		if (strncasecmp(h, "Bearer ", 7))
			return false;
		h += 7;
		while (*h == ' ')
			h++;
		return token_matches(h, strlen(h));
	}
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (!query)
		return false;
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	bool ok = false;
	if (evhttp_parse_query_str(query, &q) == 0) {
		const char *t = evhttp_find_header(&q, "token");
		ok = t && token_matches(t, strlen(t));
		/* the decoded copy is freed below: wipe it first */
		struct evkeyval *kv;
		TAILQ_FOREACH(kv, &q, next)
			OPENSSL_cleanse(kv->value, strlen(kv->value));
	}
	evhttp_clear_headers(&q);
	return ok;
}

static void no_cache(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

/* 401 and nothing else. Refusals are counted; the log gets at most one
 * line per 10 s (a page left open with a stale token polls every 2 s). */
static bool refuse(struct evhttp_request *req)
{
	if (authorised(req))
		return false;
	swm_inc(SWM_ADMIN_UNAUTHORISED);
	live.refused_unlogged++;
	uint64_t now = swm_now_ms();
	if (!live.refused_log_ms || now - live.refused_log_ms >= 10000) {
		const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
		swlog(SWLOG_WARN, 0, 0, "admin", "%s refused: no or wrong token (%llu refusal(s))",
		      path ? path : "/live", live.refused_unlogged);
		live.refused_log_ms = now;
		live.refused_unlogged = 0;
	}
	no_cache(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
	                  "Bearer realm=\"switchd\"");
	evhttp_send_reply(req, 401, "Unauthorized", NULL);
	return true;
}

/* ---- /live ------------------------------------------------------------------ */

static void on_page(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (refuse(req))
		return;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	no_cache(req);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	                  "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
	                  "frame-ancestors 'none'");
	struct evbuffer *out = evbuffer_new();
	evbuffer_add_reference(out, sw_live_html, sw_live_html_len, NULL, NULL);
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* ---- /live.json ------------------------------------------------------------- */

/* A JSON string; bytes outside printable ASCII become '?' (libpq's
 * messages may be in any encoding). */
static void json_str(struct evbuffer *o, const char *s)
{
	evbuffer_add(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			evbuffer_add_printf(o, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			evbuffer_add(o, "?", 1);
		else
			evbuffer_add(o, s, 1);
	}
	evbuffer_add(o, "\"", 1);
}

/* Seconds since a monotonic time, or null for never. */
static void json_ago(struct evbuffer *o, uint64_t now, uint64_t then)
{
	if (!then)
		evbuffer_add_printf(o, "null");
	else
		evbuffer_add_printf(o, "%llu", (unsigned long long)((now - then) / 1000));
}

static void json_pct(struct evbuffer *o, const char *name, uint64_t us, bool any)
{
	if (!any || us == SWM_BEYOND)
		evbuffer_add_printf(o, "\"%s\":null", name);
	else
		evbuffer_add_printf(o, "\"%s\":%g", name, (double)us / 1000.0);
}

/* One window: counts, the rate over the time the window really covers
 * (the current second is partly over; the switch may be younger than the
 * window), approvals and latency. */
static void json_window(struct evbuffer *o, const char *name, unsigned seconds, uint64_t now)
{
	struct swm_window w;
	swm_window(seconds, &w);
	double span = (double)(now - live.start_ms) / 1000.0;
	if (seconds) {
		double full = (double)(seconds - 1) + (double)(now % 1000) / 1000.0;
		if (full < span)
			span = full;
	}
	if (span < 1.0)
		span = 1.0;
	evbuffer_add_printf(o,
	                    "\"%s\":{\"seconds\":%u,\"transactions\":%llu,\"per_s\":%.1f,"
	                    "\"financial\":%llu,\"approved\":%llu,\"declined\":%llu,",
	                    name, seconds, w.transactions, (double)w.transactions / span, w.financial,
	                    w.approved, w.financial - w.approved);
	if (w.financial)
		evbuffer_add_printf(o, "\"approval_rate\":%.4f,",
		                    (double)w.approved / (double)w.financial);
	else
		evbuffer_add_printf(o, "\"approval_rate\":null,");
	evbuffer_add_printf(o, "\"latency_ms\":{\"answers\":%llu,", w.answers);
	json_pct(o, "p50", w.p50_us, w.answers > 0);
	evbuffer_add(o, ",", 1);
	json_pct(o, "p95", w.p95_us, w.answers > 0);
	evbuffer_add(o, ",", 1);
	json_pct(o, "p99", w.p99_us, w.answers > 0);
	evbuffer_add_printf(o, "}}");
}

static void json_declines(struct evbuffer *o, uint64_t now)
{
	struct swm_decline d[32];
	unsigned n = swm_declines(d, 32);
	evbuffer_add_printf(o, "\"declines\":[");
	for (unsigned i = 0; i < n; i++) {
		evbuffer_add_printf(o, "%s{\"rc\":", i ? "," : "");
		json_str(o, d[i].rc);
		evbuffer_add_printf(o, ",\"meaning\":");
		json_str(o, rc_meaning(d[i].rc));
		evbuffer_add_printf(o, ",\"count\":%llu,\"last_s_ago\":", d[i].n);
		json_ago(o, now, d[i].last_ms);
		evbuffer_add(o, "}", 1);
	}
	evbuffer_add(o, "]", 1);
}

static void json_links(struct evbuffer *o, const struct swm_gauges *g, uint64_t now)
{
	struct pgpool_stats ps;
	pgpool_stats(live.sw->db, &ps);
	evbuffer_add_printf(o,
	                    "\"database\":{\"up\":%s,\"connections_up\":%u,\"connections\":%u,"
	                    "\"busy\":%u,\"queued\":%u,\"in_flight\":%u,\"errors\":%llu,"
	                    "\"refused\":%llu,\"reconnects\":%llu,\"last_error\":",
	                    g->db_connected ? "true" : "false", g->db_connected, g->db_size, ps.busy,
	                    ps.queued, ps.inflight, swm_count(SWM_DB_ERRORS),
	                    swm_count(SWM_DB_UNAVAILABLE), ps.reconnects);
	if (ps.last_error && ps.last_error[0])
		json_str(o, ps.last_error);
	else
		evbuffer_add_printf(o, "null");
	evbuffer_add_printf(o, ",\"last_error_s_ago\":");
	json_ago(o, now, ps.last_error && ps.last_error[0] ? ps.last_error_ms : 0);
	evbuffer_add_printf(o,
	                    "},\"hsm\":{\"up\":%s,\"connections_up\":%u,\"connections\":%u,"
	                    "\"errors\":%llu,\"last_error_s_ago\":",
	                    g->hsm_connected ? "true" : "false", g->hsm_connected, g->hsm_size,
	                    swm_count(SWM_HSM_ERRORS));
	json_ago(o, now, swm_last_ms(SWM_HSM_ERRORS));
	evbuffer_add_printf(o, "},\"routes\":[");
	for (unsigned i = 0; i < live.sw->nlinks; i++) {
		evbuffer_add_printf(o, "%s{\"name\":", i ? "," : "");
		json_str(o, sw_link_name(live.sw->links[i]));
		evbuffer_add_printf(o, ",\"up\":%s}", sw_link_up(live.sw->links[i]) ? "true" : "false");
	}
	evbuffer_add(o, "]", 1);
}

static void on_json(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (refuse(req))
		return;
	uint64_t now = swm_now_ms();
	struct swm_gauges g;
	sw_gauges(live.sw, &g);
	struct evbuffer *o = evbuffer_new();
	evbuffer_add_printf(o, "{\"pid\":%ld,\"uptime_s\":%llu,\"draining\":%s,", (long)getpid(),
	                    (unsigned long long)((now - live.start_ms) / 1000),
	                    g.draining ? "true" : "false");
	json_window(o, "last_10s", 10, now);
	evbuffer_add(o, ",", 1);
	json_window(o, "last_60s", 60, now);
	evbuffer_add(o, ",", 1);
	json_window(o, "total", 0, now);
	evbuffer_add(o, ",", 1);
	json_declines(o, now);
	evbuffer_add(o, ",", 1);
	json_links(o, &g, now);
	evbuffer_add_printf(o,
	                    ",\"terminals\":{\"connections\":%u,\"signed_on\":%u,\"in_flight\":%u,"
	                    "\"pending_reversals\":%u}}\n",
	                    g.connections, g.signed_on, g.inflight, g.pending_reversals);
	no_cache(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, HTTP_OK, "OK", o);
	evbuffer_free(o);
}

int sw_live_start(struct evhttp *admin, struct sw *sw, char *err, size_t errlen)
{
	live.sw = sw;
	live.start_ms = swm_now_ms();
	if (sw->cfg.admin_token_file[0] && token_load(sw->cfg.admin_token_file, err, errlen))
		return -1;
	if (evhttp_set_cb(admin, "/live", on_page, NULL) ||
	    evhttp_set_cb(admin, "/live.json", on_json, NULL)) {
		snprintf(err, errlen, "admin port: cannot add /live");
		return -1;
	}
	return 0;
}

void sw_live_stop(void)
{
	OPENSSL_cleanse(live.token_md, sizeof live.token_md);
	live.token_set = false;
}
