/*
 * module_api.c - the server side of route.h: what a module's handler sees
 * and how what it built becomes an HTTP response.
 *
 * module.c decides which module answers; this file wraps the http_request
 * into an rt_request (with a per-request arena), collects the module's
 * rt_response (status, headers, body in memory) and sends it with
 * http_send. One rt_call lives for one handler call, on one thread, so
 * nothing here needs a lock.
 */
#include "router.h"
#include "route.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARENA_BLOCK_SIZE 8192
#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"
/* Longest header value a module may set: with the server's own lines it
 * keeps the response head within http_send's fixed buffers (2 KiB). */
#define HEADER_VALUE_MAX 1024

/* A block of arena memory; data is aligned for any type. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap; /* bytes of data */
    max_align_t data[];
} arena_block;

struct rt_call {
    rt_request request;
    rt_response response;
    http_request *http;
    const char *module_name;
    arena_block *arena;       /* newest block first */
    size_t arena_total;
    http_response head;       /* status and extra headers */
    const char *content_type; /* in the arena, or a literal */
    char *body;               /* malloc'd, grows by doubling */
    size_t body_len, body_cap;
};

static rt_call *call_of(const rt_request *req)
{
    return req->server_private;
}

/* ---- the arena ---- */

static void *arena_alloc(rt_call *call, size_t size)
{
    size_t align = sizeof(max_align_t);
    if (size > RT_ARENA_MAX)
        return NULL;
    size = (size + align - 1) / align * align;
    arena_block *b = call->arena;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
        if (call->arena_total + cap > RT_ARENA_MAX)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = call->arena;
        b->used = 0;
        b->cap = cap;
        call->arena = b;
        call->arena_total += cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static void arena_free(rt_call *call)
{
    while (call->arena != NULL) {
        arena_block *next = call->arena->next;
        free(call->arena);
        call->arena = next;
    }
}

/* ---- the query string ---- */

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) (%XX and '+') into out. Returns the decoded length,
 * or -2 on a bad escape, an encoded NUL, or no room. */
static int form_decode(const char *s, size_t len, char *out, size_t out_size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= len)
                return -2;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -2;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= out_size)
            return -2;
        out[n++] = ch;
    }
    out[n] = '\0';
    return (int)n;
}

