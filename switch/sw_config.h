/*
 * sw_config: switchd's configuration file (docs/switchd.md).
 *
 * An INI-style text file: `[section]` or `[listener NAME]` headers, then
 * `key = value` lines; `#` or `;` start a comment line. Unknown sections or
 * keys, bad values and duplicate listeners are errors naming the file, the
 * line and the reason, so a typo never silently falls back to a default.
 * Command-line overrides use the same setter ("section.key=value").
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iso8583.h"

#define SWCFG_MAX_LISTENERS 8

enum swcfg_tls_client { SWCFG_CLIENT_NONE, SWCFG_CLIENT_OPTIONAL, SWCFG_CLIENT_REQUIRE };

struct swcfg_listener {
	char name[32];
	char host[64];
	uint16_t port;
	enum iso_profile profile;
	enum iso_framing framing;
	unsigned max_message;      /* bytes, without the length header */
	bool require_signon;
	char tls_cert[256], tls_key[256], tls_ca[256];
	enum swcfg_tls_client tls_client;
	/* A network link from another institution's switch (its acquirers'
	 * terminals are not ours): the ZPK its PIN blocks come under (LMK
	 * form) and the DE 32 acquirer ids it may send, comma-separated. */
	char peer_zpk[82];
	char peer_acquirers[128];
};

#define SWCFG_MAX_ROUTES 8
#define SWCFG_MAX_BINS 32

/* An upstream ISO 8583 link (another bank, a scheme, a second switchd)
 * for the cards whose PAN starts with one of `bins`. */
struct swcfg_route {
	char name[32];
	char bins[SWCFG_MAX_BINS][12];
	unsigned nbins;
	char host[64];
	uint16_t port;
	enum iso_profile profile;
	enum iso_framing framing;
	unsigned max_message;
	unsigned timeout_ms;       /* the upstream's answer; less than txn_deadline_ms */
	char zpk[82];              /* PIN blocks are translated to this ZPK (LMK form) */
	bool tls;                  /* TLS 1.2+ to the upstream, its certificate verified */
	char tls_ca[256];          /* required with tls: the CA(s) the upstream's certificate must chain to */
	char tls_cert[256], tls_key[256]; /* our client certificate, when the upstream asks for one */
	char tls_server_name[128]; /* SNI and the name checked in its certificate; default: the address's IP */
};

struct swcfg {
	/* [switch] */
	char pidfile[256];
	char log_level[8];
	bool log_json;
	unsigned max_connections;
	unsigned idle_timeout_s;     /* a connection silent this long is closed */
	unsigned message_timeout_ms; /* a started message must complete within */
	unsigned txn_deadline_ms;    /* the terminal has its answer within */
	unsigned max_inflight;       /* per connection; reading pauses beyond */
	unsigned shutdown_grace_ms;  /* SIGTERM: longest wait for in-flight work */
	/* [database] */
	char db_conninfo[512];
	unsigned db_pool_size, db_queue_max, db_pipeline_max, db_backoff_max_ms;
	/* [hsm] */
	char hsm_host[64];
	uint16_t hsm_port;
	unsigned hsm_connections, hsm_timeout_ms, hsm_max_inflight, hsm_backoff_max_ms;
	bool hsm_tls;
	char hsm_tls_ca[256], hsm_tls_cert[256], hsm_tls_key[256], hsm_tls_server_name[128];
	/* [admin] */
	char admin_host[64];
	uint16_t admin_port; /* 0: no admin port */
	char admin_token_file[256]; /* "": /live without a token (sw_live.h) */
	/* [listener NAME] */
	unsigned nlisteners;
	struct swcfg_listener listeners[SWCFG_MAX_LISTENERS];
	/* [route NAME] */
	unsigned nroutes;
	struct swcfg_route routes[SWCFG_MAX_ROUTES];
};

/* Defaults for everything (no listeners). */
void swcfg_defaults(struct swcfg *c);

/* Read a file over the current values. Returns 0, or -1 with
 * "FILE:LINE: reason" in err. */
int swcfg_load(struct swcfg *c, const char *path, char *err, size_t errlen);

/* One setting: section "switch", "database", "hsm", "admin",
 * "listener NAME" or "route NAME" (created on first use). Returns 0 or -1 with the reason
 * in err. */
int swcfg_set(struct swcfg *c, const char *section, const char *key, const char *value,
              char *err, size_t errlen);

/* Checks that need the whole file (at least one listener, TLS key with
 * certificate, ...). Returns 0 or -1 with the reason. */
int swcfg_check(const struct swcfg *c, char *err, size_t errlen);

#endif
