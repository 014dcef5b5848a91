/*
 * websocket.h - the public interface of websocket/: a hand-written
 * RFC 6455 layer.
 *
 * The codec (no I/O, unit-testable byte by byte, wslay style):
 *   ws_utf8.c       incremental UTF-8 validator                (ws_utf8_*)
 *   ws_frame.c      frame header encode/decode, masking        (ws_frame_*)
 *   ws_parser.c     message assembly: fragments, control frames,
 *                   every protocol rule, limits               (ws_parser_*)
 *   ws_handshake.c  opening handshake checks, Sec-WebSocket-Accept,
 *                   close codes                               (ws_handshake_*)
 * The runtime (one thread per connection, see the RUNTIME section):
 *   ws_upgrade.c, ws_conn.c, ws_outbox.c, ws_hub.c, ws_load.c,
 *   ws_dispatch.c, ws_endpoints.c
 *
 * Errors are negative enums (ws_err); each maps to a close code.
 */
#ifndef WEBSOCKET_H
#define WEBSOCKET_H

#include "../server/server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================== */
/* CODEC                                                               */
/* ================================================================== */

enum ws_opcode {
    WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002, WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, WS_CLOSE_ABNORMAL = 1006,
    WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009, WS_CLOSE_INTERNAL = 1011
};

typedef enum ws_err {
    WS_OK = 0,
    WS_ERR_PROTOCOL = -1,   /* -> 1002 */
    WS_ERR_UTF8 = -2,       /* -> 1007 */
    WS_ERR_TOO_BIG = -3,    /* -> 1009 */
    WS_ERR_NOMEM = -4,      /* -> 1011 */
    WS_ERR_CALLBACK = -5    /* a callback asked to stop */
} ws_err;

/* The close code to send for an error. */
int ws_err_close_code(ws_err err);
const char *ws_err_str(ws_err err);

/* ---- UTF-8 (ws_utf8.c): incremental, fails fast ---- */
typedef struct ws_utf8 {
    uint32_t state;     /* 0 = at a character boundary */
    uint32_t codepoint; /* bits of the partial character so far */
} ws_utf8;

void ws_utf8_init(ws_utf8 *v);
/* Feeds bytes; returns false as soon as they cannot be valid UTF-8. */
bool ws_utf8_feed(ws_utf8 *v, const uint8_t *data, size_t len);
/* True if everything fed so far ends on a character boundary. */
bool ws_utf8_complete(const ws_utf8 *v);
/* One-shot: the whole buffer is valid, complete UTF-8. */
bool ws_utf8_valid(const uint8_t *data, size_t len);

/* ---- Frames (ws_frame.c) ---- */
typedef struct ws_frame_header {
    bool fin;
    uint8_t rsv;        /* the three RSV bits, 0..7 */
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
} ws_frame_header;

#define WS_FRAME_HEADER_MAX 14

/* Decodes a frame header from buf. Returns its length (2..14), 0 if more
 * bytes are needed, or WS_ERR_PROTOCOL if a 64-bit length has its top bit
 * set. (A non-minimal length encoding is accepted.) Protocol rules about
 * what a header may say are ws_parser's. */
int ws_frame_decode_header(const uint8_t *buf, size_t len, ws_frame_header *h);
/* Encodes a header into out; mask may be NULL (server frames). Returns
 * its length. */
size_t ws_frame_encode_header(uint8_t out[WS_FRAME_HEADER_MAX], bool fin,
                              int opcode, uint64_t payload_len,
                              const uint8_t *mask);
/* XORs data with mask, starting at byte `offset` of the payload. */
void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   uint64_t offset);

/* ---- Message parser (ws_parser.c) ---- */
/* Callbacks return 0 to go on, non-zero to stop (WS_ERR_CALLBACK). */
typedef struct ws_parser_callbacks {
    /* A complete data message (text already validated as UTF-8). */
    int (*on_message)(void *user, int opcode, const uint8_t *data, size_t len);
    /* A ping, pong or close frame (close payload already validated:
     * empty, or a valid code and UTF-8 reason). */
    int (*on_control)(void *user, int opcode, const uint8_t *data, size_t len);
} ws_parser_callbacks;

