/*
 * fuzz_ws_dispatch.c - fuzzes the typed-message dispatcher
 * (websocket/ws_dispatch.c): text from a client, parsed as
 * {"type": ..., "payload": ...} and routed to a handler.
 *
 * The connection is a socketless ws_conn (ws_conn_new), so everything
 * the dispatcher sends lands in its outbox. After each input the outbox
 * is decoded with the real frame parser, as a client would, and:
 *   - every reply is an unmasked text frame holding a JSON object with
 *     a string "type";
 *   - a refused message (-1) got exactly one {"type":"error"} packet
 *     whose payload has a string code and message;
 *   - an "echo" message got exactly one reply whose payload equals the
 *     payload that was sent (JSON null when absent);
 *   - a handled message nests at most WS_JSON_MAX_DEPTH levels (the
 *     dispatcher's pre-scan never under-counts: deeper input would
 *     overflow a connection thread's small stack inside jansson).
 * The "join" handler exercises the hub with a group name from the input.
 */
#include "fuzz.h"
#include "../../websocket/websocket.h"

#include <jansson.h>
#include <string.h>
#include <sys/uio.h>

static void on_echo(ws_conn *c, json_t *payload)
{
    ws_send_json(c, "echo", json_incref(payload));
}

static void on_join(ws_conn *c, json_t *payload)
{
    if (json_is_string(payload) && ws_hub_join(c, json_string_value(payload)) == 0)
        ws_send_json(c, "joined", json_integer((json_int_t)ws_hub_size(
                                      json_string_value(payload))));
    ws_hub_leave_all(c);
}

static const ws_handler handlers[] = {
    {"echo", on_echo},
    {"join", on_join},
};

static const ws_endpoint endpoint = {"/fuzz", NULL, NULL, NULL, NULL};

/* The replies decoded from the outbox. */
typedef struct replies {
    json_t *msgs[8];
    int count;
} replies;

static int on_reply(void *user, int opcode, const uint8_t *data, size_t len)
{
    replies *r = user;
    FUZZ_CHECK(opcode == WS_OP_TEXT);
    json_error_t err;
    json_t *msg = json_loadb((const char *)data, len, 0, &err);
    FUZZ_CHECK(json_is_object(msg));
    FUZZ_CHECK(json_is_string(json_object_get(msg, "type")));
    FUZZ_CHECK(r->count < 8);
    r->msgs[r->count++] = msg;
    return 0;
}

static int on_reply_control(void *user, int opcode, const uint8_t *data,
                            size_t len)
{
    (void)user, (void)opcode, (void)data, (void)len;
    FUZZ_CHECK(!"the dispatcher sent a control frame");
    return 0;
}

/* Drains the outbox into one buffer and parses it as a client would. */
static void read_replies(ws_conn *c, replies *r)
{
    ws_outbox *o = ws_conn_outbox(c);
    size_t total = ws_outbox_bytes(o), got = 0;
    uint8_t *bytes = malloc(total ? total : 1);
    FUZZ_CHECK(bytes != NULL);
    struct iovec iov[16];
    int n;
    while ((n = ws_outbox_peek(o, iov, 16)) > 0) {
        size_t batch = 0;
        for (int i = 0; i < n; i++) {
            FUZZ_CHECK(got + iov[i].iov_len <= total);
            memcpy(bytes + got, iov[i].iov_base, iov[i].iov_len);
            got += iov[i].iov_len;
            batch += iov[i].iov_len;
        }
        ws_outbox_consume(o, batch);
    }
    FUZZ_CHECK(got == total);

    static const ws_parser_callbacks cb = {on_reply, on_reply_control};
    ws_parser p;
    ws_parser_init(&p, &cb, r, 0, false);
    FUZZ_CHECK(ws_parser_feed(&p, bytes, got) == WS_OK);
    ws_parser_free(&p);
    free(bytes);
}

static const char *reply_type(const replies *r, int i)
{
    return json_string_value(json_object_get(r->msgs[i], "type"));
}

/* Levels of arrays and objects in j (a scalar is 0). */
static size_t json_depth(json_t *j)
{
    size_t deepest = 0, d;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if ((d = json_depth(json_array_get(j, i))) > deepest)
                deepest = d;
    } else if (json_is_object(j)) {
        const char *key;
        json_t *value;
        json_object_foreach(j, key, value)
            if ((d = json_depth(value)) > deepest)
                deepest = d;
    } else {
        return 0;
    }
    return deepest + 1;
}

static void check_replies(const replies *r, int rc, const uint8_t *data,
                          size_t size)
{
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && r->count == 1);
        FUZZ_CHECK(strcmp(reply_type(r, 0), "error") == 0);
        json_t *payload = json_object_get(r->msgs[0], "payload");
        FUZZ_CHECK(json_is_string(json_object_get(payload, "code")));
        FUZZ_CHECK(json_is_string(json_object_get(payload, "message")));
        return;
    }
    json_t *msg = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                             NULL);
    FUZZ_CHECK(msg != NULL);
    FUZZ_CHECK(json_depth(msg) <= WS_JSON_MAX_DEPTH);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (strcmp(type, "echo") == 0) {
        FUZZ_CHECK(r->count == 1 && strcmp(reply_type(r, 0), "echo") == 0);
        json_t *sent = json_object_get(msg, "payload");
        json_t *back = json_object_get(r->msgs[0], "payload");
        FUZZ_CHECK(json_equal(sent ? sent : json_null(), back));
    }
    json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_conn *c = ws_conn_new(1, &endpoint);
    FUZZ_CHECK(c != NULL);
    const uint8_t *text = (const uint8_t *)fuzz_dup(data, size, 0);
    int rc = ws_dispatch(c, handlers, sizeof handlers / sizeof handlers[0],
                         text, size);
    replies r = {{NULL}, 0};
    read_replies(c, &r);
    check_replies(&r, rc, text, size);
    for (int i = 0; i < r.count; i++)
        json_decref(r.msgs[i]);
    free((void *)text);
    ws_conn_unref(c);
    return 0;
}
