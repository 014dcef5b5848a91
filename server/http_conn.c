/*
 * http_conn.c - one connection's request loop; socketserver's
 * BaseRequestHandler.handle() for HTTP/1.1.
 *
 *   loop:  read the request head   (within --header-timeout; an idle
 *                                   keep-alive wait ends after
 *                                   --keepalive-timeout or at shutdown)
 *          parse it                (http_parse.c)
 *          read the body           (Content-Length or chunked, within
 *                                   --body-timeout and --min-rate: 408)
 *          rt_dispatch()           (router/: answers the request)
 *          keep the leftover bytes (pipelined requests) and go on
 *
 * The state (the request and its buffer) belongs to this connection's
 * thread alone and lives on the heap, not the stack: a WebSocket
 * connection keeps its thread for hours, and gives the state back right
 * after the handshake with http_release(). The request's strings point
 * into the buffer, so it is compacted only between requests.
 */
#include "server.h"
#include "../router/router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Extra room past the head limit, so a body can be read in big pieces. */
#define BODY_READ_ROOM (16 * 1024)
/* A chunked body's first buffer; it doubles as chunks need more. */
#define BODY_FIRST_STEP (16 * 1024)
/* How long a refused client gets to stop sending before we close. */
#define LINGER_MS 1000

typedef struct conn_buf {
    char *data;
    size_t cap;  /* bytes allocated                           */
    size_t len;  /* bytes received and not yet dropped         */
    size_t used; /* bytes that belong to the current request   */
} conn_buf;

/* One connection's HTTP state: c->http points at it until released. */
typedef struct http_state {
    http_request req;
    conn_buf buf;
    char bytes[]; /* the buffer itself */
} http_state;

static char empty_body[1];

/* Drops the previous request's bytes, keeping pipelined ones. */
static void drop_used(conn_buf *b)
{
    if (b->used == 0)
        return;
    memmove(b->data, b->data + b->used, b->len - b->used);
    b->len -= b->used;
    b->used = 0;
}

/* Skips empty lines before a request line (RFC 9112 section 2.2). */
static void skip_leading_newlines(conn_buf *b)
{
    size_t i = 0;
    while (i < b->len && (b->data[i] == '\r' || b->data[i] == '\n'))
        i++;
    if (i) {
        memmove(b->data, b->data + i, b->len - i);
        b->len -= i;
    }
}

/* 414 if the request line alone is too long, else 431. */
static int too_large_status(const conn_buf *b, size_t limit)
{
    return memchr(b->data, '\n', limit) ? 431 : 414;
}

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until a whole head is buffered. The wait for its first byte is
 * the keep-alive timeout (the header timeout on a new connection); from
 * that byte on, the whole head must arrive within the header timeout, so
 * a client dribbling a byte a second (slowloris) is cut off.
 * Returns 0 with *head_len set, an HTTP status to answer with (408, 414,
 * 431), or -1 to close quietly. */
static int read_head(srv_conn *c, conn_buf *b, bool first, size_t *head_len)
{
    const srv_config *cfg = srv_cfg();
    size_t limit = cfg->max_header_bytes;
    int idle_timeout = first ? cfg->header_timeout_ms : cfg->keepalive_timeout_ms;
    int64_t deadline = -1;

    for (;;) {
        skip_leading_newlines(b);
        size_t end = http_head_end(b->data, b->len);
        if (end)
            return end > limit ? too_large_status(b, limit) : (*head_len = end, 0);
        if (b->len >= limit)
            return too_large_status(b, limit);
        if (b->len > 0 && deadline < 0) /* the clock for the head starts */
            deadline = clock_ms() + cfg->header_timeout_ms;
        int timeout = idle_timeout;
        if (deadline >= 0)
            timeout = deadline > clock_ms() ? (int)(deadline - clock_ms()) : 0;
        ssize_t n = srv_conn_read(c, b->data + b->len, b->cap - b->len, timeout);
        if (n > 0) {
            b->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == ETIMEDOUT && b->len > 0) {
            srv_log(SRV_LOG_INFO, c->id, "%s: request head not complete in time: 408", c->peer_ip);
            return 408;
        }
        return -1; /* EOF, idle timeout, shutdown or a socket error */
    }
}

