/*
 * test_ws_parser.c - message assembly and every protocol rule of
 * websocket/ws_parser.c.
 *
 * Client frames are built here byte by byte (independently of the
 * encoder under test) and fed to the parser whole, one byte at a time and
 * in random chunks for many seeds; every split must give the same
 * callbacks (recorded as a text log "opcode:length:data|") and the same
 * result. Each chunk is fed from its own heap copy of exactly its size,
 * so an over-read shows up under AddressSanitizer (make test-asan).
 */
#include "unit.h"
#include "../../websocket/websocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10
#define MAX_DEFAULT (1u << 20)
#define RANDOM_SEEDS 100

/* ---- a growable byte string ---- */

typedef struct {
    uint8_t *b;
    size_t len, cap;
} bytes;

static void put(bytes *s, const void *d, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
        CU_ASSERT_FATAL(s->b != NULL);
    }
    if (n)
        memcpy(s->b + s->len, d, n);
    s->len += n;
}

static void bytes_free(bytes *s)
{
    free(s->b);
    memset(s, 0, sizeof *s);
}

/* ---- frame builders (RFC 6455 5.2, written out by hand) ---- */

static unsigned mask_counter;

static void raw_frame(bytes *s, uint8_t b0, const void *payload, size_t len,
                      bool masked)
{
    uint8_t h[14];
    size_t n = 2;
    uint8_t m = masked ? 0x80 : 0;
    h[0] = b0;
    if (len <= 125) {
        h[1] = m | (uint8_t)len;
    } else if (len <= 0xFFFF) {
        h[1] = m | 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        n = 4;
    } else {
        h[1] = m | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    uint8_t key[4];
    mask_counter = mask_counter * 1103515245u + 12345u;
    memcpy(key, &mask_counter, 4);
    if (masked) {
        memcpy(h + n, key, 4);
        n += 4;
    }
    put(s, h, n);
    size_t start = s->len;
    put(s, payload, len);
    if (masked)
        for (size_t i = 0; i < len; i++)
            s->b[start + i] ^= key[i % 4];
}

/* A masked client frame; b0 = FIN/RSV bits | opcode. */
static void frame(bytes *s, uint8_t b0, const void *payload, size_t len)
{
    raw_frame(s, b0, payload, len, true);
}

static void frame_s(bytes *s, uint8_t b0, const char *text)
{
    frame(s, b0, text, strlen(text));
}

static void close_frame(bytes *s, int code, const char *reason)
{
    uint8_t p[125];
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    size_t n = strlen(reason);
    memcpy(p + 2, reason, n);
    frame(s, FIN | WS_OP_CLOSE, p, n + 2);
}

/* ---- recording callbacks ---- */

typedef struct {
    bytes log;
    int messages;
    int stop_at_message;        /* return non-zero on this one (1-based) */
    int stop_at_control;
    const uint8_t *last_data;   /* where the last callback's data was   */
} recorder;

static void log_event(recorder *r, int opcode, const uint8_t *d, size_t len)
{
    char head[32];
    int n = snprintf(head, sizeof head, "%x:%zu:", (unsigned)opcode, len);
    put(&r->log, head, (size_t)n);
    put(&r->log, d, len);
    put(&r->log, "|", 1);
    r->last_data = d;
}

static int on_message(void *user, int opcode, const uint8_t *d, size_t len)
{
    recorder *r = user;
    log_event(r, opcode, d, len);
    return ++r->messages == r->stop_at_message;
}

static int on_control(void *user, int opcode, const uint8_t *d, size_t len)
{
    recorder *r = user;
    log_event(r, opcode, d, len);
    return r->stop_at_control != 0 && opcode == r->stop_at_control;
}

static const ws_parser_callbacks callbacks = {on_message, on_control};

/* ---- feeding with different splits ---- */

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

static size_t chunk_size(enum split how, size_t left)
{
    size_t n;
    if (how == SPLIT_WHOLE)
        n = left;
    else if (how == SPLIT_BYTES)
        n = 1;
    else if (rand() % 4 == 0)
        n = (size_t)(rand() % 4000);    /* often holds whole frames */
    else
        n = (size_t)(rand() % 20);
    return n < left ? n : left;
}

/* Feeds `in` in chunks as `how` says; returns the first error. */
static ws_err run(ws_parser *p, const bytes *in, enum split how)
{
    ws_err err = WS_OK;
    for (size_t pos = 0; pos < in->len && err == WS_OK;) {
        size_t n = chunk_size(how, in->len - pos);
        uint8_t *chunk = malloc(n ? n : 1);
        memcpy(chunk, in->b + pos, n);
        err = ws_parser_feed(p, chunk, n);
        free(chunk);
        pos += n;
    }
    return err;
}

static ws_err run_once(const bytes *in, size_t max, enum split how,
                       recorder *r)
{
    ws_parser p;
    ws_parser_init(&p, &callbacks, r, max, true);
    ws_err err = run(&p, in, how);
    ws_parser_free(&p);
    return err;
}

static bool log_is(const recorder *r, const void *log, size_t len)
{
    return r->log.len == len && (len == 0 || memcmp(r->log.b, log, len) == 0);
}

/* Every split of `in` gives result `err` and exactly the callbacks `log`. */
static void expect_log(const bytes *in, size_t max, ws_err err,
                       const void *log, size_t log_len, int seeds)
{
    for (int i = 0; i < 2 + seeds; i++) {
        enum split how = i == 0 ? SPLIT_WHOLE : i == 1 ? SPLIT_BYTES : SPLIT_RANDOM;
        srand((unsigned)i);
        recorder r = {0};
        ws_err got = run_once(in, max, how, &r);
        CU_ASSERT_EQUAL(got, err);
        CU_ASSERT_TRUE(log_is(&r, log, log_len));
        bytes_free(&r.log);
    }
}

static void expect(const bytes *in, ws_err err, const char *log)
{
    expect_log(in, MAX_DEFAULT, err, log, strlen(log), RANDOM_SEEDS);
}

/* ---- data messages ---- */

static void test_single_frames_every_length(void)
{
    static const size_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i];
        for (int op = WS_OP_TEXT; op <= WS_OP_BINARY; op++) {
            uint8_t *payload = malloc(n + 1);
            for (size_t k = 0; k < n; k++)
                payload[k] = op == WS_OP_TEXT ? (uint8_t)('a' + k % 26)
                                              : (uint8_t)(k * 31 + 7);
            bytes in = {0}, log = {0};
            frame(&in, FIN | (uint8_t)op, payload, n);
            char head[32];
            put(&log, head, (size_t)snprintf(head, sizeof head, "%x:%zu:", op, n));
            put(&log, payload, n);
            put(&log, "|", 1);
            expect_log(&in, MAX_DEFAULT, WS_OK, log.b, log.len, n > 1000 ? 10 : RANDOM_SEEDS);
            bytes_free(&in);
            bytes_free(&log);
            free(payload);
        }
    }
}

