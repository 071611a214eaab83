/*
 * hsmctl: operator and script front end to a running hsm-sim, built on the
 * client library. Output is key=value lines, or one JSON object with
 * --json. Exit status: 0 success, 1 the HSM refused or a verification
 * failed, 2 usage error, 3 cannot reach the HSM. Errors are one line on
 * stderr. Clear PINs are read from standard input unless --pin is given
 * (a PIN on the command line is visible to other users in ps); clear key
 * components always are.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "hsmclient.h"
#include "keycomp.h"

static const char usage_text[] =
    "usage: hsmctl [options] COMMAND [command options]\n"
    "options:\n"
    "  --host ADDR --port N     hsm-sim address (default 127.0.0.1:1500)\n"
    "  --header-len N           message header length (default 4)\n"
    "  --timeout MS             per-command deadline (default 5000)\n"
    "  --tls [--tls-ca F] [--tls-cert F --tls-key F] [--tls-server-name N]\n"
    "  --json                   one JSON object instead of key=value lines\n"
    "  -h, --help               this help\n"
    "commands (keys are LMK cryptograms as the HSM prints them):\n"
    "  diag                                   LMK check value\n"
    "  genkey TYPE [--scheme U|T|P|Q|R] [--kek-type zmk|tmk --kek KEY]\n"
    "                                         TYPE: zmk zpk tpk tak tmk pvk zak bdk cvk imk\n"
    "  kcv TYPE --key KEY                     key check value\n"
    "  form-key TYPE [--scheme U|T|P|Q|R]     form a key from 1-3 clear components read\n"
    "                                         from stdin, one a line (hsm-sim --authorised);\n"
    "                                         TYPE: tmk zmk pvk bdk cvk\n"
    "  key-exchange --tmk KEY [--scheme U]    new TPK and TAK under a terminal's TMK\n"
    "  pvv --pvk KEY --pan PAN [--pvki 1] [--pin PIN]\n"
    "                                         Visa PVV of a new card's PIN (PIN on stdin)\n"
    "  offset --pvk KEY --pan PAN --dectab D --valdata V [--pin PIN]\n"
    "                                         IBM 3624 offset of a new card's PIN\n"
    "  verify-pvv (--tpk|--zpk KEY) --pvk KEY --pin-block B [--format 01] --pan PAN\n"
    "             [--pvki 1] --pvv NNNN\n"
    "  verify-offset (--tpk|--zpk KEY) --pvk KEY --pin-block B [--format 01] --pan PAN\n"
    "             --dectab D --valdata V --offset N\n"
    "  translate (--tpk|--zpk KEY) --to-zpk KEY --pin-block B [--format 01]\n"
    "             [--to-format 01] --pan PAN\n"
    "  cvv --cvk KEY --pan PAN --expiry YYMM [--service-code 101]   (000: CVV2, 999: iCVV)\n"
    "  verify-cvv --cvk KEY --pan PAN --expiry YYMM [--service-code 101] --cvv NNN\n"
    "  raw COMMAND                            send COMMAND (code + fields), print the answer\n";

#define MAXOPT 32
static const char *names[MAXOPT], *values[MAXOPT];
static int nopt;
static bool json;

static const char *opt(const char *name)
{
    for (int i = 0; i < nopt; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

static void die(int code, const char *fmt, const char *a)
    __attribute__((noreturn));

static void die(int code, const char *fmt, const char *a)
{
    fprintf(stderr, "hsmctl: ");
    /* fmt is one of this file's literals with at most one %s. */
    const char *pct = strstr(fmt, "%s");
    if (pct) {
        fwrite(fmt, 1, (size_t)(pct - fmt), stderr);
        fputs(a ? a : "", stderr);
        fputs(pct + 2, stderr);
    } else {
        fputs(fmt, stderr);
    }
    fputc('\n', stderr);
    exit(code);
}