/* The clock for a request body. Each read must come within
 * --header-timeout, as for the head; and the whole body must arrive within
 * --body-timeout plus one second per --min-rate bytes received. A client
 * sending a byte every few seconds earns almost no time and is cut off
 * (408) soon after --body-timeout, while an upload averaging --min-rate
 * (1 KiB/s by default: far below any real link) never is, however large
 * --max-body-size is. */
typedef struct body_clock {
    int64_t start;
    uint64_t got; /* body bytes received from the socket */
} body_clock;

static body_clock body_clock_start(void)
{
    return (body_clock){ .start = clock_ms() };
}

/* Milliseconds the next read may wait (0: the body is overdue). */
static int body_read_timeout(const body_clock *bc)
{
    const srv_config *cfg = srv_cfg();
    int64_t deadline = bc->start + cfg->body_timeout_ms +
                       (int64_t)(bc->got * 1000 / (cfg->min_rate ? cfg->min_rate : 1));
    int64_t left = deadline - clock_ms();
    if (left < 0)
        left = 0;
    return left < cfg->header_timeout_ms ? (int)left : cfg->header_timeout_ms;
}

/* Reads some body bytes into dst[0..len) within the body clock. Returns
 * 0 with *got > 0, 408 when the client is too slow, or -1 (it is gone, a
 * socket error, or shutdown). */
static int read_body_bytes(srv_conn *c, body_clock *bc, char *dst, size_t len, size_t *got)
{
    ssize_t n = srv_conn_read(c, dst, len, body_read_timeout(bc));
    if (n > 0) {
        bc->got += (uint64_t)n;
        *got = (size_t)n;
        return 0;
    }
    if (n < 0 && errno == ETIMEDOUT) {
        srv_log(SRV_LOG_INFO, c->id, "%s: request body too slow (%llu bytes in %lld ms): 408",
                c->peer_ip, (unsigned long long)bc->got, (long long)(clock_ms() - bc->start));
        return 408;
    }
    return -1;
}

static int read_fixed_body(srv_conn *c, conn_buf *b, http_request *req, size_t head_len)
{
    size_t want = (size_t)req->content_length;
    char *body = malloc(want + 1);
    if (!body)
        return 500;
    size_t have = b->len - head_len;
    if (have > want)
        have = want;
    memcpy(body, b->data + head_len, have);
    b->used = head_len + have;
    body_clock clock = body_clock_start();
    while (have < want) {
        size_t got = 0;
        int st = read_body_bytes(c, &clock, body + have, want - have, &got);
        if (st != 0) {
            free(body);
            return st;
        }
        have += got;
    }
    body[want] = '\0';
    req->body = body;
    req->body_len = want;
    return 0;
}

/* The decoder refused a chunk that does not fit (HTTP_CHUNKED_TOO_LARGE):
 * grows the body to hold it, doubling, up to --max-body-size. The decoder
 * keeps its place, so decoding then resumes. Returns 0, 413 or 500. */
static int grow_chunked_body(char **body, size_t *cap, size_t len, uint64_t chunk)
{
    size_t limit = srv_cfg()->max_body_bytes;
    if (chunk > limit - len)
        return 413;
    size_t need = len + (size_t)chunk;
    size_t new_cap = *cap * 2 > need ? *cap * 2 : need;
    if (new_cap > limit)
        new_cap = limit;
    char *grown = realloc(*body, new_cap + 1);
    if (!grown)
        return 500;
    *body = grown;
    *cap = new_cap;
    return 0;
}

/* Reads a chunked body into a buffer that starts at BODY_FIRST_STEP and
 * grows as the chunks announce more, so a small body never costs
 * --max-body-size of memory. */