/* A frame complete in the fed buffer is delivered from that buffer,
 * without a copy and without allocating. */
static void test_whole_frame_is_zero_copy(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_TEXT, "hello there");
    frame_s(&in, FIN | WS_OP_PING, "ping!");
    frame_s(&in, FIN | WS_OP_BINARY, "bin");
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, MAX_DEFAULT, true);
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_OK);
    CU_ASSERT_TRUE(r.last_data >= in.b && r.last_data < in.b + in.len);
    CU_ASSERT_EQUAL(p.msg_cap, 0);
    const char *want = "1:11:hello there|9:5:ping!|2:3:bin|";
    CU_ASSERT_TRUE(log_is(&r, want, strlen(want)));
    ws_parser_free(&p);
    bytes_free(&r.log);
    bytes_free(&in);
}

static void test_fragmented_with_interleaved_controls(void)
{
    bytes in = {0};
    frame_s(&in, WS_OP_TEXT, "Hel");
    frame_s(&in, FIN | WS_OP_PING, "p1");
    frame_s(&in, WS_OP_CONT, "lo ");
    frame_s(&in, FIN | WS_OP_PONG, "");
    frame_s(&in, WS_OP_CONT, "");
    frame_s(&in, FIN | WS_OP_CONT, "world");
    frame_s(&in, FIN | WS_OP_BINARY, "next");
    expect(&in, WS_OK, "9:2:p1|a:0:|1:11:Hello world|2:4:next|");
    bytes_free(&in);
}

