/*
 * test_ws_hub.c - named groups and broadcast (websocket/ws_hub.c), on
 * connections without sockets (ws_conn_new): what a broadcast queues in
 * each member's outbox, that a member that never drains is closed with
 * 1008 while the others get everything, wake-ups, and leave-all.
 */
#include "unit.h"

#include "../../websocket/websocket.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ws_endpoint test_ep = { .path = "/test" };

/* Pops the next queued message's payload into out; returns its length,
 * or -1 if the outbox is empty. */
static int pop_message(ws_conn *c, char *out, size_t cap)
{
    struct iovec iov[1];
    if (ws_outbox_peek(ws_conn_outbox(c), iov, 1) == 0)
        return -1;
    ws_frame_header h;
    int hl = ws_frame_decode_header(iov[0].iov_base, iov[0].iov_len, &h);
    CU_ASSERT_FATAL(hl > 0 && h.payload_len < cap);
    memcpy(out, (char *)iov[0].iov_base + hl, h.payload_len);
    out[h.payload_len] = '\0';
    ws_outbox_consume(ws_conn_outbox(c), iov[0].iov_len);
    return (int)h.payload_len;
}

static bool wake_signalled(ws_conn *c)
{
    return ws_conn_wake_pending(c);
}

static void test_join_leave(void)
{
    ws_conn *a = ws_conn_new(1, &test_ep), *b = ws_conn_new(2, &test_ep);
    CU_ASSERT_EQUAL(ws_hub_size("room-a"), 0);
    CU_ASSERT_EQUAL(ws_hub_join(a, "room-a"), 0);
    CU_ASSERT_EQUAL(ws_hub_join(a, "room-a"), 0);   /* no duplicate */
    CU_ASSERT_EQUAL(ws_hub_join(b, "room-a"), 0);
    CU_ASSERT_EQUAL(ws_hub_join(b, "room-b"), 0);
    CU_ASSERT_EQUAL(ws_hub_size("room-a"), 2);
    CU_ASSERT(ws_hub_is_member(a, "room-a"));
    CU_ASSERT_FALSE(ws_hub_is_member(a, "room-b"));

    ws_hub_leave(a, "room-a");
    CU_ASSERT_EQUAL(ws_hub_size("room-a"), 1);
    ws_hub_leave(a, "room-a");                      /* leaving twice is harmless */
    ws_hub_leave(a, "no-such-room");

    ws_hub_leave_all(b);
    CU_ASSERT_EQUAL(ws_hub_size("room-a"), 0);
    CU_ASSERT_EQUAL(ws_hub_size("room-b"), 0);

    char long_name[WS_GROUP_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CU_ASSERT_EQUAL(ws_hub_join(a, long_name), -1);
    ws_conn_unref(a);
    ws_conn_unref(b);
}

/* A connection is in at most WS_HUB_MAX_GROUPS groups; leaving one makes
 * room again, and the cap is per connection. */
static void test_groups_per_connection_capped(void)
{
    ws_conn *a = ws_conn_new(3, &test_ep), *b = ws_conn_new(4, &test_ep);
    char name[32];
    for (int i = 0; i < WS_HUB_MAX_GROUPS; i++) {
        snprintf(name, sizeof name, "cap-%d", i);
        CU_ASSERT_EQUAL(ws_hub_join(a, name), WS_HUB_OK);
    }
    CU_ASSERT_EQUAL(ws_hub_join(a, "cap-one-more"), WS_HUB_TOO_MANY);
    CU_ASSERT_EQUAL(ws_hub_size("cap-one-more"), 0);      /* not created */
    CU_ASSERT_EQUAL(ws_hub_join(a, "cap-0"), WS_HUB_OK);  /* already in: no-op */
    CU_ASSERT_EQUAL(ws_hub_join(b, "cap-one-more"), WS_HUB_OK);

    ws_hub_leave(a, "cap-3");
    CU_ASSERT_EQUAL(ws_hub_join(a, "cap-one-more"), WS_HUB_OK);
    CU_ASSERT_EQUAL(ws_hub_size("cap-one-more"), 2);
    CU_ASSERT_EQUAL(ws_hub_join(a, "cap-3"), WS_HUB_TOO_MANY);
    CU_ASSERT(ws_hub_is_member(a, "cap-15"));
    CU_ASSERT_FALSE(ws_hub_is_member(a, "cap-3"));

    ws_hub_leave_all(a);
    for (int i = 0; i < WS_HUB_MAX_GROUPS; i++) {
        snprintf(name, sizeof name, "cap-%d", i);
        CU_ASSERT_EQUAL(ws_hub_size(name), 0);
    }
    CU_ASSERT_EQUAL(ws_hub_size("cap-one-more"), 1);
    ws_hub_leave_all(b);
    CU_ASSERT_EQUAL(ws_hub_size("cap-one-more"), 0);
    ws_conn_unref(a);
    ws_conn_unref(b);
}

/* Many groups at once (the tables grow): each is found, with the right
 * members, and all are gone after leave-all. */
#define MANY_CONNS 500
static void test_many_groups(void)
{
    static ws_conn *c[MANY_CONNS];
    char name[32];
    for (int i = 0; i < MANY_CONNS; i++) {
        c[i] = ws_conn_new((uint64_t)i + 1000, &test_ep);
        for (int g = 0; g < WS_HUB_MAX_GROUPS; g++) {
            snprintf(name, sizeof name, "many-%d", (i * 7 + g) % 3000);
            CU_ASSERT_EQUAL(ws_hub_join(c[i], name), WS_HUB_OK);
        }
    }
    size_t total = 0;
    for (int n = 0; n < 3000; n++) {
        snprintf(name, sizeof name, "many-%d", n);
        total += ws_hub_size(name);
    }
    CU_ASSERT_EQUAL(total, (size_t)MANY_CONNS * WS_HUB_MAX_GROUPS);
    snprintf(name, sizeof name, "many-%d", (10 * 7 + 5) % 3000);
    CU_ASSERT(ws_hub_is_member(c[10], name));
    CU_ASSERT_FALSE(ws_hub_is_member(c[11], "many-2999"));
    for (int i = 0; i < MANY_CONNS; i++) {
        ws_hub_leave_all(c[i]);
        ws_conn_unref(c[i]);
    }
    for (int n = 0; n < 3000; n++) {
        snprintf(name, sizeof name, "many-%d", n);
        CU_ASSERT_EQUAL(ws_hub_size(name), 0);
    }
}

static void test_broadcast_shares_one_frame(void)
{
    ws_conn *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = ws_conn_new((uint64_t)i + 10, &test_ep);
        ws_hub_join(m[i], "shared");
    }
    CU_ASSERT_EQUAL(ws_hub_broadcast("shared", WS_OP_TEXT, "hi", 2, m[2], 0), 2);
    struct iovec v0[1], v1[1];
    CU_ASSERT_EQUAL(ws_outbox_peek(ws_conn_outbox(m[0]), v0, 1), 1);
    CU_ASSERT_EQUAL(ws_outbox_peek(ws_conn_outbox(m[1]), v1, 1), 1);
    CU_ASSERT_PTR_EQUAL(v0[0].iov_base, v1[0].iov_base);   /* encoded once */
    ws_outbox_consume(ws_conn_outbox(m[0]), 0);
    ws_outbox_consume(ws_conn_outbox(m[1]), 0);
    CU_ASSERT(ws_outbox_is_empty(ws_conn_outbox(m[2])));     /* excepted */
    CU_ASSERT(wake_signalled(m[0]));
    CU_ASSERT_FALSE(wake_signalled(m[2]));

    char buf[16];
    CU_ASSERT_EQUAL(pop_message(m[0], buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "hi");
    CU_ASSERT_EQUAL(ws_hub_broadcast("nobody-here", WS_OP_TEXT, "x", 1, NULL, 0), 0);
    for (int i = 0; i < 3; i++) {
        ws_hub_leave_all(m[i]);
        ws_conn_unref(m[i]);
    }
}

/* One member never drains its outbox: it alone is closed with 1008, the
 * other gets every message, and the broadcaster never waits. */
static void test_non_reader_is_closed(void)
{
    ws_conn *reader = ws_conn_new(20, &test_ep), *stuck = ws_conn_new(21, &test_ep);
    ws_hub_join(reader, "slow");
    ws_hub_join(stuck, "slow");
    char msg[4096], got[4200];
    memset(msg, 'm', sizeof msg);

    int sent = 0, received = 0;
    for (int i = 0; i < 10000 && ws_conn_is_open(stuck); i++) {
        snprintf(msg, sizeof msg, "%06d", i);
        CU_ASSERT(ws_hub_broadcast("slow", WS_OP_BINARY, msg, sizeof msg, NULL, 0) >= 1);
        sent++;
        while (pop_message(reader, got, sizeof got) >= 0) {
            CU_ASSERT_EQUAL(atoi(got), received);
            received++;
        }
    }
    CU_ASSERT_FALSE(ws_conn_is_open(stuck));
    CU_ASSERT_EQUAL(ws_conn_close_requested(stuck), WS_CLOSE_POLICY);
    CU_ASSERT(sent < 10000);                 /* the bound was reached */
    CU_ASSERT_EQUAL(received, sent);          /* the reader lost nothing */
    /* The stuck member's memory went back; sends to it now fail. */
    CU_ASSERT_EQUAL(ws_outbox_bytes(ws_conn_outbox(stuck)), 0);
    CU_ASSERT_EQUAL(ws_send(stuck, WS_OP_TEXT, "x", 1), WS_SEND_CLOSED);
    CU_ASSERT(wake_signalled(stuck));
    /* A closed connection cannot join a group. */
    CU_ASSERT_EQUAL(ws_hub_join(stuck, "other"), -1);

    ws_hub_leave_all(reader);
    ws_hub_leave_all(stuck);
    ws_conn_unref(reader);
    ws_conn_unref(stuck);
}

static void test_latest_state_broadcast(void)
{
    ws_conn *spectator = ws_conn_new(30, &test_ep);
    ws_hub_join(spectator, "spectators");
    char state[8192];
    memset(state, 's', sizeof state);
    /* Far more state updates than fit: none closes the connection. */
    for (int i = 0; i < 1000; i++) {
        snprintf(state, sizeof state, "%06d", i);
        CU_ASSERT_EQUAL(ws_hub_broadcast("spectators", WS_OP_TEXT, state, sizeof state - 1,
                                         NULL, 42), 1);
    }
    CU_ASSERT(ws_conn_is_open(spectator));
    char got[8200];
    int last = -1, n = 0;
    while (pop_message(spectator, got, sizeof got) >= 0) {
        CU_ASSERT(atoi(got) > last);          /* still in order, newest kept */
        last = atoi(got);
        n++;
    }
    CU_ASSERT(n < 1000);
    CU_ASSERT_EQUAL(last, 999);
    ws_hub_leave_all(spectator);
    ws_conn_unref(spectator);
}

/* ---- threads joining, leaving and broadcasting at once ------------- */

#define HUB_THREADS 4
#define HUB_ROUNDS 2000

static void *churn(void *arg)
{
    ws_conn *c = arg;
    char buf[64];
    for (int i = 0; i < HUB_ROUNDS; i++) {
        ws_hub_join(c, "busy");
        ws_hub_broadcast("busy", WS_OP_TEXT, "ping", 4, c, 0);
        if (i % 3 == 0)
            ws_hub_leave(c, "busy");
        while (pop_message(c, buf, sizeof buf) >= 0)
            ;
    }
    ws_hub_leave_all(c);
    return NULL;
}

static void test_concurrent_use(void)
{
    pthread_t t[HUB_THREADS];
    ws_conn *c[HUB_THREADS];
    for (int i = 0; i < HUB_THREADS; i++) {
        c[i] = ws_conn_new((uint64_t)i + 40, &test_ep);
        pthread_create(&t[i], NULL, churn, c[i]);
    }
    for (int i = 0; i < HUB_THREADS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(ws_hub_size("busy"), 0);
    for (int i = 0; i < HUB_THREADS; i++)
        ws_conn_unref(c[i]);
}

UNIT_SUITE(ws_hub) {
    CU_pSuite s = CU_add_suite("ws_hub", NULL, NULL);
    CU_add_test(s, "join and leave", test_join_leave);
    CU_add_test(s, "groups per connection are capped", test_groups_per_connection_capped);
    CU_add_test(s, "many groups", test_many_groups);
    CU_add_test(s, "broadcast shares one frame", test_broadcast_shares_one_frame);
    CU_add_test(s, "a non-reader is closed with 1008", test_non_reader_is_closed);
    CU_add_test(s, "latest-state broadcast skips frames", test_latest_state_broadcast);
    CU_add_test(s, "concurrent join, leave, broadcast", test_concurrent_use);
}
