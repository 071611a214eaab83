/* switchd's configuration file: see sw_config.h and docs/switchd.md. */
#include "sw_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swcfg_defaults(struct swcfg *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->log_level, "info");
	c->max_connections = 20000;
	c->idle_timeout_s = 600;
	c->message_timeout_ms = 10000;
	c->txn_deadline_ms = 3000;
	c->max_inflight = 32;
	c->shutdown_grace_ms = 10000;
	c->db_pool_size = 4;
	c->db_queue_max = 4096;
	c->db_pipeline_max = 64;
	c->db_backoff_max_ms = 1000;
	strcpy(c->hsm_host, "127.0.0.1");
	c->hsm_port = 1500;
	c->hsm_connections = 2;
	c->hsm_timeout_ms = 1000;
	c->hsm_max_inflight = 256;
	c->hsm_backoff_max_ms = 1000;
	strcpy(c->admin_host, "127.0.0.1");
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int set_uint(unsigned *dst, const char *v, unsigned lo, unsigned hi, char *err,
                    size_t errlen)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)v[0]))
		return fail(err, errlen, "'%s' is not a number", v);
	unsigned long x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return fail(err, errlen, "'%s' is not a number from %u to %u", v, lo, hi);
	*dst = (unsigned)x;
	return 0;
}

static int set_port(uint16_t *dst, const char *v, unsigned lo, char *err, size_t errlen)
{
	unsigned x;
	if (set_uint(&x, v, lo, 65535, err, errlen))
		return -1;
	*dst = (uint16_t)x;
	return 0;
}

static int set_bool(bool *dst, const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*dst = false;
	else
		return fail(err, errlen, "'%s' is not yes or no", v);
	return 0;
}