static void test_empty_fragments(void)
{
    bytes in = {0};
    frame_s(&in, WS_OP_BINARY, "");
    frame_s(&in, WS_OP_CONT, "");
    frame_s(&in, FIN | WS_OP_CONT, "");
    frame_s(&in, FIN | WS_OP_TEXT, "");
    expect(&in, WS_OK, "2:0:|1:0:|");
    bytes_free(&in);
}

/* The message buffer is kept between messages, and a large one is given
 * back after use. */
static void test_buffer_reuse(void)
{
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 0, true);
    bytes in = {0};
    frame_s(&in, WS_OP_TEXT, "ab");
    frame_s(&in, FIN | WS_OP_CONT, "cd");
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_OK);
    uint8_t *buf = p.msg;
    size_t cap = p.msg_cap;
    CU_ASSERT_PTR_NOT_NULL(buf);
    in.len = 0;
    frame_s(&in, WS_OP_BINARY, "ef");
    frame_s(&in, FIN | WS_OP_CONT, "gh");
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_OK);
    CU_ASSERT_PTR_EQUAL(p.msg, buf);
    CU_ASSERT_EQUAL(p.msg_cap, cap);

    size_t big = 200000;
    uint8_t *payload = calloc(1, big);
    in.len = 0;
    frame(&in, WS_OP_BINARY, payload, big);
    frame(&in, FIN | WS_OP_CONT, payload, 1);
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_OK);
    CU_ASSERT_EQUAL(r.messages, 3);
    CU_ASSERT_EQUAL(p.msg_cap, 0);
    free(payload);
    ws_parser_free(&p);
    bytes_free(&r.log);
    bytes_free(&in);
}

/* ---- protocol errors ---- */

static void test_unmasked_client_frame(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_PING, "ok");
    raw_frame(&in, FIN | WS_OP_TEXT, "hi", 2, false);
    expect(&in, WS_ERR_PROTOCOL, "9:2:ok|");
    bytes_free(&in);
}

static void test_client_side_rejects_masked(void)
{
    bytes in = {0};
    raw_frame(&in, FIN | WS_OP_TEXT, "plain", 5, false);
    frame_s(&in, FIN | WS_OP_TEXT, "masked");
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 0, false);
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_ERR_PROTOCOL);
    CU_ASSERT_TRUE(log_is(&r, "1:5:plain|", 10));
    ws_parser_free(&p);
    bytes_free(&r.log);
    bytes_free(&in);
}

static void test_reserved_bits(void)
{
    const uint8_t rsv[] = {RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3};
    for (size_t i = 0; i < sizeof rsv; i++) {
        bytes in = {0};
        frame_s(&in, FIN | rsv[i] | WS_OP_TEXT, "x");
        expect(&in, WS_ERR_PROTOCOL, "");
        in.len = 0;
        frame_s(&in, FIN | rsv[i] | WS_OP_PING, "");
        expect(&in, WS_ERR_PROTOCOL, "");
        bytes_free(&in);
    }
}

