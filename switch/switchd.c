/*
 * switchd: the card switch daemon (docs/switchd.md).
 *
 * Start-up: configuration (file, then --set overrides), the PAN key from
 * the environment, the database and HSM pools, the listeners, the admin
 * port, signals. Shutdown (SIGTERM or SIGINT): stop accepting and reading,
 * let every transaction in flight get its answer (and every reversal the
 * switch owes reach the database) for at most shutdown_grace_ms, close,
 * exit; a second signal exits at once. SIGHUP re-reads the configuration
 * (the settings that can change live) and empties the terminal cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>

#include "sw.h"
#include "sw_link.h"
#include "sw_live.h"
#include "sw_log.h"
#include "sw_metrics.h"

/* The public demo key switchctl also falls back to (docs/database.md). */
static const char demo_hmac_key[] =
	"64656d6f2d70616e2d686d61632d6b65792d6e6f742d666f722d70726f642121";

#define MAX_OVERRIDES 64

static struct {
	const char *config_path;
	const char *overrides[MAX_OVERRIDES];
	unsigned noverrides;
	bool check_only;
} opt;

static struct sw sw;
static struct evhttp *admin;
static struct event *sweep_ev, *sig_term, *sig_int, *sig_hup;
static int exit_code;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: switchd [-c FILE] [--set SECTION.KEY=VALUE]... [--check]\n"
	        "  -c, --config FILE   configuration file (docs/switchd.md)\n"
	        "  --set S.K=V         override one setting, e.g. --set switch.log_format=json,\n"
	        "                      --set 'listener atm.address=127.0.0.1:5000'\n"
	        "  --check             validate the configuration and exit\n"
	        "  --pidfile FILE      same as --set switch.pidfile=FILE\n"
	        "environment: SWITCH_PAN_HMAC_KEY (hex) keys the PAN hash (as for switchctl);\n"
	        "without it the public demo key is used, with a warning.\n"
	        "Runs in the foreground; logs go to stderr. Signals: TERM/INT graceful stop\n"
	        "(twice: at once), HUP reload.\n");
}

static int apply_override(struct swcfg *c, const char *s, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');
	const char *dot = eq ? memchr(s, '.', (size_t)(eq - s)) : NULL;
	/* "listener NAME.key": the last dot before '=' separates the key */
	if (eq)
		for (const char *p = s; p < eq; p++)
			if (*p == '.')
				dot = p;
	if (!eq || !dot) {
		snprintf(err, errlen, "--set %s: expected SECTION.KEY=VALUE", s);
		return -1;
	}
	char section[64], key[64];
	snprintf(section, sizeof section, "%.*s", (int)(dot - s), s);
	snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
	char why[200];
	if (swcfg_set(c, section, key, eq + 1, why, sizeof why)) {
		snprintf(err, errlen, "--set %s: %s", s, why);
		return -1;
	}
	return 0;
}

static int load_config(struct swcfg *c, char *err, size_t errlen)
{
	swcfg_defaults(c);
	if (opt.config_path && swcfg_load(c, opt.config_path, err, errlen))
		return -1;
	for (unsigned i = 0; i < opt.noverrides; i++)
		if (apply_override(c, opt.overrides[i], err, errlen))
			return -1;
	return swcfg_check(c, err, errlen);
}

static int pan_key_setup(void)
{
	const char *hex = getenv("SWITCH_PAN_HMAC_KEY");
	if (!hex || !*hex) {
		swlog(SWLOG_WARN, 0, 0, "start",
		      "SWITCH_PAN_HMAC_KEY not set: using the public demo key (not for real cards)");
		hex = demo_hmac_key;
	}
	size_t n = strlen(hex);
	if (n % 2 || n < 2 || n / 2 > sizeof sw.pan_key) {
		fprintf(stderr, "switchd: SWITCH_PAN_HMAC_KEY must be 2-128 hex digits\n");
		return -1;
	}
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1])) {
			fprintf(stderr, "switchd: SWITCH_PAN_HMAC_KEY is not hex\n");
			return -1;
		}
		sw.pan_key[i] = (uint8_t)v;
	}
	sw.pan_key_len = n / 2;
	return 0;
}

