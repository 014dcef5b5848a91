/*
 * ws_parser.c - turns received bytes into WebSocket messages and control
 * frames, enforcing every RFC 6455 framing rule on the way.
 *
 * The connection's thread reads from its socket and hands the bytes to
 * ws_parser_feed in whatever pieces they arrived; the parser keeps its
 * place between calls (inside a header, inside a payload, inside a
 * fragmented message), so any split of the same bytes gives the same
 * callbacks and the same result. It does no I/O: replies (pong, close)
 * are the caller's job, in its callbacks.
 *
 * Rules enforced (section numbers of RFC 6455):
 *   5.1  client frames masked, server frames not  -> WS_ERR_PROTOCOL
 *   5.2  RSV bits without an extension, reserved opcodes -> PROTOCOL
 *   5.4  continuation only inside a message, no new message inside one
 *   5.5  control frames: FIN set, payload <= 125 bytes; they may come
 *        between the fragments of a message
 *   5.5.1 close payload: empty, or a valid code + UTF-8 reason
 *   8.1  text is UTF-8, checked as bytes arrive -> WS_ERR_UTF8
 *   and a message larger than max_message -> WS_ERR_TOO_BIG as soon as a
 *   frame header announces it, before any of it is buffered.
 *
 * Speed: a frame that is complete inside the fed buffer and not part of
 * a fragmented message (the usual case) is unmasked in place and handed
 * to the callback without a copy. Other payloads are collected in
 * p->msg, a buffer that grows by doubling and is kept for the next
 * message (up to WS_PARSER_KEEP_BYTES, so a single large message does
 * not pin memory for the connection's lifetime).
 */
#include "websocket.h"

#include <stdlib.h>
#include <string.h>

#define WS_PARSER_MIN_BYTES  1024
#define WS_PARSER_KEEP_BYTES (64 * 1024)

static bool is_control(int opcode)
{
    return (opcode & 0x8) != 0;
}

void ws_parser_init(ws_parser *p, const ws_parser_callbacks *cb, void *user,
                    size_t max_message, bool require_mask)
{
    memset(p, 0, sizeof *p);
    p->cb = *cb;
    p->user = user;
    p->max_message = max_message ? max_message : SIZE_MAX;
    p->require_mask = require_mask;
    ws_utf8_init(&p->utf8);
}

void ws_parser_free(ws_parser *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
}

/* ---- header ---- */

/* The rules a header must follow given the parser's state. */
static ws_err check_header(const ws_parser *p, const ws_frame_header *h)
{
    if (h->masked != p->require_mask)
        return WS_ERR_PROTOCOL;
    if (h->rsv != 0)
        return WS_ERR_PROTOCOL;
    switch (h->opcode) {
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!h->fin || h->payload_len > 125)
            return WS_ERR_PROTOCOL;
        return WS_OK;
    case WS_OP_CONT:
        if (p->msg_opcode == 0)
            return WS_ERR_PROTOCOL;
        if (h->payload_len > p->max_message - p->msg_len)
            return WS_ERR_TOO_BIG;
        return WS_OK;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (p->msg_opcode != 0)
            return WS_ERR_PROTOCOL;
        if (h->payload_len > p->max_message)
            return WS_ERR_TOO_BIG;
        return WS_OK;
    default:
        return WS_ERR_PROTOCOL;     /* 3-7 and 0xB-0xF are reserved */
    }
}

/* Sets up the state for the payload of the accepted header p->hdr. */
static void begin_frame(ws_parser *p)
{
    p->in_frame = true;
    p->frame_read = 0;
    if (is_control(p->hdr.opcode)) {
        p->ctrl_len = 0;
    } else if (p->hdr.opcode != WS_OP_CONT) {
        p->msg_opcode = p->hdr.opcode;
        p->msg_len = 0;
        ws_utf8_init(&p->utf8);
    }
}

/*
 * Reads (the rest of) a frame header from data. Decodes straight from
 * data when the whole header is there, else accumulates in p->hdr_buf.
 * Sets *used to the bytes consumed; p->in_frame tells if it completed.
 */
static ws_err read_header(ws_parser *p, const uint8_t *data, size_t len,
                          size_t *used)
{
    int n;
    if (p->hdr_len == 0) {
        n = ws_frame_decode_header(data, len, &p->hdr);
        if (n > 0) {
            *used = (size_t)n;
        } else if (n == 0) {
            memcpy(p->hdr_buf, data, len);  /* len < WS_FRAME_HEADER_MAX */
            p->hdr_len = len;
            *used = len;
            return WS_OK;
        }
    } else {
        size_t old = p->hdr_len;
        size_t take = WS_FRAME_HEADER_MAX - old;
        if (take > len)
            take = len;
        memcpy(p->hdr_buf + old, data, take);
        p->hdr_len += take;
        n = ws_frame_decode_header(p->hdr_buf, p->hdr_len, &p->hdr);
        if (n == 0) {
            *used = take;   /* a header needs more than we have: all used */
            return WS_OK;
        }
        p->hdr_len = 0;
        *used = n > 0 ? (size_t)n - old : take;
    }
    if (n < 0)
        return (ws_err)n;
    ws_err err = check_header(p, &p->hdr);
    if (err != WS_OK)
        return err;
    begin_frame(p);
    return WS_OK;
}

/* ---- delivery ---- */

/* Checks a close frame's payload (5.5.1, 7.4). */
static ws_err check_close_payload(const uint8_t *data, size_t len)
{
    if (len == 0)
        return WS_OK;
    if (len == 1)
        return WS_ERR_PROTOCOL;
    int code = (data[0] << 8) | data[1];
    if (!ws_close_code_valid(code))
        return WS_ERR_PROTOCOL;
    if (!ws_utf8_valid(data + 2, len - 2))
        return WS_ERR_UTF8;
    return WS_OK;
}