static void test_reserved_opcodes(void)
{
    const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof ops; i++) {
        bytes in = {0};
        frame_s(&in, FIN | WS_OP_TEXT, "a");
        frame_s(&in, FIN | ops[i], "");
        frame_s(&in, FIN | WS_OP_TEXT, "b");
        expect(&in, WS_ERR_PROTOCOL, "1:1:a|");
        bytes_free(&in);
    }
}

static void test_control_frame_rules(void)
{
    char p125[126], p126[127];
    memset(p125, 'x', 125);
    p125[125] = '\0';
    memset(p126, 'y', 126);
    p126[126] = '\0';
    const uint8_t controls[] = {WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE};
    for (size_t i = 0; i < sizeof controls; i++) {
        bytes in = {0};
        frame(&in, FIN | controls[i], p126, 126);   /* 16-bit length form */
        expect(&in, WS_ERR_PROTOCOL, "");
        in.len = 0;
        frame_s(&in, controls[i], "");              /* fragmented */
        expect(&in, WS_ERR_PROTOCOL, "");
        bytes_free(&in);
    }
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_PING, p125);
    char want[200];
    snprintf(want, sizeof want, "9:125:%s|", p125);
    expect(&in, WS_OK, want);
    bytes_free(&in);
}

static void test_continuation_rules(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_CONT, "orphan");
    expect(&in, WS_ERR_PROTOCOL, "");

    in.len = 0;
    frame_s(&in, FIN | WS_OP_TEXT, "done");
    frame_s(&in, WS_OP_CONT, "late");
    expect(&in, WS_ERR_PROTOCOL, "1:4:done|");

    in.len = 0;
    frame_s(&in, WS_OP_TEXT, "start");
    frame_s(&in, FIN | WS_OP_TEXT, "again");
    expect(&in, WS_ERR_PROTOCOL, "");

    in.len = 0;
    frame_s(&in, WS_OP_BINARY, "start");
    frame_s(&in, FIN | WS_OP_PING, "");
    frame_s(&in, WS_OP_TEXT, "other");
    expect(&in, WS_ERR_PROTOCOL, "9:0:|");
    bytes_free(&in);
}

static void test_64bit_length_top_bit(void)
{
    bytes in = {0};
    const uint8_t h[] = {FIN | WS_OP_BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1,
                         1, 2, 3, 4};
    put(&in, h, sizeof h);
    expect(&in, WS_ERR_PROTOCOL, "");
    bytes_free(&in);
}

/* ---- close frames ---- */

static void test_close_payloads(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_CLOSE, "");
    expect(&in, WS_OK, "8:0:|");

    in.len = 0;
    close_frame(&in, 1000, "bye");
    expect(&in, WS_OK, "8:5:\x03\xe8" "bye|");

    in.len = 0;
    frame_s(&in, FIN | WS_OP_CLOSE, "\x03");       /* 1-byte payload */
    expect(&in, WS_ERR_PROTOCOL, "");

    in.len = 0;
    close_frame(&in, 1000, "\xCE\xBA\xF4\x90");    /* bad UTF-8 reason */
    expect(&in, WS_ERR_UTF8, "");

    const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                       5000, 65535};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        in.len = 0;
        close_frame(&in, bad[i], "");
        expect(&in, WS_ERR_PROTOCOL, "");
    }
    const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                        3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        in.len = 0;
        close_frame(&in, good[i], "ok");
        char want[32];
        snprintf(want, sizeof want, "8:4:%c%cok|", good[i] >> 8, good[i] & 0xFF);
        expect(&in, WS_OK, want);
    }
    bytes_free(&in);
}

/* After a close frame nothing more is delivered (RFC 6455 5.5.1). */
static void test_nothing_after_close(void)
{
    bytes in = {0};
    close_frame(&in, 1001, "");
    frame_s(&in, FIN | WS_OP_TEXT, "ignored");
    frame_s(&in, FIN | WS_OP_PING, "ignored");
    put(&in, "garbage", 7);
    expect(&in, WS_OK, "8:2:\x03\xe9|");
    bytes_free(&in);
}

