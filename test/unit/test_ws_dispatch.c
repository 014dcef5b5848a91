/*
 * test_ws_dispatch.c - typed JSON messages (websocket/ws_dispatch.c):
 * handlers by type, and the error packet for every kind of bad input,
 * after which the connection is still open and usable.
 */
#include "unit.h"

#include "../../websocket/websocket.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ws_endpoint test_ep = { .path = "/test" };

static int greet_calls;
static char greet_payload[256];

static void on_greet(ws_conn *c, json_t *payload)
{
    greet_calls++;
    char *s = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(greet_payload, sizeof greet_payload, "%s", s ? s : "?");
    free(s);
    ws_send_json(c, "greeted", json_incref(payload));
}

static const ws_handler handlers[] = {
    { "greet", on_greet },
};

/* Dispatches text on c; returns ws_dispatch's result. */
static int feed(ws_conn *c, const char *text)
{
    return ws_dispatch(c, handlers, 1, (const uint8_t *)text, strlen(text));
}

/* The next message queued for c, parsed (NULL if none). */
static json_t *next_packet(ws_conn *c)
{
    struct iovec iov[1];
    if (ws_outbox_peek(ws_conn_outbox(c), iov, 1) == 0)
        return NULL;
    ws_frame_header h;
    int hl = ws_frame_decode_header(iov[0].iov_base, iov[0].iov_len, &h);
    CU_ASSERT_FATAL(hl > 0);
    CU_ASSERT_EQUAL(h.opcode, WS_OP_TEXT);
    json_t *j = json_loadb((const char *)iov[0].iov_base + hl, h.payload_len, 0, NULL);
    ws_outbox_consume(ws_conn_outbox(c), iov[0].iov_len);
    return j;
}

/* Asserts the next packet is an error with this code. */
static void expect_error(ws_conn *c, const char *code)
{
    json_t *j = next_packet(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), "error");
    json_t *p = json_object_get(j, "payload");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "code")), code);
    CU_ASSERT(json_is_string(json_object_get(p, "message")));
    json_decref(j);
}

static void test_handler_called(void)
{
    ws_conn *c = ws_conn_new(1, &test_ep);
    greet_calls = 0;
    CU_ASSERT_EQUAL(feed(c, "{\"type\":\"greet\",\"payload\":{\"name\":\"ann\"}}"), 0);
    CU_ASSERT_EQUAL(greet_calls, 1);
    CU_ASSERT_STRING_EQUAL(greet_payload, "{\"name\":\"ann\"}");
    json_t *j = next_packet(c);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), "greeted");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "payload"), "name")), "ann");
    json_decref(j);

    /* No payload: the handler sees JSON null. */
    CU_ASSERT_EQUAL(feed(c, "{\"type\":\"greet\"}"), 0);
    CU_ASSERT_STRING_EQUAL(greet_payload, "null");
    json_decref(next_packet(c));
    ws_conn_unref(c);
}

static void test_errors_keep_connection(void)
{
    ws_conn *c = ws_conn_new(2, &test_ep);
    greet_calls = 0;
    const struct { const char *text, *code; } cases[] = {
        { "not json", "bad_json" },
        { "{\"type\":\"greet\"", "bad_json" },       /* truncated */
        { "", "bad_json" },
        { "{\"type\":\"greet\",\"type\":\"x\"}", "bad_json" }, /* duplicate key */
        { "[1,2]", "not_object" },
        { "\"greet\"", "not_object" },
        { "{\"payload\":1}", "no_type" },
        { "{\"type\":7}", "no_type" },
        { "{\"type\":null}", "no_type" },
        { "{\"type\":\"nope\"}", "unknown_type" },
        { "{\"type\":\"GREET\"}", "unknown_type" },  /* types are case-sensitive */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_EQUAL(feed(c, cases[i].text), -1);
        expect_error(c, cases[i].code);
        CU_ASSERT(ws_conn_is_open(c));
    }
    CU_ASSERT_EQUAL(greet_calls, 0);
    /* Still usable. */
    CU_ASSERT_EQUAL(feed(c, "{\"type\":\"greet\",\"payload\":[1]}"), 0);
    CU_ASSERT_EQUAL(greet_calls, 1);
    json_decref(next_packet(c));
    CU_ASSERT_PTR_NULL(next_packet(c));
    ws_conn_unref(c);
}

static void test_unknown_type_is_quoted_safely(void)
{
    ws_conn *c = ws_conn_new(3, &test_ep);
    char text[600];
    char big[400];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"%s\\\"}\"}", big);
    CU_ASSERT_EQUAL(feed(c, text), -1);
    json_t *j = next_packet(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);   /* the error is valid JSON */
    const char *msg = json_string_value(json_object_get(json_object_get(j, "payload"), "message"));
    CU_ASSERT(msg && strlen(msg) < 200);
    json_decref(j);
    ws_conn_unref(c);
}

