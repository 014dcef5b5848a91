/*
 * config.c - the server's settings: defaults, then an optional JSON file
 * (--config FILE, read with jansson), then the command line, which wins.
 *
 * Every option is one row of the `options` table below: its name, what
 * kind of value it takes, where it is stored and its help text. --help is
 * printed from the same table, so the two never disagree.
 */
#include "server.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_kind {
    OPT_STR,     /* text, stored in a char array                  */
    OPT_INT,     /* integer within [min, max]                     */
    OPT_SECONDS, /* seconds (decimals allowed), stored as int ms  */
    OPT_SIZE,    /* bytes, with an optional K, M or G suffix      */
    OPT_LEVEL    /* debug | info | warn | error                   */
};

typedef struct opt_def {
    const char *name;
    enum opt_kind kind;
    size_t offset; /* into srv_config */
    size_t size;   /* of the field (OPT_STR: array size)         */
    double min, max;
    const char *help;
} opt_def;

#define F(field) offsetof(srv_config, field), sizeof(((srv_config *)0)->field)

static const opt_def options[] = {
    { "port", OPT_INT, F(port), 0, 65535, "TCP port to listen on (0 = any free port)" },
    { "bind", OPT_STR, F(bind), 0, 0, "address or host name to listen on (default: all, IPv4 and IPv6)" },
    { "root", OPT_STR, F(root), 0, 0, "directory of static files" },
    { "cgi-dir", OPT_STR, F(cgi_dir), 0, 0, "directory of route modules and CGI scripts" },
    { "access-log", OPT_STR, F(access_log), 0, 0, "access log file (- = stderr)" },
    { "error-log", OPT_STR, F(error_log), 0, 0, "error log file (- = stderr)" },
    { "log-level", OPT_LEVEL, F(log_level), 0, 0, "debug, info, warn or error" },
    { "port-file", OPT_STR, F(port_file), 0, 0, "write the port actually bound to this file" },
    { "max-conns", OPT_INT, F(max_conns), 1, 1000000, "most connections served at once; more get 503" },
    { "thread-stack", OPT_SIZE, F(thread_stack), 32768, 64 << 20, "stack size of each connection thread" },
    { "header-timeout", OPT_SECONDS, F(header_timeout_ms), 0.001, 3600, "seconds for a whole request head to arrive" },
    { "keepalive-timeout", OPT_SECONDS, F(keepalive_timeout_ms), 0.001, 3600, "seconds an idle keep-alive connection is kept" },
    { "write-timeout", OPT_SECONDS, F(write_timeout_ms), 0.001, 3600, "seconds a client may take to accept more bytes" },
    { "body-timeout", OPT_SECONDS, F(body_timeout_ms), 0.001, 3600, "seconds for a request body, plus 1 per --min-rate bytes received (then 408)" },
    { "min-rate", OPT_SIZE, F(min_rate), 1, 1 << 30, "bytes/s a body or response must average past its timeout" },
    { "shutdown-timeout", OPT_SECONDS, F(shutdown_timeout_ms), 0, 3600, "seconds in-flight requests get on SIGTERM" },
    { "cgi-timeout", OPT_SECONDS, F(cgi_timeout_ms), 0.001, 3600, "seconds a CGI script may run (then 504)" },
    { "max-header-size", OPT_SIZE, F(max_header_bytes), 256, 1 << 20, "largest request head (431 past it)" },
    { "max-uri-size", OPT_SIZE, F(max_uri_bytes), 16, 1 << 20, "longest request target (414 past it)" },
    { "max-body-size", OPT_SIZE, F(max_body_bytes), 0, 1 << 30, "largest request body (413 past it)" },
    { "ws-max-message", OPT_SIZE, F(ws_max_message), 125, 1 << 30, "largest WebSocket message (1009 past it)" },
    { "ws-outbox-size", OPT_SIZE, F(ws_outbox_bytes), 1024, 1 << 30, "bytes queued for a slow WebSocket client before 1008" },
    { "ws-ping-interval", OPT_SECONDS, F(ws_ping_interval_ms), 0.001, 86400, "seconds of silence before the server pings" },
    { "ws-dead-peer-timeout", OPT_SECONDS, F(ws_dead_peer_ms), 0.001, 86400, "seconds of silence before a peer is dropped" },
    { "allowed-origins", OPT_STR, F(allowed_origins), 0, 0, "WebSocket Origins allowed: comma list, * = any (default: same host)" },
};

#define NOPTIONS (sizeof options / sizeof options[0])

static srv_config current;
static bool current_set;

void srv_config_defaults(srv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 8080;
    snprintf(cfg->root, sizeof cfg->root, "www");
    snprintf(cfg->cgi_dir, sizeof cfg->cgi_dir, "cgi-bin");
    snprintf(cfg->access_log, sizeof cfg->access_log, "logs/access.log");
    snprintf(cfg->error_log, sizeof cfg->error_log, "logs/error.log");
    cfg->log_level = SRV_LOG_INFO;
    cfg->max_conns = 10000;
    cfg->thread_stack = 128 * 1024;
    cfg->header_timeout_ms = 10000;
    cfg->keepalive_timeout_ms = 15000;
    cfg->write_timeout_ms = 30000;
    cfg->body_timeout_ms = 30000;
    cfg->min_rate = 1024;
    cfg->shutdown_timeout_ms = 5000;
    cfg->cgi_timeout_ms = 10000;
    cfg->max_header_bytes = 8192;
    cfg->max_uri_bytes = 4096;
    cfg->max_body_bytes = 1 << 20;
    cfg->ws_max_message = 16 << 20;
    cfg->ws_outbox_bytes = 1 << 20;
    cfg->ws_ping_interval_ms = 30000;
    cfg->ws_dead_peer_ms = 60000;
}

