/*
 * cgi_env.c - the environment a CGI script runs with: the RFC 3875
 * meta-variables of one request (section 4.1) and nothing else.
 *
 * The server's own environment is never passed on (it may hold secrets),
 * only PATH=/usr/bin:/bin so "#!/usr/bin/env python3" works. Request
 * headers become HTTP_<NAME> variables, with three exceptions:
 *   - Content-Type/Content-Length are CONTENT_TYPE/CONTENT_LENGTH;
 *   - Authorization and Proxy-Authorization are not passed (RFC 3875
 *     4.1.18: credentials stay with the server);
 *   - Proxy is dropped ("httpoxy": HTTP_PROXY would look like the
 *     script's outgoing proxy setting), and so is any name with a
 *     character other than [A-Za-z0-9-], so that "X_Foo" cannot pose as
 *     "X-Foo".
 * Repeated headers are joined into one variable (", ", "; " for Cookie).
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int env_add(rt_cgi_env *env, const char *key, const char *value)
{
    if (env->count >= RT_CGI_MAX_ENV)
        return -1;
    size_t len = strlen(key) + 1 + strlen(value) + 1;
    char *var = malloc(len);
    if (var == NULL)
        return -1;
    snprintf(var, len, "%s=%s", key, value);
    env->vars[env->count++] = var;
    env->vars[env->count] = NULL;
    return 0;
}

static int env_add_int(rt_cgi_env *env, const char *key, long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    return env_add(env, key, text);
}

/* SERVER_NAME: the Host header without its port, else the local IP. */
static int add_server_name(rt_cgi_env *env, const http_request *req)
{
    const char *host = http_header_get(req, "Host");
    if (host == NULL || host[0] == '\0')
        return env_add(env, "SERVER_NAME", req->conn ? req->conn->local_ip : "");
    char name[256];
    size_t len = strlen(host);
    const char *colon = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
    if (colon != NULL)
        len = (size_t)(colon - host) + (host[0] == '[' ? 1 : 0);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, host, len);
    name[len] = '\0';
    return env_add(env, "SERVER_NAME", name);
}

static bool header_passed(const char *name)
{
    static const char *const withheld[] = {
        "Content-Type", "Content-Length", "Authorization",
        "Proxy-Authorization", "Proxy",
    };
    for (size_t i = 0; i < sizeof withheld / sizeof withheld[0]; i++)
        if (strcasecmp(name, withheld[i]) == 0)
            return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok)
            return false;
    }
    return name[0] != '\0';
}

/* Adds HTTP_<NAME> for headers[first] joined with its later repeats. */
static int add_http_var(rt_cgi_env *env, const http_request *req, int first)
{
    const char *name = req->headers[first].name;
    const char *sep = strcasecmp(name, "Cookie") == 0 ? "; " : ", ";
    size_t len = 0;
    for (int i = first; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            len += strlen(req->headers[i].value) + 2;
    char *value = malloc(len + 1), key[5 + 256];
    if (value == NULL)
        return -1;
    value[0] = '\0';
    for (int i = first; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (value[0] != '\0')
            strcat(value, sep);
        strcat(value, req->headers[i].value);
    }
    size_t k = (size_t)snprintf(key, sizeof key, "HTTP_");
    for (const char *p = name; *p && k + 1 < sizeof key; p++)
        key[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    key[k] = '\0';
    int rc = env_add(env, key, value);
    free(value);
    return rc;
}

static bool seen_before(const http_request *req, int i)
{
    for (int j = 0; j < i; j++)
        if (strcasecmp(req->headers[j].name, req->headers[i].name) == 0)
            return true;
    return false;
}

static int add_headers(rt_cgi_env *env, const http_request *req)
{
    for (int i = 0; i < req->nheaders; i++) {
        if (!header_passed(req->headers[i].name) || seen_before(req, i))
            continue;
        if (add_http_var(env, req, i) != 0)
            return -1;
    }
    return 0;
}

static int add_request_vars(rt_cgi_env *env, const http_request *req,
                            const char *name, const char *path_info)
{
    char script[RT_NAME_MAX + 2], protocol[16];
    snprintf(script, sizeof script, "/%s", name);
    snprintf(protocol, sizeof protocol, "HTTP/1.%d", req->version_minor);
    const char *type = http_header_get(req, "Content-Type");
    const srv_conn *c = req->conn;
    int rc = env_add(env, "GATEWAY_INTERFACE", "CGI/1.1");
    rc |= env_add(env, "SERVER_SOFTWARE", SRV_NAME "/" SRV_VERSION);
    rc |= env_add(env, "SERVER_PROTOCOL", protocol);
    rc |= add_server_name(env, req);
    rc |= env_add_int(env, "SERVER_PORT", c ? c->local_port : 0);
    rc |= env_add(env, "REQUEST_METHOD", req->method);
    rc |= env_add(env, "QUERY_STRING", req->query ? req->query : "");
    rc |= env_add(env, "SCRIPT_NAME", script);
    if (path_info != NULL && path_info[0] != '\0')
        rc |= env_add(env, "PATH_INFO", path_info);
    if (req->content_length >= 0 || req->chunked || req->body_len > 0)
        rc |= env_add_int(env, "CONTENT_LENGTH", (long long)req->body_len);
    if (type != NULL)
        rc |= env_add(env, "CONTENT_TYPE", type);
    rc |= env_add(env, "REMOTE_ADDR", c ? c->peer_ip : "");
    rc |= env_add_int(env, "REMOTE_PORT", c ? c->peer_port : 0);
    rc |= env_add(env, "PATH", "/usr/bin:/bin");
    return rc;
}

int rt_cgi_env_build(rt_cgi_env *env, const http_request *req,
                     const char *name, const char *path_info)
{
    env->count = 0;
    env->vars[0] = NULL;
    if (add_request_vars(env, req, name, path_info) != 0 ||
        add_headers(env, req) != 0) {
        rt_cgi_env_free(env);
        return -1;
    }
    return 0;
}

const char *rt_cgi_env_get(const rt_cgi_env *env, const char *key)
{
    size_t len = strlen(key);
    for (int i = 0; i < env->count; i++)
        if (strncmp(env->vars[i], key, len) == 0 && env->vars[i][len] == '=')
            return env->vars[i] + len + 1;
    return NULL;
}

void rt_cgi_env_free(rt_cgi_env *env)
{
    for (int i = 0; i < env->count; i++)
        free(env->vars[i]);
    env->count = 0;
    env->vars[0] = NULL;
}