int rt_query_get(const char *query, const char *name, char *out,
                 size_t out_size)
{
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t key_len = eq ? (size_t)(eq - p) : len;
        char key[256];
        if (form_decode(p, key_len, key, sizeof key) >= 0 &&
            strcmp(key, name) == 0) {
            if (eq == NULL) {
                if (out_size == 0)
                    return -2;
                out[0] = '\0';
                return 0;
            }
            return form_decode(eq + 1, len - key_len - 1, out, out_size);
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

/* ---- rt_request_api ---- */

static const char *req_header(const rt_request *req, const char *name)
{
    return http_header_get(call_of(req)->http, name);
}

static void req_header_at(const rt_request *req, int i, const char **name,
                          const char **value)
{
    const http_request *http = call_of(req)->http;
    bool ok = i >= 0 && i < http->nheaders;
    *name = ok ? http->headers[i].name : NULL;
    *value = ok ? http->headers[i].value : NULL;
}

static const char *req_query_param(const rt_request *req, const char *name)
{
    size_t size = strlen(req->query) + 1; /* decoding never grows */
    char *out = arena_alloc(call_of(req), size);
    if (out == NULL || rt_query_get(req->query, name, out, size) < 0)
        return NULL;
    return out;
}

static void *req_alloc(const rt_request *req, size_t size)
{
    return arena_alloc(call_of(req), size);
}

static char *req_strdup(const rt_request *req, const char *s)
{
    size_t len = strlen(s);
    char *copy = arena_alloc(call_of(req), len + 1);
    if (copy != NULL)
        memcpy(copy, s, len + 1);
    return copy;
}

static void req_log(const rt_request *req, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level < SRV_LOG_DEBUG || level > SRV_LOG_ERROR)
        level = SRV_LOG_ERROR;
    srv_log(level, req->conn_id, "module %s: %s", call_of(req)->module_name,
            msg);
}

static const rt_request_api request_api = {
    .header = req_header,
    .header_at = req_header_at,
    .query_param = req_query_param,
    .alloc = req_alloc,
    .strdup = req_strdup,
    .log = req_log,
};

/* ---- rt_response_api ---- */

static rt_call *call_of_resp(rt_response *resp)
{
    return resp->server_private;
}

static int resp_set_status(rt_response *resp, int status)
{
    if (status < 200 || status > 599)
        return -1;
    call_of_resp(resp)->head.status = status;
    return 0;
}

static int resp_set_header(rt_response *resp, const char *name,
                           const char *value)
{
    rt_call *call = call_of_resp(resp);
    if (!rt_header_name_valid(name) || !rt_header_value_valid(value) ||
        strlen(value) > HEADER_VALUE_MAX || rt_header_is_server_owned(name))
        return -1;
    if (strcasecmp(name, "Content-Type") == 0) {
        const char *copy = req_strdup(&call->request, value);
        if (copy == NULL)
            return -1;
        call->content_type = copy;
        return 0;
    }
    return http_response_add_header(&call->head, name, "%s", value);
}

static int body_reserve(rt_call *call, size_t extra)
{
    if (extra > RT_BODY_MAX - call->body_len)
        return -1;
    size_t need = call->body_len + extra + 1; /* + a NUL for printf */
    if (need <= call->body_cap)
        return 0;
    size_t cap = call->body_cap ? call->body_cap : 1024;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(call->body, cap);
    if (grown == NULL)
        return -1;
    call->body = grown;
    call->body_cap = cap;
    return 0;
}

static int resp_write(rt_response *resp, const void *data, size_t len)
{
    rt_call *call = call_of_resp(resp);
    if (len == 0)
        return 0;
    if (body_reserve(call, len) != 0)
        return -1;
    memcpy(call->body + call->body_len, data, len);
    call->body_len += len;
    return 0;
}

static int resp_printf(rt_response *resp, const char *fmt, ...)
{
    rt_call *call = call_of_resp(resp);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || body_reserve(call, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(call->body + call->body_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    call->body_len += (size_t)n;
    return 0;
}

static int resp_json(rt_response *resp, int status, json_t *value)
{
    rt_call *call = call_of_resp(resp);
    if (value == NULL || status < 200 || status > 599)
        return -1;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return -1;
    size_t saved = call->body_len;
    call->body_len = 0;
    int rc = resp_write(resp, text, strlen(text));
    free(text);
    if (rc != 0) {
        call->body_len = saved;
        return -1;
    }
    call->head.status = status;
    call->content_type = "application/json";
    return 0;
}

static const rt_response_api response_api = {
    .set_status = resp_set_status,
    .set_header = resp_set_header,
    .write = resp_write,
    .printf = resp_printf,
    .json = resp_json,
};

/* ---- one call ---- */

rt_call *rt_call_begin(http_request *req, const char *path_info,
                       const char *module_name)
{
    rt_call *call = calloc(1, sizeof *call);
    if (call == NULL)
        return NULL;
    call->http = req;
    call->module_name = module_name;
    call->content_type = DEFAULT_CONTENT_TYPE;
    http_response_init(&call->head, 200);
    call->request = (rt_request){
        .api = &request_api,
        .method = req->method,
        .path = req->path,
        .path_info = path_info ? path_info : "",
        .query = req->query ? req->query : "",
        .body = req->body ? req->body : "",
        .body_len = req->body ? req->body_len : 0,
        .nheaders = req->nheaders,
        .remote_addr = req->conn ? req->conn->peer_ip : "",
        .remote_port = req->conn ? req->conn->peer_port : 0,
        .conn_id = req->conn ? req->conn->id : 0,
        .server_private = call,
    };
    call->response = (rt_response){ .api = &response_api,
                                    .server_private = call };
    return call;
}

struct rt_request *rt_call_request(rt_call *call)
{
    return &call->request;
}

struct rt_response *rt_call_response(rt_call *call)
{
    return &call->response;
}

int rt_call_send(rt_call *call)
{
    http_response *head = &call->head;
    head->content_type = call->content_type;
    if (head->status == 204 || head->status == 304) {
        head->no_body = true;
        head->content_type = NULL;
    } else {
        head->body = call->body;
        head->body_len = call->body_len;
    }
    return http_send(call->http, head);
}

void rt_call_end(rt_call *call)
{
    if (call == NULL)
        return;
    arena_free(call);
    free(call->body);
    free(call);
}
