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
 *   ws_conn.c, ws_outbox.c, ws_hub.c, ws_endpoints.c ...
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
    uint32_t codepoint;
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
 * bytes are needed, or WS_ERR_PROTOCOL (64-bit length with the top bit
 * set, or a non-minimal length encoding is accepted per RFC). */
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
    size_t max_message;     /* WS_ERR_TOO_BIG past this many bytes      */
    bool require_mask;      /* true on the server side                  */
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
} ws_parser;

void ws_parser_init(ws_parser *p, const ws_parser_callbacks *cb, void *user,
                    size_t max_message, bool require_mask);
void ws_parser_free(ws_parser *p);
/* Feeds received bytes; calls the callbacks for each complete message
 * or control frame. Returns WS_OK or a negative ws_err (the connection
 * must then be failed with ws_err_close_code). */
ws_err ws_parser_feed(ws_parser *p, const uint8_t *data, size_t len);

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

/* Called by the router: if req->path names a WebSocket endpoint, performs
 * the handshake (or answers 400/403/426) and serves the connection until
 * it closes; returns -1 (close). Returns RT_DECLINED (1) otherwise. */
int ws_route(http_request *req);

#endif /* WEBSOCKET_H */
