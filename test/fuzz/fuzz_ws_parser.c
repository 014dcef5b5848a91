/*
 * fuzz_ws_parser.c - fuzzes the WebSocket frame decoder and message
 * parser (websocket/ws_frame.c, ws_parser.c, ws_utf8.c).
 *
 * The first input bytes choose the mode: server side (frames must be
 * masked) or client side (must not be), the message size limit, and how
 * the rest is cut into pieces. The bytes are parsed twice, once in one
 * ws_parser_feed call and once in those pieces, the way they arrive from
 * a socket. The parser promises any split gives the same callbacks and
 * the same result, so both runs must record the same events. Each
 * delivered message must respect the rules the endpoints rely on: text
 * is valid UTF-8, no message is over the limit, control payloads are at
 * most 125 bytes, and nothing is delivered after a close frame.
 */
#include "fuzz.h"
#include "../../websocket/websocket.h"

#include <string.h>

#define MAX_EVENTS 256

typedef struct event {
    int opcode;
    size_t len;
    uint64_t hash;
} event;

typedef struct recorder {
    event events[MAX_EVENTS];
    int count;              /* events seen (only MAX_EVENTS kept) */
    size_t max_message;
    bool closed;
} recorder;

static uint64_t fnv1a(const uint8_t *data, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

static void record(recorder *r, int opcode, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(!r->closed);     /* nothing after a close frame */
    if (r->count < MAX_EVENTS) {
        event *e = &r->events[r->count];
        e->opcode = opcode;
        e->len = len;
        e->hash = fnv1a(data, len);
    }
    r->count++;
}

static int on_message(void *user, int opcode, const uint8_t *data,
                      size_t len)
{
    recorder *r = user;
    FUZZ_CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
    FUZZ_CHECK(len <= r->max_message);
    if (opcode == WS_OP_TEXT)
        FUZZ_CHECK(ws_utf8_valid(data, len));
    record(r, opcode, data, len);
    return 0;
}

static int on_control(void *user, int opcode, const uint8_t *data,
                      size_t len)
{
    recorder *r = user;
    FUZZ_CHECK(opcode == WS_OP_CLOSE || opcode == WS_OP_PING ||
               opcode == WS_OP_PONG);
    FUZZ_CHECK(len <= 125);
    if (opcode == WS_OP_CLOSE && len > 0) {
        FUZZ_CHECK(len >= 2);
        FUZZ_CHECK(ws_close_code_valid(data[0] << 8 | data[1]));
    }
    record(r, opcode, data, len);
    if (opcode == WS_OP_CLOSE)
        r->closed = true;
    return 0;
}

/* Parses data[0..len) fed in pieces whose sizes come from `cuts` (one
 * byte each, cycled; 0 = everything at once). Returns the final result. */
static ws_err parse(const uint8_t *data, size_t len, bool require_mask,
                    size_t max_message, const uint8_t *cuts, size_t ncuts,
                    recorder *r)
{
    static const ws_parser_callbacks cb = {on_message, on_control};
    ws_parser p;
    memset(r, 0, sizeof *r);
    r->max_message = max_message ? max_message : SIZE_MAX;
    ws_parser_init(&p, &cb, r, max_message, require_mask);

    /* ws_parser_feed unmasks in place: work on a copy. */
    uint8_t *copy = (uint8_t *)fuzz_dup(data, len, 0);
    ws_err err = WS_OK;
    size_t pos = 0, cut = 0;
    do {
        size_t piece = len - pos;
        if (ncuts > 0) {
            size_t want = 1 + cuts[cut++ % ncuts] % 23u;
            if (want < piece)
                piece = want;
        }
        /* Each piece in its own exact-size block, like a fresh read. */
        uint8_t *chunk = (uint8_t *)fuzz_dup(copy + pos, piece, 0);
        err = ws_parser_feed(&p, chunk, piece);
        free(chunk);
        pos += piece;
    } while (err == WS_OK && pos < len);
    free(copy);
    ws_parser_free(&p);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t mode = fuzz_take_byte(&in);
    bool require_mask = (mode & 1) != 0;
    /* 0 = no limit, else a small limit so TOO_BIG is reachable. */
    size_t max_message = (mode >> 1) == 0 ? 0 : (size_t)(mode >> 1) * 8u;
    uint8_t ncuts = fuzz_take_byte(&in) % 8u;
    uint8_t cuts[8];
    for (int i = 0; i < ncuts; i++)
        cuts[i] = fuzz_take_byte(&in);

    recorder whole, pieces;
    ws_err e1 = parse(in.data, in.size, require_mask, max_message, NULL, 0,
                      &whole);
    ws_err e2 = parse(in.data, in.size, require_mask, max_message, cuts,
                      ncuts, &pieces);

    FUZZ_CHECK(e1 == e2);
    FUZZ_CHECK(e1 != WS_ERR_CALLBACK && e1 != WS_ERR_NOMEM);
    FUZZ_CHECK(whole.count == pieces.count);
    int kept = whole.count < MAX_EVENTS ? whole.count : MAX_EVENTS;
    for (int i = 0; i < kept; i++) {
        FUZZ_CHECK(whole.events[i].opcode == pieces.events[i].opcode);
        FUZZ_CHECK(whole.events[i].len == pieces.events[i].len);
        FUZZ_CHECK(whole.events[i].hash == pieces.events[i].hash);
    }
    return 0;
}