static const char *need(const char *name)
{
    const char *v = opt(name);
    if (!v)
        die(2, "missing --%s (see hsmctl --help)", name);
    return v;
}

static const char *key_type(const char *name)
{
    static const struct { const char *n, *code; } t[] = {
        {"zmk", HSM_KT_ZMK}, {"zpk", HSM_KT_ZPK}, {"tpk", HSM_KT_TPK}, {"tak", HSM_KT_TAK},
        {"tmk", HSM_KT_TMK}, {"pvk", HSM_KT_PVK}, {"zak", HSM_KT_ZAK}, {"bdk", HSM_KT_BDK},
        {"cvk", HSM_KT_CVK}, {"imk", HSM_KT_IMK},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(name, t[i].n) == 0 || strcmp(name, t[i].code) == 0)
            return t[i].code;
    die(2, "unknown key type %s", name);
    return NULL;
}

/* Output: pairs collected, printed once at the end. */
static const char *onames[16];
static char ovalues[16][512];
static int nout;

static void out(const char *name, const char *value)
{
    if (nout < 16 && value && value[0]) {
        onames[nout] = name;
        snprintf(ovalues[nout], sizeof ovalues[nout], "%s", value);
        nout++;
    }
}

static void print_out(void)
{
    if (json) {
        printf("{");
        for (int i = 0; i < nout; i++) {
            printf("%s\"%s\":\"", i ? "," : "", onames[i]);
            for (const char *c = ovalues[i]; *c; c++)
                if (*c == '"' || *c == '\\')
                    printf("\\%c", *c);
                else if ((unsigned char)*c >= 0x20)
                    putchar(*c);
            printf("\"");
        }
        printf("}\n");
    } else {
        for (int i = 0; i < nout; i++)
            printf("%s=%s\n", onames[i], ovalues[i]);
    }
}

static struct event_base *base;
static hsmc_reply reply;
static char fields[70000];
static bool done;

static void on_reply(const hsmc_reply *r, void *arg)
{
    (void)arg;
    reply = *r;
    size_t n = r->fields_len < sizeof fields - 1 ? r->fields_len : sizeof fields - 1;
    if (r->fields)
        memcpy(fields, r->fields, n);
    fields[n] = '\0';
    done = true;
}

static void wait_reply(int send_rc)
{
    if (send_rc != 0)
        die(send_rc == HSMC_ERR_ARG ? 2 : 3, "%s", hsmc_strerror(send_rc));
    while (!done)
        event_base_loop(base, EVLOOP_ONCE);
    if (reply.status != 0)
        die(3, "%s", hsmc_strerror(reply.status));
    if (reply.hsm_err != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "HSM error %02d (%s)", reply.hsm_err, hsmc_hsm_strerror(reply.hsm_err));
        die(1, "%s", msg);
    }
}

static const char *read_pin(void)
{
    static char pin[64];
    const char *p = opt("pin");
    if (p)
        return p;
    if (!fgets(pin, sizeof pin, stdin))
        die(2, "no PIN on standard input%s", NULL);
    pin[strcspn(pin, "\r\n")] = '\0';
    return pin;
}

static hsmc_pin_src pin_src(void)
{
    hsmc_pin_src s = {HSMC_SRC_TPK, opt("tpk"), NULL, need("pin-block"), opt("format")};
    if (!s.key) {
        s.kind = HSMC_SRC_ZPK;
        s.key = opt("zpk");
    }
    if (!s.key)
        die(2, "missing --tpk or --zpk%s", NULL);
    if (!s.format)
        s.format = HSM_PBF_ISO0;
    return s;
}

static int num(const char *name, int def)
{
    const char *v = opt(name);
    return v ? atoi(v) : def;
}