typedef struct ws_parser {
    ws_parser_callbacks cb;
    void *user;
    size_t max_message;     /* WS_ERR_TOO_BIG past this many bytes
                               (0 = no limit)                           */
    bool require_mask;      /* true on the server side: frames must be
                               masked; false on the client side: frames
                               must not be (RFC 6455 5.1)               */
    /* internal state */
    uint8_t hdr_buf[WS_FRAME_HEADER_MAX];
    size_t hdr_len;
    ws_frame_header hdr;
    bool in_frame;
    uint64_t frame_read;
    int msg_opcode;         /* 0 = no message in progress               */
    uint8_t *msg;
    size_t msg_len, msg_cap;
    uint8_t ctrl[125];
    size_t ctrl_len;
    ws_utf8 utf8;
    ws_err error;           /* sticky: once failed, stays failed        */
    bool closed;            /* a close frame was delivered: any later
                               bytes are ignored (RFC 6455 5.5.1)       */
} ws_parser;

void ws_parser_init(ws_parser *p, const ws_parser_callbacks *cb, void *user,
                    size_t max_message, bool require_mask);
void ws_parser_free(ws_parser *p);
/* Feeds received bytes; calls the callbacks for each complete message
 * or control frame. Returns WS_OK or a negative ws_err (the connection
 * must then be failed with ws_err_close_code).
 * data is modified: payloads are unmasked in place, so that a whole
 * unfragmented frame inside data is delivered without a copy (the
 * callback's pointer then points into data; it is valid only during the
 * callback). */
ws_err ws_parser_feed(ws_parser *p, uint8_t *data, size_t len);

/* ---- Handshake (ws_handshake.c) ---- */
/* Computes Sec-WebSocket-Accept for a key into out (29 bytes incl. NUL). */
void ws_handshake_accept(const char *key, char out[29]);
/* True if key is base64 of exactly 16 bytes. */
bool ws_handshake_key_valid(const char *key);
/* True if code may appear in a close frame on the wire. */
bool ws_close_code_valid(int code);

/* ================================================================== */
/* RUNTIME (owned by ws_conn.c and friends; see README "WebSocket")    */
/* ================================================================== */

/*
 * Threading contract (docs/websocket.md):
 *   - Each WebSocket connection (ws_conn) is served by the thread that
 *     accepted it; only that thread touches its socket.
 *   - Any thread may call ws_send*, ws_close and the ws_hub_* functions on
 *     any connection it holds a reference to. They never block on I/O:
 *     the frame goes to the connection's bounded outbox and the owning
 *     thread is woken (a signal, see srv_thread_wake) to write it.
 *   - Endpoint callbacks (ws_endpoint) run on the connection's own thread.
 */

/* Called by the router: if req->path names a WebSocket endpoint, performs
 * the handshake (or answers 400/403/405/426) and serves the connection
 * until it closes; returns -1 (close). Returns RT_DECLINED (1) otherwise. */
int ws_route(http_request *req);

/* ---- Frames to send (ws_outbox.c) ---- */
/* An encoded, immutable, reference-counted server frame (header and
 * payload in one buffer). A broadcast encodes one and shares it among
 * every recipient's outbox. Safe to ref/unref from any thread. */
typedef struct ws_frame ws_frame;

/* Encodes a frame (refcount 1); NULL when out of memory. */
ws_frame *ws_frame_new(int opcode, const void *payload, size_t len);
/* A close frame: code (0 = no status) and an optional UTF-8 reason,
 * truncated to fit the 125-byte control frame limit. */
ws_frame *ws_frame_new_close(int code, const char *reason);
ws_frame *ws_frame_ref(ws_frame *f);
void ws_frame_unref(ws_frame *f);
const uint8_t *ws_frame_bytes(const ws_frame *f);
size_t ws_frame_size(const ws_frame *f);
int ws_frame_opcode(const ws_frame *f);

/* ---- Connections and endpoints (ws_conn.c, ws_endpoints.c) ---- */
typedef struct ws_conn ws_conn;

/* A WebSocket endpoint: a path and the callbacks that serve it. The
 * callbacks run on the connection's own thread; any may be NULL. */
typedef struct ws_endpoint {
    const char *path;          /* exact request path, "/echo"             */
    const char *subprotocol;   /* offered Sec-WebSocket-Protocol, or NULL */
    void (*on_open)(ws_conn *c);
    /* A complete text (already valid UTF-8) or binary message. data is
     * valid only during the call. */
    void (*on_message)(ws_conn *c, int opcode, const uint8_t *data, size_t len);
    /* The connection is closing (code as sent or received; 1006 when it
     * just went away). The connection has already left every hub group. */
    void (*on_close)(ws_conn *c, int code);
} ws_endpoint;

