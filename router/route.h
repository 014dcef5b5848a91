/*
 * route.h - the interface between online-game and a route module.
 *
 * This is the only project header a module includes. It is the server's
 * counterpart of WSGI's application(environ, start_response): a module is
 * one C file in cgi-bin/, built by `make` into cgi-bin/<name>.so, and it
 * answers every request for /<name> and /<name>/... (see cgi-bin/README.md).
 *
 * A module exports exactly one symbol, named `online_game_module`:
 *
 *     #include "../router/route.h"
 *
 *     static int handle(const rt_request *req, rt_response *resp)
 *     {
 *         resp->api->set_header(resp, "Content-Type", "text/plain");
 *         resp->api->printf(resp, "hello, %s\n", req->remote_addr);
 *         return RT_OK;
 *     }
 *
 *     const rt_module online_game_module = {
 *         .abi_version = RT_ABI_VERSION,
 *         .name = "hello",
 *         .methods = "GET, POST",
 *         .handle = handle,
 *     };
 *
 * Everything the server offers is reached through function pointers in
 * the structs (req->api->..., resp->api->...), so a module never links
 * against the server binary and needs no -rdynamic.
 *
 * Threading: the server runs one thread per connection, so handle() runs
 * on many threads at once, and on a new version of the module while the
 * old one finishes its requests. Keep per-request state on the stack or in
 * the request arena; protect anything static with a mutex or atomics.
 *
 * Trust: the server checks the interface (symbol, ABI version, return
 * values, header syntax) and turns every mistake into a 500 and an error
 * log line. It cannot protect itself from a module that crashes or
 * corrupts memory: module code runs inside the server process.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a struct below changes layout or meaning. A module
 * built against another version is refused (500, logged). */
#define RT_ABI_VERSION 1

/* Return values of handle(). (router.h defines RT_DECLINED identically.) */
#define RT_OK 0        /* send the response built in resp              */
#define RT_DECLINED 1  /* not mine: try CGI scripts, then static files  */
#define RT_ERROR (-1)  /* failure: the client gets a generic 500        */

/* Levels for req->api->log (the server's error log). */
#define RT_LOG_DEBUG 0
#define RT_LOG_INFO 1
#define RT_LOG_WARN 2
#define RT_LOG_ERROR 3

typedef struct rt_request rt_request;
typedef struct rt_response rt_response;
struct json_t; /* jansson's json_t; include <jansson.h> to build values */

/*
 * Functions the server offers on a request. Every string they return is
 * NUL-terminated and lives until handle() returns; the caller never frees.
 */
typedef struct rt_request_api {
    /* First header with this name (case-insensitive), or NULL. */
    const char *(*header)(const rt_request *req, const char *name);
    /* The i-th header (0 <= i < req->nheaders): sets *name and *value. */
    void (*header_at)(const rt_request *req, int i, const char **name,
                      const char **value);
    /* The first query parameter called `name`, percent-decoded ('+' is a
     * space): "/hello?who=a%20b" -> "a b". "" for "?flag", NULL if absent. */
    const char *(*query_param)(const rt_request *req, const char *name);
    /* Per-request arena: memory freed by the server after the response
     * is sent. alloc returns zeroed, max_align_t aligned memory, or NULL
     * when the arena limit (RT_ARENA_MAX) is reached. */
    void *(*alloc)(const rt_request *req, size_t size);
    char *(*strdup)(const rt_request *req, const char *s);
    /* One line in the error log, tagged with the module and connection. */
    void (*log)(const rt_request *req, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
} rt_request_api;

/* Total bytes one request may take from its arena. */
#define RT_ARENA_MAX (16u << 20)

/*
 * One HTTP request, read-only for the module. Every pointer is valid until
 * handle() returns (copy what you need to keep). Strings are NUL-terminated.
 */
struct rt_request {
    const rt_request_api *api;
    const char *method;      /* "GET", "POST", ...                         */
    const char *path;        /* as received, still %-encoded: "/hello/a%20b" */
    const char *path_info;   /* after /<name>, decoded: "/a b"; "" if none  */
    const char *query;       /* raw, after '?': "x=1&y=2"; "" if none       */
    const char *body;        /* the whole request body; "" if none          */
    size_t body_len;         /* (chunked bodies arrive already decoded)     */
    int nheaders;
    const char *remote_addr; /* client IP address, "127.0.0.1"              */
    int remote_port;
    uint64_t conn_id;        /* the connection's id in the server's logs    */
    void *server_private;    /* the server's; do not touch                  */
};

/*
 * Functions that build the response. Nothing is sent before handle()
 * returns RT_OK; until then everything is buffered in memory (up to
 * RT_BODY_MAX bytes of body). Functions returning int give 0, or -1 when
 * the value was refused (the response is left unchanged).
 */
typedef struct rt_response_api {
    /* 200..599; 200 unless set. 204 and 304 send no body. */
    int (*set_status)(rt_response *resp, int status);
    /* Adds a header line. Content-Type replaces the default
     * ("text/plain; charset=utf-8"). Names must be tokens, values must not
     * hold CR, LF or other control characters. The server owns
     * Content-Length, Transfer-Encoding, Connection, Date and Server:
     * setting those is refused. A value over 1024 bytes is refused too.
     * Returns 0, or -1 when refused. */
    int (*set_header)(rt_response *resp, const char *name, const char *value);
    /* Appends bytes / formatted text to the body. */
    int (*write)(rt_response *resp, const void *data, size_t len);
    int (*printf)(rt_response *resp, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* Sets status, Content-Type: application/json and the body to the
     * compact serialisation of `value`. Does not take the reference:
     * the module still json_decref()s its value. */
    int (*json)(rt_response *resp, int status, struct json_t *value);
} rt_response_api;

#define RT_BODY_MAX (64u << 20)

/* The response being built; its fields are the server's. */
struct rt_response {
    const rt_response_api *api;
    void *server_private;
};

/*
 * The module descriptor: export it as
 *     const rt_module online_game_module = { ... };
 */
typedef struct rt_module {
    int abi_version;         /* RT_ABI_VERSION                              */
    const char *name;        /* for logs; the URL name is the file's name   */
    /* Methods accepted, comma separated: "GET, POST". NULL = any method.
     * Others get 405 with this list in Allow. HEAD is accepted whenever
     * GET is (the server drops the body). */
    const char *methods;
    /* Optional. Called once after loading, before any handle(), on one
     * thread. Nonzero = the module is unusable (500, logged). */
    int (*init)(void);
    /* Optional. Called once before unloading, after the last handle() of
     * this loaded copy has returned (on any thread). */
    void (*fini)(void);
    /* Required. RT_OK, RT_DECLINED or RT_ERROR (see above). */
    int (*handle)(const rt_request *req, rt_response *resp);
} rt_module;

/* The symbol name the server looks up with dlsym. The declaration lets
 * the compiler check a module's definition against this type. */
#define RT_MODULE_SYMBOL "online_game_module"
extern const rt_module online_game_module;

#endif /* ROUTE_H */
