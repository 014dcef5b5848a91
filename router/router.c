/*
 * router.c - decides who answers a request; the wsgiref "application"
 * that http_serve (server/http_conn.c) calls once per request.
 *
 * The order, each step declining (RT_DECLINED) to pass the request on:
 *   0. an unknown method is 501 before anything else; "OPTIONS *" (a
 *      question about the server as a whole) gets 200 and the methods
 *      the server knows in Allow;
 *   1. WebSocket endpoints (ws_route, websocket/);
 *   2. the raw path is normalised (path.c); a refused path gets its
 *      status (400/403) and a WARN line naming the peer and the target;
 *   3. "/name/rest" with a plain name ([A-Za-z0-9_-]+): the route module
 *      cgi-bin/name.so (module.c), then a CGI script cgi-bin/name.*
 *      (cgi.c), with "/rest" as PATH_INFO;
 *   4. static files (static.c), for GET and HEAD only (others: 405).
 */
#include "router.h"
#include "../websocket/websocket.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int rt_init(const srv_config *cfg)
{
    struct stat st;
    if (stat(cfg->root, &st) != 0) {
        srv_log(SRV_LOG_ERROR, 0, "document root %s: %s", cfg->root,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        srv_log(SRV_LOG_ERROR, 0, "document root %s is not a directory",
                cfg->root);
        return -1;
    }
    rt_static_init(cfg->root);
    return 0;
}

void rt_shutdown(void)
{
    rt_modules_unload_all();
}

/* Splits "/name/rest" into name ("name") and the rest ("/rest", or ""
 * for "/name"). Returns false if the first segment does not fit. */
static bool split_first_segment(const char *path, char name[RT_NAME_MAX + 1],
                                const char **rest)
{
    const char *start = path + 1;
    const char *end = strchr(start, '/');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len > RT_NAME_MAX)
        return false;       /* too long to be a module name */
    memcpy(name, start, len);
    name[len] = '\0';
    *rest = start + len;
    return true;
}

/* Step 3: a route module, then a CGI script, named by the first segment. */
static int try_programs(http_request *req, const char *path)
{
    char name[RT_NAME_MAX + 1];
    const char *path_info;
    if (!split_first_segment(path, name, &path_info) || !rt_name_is_valid(name))
        return RT_DECLINED;
    int r = rt_module_try(req, name, path_info);
    if (r != RT_DECLINED)
        return r;
    return rt_cgi_try(req, name, path_info);
}

/* Steps 2 to 4. Kept out of rt_dispatch so that its PATH_MAX buffer is
 * not on the stack for the whole life of a WebSocket connection. */
__attribute__((noinline)) static int dispatch_by_path(http_request *req)
{
    char path[PATH_MAX];
    int status = rt_path_normalize(req->path, path, sizeof path);
    if (status != 0) {
        srv_log(SRV_LOG_WARN, req->conn ? req->conn->id : 0,
                "refused path (%d) from %s: %.300s", status,
                req->conn ? req->conn->peer_ip : "?", req->target);
        return http_send_error(req, status);
    }

    int r = try_programs(req, path);
    if (r != RT_DECLINED)
        return r;

    if (req->method_id != HTTP_GET && req->method_id != HTTP_HEAD)
        return http_send_405(req, "GET, HEAD");
    return rt_static_serve(req, path);
}

/* Methods some resource on this server answers (RFC 9110 9.3.7). */
#define SERVER_METHODS "GET, HEAD, POST, OPTIONS"

/* "OPTIONS *": 200, an empty body and the server-wide Allow. */
static int send_server_options(http_request *req)
{
    http_response resp;
    http_response_init(&resp, 200);
    http_response_add_header(&resp, "Allow", "%s", SERVER_METHODS);
    return http_send(req, &resp);
}

int rt_dispatch(http_request *req)
{
    if (req->method_id == HTTP_OTHER)
        return http_send_error(req, 501);
    if (req->method_id == HTTP_OPTIONS && strcmp(req->target, "*") == 0)
        return send_server_options(req);

    int r = ws_route(req);
    if (r != RT_DECLINED)
        return r;
    return dispatch_by_path(req);
}