/* ---- UTF-8 in text messages ---- */

static void test_text_utf8(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_TEXT, "caf\xC3\xA9");
    frame_s(&in, FIN | WS_OP_BINARY, "\xFF\xFE");   /* binary: not checked */
    expect(&in, WS_OK, "1:5:caf\xC3\xA9|2:2:\xFF\xFE|");

    in.len = 0;
    frame_s(&in, FIN | WS_OP_TEXT, "bad \xED\xA0\x80 surrogate");
    expect(&in, WS_ERR_UTF8, "");

    in.len = 0;                                     /* ends mid-character */
    frame_s(&in, FIN | WS_OP_TEXT, "hello\xE2\x82");
    expect(&in, WS_ERR_UTF8, "");

    in.len = 0;                                     /* char across fragments */
    frame_s(&in, WS_OP_TEXT, "\xE2");
    frame_s(&in, FIN | WS_OP_PING, "");
    frame_s(&in, WS_OP_CONT, "\x82");
    frame_s(&in, FIN | WS_OP_CONT, "\xAC");
    expect(&in, WS_OK, "9:0:|1:3:\xE2\x82\xAC|");

    in.len = 0;                                     /* last fragment incomplete */
    frame_s(&in, WS_OP_TEXT, "ok");
    frame_s(&in, FIN | WS_OP_CONT, "\xF0\x9F\x98");
    expect(&in, WS_ERR_UTF8, "");
    bytes_free(&in);
}

/* Invalid UTF-8 fails as soon as the bad byte arrives: in the middle of
 * a fragmented message, before the frame (or message) is complete. */
static void test_utf8_fails_fast(void)
{
    bytes in = {0};
    frame_s(&in, WS_OP_TEXT, "fine so far");
    frame_s(&in, WS_OP_CONT, "\xCE\xBA\xF4\x90\x80\x80 and much more text");
    /* cut the input right after the 0x90 byte: the frame and the message
     * are both unfinished */
    size_t cut = in.len - strlen("\x80\x80 and much more text");
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 0, true);
    ws_err err = WS_OK;
    for (size_t i = 0; i < cut && err == WS_OK; i++)
        err = ws_parser_feed(&p, in.b + i, 1);
    CU_ASSERT_EQUAL(err, WS_ERR_UTF8);
    CU_ASSERT_EQUAL(r.log.len, 0);
    ws_parser_free(&p);
    bytes_free(&in);
}

/* ---- limits ---- */

static void test_max_message(void)
{
    char p101[101];
    memset(p101, 'm', sizeof p101);
    char want[128];
    snprintf(want, sizeof want, "2:100:%.100s|", p101);
    bytes in = {0};
    frame(&in, FIN | WS_OP_BINARY, p101, 100);      /* exactly the limit */
    expect_log(&in, 100, WS_OK, want, strlen(want), 20);

    in.len = 0;
    frame(&in, FIN | WS_OP_BINARY, p101, 100);
    frame(&in, FIN | WS_OP_BINARY, p101, 101);
    expect_log(&in, 100, WS_ERR_TOO_BIG, want, strlen(want), 20);

    in.len = 0;                                     /* fragments add up */
    frame(&in, WS_OP_TEXT, p101, 60);
    frame(&in, FIN | WS_OP_PING, "", 0);            /* controls don't count */
    frame(&in, FIN | WS_OP_CONT, p101, 41);
    expect_log(&in, 100, WS_ERR_TOO_BIG, "9:0:|", 5, 20);

    in.len = 0;
    frame(&in, WS_OP_TEXT, p101, 60);
    frame(&in, FIN | WS_OP_CONT, p101, 40);
    snprintf(want, sizeof want, "1:100:%.100s|", p101);
    expect_log(&in, 100, WS_OK, want, strlen(want), 20);
    bytes_free(&in);
}