int main(int argc, char **argv)
{
    hsmc_config cfg = {0};
    const char *cmd = NULL, *arg1 = NULL;
    cfg.timeout_ms = 5000;
    cfg.connections = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--tls") == 0) {
            cfg.tls = 1;
        } else if (strncmp(a, "--", 2) == 0) {
            if (i + 1 >= argc || nopt >= MAXOPT)
                die(2, "option %s needs a value", a);
            names[nopt] = a + 2;
            values[nopt++] = argv[++i];
        } else if (!cmd) {
            cmd = a;
        } else if (!arg1) {
            arg1 = a;
        } else {
            die(2, "unexpected argument %s", a);
        }
    }
    if (!cmd)
        die(2, "no command (see hsmctl --help)%s", NULL);
    cfg.host = opt("host");
    cfg.port = (uint16_t)num("port", 1500);
    cfg.header_len = (unsigned)num("header-len", 4);
    cfg.timeout_ms = (unsigned)num("timeout", 5000);
    cfg.tls_ca = opt("tls-ca");
    cfg.tls_cert = opt("tls-cert");
    cfg.tls_key = opt("tls-key");
    cfg.tls_server_name = opt("tls-server-name");
    if (cfg.tls_ca || cfg.tls_cert)
        cfg.tls = 1;
    base = event_base_new();
    int err = 0;
    hsmc_pool *p = base ? hsmc_pool_new(base, &cfg, &err) : NULL;
    if (!p)
        die(err == HSMC_ERR_ARG ? 2 : 3, "%s", hsmc_strerror(err));
    /* Wait for the connection, within the deadline. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (hsmc_pool_ready(p) == 0) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > (long)cfg.timeout_ms)
            die(3, "cannot connect to hsm-sim%s", NULL);
    }
    if (strcmp(cmd, "diag") == 0) {
        wait_reply(hsmc_diagnostics(p, on_reply, NULL));
        out("lmk_kcv", reply.value);
    } else if (strcmp(cmd, "genkey") == 0) {
        const char *s = opt("scheme");
        const char *kt = opt("kek-type");
        if (!arg1)
            die(2, "genkey needs a key type%s", NULL);
        wait_reply(hsmc_generate_key(p, key_type(arg1), s ? s[0] : 'U', kt ? key_type(kt) : NULL,
                                     opt("kek"), on_reply, NULL));
        out("key", reply.key_lmk);
        out("key_under_kek", reply.key_kek);
        out("kcv", reply.kcv);
    } else if (strcmp(cmd, "kcv") == 0) {
        if (!arg1)
            die(2, "kcv needs a key type%s", NULL);
        wait_reply(hsmc_key_check_value(p, key_type(arg1), need("key"), on_reply, NULL));
        out("kcv", reply.kcv);
    } else if (strcmp(cmd, "form-key") == 0) {
        const char *s = opt("scheme");
        keycomp kc;
        char e[128];
        if (!arg1)
            die(2, "form-key needs a key type%s", NULL);
        const char *type = key_type(arg1);
        static const char *const formable[] = {HSM_KT_TMK, HSM_KT_ZMK, HSM_KT_PVK, HSM_KT_BDK, HSM_KT_CVK};
        bool ok = false;
        for (size_t i = 0; i < sizeof formable / sizeof formable[0]; i++)
            ok = ok || strcmp(formable[i], type) == 0;
        if (!ok)
            die(2, "form-key makes master and card keys only (tmk zmk pvk bdk cvk), not %s", arg1);
        if (s && (strlen(s) != 1 || !keycomp_hex_len(s[0])))
            die(2, "scheme must be U, T (TDES), P, Q or R (AES), not %s", s);
        if (keycomp_read(stdin, s ? s[0] : 'U', &kc, e, sizeof e) != 0)
            die(2, "%s", e);
        const char *cv[KEYCOMP_MAX] = {kc.c[0], kc.c[1], kc.c[2]};
        int rc = hsmc_form_key(p, type, s ? s[0] : 'U', cv, kc.n, on_reply, NULL);
        keycomp_wipe(&kc);
        wait_reply(rc);
        out("key", reply.key_lmk);
        out("kcv", reply.kcv);
    } else if (strcmp(cmd, "key-exchange") == 0) {
        const char *s = opt("scheme");
        wait_reply(hsmc_key_exchange(p, need("tmk"), s ? s[0] : 'U', on_reply, NULL));
        out("tpk", reply.key_lmk);
        out("tpk_under_tmk", reply.key_kek);
        out("tpk_kcv", reply.kcv);
        out("tak", reply.key2_lmk);
        out("tak_under_tmk", reply.key2_kek);
        out("tak_kcv", reply.kcv2);
    } else if (strcmp(cmd, "pvv") == 0) {
        const char *pvk = need("pvk"), *pan = need("pan");
        wait_reply(hsmc_pin_to_pvv(p, read_pin(), pan, pvk, num("pvki", 1), on_reply, NULL));
        out("pvv", reply.value);
    } else if (strcmp(cmd, "offset") == 0) {
        const char *pvk = need("pvk"), *pan = need("pan"), *d = need("dectab"), *v = need("valdata");
        wait_reply(hsmc_pin_to_offset(p, read_pin(), pan, pvk, d, v, on_reply, NULL));
        out("offset", reply.value);
    } else if (strcmp(cmd, "verify-pvv") == 0) {
        hsmc_pin_src s = pin_src();
        wait_reply(hsmc_verify_pin_pvv(p, &s, need("pan"), need("pvk"), num("pvki", 1), need("pvv"),
                                       on_reply, NULL));
        out("result", "ok");
    } else if (strcmp(cmd, "verify-offset") == 0) {
        hsmc_pin_src s = pin_src();
        wait_reply(hsmc_verify_pin_ibm(p, &s, need("pan"), need("pvk"), need("dectab"), need("valdata"),
                                       need("offset"), on_reply, NULL));
        out("result", "ok");
    } else if (strcmp(cmd, "translate") == 0) {
        hsmc_pin_src s = pin_src();
        const char *tf = opt("to-format");
        wait_reply(hsmc_translate_pin(p, &s, need("to-zpk"), tf ? tf : HSM_PBF_ISO0, need("pan"), 12,
                                      on_reply, NULL));
        out("pin_block", reply.pin_block);
        out("format", reply.pin_format);
    } else if (strcmp(cmd, "cvv") == 0) {
        const char *sc = opt("service-code");
        wait_reply(hsmc_generate_cvv(p, need("cvk"), need("pan"), need("expiry"), sc ? sc : "101",
                                     on_reply, NULL));
        out("cvv", reply.value);
    } else if (strcmp(cmd, "verify-cvv") == 0) {
        const char *sc = opt("service-code");
        wait_reply(hsmc_verify_cvv(p, need("cvk"), need("pan"), need("expiry"), sc ? sc : "101",
                                   need("cvv"), on_reply, NULL));
        out("result", "ok");
    } else if (strcmp(cmd, "raw") == 0) {
        if (!arg1)
            die(2, "raw needs a command%s", NULL);
        int rc = hsmc_send_raw(p, arg1, strlen(arg1), on_reply, NULL);
        if (rc)
            die(rc == HSMC_ERR_ARG ? 2 : 3, "%s", hsmc_strerror(rc));
        while (!done)
            event_base_loop(base, EVLOOP_ONCE);
        if (reply.status)
            die(3, "%s", hsmc_strerror(reply.status));
        char e[3] = {(char)('0' + reply.hsm_err / 10 % 10), (char)('0' + reply.hsm_err % 10), '\0'};
        out("response", reply.resp);
        out("error", e);
        out("fields", fields);
        print_out();
        hsmc_pool_free(p);
        event_base_free(base);
        return reply.hsm_err ? 1 : 0;
    } else {
        die(2, "unknown command %s (see hsmctl --help)", cmd);
    }
    print_out();
    hsmc_pool_free(p);
    event_base_free(base);
    return 0;
}