static ws_err deliver_control(ws_parser *p, const uint8_t *data, size_t len)
{
    int opcode = p->hdr.opcode;
    if (opcode == WS_OP_CLOSE) {
        ws_err err = check_close_payload(data, len);
        if (err != WS_OK)
            return err;
        p->closed = true;
    }
    if (p->cb.on_control && p->cb.on_control(p->user, opcode, data, len) != 0)
        return WS_ERR_CALLBACK;
    return WS_OK;
}

static ws_err deliver_message(ws_parser *p, const uint8_t *data, size_t len)
{
    int opcode = p->msg_opcode;
    p->msg_opcode = 0;
    if (p->cb.on_message && p->cb.on_message(p->user, opcode, data, len) != 0)
        return WS_ERR_CALLBACK;
    return WS_OK;
}

/* The payload of p->hdr is complete in data: unmask it there and deliver
 * it without copying. Only for frames that are a whole message or a
 * control frame. */
static ws_err deliver_in_place(ws_parser *p, uint8_t *data)
{
    size_t len = (size_t)p->hdr.payload_len;
    if (p->hdr.masked)
        ws_frame_mask(data, len, p->hdr.mask, 0);
    p->in_frame = false;
    if (is_control(p->hdr.opcode))
        return deliver_control(p, data, len);
    if (p->msg_opcode == WS_OP_TEXT && !ws_utf8_valid(data, len))
        return WS_ERR_UTF8;
    return deliver_message(p, data, len);
}

static bool frame_whole_in(const ws_parser *p, size_t avail)
{
    return p->hdr.fin && p->hdr.opcode != WS_OP_CONT
           && p->hdr.payload_len <= avail;
}

/* ---- buffered payloads ---- */

/* Makes room for `extra` more bytes in p->msg, doubling its size. */
static ws_err msg_reserve(ws_parser *p, size_t extra)
{
    size_t need = p->msg_len + extra;
    if (need <= p->msg_cap)
        return WS_OK;
    size_t cap = p->msg_cap ? p->msg_cap : WS_PARSER_MIN_BYTES;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *grown = realloc(p->msg, cap);
    if (!grown)
        return WS_ERR_NOMEM;
    p->msg = grown;
    p->msg_cap = cap;
    return WS_OK;
}

/* After a buffered message was delivered: keep a modest buffer for the
 * next one, give a large one back. */
static void msg_release(ws_parser *p)
{
    p->msg_len = 0;
    if (p->msg_cap > WS_PARSER_KEEP_BYTES)
        ws_parser_free(p);
}

/* Called when the last payload byte of a frame has been read. */
static ws_err end_frame(ws_parser *p)
{
    p->in_frame = false;
    if (is_control(p->hdr.opcode))
        return deliver_control(p, p->ctrl, p->ctrl_len);
    if (!p->hdr.fin)
        return WS_OK;
    if (p->msg_opcode == WS_OP_TEXT && !ws_utf8_complete(&p->utf8))
        return WS_ERR_UTF8;
    ws_err err = deliver_message(p, p->msg, p->msg_len);
    msg_release(p);
    return err;
}

/* Consumes up to `len` payload bytes of the current frame (possibly 0,
 * to finish an empty frame), unmasked in place, checked, then copied to
 * the control or message buffer. */
static ws_err read_payload(ws_parser *p, uint8_t *data, size_t len,
                           size_t *used)
{
    uint64_t left = p->hdr.payload_len - p->frame_read;
    size_t n = left < len ? (size_t)left : len;
    if (p->hdr.masked)
        ws_frame_mask(data, n, p->hdr.mask, p->frame_read);
    if (is_control(p->hdr.opcode)) {
        memcpy(p->ctrl + p->ctrl_len, data, n);     /* <= 125 in total */
        p->ctrl_len += n;
    } else {
        if (p->msg_opcode == WS_OP_TEXT && !ws_utf8_feed(&p->utf8, data, n))
            return WS_ERR_UTF8;
        if (n > 0) {
            if (msg_reserve(p, n) != WS_OK)
                return WS_ERR_NOMEM;
            memcpy(p->msg + p->msg_len, data, n);
            p->msg_len += n;
        }
    }
    p->frame_read += n;
    *used = n;
    return p->frame_read == p->hdr.payload_len ? end_frame(p) : WS_OK;
}

/* ---- the loop ---- */

static ws_err parse(ws_parser *p, uint8_t *data, size_t len)
{
    size_t pos = 0;
    while (!p->closed) {
        size_t used = 0;
        ws_err err;
        if (!p->in_frame) {
            if (pos == len)
                break;
            err = read_header(p, data + pos, len - pos, &used);
            pos += used;
            if (err != WS_OK)
                return err;
            if (!p->in_frame)
                break;                      /* header incomplete */
            if (frame_whole_in(p, len - pos)) {
                err = deliver_in_place(p, data + pos);
                pos += (size_t)p->hdr.payload_len;
                if (err != WS_OK)
                    return err;
                continue;
            }
        }
        if (pos == len && p->frame_read < p->hdr.payload_len)
            break;                          /* payload continues later */
        err = read_payload(p, data + pos, len - pos, &used);
        pos += used;
        if (err != WS_OK)
            return err;
    }
    return WS_OK;
}

ws_err ws_parser_feed(ws_parser *p, uint8_t *data, size_t len)
{
    if (p->error != WS_OK)
        return p->error;
    p->error = parse(p, data, len);
    return p->error;
}