/* A too-big length fails at the header, before any payload is sent or
 * memory reserved for it. */
static void test_too_big_known_from_header(void)
{
    const uint8_t h[] = {FIN | WS_OP_BINARY, 0x80 | 127, 0, 0, 0x10, 0, 0, 0, 0, 0,
                         9, 9, 9, 9};
    uint8_t copy[sizeof h];
    memcpy(copy, h, sizeof h);
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 16 << 20, true);
    CU_ASSERT_EQUAL(ws_parser_feed(&p, copy, sizeof copy), WS_ERR_TOO_BIG);
    CU_ASSERT_EQUAL(p.msg_cap, 0);
    ws_parser_free(&p);
}

/* ---- callbacks and failure are final ---- */

static void test_callback_stops(void)
{
    bytes in = {0};
    frame_s(&in, FIN | WS_OP_TEXT, "one");
    frame_s(&in, FIN | WS_OP_TEXT, "two");
    for (int split = SPLIT_WHOLE; split <= SPLIT_RANDOM; split++) {
        recorder r = {.stop_at_message = 1};
        ws_parser p;
        ws_parser_init(&p, &callbacks, &r, 0, true);
        CU_ASSERT_EQUAL(run(&p, &in, (enum split)split), WS_ERR_CALLBACK);
        CU_ASSERT_TRUE(log_is(&r, "1:3:one|", 8));
        CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, 0), WS_ERR_CALLBACK);
        ws_parser_free(&p);
        bytes_free(&r.log);
    }

    in.len = 0;
    frame_s(&in, FIN | WS_OP_PING, "x");
    frame_s(&in, FIN | WS_OP_TEXT, "after");
    recorder r = {.stop_at_control = WS_OP_PING};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 0, true);
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_ERR_CALLBACK);
    CU_ASSERT_TRUE(log_is(&r, "9:1:x|", 6));
    ws_parser_free(&p);
    bytes_free(&r.log);
    bytes_free(&in);
}

static void test_error_is_sticky(void)
{
    recorder r = {0};
    ws_parser p;
    ws_parser_init(&p, &callbacks, &r, 0, true);
    bytes in = {0};
    frame_s(&in, FIN | RSV1 | WS_OP_TEXT, "bad");
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_ERR_PROTOCOL);
    in.len = 0;
    frame_s(&in, FIN | WS_OP_TEXT, "good");
    CU_ASSERT_EQUAL(ws_parser_feed(&p, in.b, in.len), WS_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(r.log.len, 0);
    ws_parser_free(&p);
    bytes_free(&in);
}

/* ---- random streams ---- */

