/*
 * ws_upgrade.c - the opening handshake on the HTTP side (RFC 6455 4.2).
 *
 * The router calls ws_route for every request first. If the path is a
 * WebSocket endpoint, the request must be a valid upgrade:
 *   GET, HTTP/1.1                                     else 405 / 400
 *   Upgrade: websocket, Connection: ..., upgrade      else 426 (Upgrade: websocket)
 *   Sec-WebSocket-Key: base64 of 16 bytes             else 400
 *   Sec-WebSocket-Version: 13                         else 426 (Sec-WebSocket-Version: 13)
 *   Origin allowed by --allowed-origins               else 403
 * Then "101 Switching Protocols" goes out and this same thread serves the
 * WebSocket connection (ws_conn_serve) until it closes.
 *
 * The Origin policy stops a page on another site from opening a socket
 * with the player's cookies (cross-site WebSocket hijacking):
 *   ""    (default) the Origin's host[:port] must be the Host header
 *   "*"   any origin
 *   list  comma-separated origins, "http://example.com:8080, https://x.org"
 * A request without Origin is not from a browser page and is allowed.
 *
 * No shared state.
 */
#include "websocket.h"

#include "../router/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A refusal: status, one optional extra header, and a plain-text reason. */
typedef struct refusal {
    int status;
    const char *header, *value;
    const char *reason;
} refusal;

/* Compares a[0..alen) with the NUL-terminated b, case-insensitively. */
static bool equal_nocase(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Length of an origin without trailing slashes ("http://h:1/" -> "http://h:1"). */
static size_t origin_len(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] == '/')
        len--;
    return len;
}

/* Default policy: the origin's authority (after "scheme://") is the Host. */
static bool same_host(const char *origin, const char *host)
{
    const char *authority = strstr(origin, "://");
    if (!authority || !host)
        return false;
    authority += 3;
    return equal_nocase(authority, origin_len(authority, strlen(authority)), host);
}

/* Is origin one of the comma-separated entries of list? */
static bool in_list(const char *list, const char *origin)
{
    size_t olen = origin_len(origin, strlen(origin));
    const char *p = list;
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t item = n;
        while (item > 0 && (p[item - 1] == ' ' || p[item - 1] == '\t'))
            item--;
        item = origin_len(p, item);
        if (item > 0 && item == olen && strncasecmp(p, origin, olen) == 0)
            return true;
        p += n;
    }
    return false;
}

static bool origin_allowed(const http_request *req)
{
    const char *origin = http_header_get(req, "Origin");
    const srv_config *cfg = srv_cfg();
    const char *policy = cfg ? cfg->allowed_origins : "";

    if (!origin || strcmp(policy, "*") == 0)
        return true;
    if (policy[0] == '\0')
        return same_host(origin, http_header_get(req, "Host"));
    return in_list(policy, origin);
}

/* Checks the handshake; returns a refusal with status 0 if it is fine. */
static refusal check_handshake(const http_request *req)
{
    const char *key = http_header_get(req, "Sec-WebSocket-Key");
    const char *version = http_header_get(req, "Sec-WebSocket-Version");

    if (req->method_id != HTTP_GET)
        return (refusal){ 405, "Allow", "GET", "a WebSocket handshake is a GET request" };
    if (req->version_minor < 1)
        return (refusal){ 400, NULL, NULL, "a WebSocket handshake needs HTTP/1.1" };
    if (!http_header_has_token(req, "Upgrade", "websocket") ||
        !http_header_has_token(req, "Connection", "upgrade"))
        return (refusal){ 426, "Upgrade", "websocket",
                          "this is a WebSocket endpoint: send Upgrade: websocket and Connection: Upgrade" };
    if (!version || strcmp(version, "13") != 0)
        return (refusal){ 426, "Sec-WebSocket-Version", "13", "only WebSocket version 13 is supported" };
    if (!key || !ws_handshake_key_valid(key))
        return (refusal){ 400, NULL, NULL, "Sec-WebSocket-Key must be base64 of 16 bytes" };
    if (!origin_allowed(req))
        return (refusal){ 403, NULL, NULL, "this Origin may not open WebSocket connections here" };
    return (refusal){ 0, NULL, NULL, NULL };
}

static int send_refusal(http_request *req, const refusal *r)
{
    char body[160];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", r->status,
                     http_status_text(r->status), r->reason);
    http_response resp;
    http_response_init(&resp, r->status);
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = body;
    resp.body_len = n > 0 ? (size_t)n : 0;
    resp.close = r->status == 400;
    if (r->header)
        http_response_add_header(&resp, r->header, "%s", r->value);
    if (r->status == 403)
        srv_log(SRV_LOG_INFO, req->conn ? req->conn->id : 0,
                "websocket %s: origin %s refused", req->path, http_header_get(req, "Origin"));
    return http_send(req, &resp);
}

/* Sends 101 Switching Protocols. Returns http_send's result. The
 * response (2 KiB of header room) lives on the heap: every page of stack
 * this thread touches stays with the connection for its whole life. */
static int send_switching(http_request *req, const ws_endpoint *ep)
{
    char accept[29];
    ws_handshake_accept(http_header_get(req, "Sec-WebSocket-Key"), accept);

    http_response *resp = malloc(sizeof *resp);
    if (!resp)
        return -1;
    http_response_init(resp, 101);
    resp->no_body = true;
    http_response_add_header(resp, "Upgrade", "websocket");
    http_response_add_header(resp, "Connection", "Upgrade");
    http_response_add_header(resp, "Sec-WebSocket-Accept", "%s", accept);
    /* Only a protocol the endpoint speaks, and only if the client asked. */
    if (ep->subprotocol && http_header_has_token(req, "Sec-WebSocket-Protocol", ep->subprotocol))
        http_response_add_header(resp, "Sec-WebSocket-Protocol", "%s", ep->subprotocol);
    int rc = http_send(req, resp);
    free(resp);
    return rc;
}

int ws_route(http_request *req)
{
    const ws_endpoint *ep = ws_endpoint_find(req->path);
    if (!ep)
        return RT_DECLINED;

    refusal r = check_handshake(req);
    if (r.status)
        return send_refusal(req, &r);

    ws_conn *c = ws_conn_new(req->conn->id, ep);
    if (!c) {
        srv_log(SRV_LOG_ERROR, req->conn->id, "websocket: out of memory or file descriptors");
        http_send_error(req, 503);
        return -1;
    }
    if (send_switching(req, ep) < 0) {
        ws_conn_unref(c);
        return -1;
    }
    ws_conn_serve(c, req->conn, req);
    return -1;
}
