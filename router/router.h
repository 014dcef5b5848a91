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
 * Only one "bytes=" range is honoured. Returns 1 with *start and *len set for
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

/* True if name is a plain module/script name: [A-Za-z0-9_-]+, at most
 * RT_NAME_MAX bytes. */
#define RT_NAME_MAX 64
bool rt_name_is_valid(const char *name);

/* name.c: resolves dir/file with realpath into out and checks that it is a
 * regular file inside realpath(dir) (a symlink may point elsewhere in dir,
 * never outside it). Returns 0, or -1 with errno: ENOENT (missing), EACCES
 * (outside dir or not a regular file), ENAMETOOLONG. */
int rt_resolve_in_dir(const char *dir, const char *file, char *out,
                      size_t out_size);

/* module.c: true if the module's .methods list ("GET, POST"; NULL = any)
 * admits method (HEAD is admitted with GET). rt_methods_valid checks the
 * list is safe to echo in an Allow header: tokens separated by ", ". */
bool rt_methods_allow(const char *methods, const char *method);
bool rt_methods_valid(const char *methods);

/* module_elf.c: checks that the open file fd is a complete shared object
 * for this machine (every segment inside the file), so dlopen cannot
 * fault on a truncated one. 0, or -1 with *why set. */
int rt_module_elf_check(int fd, char *why, size_t why_size);

/* module_api.c: one call of a module's handler - the rt_request and
 * rt_response (route.h) built around an http_request, their arena and
 * body buffer. rt_call_send turns the result into an http_send. */
typedef struct rt_call rt_call;
struct rt_request;
struct rt_response;
rt_call *rt_call_begin(http_request *req, const char *path_info,
                       const char *module_name);
struct rt_request *rt_call_request(rt_call *call);
struct rt_response *rt_call_response(rt_call *call);
int rt_call_send(rt_call *call);
void rt_call_end(rt_call *call);
/* Copies the first query parameter `name` of the raw query string,
 * percent-decoded ('+' = space), into out. Returns its length, -1 if
 * absent, -2 if it does not fit or holds a bad escape or a NUL. */
int rt_query_get(const char *query, const char *name, char *out,
                 size_t out_size);

/* cgi.c: finds the script for name: the first (in byte order) executable
 * regular file cgi_dir/<name>.<ext> with ext in [A-Za-z0-9]+, other than
 * .so, .c, .h, .o, .d and .md. Writes its real path. 0, or -1 if none. */
int rt_cgi_find_script(const char *cgi_dir, const char *name, char *out,
                       size_t out_size);

/* cgi_run.c: runs one CGI process and collects its output. */
typedef struct rt_cgi_result {
    char *out;          /* stdout (malloc'd, NUL-terminated), caller frees */
    size_t out_len;
    bool timed_out;     /* killed at the deadline: 504                     */
    bool too_big;       /* killed: stdout passed RT_CGI_MAX_OUTPUT: 502    */
    int wait_status;    /* from waitpid, -1 if unknown                      */
} rt_cgi_result;
#define RT_CGI_MAX_OUTPUT (16u << 20)
/* Starts script (argv[0] = script, working directory = its directory)
 * with envp in a new process group, feeds body to its stdin, reads its
 * stdout, logs its stderr lines (tagged with name and conn_id), kills the
 * group at timeout_ms and always reaps it. Returns 0 (see *res), or -1 if
 * the script could not be started (logged). */
int rt_cgi_run(const char *script, char *const envp[], const char *body,
               size_t body_len, int timeout_ms, const char *name,
               uint64_t conn_id, rt_cgi_result *res);

/* cgi_env.c: the RFC 3875 meta-variables for one request, as an envp
 * array for execve: "NAME=value" strings, NULL-terminated. */
#define RT_CGI_MAX_ENV (HTTP_MAX_HEADERS + 24)
typedef struct rt_cgi_env {
    char *vars[RT_CGI_MAX_ENV + 1];
    int count;
} rt_cgi_env;
/* Returns 0, or -1 when out of memory (env is then empty). */
int rt_cgi_env_build(rt_cgi_env *env, const http_request *req,
                     const char *name, const char *path_info);
/* The value of one variable, or NULL. */
const char *rt_cgi_env_get(const rt_cgi_env *env, const char *key);
void rt_cgi_env_free(rt_cgi_env *env);

/* cgi_parse.c: parses the header block at the start of a CGI script's
 * output (RFC 3875 section 6), in place: names and values become
 * NUL-terminated strings inside buf. */
#define RT_CGI_MAX_HEADERS 64
typedef struct rt_cgi_head {
    int status;               /* Status:, else 302 with Location, else 200 */
    const char *content_type; /* NULL if absent                            */
    const char *location;     /* NULL if absent                            */
    http_header headers[RT_CGI_MAX_HEADERS]; /* the other header fields    */
    int nheaders;
    size_t body_offset;       /* the body starts at buf + body_offset      */
} rt_cgi_head;
/* Returns 0, or -1 when the block is malformed (the client gets 502) with
 * *why set to a static reason for the error log. */
int rt_cgi_parse_head(char *buf, size_t len, rt_cgi_head *head,
                      const char **why);
/* True for a header field name made of RFC 9110 token characters. */
bool rt_header_name_valid(const char *name);
/* True for a value without control characters other than tab. */
bool rt_header_value_valid(const char *value);
/* True for headers only the server may write (Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Date, Server). */
bool rt_header_is_server_owned(const char *name);

#endif /* ROUTER_H */