const srv_config *srv_cfg(void)
{
    return current_set ? &current : NULL;
}

void srv_config_set(const srv_config *cfg)
{
    current = *cfg;
    current_set = true;
}

static const opt_def *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

/* Parses "1.5" (seconds) or "64K" (size) etc. into *out. */
static int parse_number(const char *text, enum opt_kind kind, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || v != v)
        return -1;
    if (kind == OPT_SIZE && *end) {
        double mult = 0;
        if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0) mult = 1024.0;
        if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0) mult = 1024.0 * 1024;
        if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0) mult = 1024.0 * 1024 * 1024;
        if (mult == 0)
            return -1;
        v *= mult;
        end += strlen(end);
    }
    if (*end)
        return -1;
    if (kind != OPT_SECONDS && v != (double)(long long)v)
        return -1; /* whole numbers only */
    *out = v;
    return 0;
}

static int parse_level(const char *text)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, names[i]) == 0)
            return i;
    return -1;
}

/* Stores one option's value. Returns 0, or -1 after printing why. */
static int set_option(srv_config *cfg, const opt_def *o, const char *value, const char *origin)
{
    char *field = (char *)cfg + o->offset;
    double v;

    switch (o->kind) {
    case OPT_STR:
        if (strlen(value) >= o->size) {
            fprintf(stderr, "online-game: %s: --%s is too long\n", origin, o->name);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_LEVEL: {
        int level = parse_level(value);
        if (level < 0) {
            fprintf(stderr, "online-game: %s: --%s must be debug, info, warn or error, not '%s'\n",
                    origin, o->name, value);
            return -1;
        }
        *(int *)field = level;
        return 0;
    }
    default:
        break;
    }
    if (parse_number(value, o->kind, &v) < 0 || v < o->min || v > o->max) {
        fprintf(stderr, "online-game: %s: --%s needs a %s from %g to %g, not '%s'\n", origin,
                o->name, o->kind == OPT_SECONDS ? "number of seconds" : "whole number", o->min,
                o->max, value);
        return -1;
    }
    if (o->kind == OPT_SECONDS)
        *(int *)field = (int)(v * 1000 + 0.5);
    else if (o->kind == OPT_SIZE)
        *(size_t *)field = (size_t)v;
    else
        *(int *)field = (int)v;
    return 0;
}

/* Applies a JSON config file: {"port": 8080, "root": "www", ...}. */
static int apply_json_file(srv_config *cfg, const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        fprintf(stderr, "online-game: %s:%d: %s\n", path, err.line, err.text);
        return -1;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        fprintf(stderr, "online-game: %s: must hold a JSON object\n", path);
        rc = -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (rc)
            break;
        const opt_def *o = find_option(key);
        char text[64];
        const char *value = text;
        if (!o) {
            fprintf(stderr, "online-game: %s: unknown setting \"%s\"\n", path, key);
            rc = -1;
        } else if (json_is_string(val)) {
            value = json_string_value(val);
        } else if (json_is_number(val)) {
            snprintf(text, sizeof text, "%.17g", json_number_value(val));
        } else {
            fprintf(stderr, "online-game: %s: \"%s\" must be a string or a number\n", path, key);
            rc = -1;
        }
        if (!rc)
            rc = set_option(cfg, o, value, path);
    }
    json_decref(root);
    return rc;
}

static void print_help(void)
{
    printf("Usage: online-game [options]\n\n"
           "Serves www/ (static files), cgi-bin/ (route modules and CGI scripts) and the\n"
           "WebSocket endpoints on http://localhost:8080 by default.\n\nOptions:\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        printf("  --%-22s %s\n", options[i].name, options[i].help);
    printf("  --%-22s %s\n", "config FILE", "read settings from a JSON object {\"port\": 8080, ...}");
    printf("  --%-22s %s\n", "help", "print this help");
    printf("  --%-22s %s\n", "version", "print the version");
}

/* Splits "--name=value" / "--name value". Returns the value or NULL. */
static const char *option_value(int argc, char **argv, int *i, char *name, size_t name_size)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    if (eq) {
        snprintf(name, name_size, "%.*s", (int)(eq - arg), arg);
        return eq + 1;
    }
    snprintf(name, name_size, "%s", arg);
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int srv_config_parse(srv_config *cfg, int argc, char **argv)
{
    /* First pass: --help, --version and --config (applied before the rest). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", SRV_NAME, SRV_VERSION);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        if (file && apply_json_file(cfg, file) < 0)
            return 2;
    }
    for (int i = 1; i < argc; i++) {
        char name[64];
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "online-game: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        const char *value = option_value(argc, argv, &i, name, sizeof name);
        if (strcmp(name, "config") == 0)
            continue; /* applied above */
        const opt_def *o = find_option(name);
        if (!o) {
            fprintf(stderr, "online-game: unknown option --%s (try --help)\n", name);
            return 2;
        }
        if (!value) {
            fprintf(stderr, "online-game: --%s needs a value\n", name);
            return 2;
        }
        if (set_option(cfg, o, value, "command line") < 0)
            return 2;
    }
    if (cfg->max_uri_bytes >= cfg->max_header_bytes)
        cfg->max_uri_bytes = cfg->max_header_bytes - 1;
    return 0;
}