static int read_chunked_body(srv_conn *c, conn_buf *b, http_request *req, size_t head_len)
{
    size_t limit = srv_cfg()->max_body_bytes;
    size_t cap = limit < BODY_FIRST_STEP ? limit : BODY_FIRST_STEP;
    char *body = malloc(cap + 1);
    size_t body_len = 0;
    body_clock clock = body_clock_start();
    http_chunked st;

    if (!body)
        return 500;
    http_chunked_init(&st);
    b->used = head_len;
    for (;;) {
        size_t consumed = 0;
        int rc = http_chunked_decode(&st, b->data + b->used, b->len - b->used, &consumed, body,
                                     &body_len, cap);
        b->used += consumed;
        if (rc == HTTP_CHUNKED_DONE)
            break;
        int status = 0;
        if (rc == HTTP_CHUNKED_TOO_LARGE)
            status = grow_chunked_body(&body, &cap, body_len, st.chunk_left);
        else if (rc == HTTP_CHUNKED_BAD)
            status = 400;
        if (status == 0 && rc == HTTP_CHUNKED_MORE) {
            /* Keep the head where it is; refill the space after it. */
            memmove(b->data + head_len, b->data + b->used, b->len - b->used);
            b->len = head_len + (b->len - b->used);
            b->used = head_len;
            size_t got = 0;
            status = read_body_bytes(c, &clock, b->data + b->len, b->cap - b->len, &got);
            b->len += got;
        }
        if (status != 0) {
            free(body);
            return status;
        }
    }
    body[body_len] = '\0';
    req->body = body;
    req->body_len = body_len;
    return 0;
}

/* Reads the body the head announced. Returns 0, an HTTP status, or -1. */
static int read_body(srv_conn *c, conn_buf *b, http_request *req, size_t head_len)
{
    static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    bool has_body = req->chunked || req->content_length > 0;

    req->body = empty_body;
    req->body_len = 0;
    b->used = head_len;
    if (req->content_length > (int64_t)srv_cfg()->max_body_bytes)
        return 413;
    if (has_body && req->expect_continue && req->version_minor == 1 &&
        srv_conn_write_all(c, continue_line, sizeof continue_line - 1) < 0)
        return -1;
    if (req->chunked)
        return read_chunked_body(c, b, req, head_len);
    if (req->content_length > 0)
        return read_fixed_body(c, b, req, head_len);
    return 0;
}

/* After an error answer the client may still be sending (a body we
 * refused, say). Closing with unread bytes makes the kernel send a reset
 * that can destroy our answer before the client reads it, so stop
 * writing, then read and discard for a moment (at most LINGER_MS). */
static void linger_close(srv_conn *c, conn_buf *b)
{
    int64_t until = clock_ms() + LINGER_MS;
    shutdown(c->fd, SHUT_WR);
    while (clock_ms() < until) {
        ssize_t n = srv_conn_read(c, b->data, b->cap, (int)(until - clock_ms()));
        if (n <= 0)
            break;
    }
}

/* Reads, parses and answers one request. Returns 0 to go on, -1 to stop. */
static int serve_one(srv_conn *c, http_state *hs, bool first)
{
    http_request *req = &hs->req;
    conn_buf *b = &hs->buf;
    size_t head_len = 0;

    memset(req, 0, sizeof *req);
    req->conn = c;
    req->version_minor = 1;
    req->content_length = -1;

    int st = read_head(c, b, first, &head_len);
    if (st == 0)
        st = http_parse_head(b->data, head_len, req, srv_cfg()->max_uri_bytes);
    if (st == 0)
        st = read_body(c, b, req, head_len);
    if (st < 0)
        return -1;
    if (st > 0) {
        srv_log(SRV_LOG_INFO, c->id, "%s: bad request: %d %s", c->peer_ip, st, http_status_text(st));
        req->keep_alive = false;
        if (http_send_error(req, st) == 0 || req->status_sent)
            linger_close(c, b);
        return -1;
    }
    int rc = rt_dispatch(req);
    if (!c->http)
        return -1; /* taken over (WebSocket): the state is gone */
    if (req->body != empty_body)
        free(req->body);
    if (rc < 0 || !req->keep_alive || srv_shutting_down())
        return -1;
    return 0;
}

void http_release(http_request *req)
{
    srv_conn *c = req->conn;
    http_state *hs = c ? c->http : NULL;
    if (!hs || req != &hs->req)
        return;
    if (req->body != empty_body)
        free(req->body);
    c->http = NULL;
    free(hs);
}

void http_serve(srv_conn *c)
{
    size_t cap = srv_cfg()->max_header_bytes + BODY_READ_ROOM;
    http_state *hs = malloc(sizeof *hs + cap);

    if (!hs) {
        srv_log(SRV_LOG_ERROR, c->id, "out of memory for a connection buffer");
        return;
    }
    hs->buf = (conn_buf){ .data = hs->bytes, .cap = cap };
    c->http = hs;
    for (bool first = true; serve_one(c, hs, first) == 0; first = false)
        drop_used(&hs->buf);
    if (c->http)
        free(c->http);
    c->http = NULL;
}
