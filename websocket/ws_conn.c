/*
 * ws_conn.c - one WebSocket connection, served on its own thread.
 *
 * After ws_route has sent "101 Switching Protocols", the thread that
 * accepted the client runs ws_conn_serve: a loop that waits (srv_conn_poll)
 * on the socket and for a wake-up signal from other threads together, feeds
 * received bytes to the codec (ws_parser), hands complete messages to the
 * endpoint, answers pings, runs the closing handshake and the idle timers,
 * and writes whatever is waiting to be sent, many frames per writev.
 *
 * Two ways out, one order on the wire:
 *   - the direct buffer (wbuf): replies made on this thread (echo, pong)
 *     are encoded straight into it - no lock, no allocation per message -
 *     but only while the outbox is empty, so order is kept;
 *   - the outbox (ws_outbox.c): frames queued by other threads, and big
 *     or shared frames. Written after wbuf.
 * When more than ws_outbox_bytes are waiting, the loop stops reading: a
 * client that sends without reading only slows itself down.
 *
 * Shared state and its owner/lock:
 *   refs, open, wake_pending, close_req_*   atomics, any thread
 *   outbox                                  its own mutex, any thread
 *   thread, serving                         wake_lock, any thread
 *   id, ep, outbox_limit                    set at creation, read-only
 *   user                                    the endpoint's (see header)
 *   everything else (socket, parser, buffers, timers, state)
 *                                           the connection's thread only
 * No lock is ever held across a socket call: the outbox lock is taken
 * only to peek at and to consume frames, around the writev.
 */
#include "websocket.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_READ_BUF (16 * 1024)     /* bytes read per call                  */
#define WS_IOV_MAX 64               /* frames per writev                    */
#define WS_DIRECT_MAX 4096          /* own replies up to this use wbuf      */
#define WS_WBUF_MIN 4096
#define WS_CLOSE_TIMEOUT_MS 2000    /* closing handshake, then TCP close    */
/* While the server is busy (ws_load.c), connection threads write what
 * others queued for them every WS_COALESCE_MS instead of at once. */
#define WS_COALESCE_MS 30

enum conn_state {
    ST_OPEN,      /* messages flow                                          */
    ST_CLOSING,   /* we sent a close frame; waiting for the peer's          */
    ST_LINGER,    /* handshake over (or failed): flush, FIN, drain to EOF   */
    ST_DONE       /* leave the loop                                         */
};

/* Allocated on first use and freed when the connection goes idle, so an
 * idle connection costs little more than its struct. */
typedef struct conn_io {
    struct iovec iov[WS_IOV_MAX];
    uint8_t rbuf[WS_READ_BUF];
} conn_io;

struct ws_conn {
    /* shared */
    atomic_int refs;
    atomic_bool open;              /* false once closing began            */
    atomic_bool wake_pending;      /* a wake-up was sent, not yet seen    */
    atomic_int close_req_code;     /* close asked by another thread       */
    atomic_bool overflowed;        /* ... because the outbox overflowed   */
    _Atomic(ws_frame *) close_req_frame;
    uint64_t id;
    const ws_endpoint *ep;
    void *user;
    ws_outbox *outbox;
    pthread_mutex_t wake_lock;     /* guards thread and serving           */
    pid_t thread;                  /* the connection's thread ...         */
    bool serving;                  /* ... while it is in ws_conn_serve    */
    size_t outbox_limit;
    /* the connection's thread only */
    srv_conn *sc;
    char *query;                   /* the upgrade request's query string  */
    ws_parser parser;
    conn_io *io;
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    int state;
    int close_code;
    bool shutdown_seen, fin_sent, ping_sent;
    int64_t last_rx_ms, deadline_ms, stalled_since_ms;
    int64_t deaf_until_ms;         /* wake-ups ignored until then (busy)  */
};

/* The connection served by the calling thread, if any. */
static _Thread_local ws_conn *own_conn;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static srv_config fallback_cfg;
static pthread_once_t fallback_once = PTHREAD_ONCE_INIT;

static void init_fallback_cfg(void)
{
    srv_config_defaults(&fallback_cfg);
}