/* Appends `len` bytes of random valid UTF-8 (mixed 1-4 byte characters). */
static void random_utf8(uint8_t *out, size_t len)
{
    static const uint32_t starts[] = {0x20, 0xA0, 0x800, 0x10000};
    size_t i = 0;
    while (i < len) {
        size_t n = 1 + (size_t)(rand() % 4);
        if (n > len - i)
            n = len - i;
        uint32_t cp = starts[n - 1] + (uint32_t)(rand() % 0x50);
        if (n == 1) {
            out[i] = (uint8_t)cp;
        } else if (n == 2) {
            out[i] = (uint8_t)(0xC0 | cp >> 6);
            out[i + 1] = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (n == 3) {
            out[i] = (uint8_t)(0xE0 | cp >> 12);
            out[i + 1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            out[i + 2] = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            out[i] = (uint8_t)(0xF0 | cp >> 18);
            out[i + 1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            out[i + 2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            out[i + 3] = (uint8_t)(0x80 | (cp & 0x3F));
        }
        i += n;
    }
}

static void log_expected(bytes *log, int opcode, const uint8_t *d, size_t len)
{
    char head[32];
    put(log, head, (size_t)snprintf(head, sizeof head, "%x:%zu:", opcode, len));
    put(log, d, len);
    put(log, "|", 1);
}

/* A random valid conversation: messages of random size and type, cut
 * into random fragments (splitting characters too), with pings and pongs
 * between fragments. */
static void random_stream(bytes *in, bytes *log)
{
    int nmsg = 1 + rand() % 8;
    for (int m = 0; m < nmsg; m++) {
        int op = rand() % 2 ? WS_OP_TEXT : WS_OP_BINARY;
        size_t len = rand() % 10 == 0 ? (size_t)(rand() % 70000) : (size_t)(rand() % 300);
        uint8_t *msg = malloc(len + 1);
        if (op == WS_OP_TEXT)
            random_utf8(msg, len);
        else
            for (size_t i = 0; i < len; i++)
                msg[i] = (uint8_t)rand();
        int nfrag = 1 + rand() % 4;
        size_t pos = 0;
        for (int f = 0; f < nfrag; f++) {
            size_t n = f == nfrag - 1 ? len - pos : (size_t)rand() % (len - pos + 1);
            uint8_t b0 = (uint8_t)((f == nfrag - 1 ? FIN : 0) | (f == 0 ? op : WS_OP_CONT));
            frame(in, b0, msg + pos, n);
            pos += n;
            if (f < nfrag - 1 && rand() % 2) {
                uint8_t ping[125];
                size_t pn = (size_t)(rand() % 126);
                for (size_t i = 0; i < pn; i++)
                    ping[i] = (uint8_t)rand();
                int cop = rand() % 2 ? WS_OP_PING : WS_OP_PONG;
                frame(in, FIN | (uint8_t)cop, ping, pn);
                log_expected(log, cop, ping, pn);
            }
        }
        log_expected(log, op, msg, len);
        free(msg);
    }
}

static void test_random_streams(void)
{
    for (unsigned seed = 1; seed <= 60; seed++) {
        srand(seed * 7919);
        bytes in = {0}, log = {0};
        random_stream(&in, &log);
        expect_log(&in, MAX_DEFAULT, WS_OK, log.b, log.len, 5);
        bytes_free(&in);
        bytes_free(&log);
    }
}

UNIT_SUITE(ws_parser) {
    CU_pSuite s = CU_add_suite("ws_parser", NULL, NULL);
    CU_add_test(s, "single frames at every length, any split", test_single_frames_every_length);
    CU_add_test(s, "whole frame delivered in place", test_whole_frame_is_zero_copy);
    CU_add_test(s, "fragments with interleaved controls", test_fragmented_with_interleaved_controls);
    CU_add_test(s, "empty fragments", test_empty_fragments);
    CU_add_test(s, "message buffer reused, large one released", test_buffer_reuse);
    CU_add_test(s, "unmasked client frame", test_unmasked_client_frame);
    CU_add_test(s, "client side rejects masked frames", test_client_side_rejects_masked);
    CU_add_test(s, "reserved bits", test_reserved_bits);
    CU_add_test(s, "reserved opcodes", test_reserved_opcodes);
    CU_add_test(s, "control frame size and FIN", test_control_frame_rules);
    CU_add_test(s, "continuation rules", test_continuation_rules);
    CU_add_test(s, "64-bit length top bit", test_64bit_length_top_bit);
    CU_add_test(s, "close payloads and codes", test_close_payloads);
    CU_add_test(s, "nothing after close", test_nothing_after_close);
    CU_add_test(s, "text must be UTF-8", test_text_utf8);
    CU_add_test(s, "UTF-8 fails fast mid-fragment", test_utf8_fails_fast);
    CU_add_test(s, "max_message", test_max_message);
    CU_add_test(s, "too big known from the header", test_too_big_known_from_header);
    CU_add_test(s, "callback stops the parser", test_callback_stops);
    CU_add_test(s, "errors are sticky", test_error_is_sticky);
    CU_add_test(s, "random streams, random splits", test_random_streams);
}