/* Adds an endpoint (ep must stay valid: static storage). Call it before
 * the server starts serving, e.g. from game/'s init. Returns 0, or -1 if
 * the path is taken or the table is full. */
int ws_endpoint_register(const ws_endpoint *ep);
/* The endpoint for a request path, or NULL. Lock-free. */
const ws_endpoint *ws_endpoint_find(const char *path);

/* Send results. */
enum { WS_SEND_OK = 0, WS_SEND_CLOSED = -1, WS_SEND_NOMEM = -2 };

/* Sends one message (any thread). From the connection's own thread a
 * small message is written straight to the socket buffer without a lock
 * or an allocation. From another thread it is copied into a frame and
 * queued. Returns WS_SEND_OK, or WS_SEND_CLOSED when the connection is
 * closing or its outbox just overflowed (it is then closed with 1008). */
int ws_send(ws_conn *c, int opcode, const void *data, size_t len);
int ws_send_text(ws_conn *c, const char *text);
/* Queues a shared frame (the outbox takes its own reference). A non-zero
 * latest_key marks "latest state only": if the outbox is over its bound,
 * the frame replaces the older unsent frame with the same key instead of
 * closing the connection (a slow spectator skips states). */
int ws_send_frame(ws_conn *c, ws_frame *f, uint64_t latest_key);
/* Starts the closing handshake with code and reason (any thread). */
void ws_close(ws_conn *c, int code, const char *reason);

/* A connection stays allocated while someone holds a reference; after it
 * closed, sends to it return WS_SEND_CLOSED. */
ws_conn *ws_conn_ref(ws_conn *c);
void ws_conn_unref(ws_conn *c);
uint64_t ws_conn_id(const ws_conn *c);
bool ws_conn_is_open(const ws_conn *c);
const ws_endpoint *ws_conn_endpoint(const ws_conn *c);
/* The endpoint's per-connection pointer (set and read on the own thread,
 * or with the endpoint's own locking). */
void *ws_conn_user(const ws_conn *c);
void ws_conn_set_user(ws_conn *c, void *user);
/* The query string of the upgrade request ("" if none); own thread. */
const char *ws_conn_query(const ws_conn *c);

/* ---- Hub: named groups (ws_hub.c) ---- */
/* All safe from any thread; none does I/O (broadcast only enqueues). */
/* Joins a group, creating it. Joining twice is a no-op. Returns
 * WS_HUB_OK, WS_HUB_TOO_MANY when c is already in WS_HUB_MAX_GROUPS
 * groups, or WS_HUB_ERROR (no memory, closed connection, or a name
 * longer than WS_GROUP_NAME_MAX). */
#define WS_GROUP_NAME_MAX 63
#define WS_HUB_MAX_GROUPS 16
enum { WS_HUB_OK = 0, WS_HUB_ERROR = -1, WS_HUB_TOO_MANY = -2 };
int ws_hub_join(ws_conn *c, const char *group);
void ws_hub_leave(ws_conn *c, const char *group);
/* Leaves every group (done automatically when a connection closes). */
void ws_hub_leave_all(ws_conn *c);
/* Sends a message to every member except `except` (may be NULL),
 * encoding it once. Returns the number of members it was queued for,
 * or -1 when out of memory. */
int ws_hub_broadcast(const char *group, int opcode, const void *data,
                     size_t len, const ws_conn *except, uint64_t latest_key);
int ws_hub_broadcast_frame(const char *group, ws_frame *f,
                           const ws_conn *except, uint64_t latest_key);
/* Members of a group right now (0 if it does not exist). */
size_t ws_hub_size(const char *group);
bool ws_hub_is_member(const ws_conn *c, const char *group);

/* ---- Typed JSON messages (ws_dispatch.c) ---- */
/* Packets are {"type": "...", "payload": ...}. A handler gets the
 * payload (borrowed; JSON null when absent) on the connection's thread. */
struct json_t;
typedef void (*ws_handler_fn)(ws_conn *c, struct json_t *payload);
typedef struct ws_handler {
    const char *type;
    ws_handler_fn fn;
} ws_handler;