/* The configuration in force, or the defaults (unit tests). */
static const srv_config *cfg(void)
{
    const srv_config *c = srv_cfg();
    if (c)
        return c;
    pthread_once(&fallback_once, init_fallback_cfg);
    return &fallback_cfg;
}

/* ---- lifetime -------------------------------------------------------- */

ws_conn *ws_conn_new(uint64_t id, const ws_endpoint *ep)
{
    ws_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->outbox_limit = cfg()->ws_outbox_bytes;
    c->outbox = ws_outbox_new(c->outbox_limit);
    if (!c->outbox) {
        free(c);
        return NULL;
    }
    srv_wake_setup(); /* no-op after the first call in main() */
    pthread_mutex_init(&c->wake_lock, NULL);
    atomic_init(&c->refs, 1);
    atomic_init(&c->open, true);
    atomic_init(&c->wake_pending, false);
    atomic_init(&c->close_req_code, 0);
    atomic_init(&c->overflowed, false);
    atomic_init(&c->close_req_frame, NULL);
    c->id = id;
    c->ep = ep;
    c->state = ST_OPEN;
    return c;
}

ws_conn *ws_conn_ref(ws_conn *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void ws_conn_unref(ws_conn *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    ws_frame_unref(atomic_load(&c->close_req_frame));
    ws_outbox_free(c->outbox);
    pthread_mutex_destroy(&c->wake_lock);
    free(c->wbuf);
    free(c->io);
    free(c->query);
    free(c);
}

uint64_t ws_conn_id(const ws_conn *c) { return c->id; }
bool ws_conn_is_open(const ws_conn *c) { return atomic_load(&c->open); }
const ws_endpoint *ws_conn_endpoint(const ws_conn *c) { return c->ep; }
void *ws_conn_user(const ws_conn *c) { return c->user; }
void ws_conn_set_user(ws_conn *c, void *user) { c->user = user; }
ws_outbox *ws_conn_outbox(ws_conn *c) { return c->outbox; }
bool ws_conn_wake_pending(ws_conn *c) { return atomic_load(&c->wake_pending); }

int ws_conn_close_requested(const ws_conn *c)
{
    return atomic_load(&c->close_req_code);
}

const char *ws_conn_query(const ws_conn *c)
{
    return c->query ? c->query : "";
}

/* ---- sending (any thread) -------------------------------------------- */

/* Wakes the connection's thread; one signal per wake-up however many
 * frames were queued before it looked. wake_lock makes sure the thread is
 * still serving (a pthread_t of an exited thread must not be used). */
static void wake(ws_conn *c)
{
    if (atomic_exchange(&c->wake_pending, true))
        return;
    pthread_mutex_lock(&c->wake_lock);
    if (c->serving)
        srv_thread_wake(c->thread);
    pthread_mutex_unlock(&c->wake_lock);
}

static void set_serving(ws_conn *c, bool serving)
{
    pthread_mutex_lock(&c->wake_lock);
    c->thread = srv_thread_id();
    c->serving = serving;
    pthread_mutex_unlock(&c->wake_lock);
}

/* Own thread: encodes a frame into the direct buffer. */
static int direct_append(ws_conn *c, int opcode, const void *data, size_t len)
{
    size_t need = c->wlen + WS_FRAME_HEADER_MAX + len;
    if (need > c->wcap) {
        size_t cap = c->wcap ? c->wcap : WS_WBUF_MIN;
        while (cap < need)
            cap *= 2;
        uint8_t *nb = realloc(c->wbuf, cap);
        if (!nb)
            return WS_SEND_NOMEM;
        c->wbuf = nb;
        c->wcap = cap;
    }
    c->wlen += ws_frame_encode_header(c->wbuf + c->wlen, true, opcode, len, NULL);
    if (len)
        memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
    return WS_SEND_OK;
}

/* Own thread: queues a frame after everything already waiting. Used for
 * replies and control frames, so it ignores `open` and the bound. */
static int send_own(ws_conn *c, int opcode, const void *data, size_t len)
{
    if (len <= WS_DIRECT_MAX && ws_outbox_is_empty(c->outbox))
        return direct_append(c, opcode, data, len);
    ws_frame *f = ws_frame_new(opcode, data, len);
    if (!f)
        return WS_SEND_NOMEM;
    int rc = ws_outbox_push(c->outbox, f, 0, true);
    ws_frame_unref(f);
    return rc == WS_OUTBOX_NOMEM ? WS_SEND_NOMEM : rc < 0 ? WS_SEND_CLOSED : WS_SEND_OK;
}

int ws_send(ws_conn *c, int opcode, const void *data, size_t len)
{
    if (!atomic_load_explicit(&c->open, memory_order_relaxed))
        return WS_SEND_CLOSED;
    if (c == own_conn)
        return send_own(c, opcode, data, len);
    ws_frame *f = ws_frame_new(opcode, data, len);
    if (!f)
        return WS_SEND_NOMEM;
    int rc = ws_send_frame(c, f, 0);
    ws_frame_unref(f);
    return rc;
}

int ws_send_text(ws_conn *c, const char *text)
{
    return ws_send(c, WS_OP_TEXT, text, strlen(text));
}

int ws_send_frame(ws_conn *c, ws_frame *f, uint64_t latest_key)
{
    if (!atomic_load_explicit(&c->open, memory_order_relaxed))
        return WS_SEND_CLOSED;
    bool own = c == own_conn;
    switch (ws_outbox_push(c->outbox, f, latest_key, own)) {
    case WS_OUTBOX_QUEUED:
    case WS_OUTBOX_REPLACED:
        if (!own) {
            ws_load_count_send();
            wake(c);
        }
        return WS_SEND_OK;
    case WS_OUTBOX_FULL:
        /* Logged by the connection's own thread (take_close_request):
         * the caller may be any thread, and a log write can block. */
        atomic_store(&c->overflowed, true);
        ws_close(c, WS_CLOSE_POLICY, "outbox full: client too slow");
        return WS_SEND_CLOSED;
    case WS_OUTBOX_NOMEM:
        return WS_SEND_NOMEM;
    default:
        return WS_SEND_CLOSED;
    }
}

/* ---- closing ----------------------------------------------------------- */

/* Own thread: sends close frame f (consumed) after what is waiting, or
 * instead of it when drop_unsent; then waits for the peer's close. */
static void begin_close_frame(ws_conn *c, int code, ws_frame *f, bool drop_unsent)
{
    if (c->state != ST_OPEN) {
        ws_frame_unref(f);
        return;
    }
    atomic_store(&c->open, false);
    c->state = ST_CLOSING;
    c->close_code = code;
    c->deadline_ms = now_ms() + WS_CLOSE_TIMEOUT_MS;
    /* wbuf is kept: it may end in a partly written frame, and it is small
     * (reading stops while it is over the bound). */
    ws_outbox_close(c->outbox, f, drop_unsent);
    ws_frame_unref(f);
}

static void begin_close(ws_conn *c, int code, const char *reason)
{
    begin_close_frame(c, code, ws_frame_new_close(code, reason), code == WS_CLOSE_POLICY);
}

void ws_close(ws_conn *c, int code, const char *reason)
{
    if (c == own_conn) {
        begin_close(c, code, reason);
        return;
    }
    int none = 0;
    if (!atomic_compare_exchange_strong(&c->close_req_code, &none, code))
        return; /* someone asked first */
    atomic_store(&c->open, false);
    atomic_store(&c->close_req_frame, ws_frame_new_close(code, reason));
    wake(c);
}

/* Own thread: the connection failed (protocol error): send the close
 * code and end without waiting for the peer's close frame. */
static void fail(ws_conn *c, int code, const char *why)
{
    srv_log(SRV_LOG_INFO, c->id, "websocket failed: %s (close %d)", why, code);
    begin_close(c, code, why);
    c->state = ST_LINGER;
}

/* Own thread: picks up a close another thread asked for. */
static void take_close_request(ws_conn *c)
{
    int code = atomic_load(&c->close_req_code);
    if (code == 0 || c->state != ST_OPEN)
        return;
    if (atomic_load(&c->overflowed))
        srv_log(SRV_LOG_WARN, c->id,
                "websocket outbox over %zu bytes (client not reading): closing with 1008",
                c->outbox_limit);
    ws_frame *f = atomic_exchange(&c->close_req_frame, NULL);
    if (!f)
        f = ws_frame_new_close(code, NULL);
    begin_close_frame(c, code, f, code == WS_CLOSE_POLICY);
}

/* ---- receiving ----------------------------------------------------- */

static int on_message(void *user, int opcode, const uint8_t *data, size_t len)
{
    ws_conn *c = user;
    if (c->state == ST_OPEN && c->ep->on_message)
        c->ep->on_message(c, opcode, data, len);
    return 0;
}

static int on_control(void *user, int opcode, const uint8_t *data, size_t len)
{
    ws_conn *c = user;

    if (opcode == WS_OP_PING && c->state == ST_OPEN) {
        send_own(c, WS_OP_PONG, data, len);
    } else if (opcode == WS_OP_CLOSE) {
        int code = len >= 2 ? (data[0] << 8) | data[1] : WS_CLOSE_NO_STATUS;
        if (c->state == ST_OPEN) {
            /* Echo the code (or an empty close for "no status"). */
            begin_close_frame(c, code, ws_frame_new_close(len >= 2 ? code : 0, NULL), false);
        }
        c->state = ST_LINGER;
        return 1; /* nothing after a close frame matters */
    }
    return 0;
}

static const ws_parser_callbacks parser_callbacks = { on_message, on_control };

static int ensure_io(ws_conn *c)
{
    if (!c->io)
        c->io = malloc(sizeof *c->io);
    return c->io ? 0 : -1;
}

static void read_input(ws_conn *c)
{
    if (ensure_io(c) < 0) {
        fail(c, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    ssize_t n = c->sc->ops->read(c->sc, c->io->rbuf, sizeof c->io->rbuf);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->state == ST_OPEN || c->state == ST_CLOSING)
            c->close_code = c->close_code ? c->close_code : WS_CLOSE_ABNORMAL;
        c->state = ST_DONE;
        return;
    }
    c->last_rx_ms = now_ms();
    c->ping_sent = false;
    if (c->state == ST_LINGER)
        return; /* draining until the peer closes */
    ws_err err = ws_parser_feed(&c->parser, c->io->rbuf, (size_t)n);
    if (err != WS_OK && err != WS_ERR_CALLBACK)
        fail(c, ws_err_close_code(err), ws_err_str(err));
}

/* ---- writing ------------------------------------------------------- */

static bool has_output(ws_conn *c)
{
    return c->wlen > c->woff || !ws_outbox_is_empty(c->outbox);
}

static size_t output_bytes(ws_conn *c)
{
    size_t n = c->wlen - c->woff;
    if (!ws_outbox_is_empty(c->outbox))
        n += ws_outbox_bytes(c->outbox);
    return n;
}

/* One non-blocking writev of the direct buffer and the outbox's frames. */
static void flush_output(ws_conn *c)
{
    if (ensure_io(c) < 0) {
        c->state = ST_DONE;
        return;
    }
    struct iovec *iov = c->io->iov;
    int n = 0;
    size_t direct = c->wlen - c->woff;
    if (direct)
        iov[n++] = (struct iovec){ c->wbuf + c->woff, direct };
    n += ws_outbox_peek(c->outbox, iov + n, WS_IOV_MAX - n);
    if (n == 0)
        return;

    ssize_t w = c->sc->ops->writev(c->sc, iov, n);
    if (w < 0) {
        ws_outbox_consume(c->outbox, 0);
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            c->state = ST_DONE; /* the peer is gone */
        else if (!c->stalled_since_ms)
            c->stalled_since_ms = now_ms();
        return;
    }
    size_t done = (size_t)w, from_direct = done < direct ? done : direct;
    c->woff += from_direct;
    if (c->woff == c->wlen)
        c->woff = c->wlen = 0;
    ws_outbox_consume(c->outbox, done - from_direct);
    c->stalled_since_ms = has_output(c) ? now_ms() : 0;
}

/* Own thread, LINGER: once everything is written, half-close (plain TCP)
 * so the peer sees our close frame and then EOF. */
static void send_fin(ws_conn *c)
{
    if (c->fin_sent || has_output(c))
        return;
    c->fin_sent = true;
    if (!c->sc->transport)
        shutdown(c->sc->fd, SHUT_WR);
}

/* ---- the loop ------------------------------------------------------ */

static int wait_events(ws_conn *c, int want, int timeout_ms)
{
    /* Once shutdown began, it would be reported on every call: finish
     * the closing handshake waiting on the socket alone. */
    if (c->shutdown_seen)
        want |= SRV_POLL_NO_SHUTDOWN;
    if (!c->deaf_until_ms) /* while deaf, a wake-up signal stays pending */
        want |= SRV_POLL_WAKE_SIGNAL;
    return srv_conn_poll(c->sc, want, -1, timeout_ms);
}

/* Milliseconds until the next timer (-1 = none). */
static int next_timeout(ws_conn *c, int64_t now)
{
    const srv_config *k = cfg();
    int64_t when = INT64_MAX;

    if (c->state != ST_OPEN) {
        when = c->deadline_ms;
    } else {
        if (k->ws_ping_interval_ms > 0 && !c->ping_sent)
            when = c->last_rx_ms + k->ws_ping_interval_ms;
        if (k->ws_dead_peer_ms > 0 && c->last_rx_ms + k->ws_dead_peer_ms < when)
            when = c->last_rx_ms + k->ws_dead_peer_ms;
    }
    if (c->stalled_since_ms && c->stalled_since_ms + k->write_timeout_ms < when)
        when = c->stalled_since_ms + k->write_timeout_ms;
    if (c->deaf_until_ms && c->deaf_until_ms < when)
        when = c->deaf_until_ms;
    if (when == INT64_MAX)
        return -1;
    return when <= now ? 0 : when - now > INT_MAX ? INT_MAX : (int)(when - now);
}

static void check_timers(ws_conn *c)
{
    const srv_config *k = cfg();
    int64_t now = now_ms();

    if (c->stalled_since_ms && now - c->stalled_since_ms >= k->write_timeout_ms) {
        srv_log(SRV_LOG_INFO, c->id, "websocket write timed out after %d ms", k->write_timeout_ms);
        c->state = ST_DONE;
    } else if (c->state != ST_OPEN) {
        if (now >= c->deadline_ms)
            c->state = ST_DONE;
    } else if (k->ws_dead_peer_ms > 0 && now - c->last_rx_ms >= k->ws_dead_peer_ms) {
        srv_log(SRV_LOG_INFO, c->id, "websocket peer silent for %d ms: closing", k->ws_dead_peer_ms);
        begin_close(c, WS_CLOSE_GOING_AWAY, "ping timeout");
    } else if (k->ws_ping_interval_ms > 0 && !c->ping_sent &&
               now - c->last_rx_ms >= k->ws_ping_interval_ms) {
        send_own(c, WS_OP_PING, NULL, 0);
        c->ping_sent = true;
    }
}

/* An idle connection gives its buffers back. */
static void release_idle_buffers(ws_conn *c)
{
    if (has_output(c))
        return;
    free(c->io);
    c->io = NULL;
    free(c->wbuf);
    c->wbuf = NULL;
    c->wlen = c->woff = c->wcap = 0;
}

static void handle_wake(ws_conn *c)
{
    atomic_store(&c->wake_pending, false);
    take_close_request(c);
}

/* A wake-up arrived. On a busy server, keep wake_pending set (senders
 * then queue without signalling) and go deaf: what was queued is written
 * when the deaf period ends. Returns true when writing is deferred. */
static bool on_wake(ws_conn *c, int64_t now)
{
    if (!ws_load_busy(now)) {
        handle_wake(c);
        return false;
    }
    take_close_request(c);
    if (!c->deaf_until_ms)
        c->deaf_until_ms = now + WS_COALESCE_MS;
    return true;
}

/* The deaf period is over: what queued up meanwhile is written by this
 * step. While frames keep coming on a busy server, stay deaf for another
 * period (no signal is needed to wake us: the timer does). Returns true
 * if a period ended now. */
static bool end_deaf_period(ws_conn *c, int64_t now)
{
    if (!c->deaf_until_ms || now < c->deaf_until_ms)
        return false;
    take_close_request(c);
    if (ws_load_busy(now) && !ws_outbox_is_empty(c->outbox)) {
        c->deaf_until_ms = now + WS_COALESCE_MS;
    } else {
        c->deaf_until_ms = 0;
        handle_wake(c);
    }
    return true;
}

/* Whether the loop must wait for the socket to be writable: output of
 * our own, a write that is under way, or (unless deaf) queued frames. */
static bool wants_write(ws_conn *c)
{
    if (c->wlen > c->woff || c->stalled_since_ms)
        return true;
    return !c->deaf_until_ms && !ws_outbox_is_empty(c->outbox);
}

static void conn_step(ws_conn *c)
{
    int want = SRV_POLL_READ;
    if (c->state != ST_LINGER && output_bytes(c) >= c->outbox_limit)
        want = 0; /* the peer is not reading our replies: stop reading its requests */
    if (wants_write(c))
        want |= SRV_POLL_WRITE;

    int ev = wait_events(c, want, next_timeout(c, now_ms()));
    if (ev & SRV_POLL_ERROR) {
        c->state = ST_DONE;
        return;
    }
    int64_t now = now_ms();
    bool deferred = (ev & SRV_POLL_WAKE) && on_wake(c, now);
    bool deaf_ended = end_deaf_period(c, now);
    if ((ev & SRV_POLL_SHUTDOWN) && !c->shutdown_seen) {
        c->shutdown_seen = true;
        begin_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    }
    if (ev & SRV_POLL_READ)
        read_input(c);
    if (c->state != ST_DONE && has_output(c) && (!deferred || deaf_ended || wants_write(c)))
        flush_output(c);
    if (c->state == ST_LINGER)
        send_fin(c);
    if (c->state != ST_DONE)
        check_timers(c);
    if (ev == SRV_POLL_TIMEOUT && !deaf_ended)
        release_idle_buffers(c);
}

/* The handshake ran deep (request parsing, the 101 response, the access
 * log line: some 15 KiB of stack), but an idle connection only needs the
 * top of its stack. With thousands of connections that matters, so give
 * the pages below this frame back to the kernel; they come back, zeroed,
 * if a deeper call ever touches them again. Everything below the current
 * frame is dead, and a one-page margin covers our own callees (the idle loop
 * needs well under 1 KiB). */
static void release_unused_stack(void)
{
    pthread_attr_t attr;
    void *low;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    int rc = pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t start = ((uintptr_t)low + page - 1) & ~(page - 1);
    uintptr_t end = (here - page) & ~(page - 1);
    if (here > (uintptr_t)low + 3 * page && end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
}

void ws_conn_serve(ws_conn *c, srv_conn *sc, http_request *req)
{
    c->sc = sc;
    c->query = strdup(req->query ? req->query : "");
    http_release(req); /* the request loop's buffer is not needed any more */
    c->last_rx_ms = now_ms();
    own_conn = c;
    set_serving(c, true);
    ws_parser_init(&c->parser, &parser_callbacks, c, cfg()->ws_max_message, true);
    srv_log(SRV_LOG_DEBUG, c->id, "websocket %s open", c->ep->path);

    if (c->ep->on_open)
        c->ep->on_open(c);
    release_unused_stack();
    while (c->state != ST_DONE)
        conn_step(c);

    atomic_store(&c->open, false);
    set_serving(c, false);
    ws_hub_leave_all(c);
    ws_outbox_close(c->outbox, NULL, true);
    if (c->ep->on_close)
        c->ep->on_close(c, c->close_code ? c->close_code : WS_CLOSE_ABNORMAL);
    srv_log(SRV_LOG_DEBUG, c->id, "websocket %s closed (%d)", c->ep->path, c->close_code);
    ws_parser_free(&c->parser);
    own_conn = NULL;
    c->sc = NULL;
    ws_conn_unref(c);
}