/* ---- pid file -------------------------------------------------------------- */

static int pidfile_write(const char *path)
{
	if (!path[0])
		return 0;
	FILE *f = fopen(path, "r");
	if (f) {
		long pid = 0;
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			fclose(f);
			fprintf(stderr, "switchd: %s: another switchd (pid %ld) is running\n", path, pid);
			return -1;
		}
		fclose(f);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "switchd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);
	return 0;
}

/* ---- admin port -------------------------------------------------------------- */

static void on_metrics(struct evhttp_request *req, void *arg)
{
	(void)arg;
	struct evbuffer *out = evbuffer_new();
	struct swm_gauges g;
	sw_gauges(&sw, &g);
	swm_render(out, &g);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* 200 when the switch can approve (database and HSM reachable, not
 * draining), 503 otherwise; the body says which part is missing. */
static void on_healthz(struct evhttp_request *req, void *arg)
{
	(void)arg;
	struct swm_gauges g;
	sw_gauges(&sw, &g);
	struct evbuffer *out = evbuffer_new();
	bool ok = g.db_connected > 0 && g.hsm_connected > 0 && !g.draining;
	evbuffer_add_printf(out, "%s\ndatabase: %s (%u/%u connections)\nhsm: %s (%u/%u connections)\n"
	                         "connections: %u, in flight: %u, pending reversals: %u%s\n",
	                    ok ? "ok" : "unavailable", g.db_connected ? "up" : "down", g.db_connected,
	                    g.db_size, g.hsm_connected ? "up" : "down", g.hsm_connected, g.hsm_size,
	                    g.connections, g.inflight, g.pending_reversals,
	                    g.draining ? "\ndraining: shutting down" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, ok ? HTTP_OK : 503, ok ? "OK" : "Service Unavailable", out);
	evbuffer_free(out);
}

static int admin_start(char *err, size_t errlen)
{
	if (!sw.cfg.admin_port)
		return 0;
	admin = evhttp_new(sw.base);
	if (!admin || evhttp_bind_socket(admin, sw.cfg.admin_host, sw.cfg.admin_port) != 0) {
		snprintf(err, errlen, "admin port %s:%u: cannot listen", sw.cfg.admin_host,
		         sw.cfg.admin_port);
		return -1;
	}
	evhttp_set_allowed_methods(admin, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(admin, "/metrics", on_metrics, NULL);
	evhttp_set_cb(admin, "/healthz", on_healthz, NULL);
	if (sw_live_start(admin, &sw, err, errlen))
		return -1;
	swlog(SWLOG_INFO, 0, 0, "listen", "admin=%s:%u (/metrics, /healthz, /live %s)",
	      sw.cfg.admin_host, sw.cfg.admin_port,
	      sw.cfg.admin_token_file[0] ? "with token" : "without token: admin.token_file not set");
	return 0;
}

/* ---- signals and the periodic sweep -------------------------------------------- */

static void drain_check(void)
{
	bool done = sw.inflight == 0 && sw.ntxn_live == 0 && sw_links_pending_reversals(&sw) == 0;
	bool late = sw_now_ms() > sw.drain_deadline_ms;
	if (!done && !late)
		return;
	if (!done) {
		swlog(SWLOG_ERROR, 0, 0, "stop",
		      "grace period over with %u in flight and %u switch reversals not confirmed "
		      "(logged above with their keys)",
		      sw.inflight, sw.pending_reversals + sw_links_pending_reversals(&sw));
		exit_code = 1;
	}
	sw_conns_close_all(&sw, "shutdown");
	event_base_loopexit(sw.base, NULL);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sw_conns_sweep(&sw);
	if (sw.draining)
		drain_check();
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sw.draining) {
		swlog(SWLOG_WARN, 0, 0, "stop", "second signal: exiting now with %u in flight",
		      sw.inflight);
		exit_code = 1;
		event_base_loopbreak(sw.base);
		return;
	}
	sw.draining = 1;
	sw.drain_deadline_ms = sw_now_ms() + sw.cfg.shutdown_grace_ms;
	swlog(SWLOG_INFO, 0, 0, "stop",
	      "signal %d: no new connections or messages; finishing %u in flight", (int)sig,
	      sw.inflight);
	sw_listeners_stop(&sw);
	sw_conns_pause_all(&sw);
	drain_check();
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	struct swcfg *c = malloc(sizeof *c);
	char err[512];
	if (!c || load_config(c, err, sizeof err)) {
		swlog(SWLOG_ERROR, 0, 0, "reload", "configuration kept: %s", c ? err : "out of memory");
		free(c);
		return;
	}
	/* Live: logging, deadlines, limits. Listeners, database and HSM
	 * settings need a restart (a second process can take over the port:
	 * SO_REUSEPORT). */
	bool restart = memcmp(c->listeners, sw.cfg.listeners, sizeof c->listeners) ||
	               c->nlisteners != sw.cfg.nlisteners ||
	               strcmp(c->db_conninfo, sw.cfg.db_conninfo) || c->db_pool_size != sw.cfg.db_pool_size ||
	               strcmp(c->hsm_host, sw.cfg.hsm_host) || c->hsm_port != sw.cfg.hsm_port ||
	               c->admin_port != sw.cfg.admin_port ||
	               strcmp(c->admin_token_file, sw.cfg.admin_token_file);
	enum swlog_level lvl = SWLOG_INFO;
	swlog_level_parse(c->log_level, &lvl);
	swlog_setup(lvl, c->log_json);
	sw.cfg.max_connections = c->max_connections;
	sw.cfg.idle_timeout_s = c->idle_timeout_s;
	sw.cfg.message_timeout_ms = c->message_timeout_ms;
	sw.cfg.txn_deadline_ms = c->txn_deadline_ms;
	sw.cfg.max_inflight = c->max_inflight;
	sw.cfg.shutdown_grace_ms = c->shutdown_grace_ms;
	memcpy(sw.cfg.log_level, c->log_level, sizeof c->log_level);
	sw.cfg.log_json = c->log_json;
	free(c);
	sw_term_clear(&sw);
	swlog(SWLOG_INFO, 0, 0, "reload", "configuration reloaded, terminal cache emptied%s",
	      restart ? "; listener, database, HSM or admin changes need a restart" : "");
}

/* ---- main ------------------------------------------------------------------------ */

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
			opt.config_path = argv[++i];
		} else if (!strcmp(a, "--set") && i + 1 < argc) {
			if (opt.noverrides == MAX_OVERRIDES) {
				fprintf(stderr, "switchd: too many --set options\n");
				return 2;
			}
			opt.overrides[opt.noverrides++] = argv[++i];
		} else if (!strcmp(a, "--pidfile") && i + 1 < argc) {
			static char buf[300];
			snprintf(buf, sizeof buf, "switch.pidfile=%s", argv[++i]);
			if (opt.noverrides == MAX_OVERRIDES)
				return 2;
			opt.overrides[opt.noverrides++] = buf;
		} else if (!strcmp(a, "--check")) {
			opt.check_only = true;
		} else {
			fprintf(stderr, "switchd: unknown or incomplete option '%s' (see --help)\n", a);
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = parse_args(argc, argv);
	if (rc)
		return rc;
	char err[512];
	if (load_config(&sw.cfg, err, sizeof err)) {
		fprintf(stderr, "switchd: %s\n", err);
		return 1;
	}
	if (opt.check_only) {
		printf("configuration ok: %u listener(s)\n", sw.cfg.nlisteners);
		return 0;
	}
	enum swlog_level lvl = SWLOG_INFO;
	swlog_level_parse(sw.cfg.log_level, &lvl);
	swlog_setup(lvl, sw.cfg.log_json);
	if (pan_key_setup())
		return 1;
	signal(SIGPIPE, SIG_IGN);

	/* 10,000 terminals need 10,000 descriptors. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	sw.base = event_base_new();
	if (!sw.base) {
		fprintf(stderr, "switchd: cannot create the event loop\n");
		return 1;
	}
	struct pgpool_config pc = {.conninfo = sw.cfg.db_conninfo,
	                           .size = sw.cfg.db_pool_size,
	                           .queue_max = sw.cfg.db_queue_max,
	                           .pipeline_max = sw.cfg.db_pipeline_max,
	                           .backoff_max_ms = sw.cfg.db_backoff_max_ms};
	sw.db = pgpool_new(sw.base, &pc);
	if (!sw.db || sw_txn_prepare(sw.db)) {
		fprintf(stderr, "switchd: cannot set up the database pool\n");
		return 1;
	}
	pgpool_start(sw.db);

	hsmc_config hc = {.host = sw.cfg.hsm_host,
	                  .port = sw.cfg.hsm_port,
	                  .connections = sw.cfg.hsm_connections,
	                  .max_inflight = sw.cfg.hsm_max_inflight,
	                  .timeout_ms = sw.cfg.hsm_timeout_ms,
	                  .reconnect_min_ms = 50,
	                  .reconnect_max_ms = sw.cfg.hsm_backoff_max_ms,
	                  .tls = sw.cfg.hsm_tls,
	                  .tls_ca = sw.cfg.hsm_tls_ca[0] ? sw.cfg.hsm_tls_ca : NULL,
	                  .tls_cert = sw.cfg.hsm_tls_cert[0] ? sw.cfg.hsm_tls_cert : NULL,
	                  .tls_key = sw.cfg.hsm_tls_key[0] ? sw.cfg.hsm_tls_key : NULL,
	                  .tls_server_name =
	                      sw.cfg.hsm_tls_server_name[0] ? sw.cfg.hsm_tls_server_name : NULL};
	int herr = 0;
	sw.hsm = hsmc_pool_new(sw.base, &hc, &herr);
	if (!sw.hsm) {
		fprintf(stderr, "switchd: HSM client: %s\n", hsmc_strerror(herr));
		return 1;
	}

	if (sw_links_start(&sw, err, sizeof err) || sw_listeners_start(&sw, err, sizeof err) ||
	    admin_start(err, sizeof err)) {
		fprintf(stderr, "switchd: %s\n", err);
		return 1;
	}
	if (pidfile_write(sw.cfg.pidfile))
		return 1;

	sig_term = evsignal_new(sw.base, SIGTERM, on_stop, NULL);
	sig_int = evsignal_new(sw.base, SIGINT, on_stop, NULL);
	sig_hup = evsignal_new(sw.base, SIGHUP, on_hup, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_hup, NULL);
	sweep_ev = event_new(sw.base, -1, EV_PERSIST, on_sweep, NULL);
	struct timeval second = {0, 200000};
	event_add(sweep_ev, &second);

	swlog(SWLOG_INFO, 0, 0, "start", "switchd %s pid=%ld deadline_ms=%u hsm=%s:%u db_pool=%u",
	      "0.1.0", (long)getpid(), sw.cfg.txn_deadline_ms, sw.cfg.hsm_host, sw.cfg.hsm_port,
	      sw.cfg.db_pool_size);
	event_base_dispatch(sw.base);

	swlog(SWLOG_INFO, 0, 0, "stop", "exiting (status %d)", exit_code);
	sw_conns_close_all(&sw, "shutdown");
	sw_listeners_free(&sw);
	sw_links_free(&sw);
	if (admin)
		evhttp_free(admin);
	sw_live_stop();
	hsmc_pool_free(sw.hsm);
	pgpool_free(sw.db);
	event_free(sweep_ev);
	event_free(sig_term);
	event_free(sig_int);
	event_free(sig_hup);
	sw_txn_free_cache(&sw);
	sw_term_clear(&sw);
	event_base_free(sw.base);
	OPENSSL_cleanse(sw.pan_key, sizeof sw.pan_key);
	if (sw.cfg.pidfile[0])
		unlink(sw.cfg.pidfile);
	return exit_code;
}
