/*
 * router.h - the public interface of router/: who answers a request.
 *
 * rt_dispatch tries, in order (documented in README.md):
 *   1. WebSocket endpoints          (websocket/, ws_route)
 *   2. route modules  /name[/...]   -> cgi-bin/name.so     (module.c)
 *   3. CGI scripts    /name[/...]   -> cgi-bin/name.*      (cgi.c)
 *   4. static files from www/                              (static.c)
 * Each step may decline (RT_DECLINED) so the next one is tried.
 *
 *   router.c  the dispatch order above
 *   path.c    percent-decoding and path normalisation
 *   mime.c    file extension -> Content-Type
 *   range.c   the Range header
 *   static.c  static files: index.html, ETag, 304, 206, sendfile
 *   module.c  dlopen'd route modules, cached, hot-reloaded
 *   cgi.c     CGI/1.1 scripts (RFC 3875)
 *
 * Module authors include only route.h, never this file.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include "../server/server.h"

#include <stdint.h>

/* Returned by a step that does not handle the request. Any other return
 * is http_send's: 0 = the connection may continue, -1 = close it. */
#define RT_DECLINED 1

/* Called once before serving / after the last connection ended. */
int rt_init(const srv_config *cfg);
void rt_shutdown(void);

/* Answers one request (always sends a response). 0 keep-alive, -1 close. */
int rt_dispatch(http_request *req);

/* path.c: percent-decodes raw (a request path, without the query) and
 * normalises it: collapses "//", resolves "." and refuses ".." that
 * would climb above "/". The result starts with "/". Returns 0, or an
 * HTTP status: 400 (bad escape, NUL, not starting with "/"), 403 (".."
 * above the root, or an encoded "/" or "\"). */
int rt_path_normalize(const char *raw, char *out, size_t out_size);

/* mime.c: Content-Type for a file name by its extension; never NULL
 * ("application/octet-stream" when unknown). */
const char *rt_mime_type(const char *filename);

/* range.c: parses a Range header against a resource of `size` bytes.
 * Only one "bytes=" range is honoured. Returns 1 with *start/*len set for
 * a satisfiable range (206), 0 when the header is to be ignored (serve
 * the whole file: 200), -1 when unsatisfiable (416). */
int rt_parse_range(const char *header, uint64_t size, uint64_t *start,
                   uint64_t *len);

/* static.c: serves `path` (already normalised) from the document root. */
int rt_static_serve(http_request *req, const char *path);
void rt_static_init(const char *root);

/* module.c: if cgi-bin/<name>.so exists, loads (or reuses) it and calls
 * its handler. Returns RT_DECLINED when there is no such module or the
 * module declines. */
int rt_module_try(http_request *req, const char *name, const char *path_info);
void rt_modules_unload_all(void);

/* cgi.c: if cgi-bin/<name>.* is an executable script, runs it. */
int rt_cgi_try(http_request *req, const char *name, const char *path_info);

/* True if name is a plain module/script name: [A-Za-z0-9_-]+ */
bool rt_name_is_valid(const char *name);

#endif /* ROUTER_H */