/* {"type":"greet","payload":<depth - 1 nested arrays>}: depth levels. */
static char *nested_greet(int depth)
{
    size_t cap = 64 + 2 * (size_t)depth;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap, "{\"type\":\"greet\",\"payload\":");
    for (int i = 1; i < depth; i++)
        text[n++] = '[';
    for (int i = 1; i < depth; i++)
        text[n++] = ']';
    strcpy(text + n, "}");
    return text;
}

static void test_nesting_limit(void)
{
    ws_conn *c = ws_conn_new(4, &test_ep);
    greet_calls = 0;
    char *ok = nested_greet(WS_JSON_MAX_DEPTH), *deep = nested_greet(WS_JSON_MAX_DEPTH + 1);
    CU_ASSERT_EQUAL(feed(c, ok), 0);
    CU_ASSERT_EQUAL(greet_calls, 1);
    json_decref(next_packet(c));
    CU_ASSERT_EQUAL(feed(c, deep), -1);
    expect_error(c, "bad_json");
    CU_ASSERT_EQUAL(greet_calls, 1);
    free(ok);
    free(deep);

    /* Brackets in strings do not count, escaped quotes do not end them. */
    char text[400];
    char brackets[200];
    memset(brackets, '[', sizeof brackets - 1);
    brackets[sizeof brackets - 1] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"greet\",\"payload\":\"\\\"%s\\\\\"}", brackets);
    CU_ASSERT_EQUAL(feed(c, text), 0);
    CU_ASSERT_EQUAL(greet_calls, 2);
    json_decref(next_packet(c));
    CU_ASSERT(ws_conn_is_open(c));
    ws_conn_unref(c);
}

/* A connection thread's stack is small: very deep input must be refused
 * without recursing. Runs the dispatcher on a 128 KiB stack. */
static void *dispatch_deep(void *arg)
{
    ws_conn *c = arg;
    size_t len = 200000;
    char *text = malloc(len + 1);
    memset(text, '[', len / 2);
    memset(text + len / 2, ']', len / 2);
    text[len] = '\0';
    intptr_t rc = ws_dispatch(c, handlers, 1, (const uint8_t *)text, len);
    free(text);
    return (void *)rc;
}

static void test_deep_input_on_small_stack(void)
{
    ws_conn *c = ws_conn_new(5, &test_ep);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_t t;
    void *rc = NULL;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, &attr, dispatch_deep, c), 0);
    pthread_join(t, &rc);
    pthread_attr_destroy(&attr);
    CU_ASSERT_EQUAL((intptr_t)rc, -1);
    expect_error(c, "bad_json");
    ws_conn_unref(c);
}

static void test_json_frame(void)
{
    ws_frame *f = ws_json_frame("said", json_pack("{s:s}", "text", "hi"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ws_frame_header h;
    int hl = ws_frame_decode_header(ws_frame_bytes(f), ws_frame_size(f), &h);
    CU_ASSERT(hl > 0);
    CU_ASSERT_EQUAL(h.opcode, WS_OP_TEXT);
    CU_ASSERT_EQUAL(h.payload_len + (size_t)hl, ws_frame_size(f));
    CU_ASSERT_EQUAL(memcmp(ws_frame_bytes(f) + hl, "{\"type\":\"said\",\"payload\":{\"text\":\"hi\"}}",
                           h.payload_len), 0);
    ws_frame_unref(f);

    f = ws_json_frame("nothing", NULL);
    hl = ws_frame_decode_header(ws_frame_bytes(f), ws_frame_size(f), &h);
    CU_ASSERT_EQUAL(memcmp(ws_frame_bytes(f) + hl, "{\"type\":\"nothing\",\"payload\":null}",
                           h.payload_len), 0);
    ws_frame_unref(f);
}

UNIT_SUITE(ws_dispatch) {
    CU_pSuite s = CU_add_suite("ws_dispatch", NULL, NULL);
    CU_add_test(s, "handler called with payload", test_handler_called);
    CU_add_test(s, "errors keep the connection", test_errors_keep_connection);
    CU_add_test(s, "unknown type quoted safely", test_unknown_type_is_quoted_safely);
    CU_add_test(s, "nesting limit", test_nesting_limit);
    CU_add_test(s, "deep input on a small stack", test_deep_input_on_small_stack);
    CU_add_test(s, "json frame", test_json_frame);
}