/* Parses a text message and calls the handler for its type. Invalid
 * JSON (or JSON nested deeper than WS_JSON_MAX_DEPTH arrays/objects),
 * a missing/non-string type or an unknown type sends
 * {"type":"error","payload":{"code":..., "message":...}} to c and
 * returns -1; the connection stays open. Returns 0 when handled. */
#define WS_JSON_MAX_DEPTH 32
int ws_dispatch(ws_conn *c, const ws_handler *table, size_t count,
                const uint8_t *text, size_t len);
/* Sends {"type": type, "payload": payload}; steals the payload
 * reference (NULL = null). Any thread. Returns a WS_SEND_* code. */
int ws_send_json(ws_conn *c, const char *type, struct json_t *payload);
/* Sends the error packet described above. */
int ws_send_error(ws_conn *c, const char *code, const char *message);
/* The same packet, encoded once, for ws_hub_broadcast_frame. NULL on
 * failure. Steals the payload reference. */
ws_frame *ws_json_frame(const char *type, struct json_t *payload);

/* ---- Runtime internals: shared between websocket/ files and tests ---- */

/* The per-connection outbox (ws_outbox.c): a bounded FIFO of shared
 * frames with its own mutex. Producers: any thread (ws_outbox_push).
 * Consumer: the connection's thread only (peek/consume). */
typedef struct ws_outbox ws_outbox;
enum {
    WS_OUTBOX_QUEUED = 0,
    WS_OUTBOX_REPLACED = 1,   /* replaced an unsent frame with the same key */
    WS_OUTBOX_FULL = -1,      /* over the bound: the outbox is now closed  */
    WS_OUTBOX_CLOSED = -2,    /* closed earlier: nothing queued            */
    WS_OUTBOX_NOMEM = -3
};
ws_outbox *ws_outbox_new(size_t limit_bytes);
void ws_outbox_free(ws_outbox *o);
/* Queues f (takes a reference). unbounded: the connection's own replies,
 * which are throttled by not reading instead of by the bound. An empty
 * outbox takes one frame of any size: a frame alone never means the
 * peer is too slow (senders that must not exceed the bound check
 * ws_outbox_limit themselves, as the broadcast endpoints do). */
int ws_outbox_push(ws_outbox *o, ws_frame *f, uint64_t latest_key,
                   bool unbounded);
/* Closes the outbox: if drop_unsent, drops every frame not yet started
 * (a partly written one stays, so the stream is not cut mid-frame);
 * appends `last` (may be NULL; a reference is taken); refuses later
 * pushes. */
void ws_outbox_close(ws_outbox *o, ws_frame *last, bool drop_unsent);
/* Lock-free hint for the connection's thread: true if nothing is queued
 * (exact for frames it queued itself). */
bool ws_outbox_is_empty(ws_outbox *o);
size_t ws_outbox_bytes(ws_outbox *o);   /* unsent bytes */
size_t ws_outbox_limit(ws_outbox *o);   /* the bound given to ws_outbox_new */
size_t ws_outbox_count(ws_outbox *o);   /* frames not fully written */
/* Fills iov with up to max unsent pieces, oldest first. Returns the count. */
int ws_outbox_peek(ws_outbox *o, struct iovec *iov, int max);
/* Marks `written` bytes (from the start of the last peek) as sent and
 * releases finished frames. */
void ws_outbox_consume(ws_outbox *o, size_t written);

/* ws_conn.c: a connection without a socket (tests, and ws_route before
 * the loop starts). limits come from srv_cfg() (defaults if unset). */
ws_conn *ws_conn_new(uint64_t id, const ws_endpoint *ep);
/* Runs the connection on the calling thread until it closes; then leaves
 * every group and drops the loop's reference. Does not close sc. */
void ws_conn_serve(ws_conn *c, srv_conn *sc, http_request *req);
ws_outbox *ws_conn_outbox(ws_conn *c);
/* The close code another thread asked for (0 = none). */
int ws_conn_close_requested(const ws_conn *c);
/* True when a wake-up was sent and the connection's thread has not yet
 * taken it (tests). */
bool ws_conn_wake_pending(ws_conn *c);

/* ws_load.c: counts frames queued between threads (call per frame queued
 * for another connection) and says whether the server is busy enough
 * that connection threads should coalesce their wake-ups. */
void ws_load_count_send(void);
bool ws_load_busy(int64_t now_ms);

#endif /* WEBSOCKET_H */