static int set_str(char *dst, size_t cap, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n >= cap)
		return fail(err, errlen, "value longer than %zu characters", cap - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

/* "host:port" (host may be empty for all addresses). */
static int set_addr(char *host, size_t hcap, uint16_t *port, const char *v, char *err,
                    size_t errlen)
{
	const char *colon = strrchr(v, ':');
	if (!colon)
		return fail(err, errlen, "'%s' is not HOST:PORT", v);
	size_t hl = (size_t)(colon - v);
	if (hl >= hcap)
		return fail(err, errlen, "host in '%s' too long", v);
	if (set_port(port, colon + 1, 0, err, errlen))
		return -1;
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (!host[0])
		strcpy(host, "0.0.0.0");
	return 0;
}

#define STR(f) set_str(f, sizeof f, value, err, errlen)

static int set_switch(struct swcfg *c, const char *key, const char *value, char *err,
                      size_t errlen)
{
	if (!strcmp(key, "pidfile"))
		return STR(c->pidfile);
	if (!strcmp(key, "log_level")) {
		if (strcmp(value, "error") && strcmp(value, "warn") && strcmp(value, "info") &&
		    strcmp(value, "debug"))
			return fail(err, errlen, "log_level must be error, warn, info or debug");
		return STR(c->log_level);
	}
	if (!strcmp(key, "log_format")) {
		if (strcmp(value, "text") && strcmp(value, "json"))
			return fail(err, errlen, "log_format must be text or json");
		c->log_json = !strcmp(value, "json");
		return 0;
	}
	if (!strcmp(key, "max_connections"))
		return set_uint(&c->max_connections, value, 1, 1000000, err, errlen);
	if (!strcmp(key, "idle_timeout_s"))
		return set_uint(&c->idle_timeout_s, value, 1, 86400, err, errlen);
	if (!strcmp(key, "message_timeout_ms"))
		return set_uint(&c->message_timeout_ms, value, 10, 600000, err, errlen);
	if (!strcmp(key, "txn_deadline_ms"))
		return set_uint(&c->txn_deadline_ms, value, 10, 120000, err, errlen);
	if (!strcmp(key, "max_inflight"))
		return set_uint(&c->max_inflight, value, 1, 1024, err, errlen);
	if (!strcmp(key, "shutdown_grace_ms"))
		return set_uint(&c->shutdown_grace_ms, value, 0, 600000, err, errlen);
	return fail(err, errlen, "unknown key '%s' in [switch]", key);
}

static int set_database(struct swcfg *c, const char *key, const char *value, char *err,
                        size_t errlen)
{
	if (!strcmp(key, "conninfo"))
		return STR(c->db_conninfo);
	if (!strcmp(key, "pool_size"))
		return set_uint(&c->db_pool_size, value, 1, 64, err, errlen);
	if (!strcmp(key, "queue_max"))
		return set_uint(&c->db_queue_max, value, 1, 1000000, err, errlen);
	if (!strcmp(key, "pipeline_max"))
		return set_uint(&c->db_pipeline_max, value, 1, 1024, err, errlen);
	if (!strcmp(key, "reconnect_max_ms"))
		return set_uint(&c->db_backoff_max_ms, value, 10, 60000, err, errlen);
	return fail(err, errlen, "unknown key '%s' in [database]", key);
}

static int set_hsm(struct swcfg *c, const char *key, const char *value, char *err,
                   size_t errlen)
{
	if (!strcmp(key, "address"))
		return set_addr(c->hsm_host, sizeof c->hsm_host, &c->hsm_port, value, err, errlen);
	if (!strcmp(key, "connections"))
		return set_uint(&c->hsm_connections, value, 1, 64, err, errlen);
	if (!strcmp(key, "timeout_ms"))
		return set_uint(&c->hsm_timeout_ms, value, 10, 60000, err, errlen);
	if (!strcmp(key, "max_inflight"))
		return set_uint(&c->hsm_max_inflight, value, 1, 4096, err, errlen);
	if (!strcmp(key, "reconnect_max_ms"))
		return set_uint(&c->hsm_backoff_max_ms, value, 10, 60000, err, errlen);
	if (!strcmp(key, "tls"))
		return set_bool(&c->hsm_tls, value, err, errlen);
	if (!strcmp(key, "tls_ca"))
		return STR(c->hsm_tls_ca);
	if (!strcmp(key, "tls_cert"))
		return STR(c->hsm_tls_cert);
	if (!strcmp(key, "tls_key"))
		return STR(c->hsm_tls_key);
	if (!strcmp(key, "tls_server_name"))
		return STR(c->hsm_tls_server_name);
	return fail(err, errlen, "unknown key '%s' in [hsm]", key);
}

static int set_admin(struct swcfg *c, const char *key, const char *value, char *err,
                     size_t errlen)
{
	if (!strcmp(key, "address")) {
		if (set_addr(c->admin_host, sizeof c->admin_host, &c->admin_port, value, err, errlen))
			return -1;
		if (strcmp(c->admin_host, "127.0.0.1") && strcmp(c->admin_host, "::1") &&
		    strcmp(c->admin_host, "localhost"))
			return fail(err, errlen, "the admin port listens on loopback only");
		return 0;
	}
	if (!strcmp(key, "token_file"))
		return STR(c->admin_token_file);
	return fail(err, errlen, "unknown key '%s' in [admin]", key);
}

static struct swcfg_listener *listener_get(struct swcfg *c, const char *name, char *err,
                                           size_t errlen)
{
	for (unsigned i = 0; i < c->nlisteners; i++)
		if (!strcmp(c->listeners[i].name, name))
			return &c->listeners[i];
	if (c->nlisteners == SWCFG_MAX_LISTENERS) {
		fail(err, errlen, "more than %d listeners", SWCFG_MAX_LISTENERS);
		return NULL;
	}
	if (!name[0] || strlen(name) >= sizeof c->listeners[0].name) {
		fail(err, errlen, "listener name must be 1-31 characters");
		return NULL;
	}
	struct swcfg_listener *l = &c->listeners[c->nlisteners++];
	memset(l, 0, sizeof *l);
	strcpy(l->name, name);
	strcpy(l->host, "0.0.0.0");
	l->profile = ISO_ASCII87;
	l->framing = ISO_FRAME_BIN2;
	l->max_message = 4096;
	l->require_signon = true;
	return l;
}

static int set_profile(enum iso_profile *p, const char *value, char *err, size_t errlen);
static int set_framing(enum iso_framing *f, const char *value, char *err, size_t errlen);

static int set_listener(struct swcfg_listener *l, const char *key, const char *value,
                        char *err, size_t errlen)
{
	if (!strcmp(key, "address"))
		return set_addr(l->host, sizeof l->host, &l->port, value, err, errlen);
	if (!strcmp(key, "profile"))
		return set_profile(&l->profile, value, err, errlen);
	if (!strcmp(key, "framing"))
		return set_framing(&l->framing, value, err, errlen);
	if (!strcmp(key, "max_message"))
		return set_uint(&l->max_message, value, 64, 65535, err, errlen);
	if (!strcmp(key, "require_signon"))
		return set_bool(&l->require_signon, value, err, errlen);
	if (!strcmp(key, "peer_zpk"))
		return STR(l->peer_zpk);
	if (!strcmp(key, "peer_acquirers"))
		return STR(l->peer_acquirers);
	if (!strcmp(key, "tls_cert"))
		return STR(l->tls_cert);
	if (!strcmp(key, "tls_key"))
		return STR(l->tls_key);
	if (!strcmp(key, "tls_ca"))
		return STR(l->tls_ca);
	if (!strcmp(key, "tls_client_cert")) {
		if (!strcmp(value, "none"))
			l->tls_client = SWCFG_CLIENT_NONE;
		else if (!strcmp(value, "optional"))
			l->tls_client = SWCFG_CLIENT_OPTIONAL;
		else if (!strcmp(value, "require"))
			l->tls_client = SWCFG_CLIENT_REQUIRE;
		else
			return fail(err, errlen, "tls_client_cert must be none, optional or require");
		return 0;
	}
	return fail(err, errlen, "unknown key '%s' in a listener", key);
}

static struct swcfg_route *route_get(struct swcfg *c, const char *name, char *err,
                                     size_t errlen)
{
	for (unsigned i = 0; i < c->nroutes; i++)
		if (!strcmp(c->routes[i].name, name))
			return &c->routes[i];
	if (c->nroutes == SWCFG_MAX_ROUTES) {
		fail(err, errlen, "more than %d routes", SWCFG_MAX_ROUTES);
		return NULL;
	}
	if (!name[0] || strlen(name) >= sizeof c->routes[0].name) {
		fail(err, errlen, "route name must be 1-31 characters");
		return NULL;
	}
	struct swcfg_route *r = &c->routes[c->nroutes++];
	memset(r, 0, sizeof *r);
	strcpy(r->name, name);
	r->profile = ISO_ASCII87;
	r->framing = ISO_FRAME_BIN2;
	r->max_message = 4096;
	r->timeout_ms = 2000;
	return r;
}

/* "4539, 52741,62128": PAN prefixes of 1 to 11 digits. */
static int set_bins(struct swcfg_route *r, const char *v, char *err, size_t errlen)
{
	r->nbins = 0;
	while (*v) {
		while (*v == ' ' || *v == ',')
			v++;
		size_t n = 0;
		while (v[n] >= '0' && v[n] <= '9')
			n++;
		if (!*v)
			break;
		if (n == 0 || n > 11 || (v[n] && v[n] != ',' && v[n] != ' '))
			return fail(err, errlen, "bins: expected PAN prefixes of 1-11 digits, comma-separated");
		if (r->nbins == SWCFG_MAX_BINS)
			return fail(err, errlen, "bins: more than %d prefixes", SWCFG_MAX_BINS);
		memcpy(r->bins[r->nbins], v, n);
		r->bins[r->nbins++][n] = '\0';
		v += n;
	}
	return r->nbins ? 0 : fail(err, errlen, "bins: none given");
}

static int set_profile(enum iso_profile *p, const char *value, char *err, size_t errlen)
{
	if (!strcmp(value, "ascii87"))
		*p = ISO_ASCII87;
	else if (!strcmp(value, "binary87"))
		*p = ISO_BINARY87;
	else
		return fail(err, errlen, "profile must be ascii87 or binary87");
	return 0;
}

static int set_framing(enum iso_framing *f, const char *value, char *err, size_t errlen)
{
	if (!strcmp(value, "bin2"))
		*f = ISO_FRAME_BIN2;
	else if (!strcmp(value, "ascii4"))
		*f = ISO_FRAME_ASCII4;
	else
		return fail(err, errlen, "framing must be bin2 or ascii4");
	return 0;
}

static int set_route(struct swcfg_route *r, const char *key, const char *value, char *err,
                     size_t errlen)
{
	if (!strcmp(key, "bins"))
		return set_bins(r, value, err, errlen);
	if (!strcmp(key, "address"))
		return set_addr(r->host, sizeof r->host, &r->port, value, err, errlen);
	if (!strcmp(key, "profile"))
		return set_profile(&r->profile, value, err, errlen);
	if (!strcmp(key, "framing"))
		return set_framing(&r->framing, value, err, errlen);
	if (!strcmp(key, "max_message"))
		return set_uint(&r->max_message, value, 64, 65535, err, errlen);
	if (!strcmp(key, "timeout_ms"))
		return set_uint(&r->timeout_ms, value, 10, 60000, err, errlen);
	if (!strcmp(key, "zpk"))
		return STR(r->zpk);
	if (!strcmp(key, "tls"))
		return set_bool(&r->tls, value, err, errlen);
	if (!strcmp(key, "tls_ca"))
		return STR(r->tls_ca);
	if (!strcmp(key, "tls_cert"))
		return STR(r->tls_cert);
	if (!strcmp(key, "tls_key"))
		return STR(r->tls_key);
	if (!strcmp(key, "tls_server_name"))
		return STR(r->tls_server_name);
	return fail(err, errlen, "unknown key '%s' in a route", key);
}

int swcfg_set(struct swcfg *c, const char *section, const char *key, const char *value,
              char *err, size_t errlen)
{
	if (!strcmp(section, "switch"))
		return set_switch(c, key, value, err, errlen);
	if (!strcmp(section, "database"))
		return set_database(c, key, value, err, errlen);
	if (!strcmp(section, "hsm"))
		return set_hsm(c, key, value, err, errlen);
	if (!strcmp(section, "admin"))
		return set_admin(c, key, value, err, errlen);
	if (!strncmp(section, "listener ", 9)) {
		struct swcfg_listener *l = listener_get(c, section + 9, err, errlen);
		return l ? set_listener(l, key, value, err, errlen) : -1;
	}
	if (!strncmp(section, "route ", 6)) {
		struct swcfg_route *r = route_get(c, section + 6, err, errlen);
		return r ? set_route(r, key, value, err, errlen) : -1;
	}
	return fail(err, errlen, "unknown section [%s]", section);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int swcfg_load(struct swcfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	char line[1024], section[64] = "", why[256];
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = fail(err, errlen, "%s:%u: line longer than %zu characters", path, lineno,
			          sizeof line - 2);
			break;
		}
		/* A comment may also end a line: " # ..." */
		for (char *h = strchr(line, '#'); h; h = strchr(h + 1, '#')) {
			if (h > line && (h[-1] == ' ' || h[-1] == '\t')) {
				*h = '\0';
				break;
			}
		}
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1]) {
				rc = fail(err, errlen, "%s:%u: section header without ']'", path, lineno);
				break;
			}
			*end = '\0';
			char *name = trim(s + 1);
			/* "listener  x" -> "listener x" */
			if (!strncmp(name, "listener", 8) && isspace((unsigned char)name[8])) {
				snprintf(section, sizeof section, "listener %s", trim(name + 8));
			} else if (!strncmp(name, "route", 5) && isspace((unsigned char)name[5])) {
				snprintf(section, sizeof section, "route %s", trim(name + 5));
			} else if (!strcmp(name, "switch") || !strcmp(name, "database") ||
			           !strcmp(name, "hsm") || !strcmp(name, "admin")) {
				snprintf(section, sizeof section, "%s", name);
			} else {
				rc = fail(err, errlen, "%s:%u: unknown section [%s]", path, lineno, name);
				break;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = fail(err, errlen, "%s:%u: expected key = value", path, lineno);
			break;
		}
		if (!section[0]) {
			rc = fail(err, errlen, "%s:%u: setting outside a section", path, lineno);
			break;
		}
		*eq = '\0';
		if (swcfg_set(c, section, trim(s), trim(eq + 1), why, sizeof why)) {
			rc = fail(err, errlen, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = fail(err, errlen, "%s: read error", path);
	fclose(f);
	return rc;
}

int swcfg_check(const struct swcfg *c, char *err, size_t errlen)
{
	if (c->nlisteners == 0)
		return fail(err, errlen, "no [listener NAME] configured");
	for (unsigned i = 0; i < c->nlisteners; i++) {
		const struct swcfg_listener *l = &c->listeners[i];
		if (l->port == 0)
			return fail(err, errlen, "listener %s: no address", l->name);
		if (!l->peer_zpk[0] != !l->peer_acquirers[0])
			return fail(err, errlen, "listener %s: peer_zpk and peer_acquirers go together",
			            l->name);
		if (!l->tls_cert[0] != !l->tls_key[0])
			return fail(err, errlen, "listener %s: tls_cert and tls_key go together",
			            l->name);
		if (l->tls_client != SWCFG_CLIENT_NONE && !l->tls_ca[0])
			return fail(err, errlen, "listener %s: tls_client_cert needs tls_ca", l->name);
		if (l->tls_client != SWCFG_CLIENT_NONE && !l->tls_cert[0])
			return fail(err, errlen, "listener %s: tls_client_cert needs tls_cert",
			            l->name);
		if (l->framing == ISO_FRAME_ASCII4 && l->max_message > 9999)
			return fail(err, errlen, "listener %s: ascii4 framing carries at most 9999 bytes",
			            l->name);
		for (unsigned j = 0; j < i; j++)
			if (c->listeners[j].port == l->port && !strcmp(c->listeners[j].host, l->host))
				return fail(err, errlen, "listeners %s and %s share an address",
				            c->listeners[j].name, l->name);
	}
	for (unsigned i = 0; i < c->nroutes; i++) {
		const struct swcfg_route *r = &c->routes[i];
		if (!r->port || !r->nbins)
			return fail(err, errlen, "route %s: needs address and bins", r->name);
		if (r->timeout_ms >= c->txn_deadline_ms)
			return fail(err, errlen,
			            "route %s: timeout_ms (%u) must be below [switch] txn_deadline_ms (%u)",
			            r->name, r->timeout_ms, c->txn_deadline_ms);
		if (r->tls && !r->tls_ca[0])
			return fail(err, errlen, "route %s: tls needs tls_ca (the upstream's certificate is always verified)",
			            r->name);
		if (!r->tls && (r->tls_ca[0] || r->tls_cert[0] || r->tls_key[0] || r->tls_server_name[0]))
			return fail(err, errlen, "route %s: tls_* settings without tls = yes", r->name);
		if (!r->tls_cert[0] != !r->tls_key[0])
			return fail(err, errlen, "route %s: tls_cert and tls_key go together", r->name);
	}
	if (c->admin_token_file[0] && !c->admin_port)
		return fail(err, errlen, "[admin] token_file without an admin address");
	if (c->hsm_tls && !c->hsm_tls_ca[0])
		return fail(err, errlen, "[hsm] tls needs tls_ca (hsm-sim's certificate is always verified)");
	if (c->hsm_tls && (!c->hsm_tls_cert[0] != !c->hsm_tls_key[0]))
		return fail(err, errlen, "[hsm] tls_cert and tls_key go together");
	return 0;
}
