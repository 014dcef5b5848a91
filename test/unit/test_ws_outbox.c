/*
 * test_ws_outbox.c - shared frames and the bounded per-connection outbox
 * (websocket/ws_outbox.c): order, partial writes, the bound, "latest
 * state" replacement, closing, and many producers against one consumer.
 */
#include "unit.h"

#include "../../websocket/websocket.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A text frame whose payload is the string s (2-byte header if short). */
static ws_frame *text_frame(const char *s)
{
    return ws_frame_new(WS_OP_TEXT, s, strlen(s));
}

/* Everything unsent in o, as one string of payloads (2-byte headers of
 * short frames stripped), consuming it. */
static void drain_payloads(ws_outbox *o, char *out, size_t cap)
{
    struct iovec iov[16];
    size_t n = 0;
    int count;
    while ((count = ws_outbox_peek(o, iov, 16)) > 0) {
        size_t total = 0;
        for (int i = 0; i < count; i++) {
            const uint8_t *p = iov[i].iov_base;
            CU_ASSERT_FATAL(iov[i].iov_len >= 2 && iov[i].iov_len - 2 + n < cap);
            memcpy(out + n, p + 2, iov[i].iov_len - 2);
            n += iov[i].iov_len - 2;
            total += iov[i].iov_len;
        }
        ws_outbox_consume(o, total);
    }
    out[n] = '\0';
}

static void test_frame_encoding(void)
{
    ws_frame *f = ws_frame_new(WS_OP_BINARY, "abc", 3);
    CU_ASSERT_EQUAL(ws_frame_size(f), 5);
    CU_ASSERT_EQUAL(ws_frame_bytes(f)[0], 0x82);   /* FIN + binary */
    CU_ASSERT_EQUAL(ws_frame_bytes(f)[1], 3);      /* unmasked, length 3 */
    CU_ASSERT_EQUAL(memcmp(ws_frame_bytes(f) + 2, "abc", 3), 0);
    CU_ASSERT_EQUAL(ws_frame_opcode(f), WS_OP_BINARY);
    ws_frame_unref(f);

    f = ws_frame_new(WS_OP_TEXT, NULL, 0);
    CU_ASSERT_EQUAL(ws_frame_size(f), 2);
    ws_frame_unref(f);
}

static void test_close_frame(void)
{
    ws_frame *f = ws_frame_new_close(1008, "slow");
    const uint8_t *b = ws_frame_bytes(f);
    CU_ASSERT_EQUAL(b[0], 0x88);
    CU_ASSERT_EQUAL(b[1], 6);
    CU_ASSERT_EQUAL((b[2] << 8) | b[3], 1008);
    CU_ASSERT_EQUAL(memcmp(b + 4, "slow", 4), 0);
    ws_frame_unref(f);

    f = ws_frame_new_close(0, "ignored");   /* no status: empty body */
    CU_ASSERT_EQUAL(ws_frame_size(f), 2);
    ws_frame_unref(f);

    /* A long reason is cut to fit 125 bytes, never inside a UTF-8
     * sequence: 62 two-byte characters = 124 bytes > 123 allowed. */
    char reason[200] = "";
    for (int i = 0; i < 62; i++)
        strcat(reason, "\xc3\xa9");
    f = ws_frame_new_close(1000, reason);
    b = ws_frame_bytes(f);
    CU_ASSERT(b[1] <= 125);
    CU_ASSERT_EQUAL(b[1], 2 + 122);
    CU_ASSERT(ws_utf8_valid(b + 4, b[1] - 2));
    ws_frame_unref(f);
}

static void test_fifo_and_partial_writes(void)
{
    ws_outbox *o = ws_outbox_new(1 << 20);
    CU_ASSERT(ws_outbox_is_empty(o));
    for (const char *s = "abc"; *s; s++) {
        char one[2] = { *s, 0 };
        ws_frame *f = text_frame(one);
        CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, false), WS_OUTBOX_QUEUED);
        ws_frame_unref(f); /* the outbox keeps its own reference */
    }
    CU_ASSERT_FALSE(ws_outbox_is_empty(o));
    CU_ASSERT_EQUAL(ws_outbox_count(o), 3);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 9);

    /* The socket took 4 bytes: frame "a" and half of "b". */
    struct iovec iov[8];
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 8), 3);
    ws_outbox_consume(o, 4);
    CU_ASSERT_EQUAL(ws_outbox_count(o), 2);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 5);
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 8), 2);
    CU_ASSERT_EQUAL(iov[0].iov_len, 2);           /* rest of "b" */
    CU_ASSERT_EQUAL(((uint8_t *)iov[0].iov_base)[1], 'b');
    CU_ASSERT_EQUAL(iov[1].iov_len, 3);
    ws_outbox_consume(o, 0);                      /* EAGAIN: nothing written */

    /* peek honours max */
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 1), 1);
    ws_outbox_consume(o, 5 - 3);                  /* finishes "b" only */
    CU_ASSERT_EQUAL(ws_outbox_count(o), 1);

    char out[16];
    drain_payloads(o, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "c");
    CU_ASSERT(ws_outbox_is_empty(o));
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 0);
    ws_outbox_free(o);
}

static void test_ring_wraps_and_grows(void)
{
    ws_outbox *o = ws_outbox_new(1 << 20);
    char expect[64] = "", out[64];
    int next = 0;
    /* Interleave pushes and consumes so the ring wraps while growing. */
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 7; i++) {
            char s[2] = { (char)('A' + next++ % 26), 0 };
            strcat(expect, s);
            ws_frame *f = text_frame(s);
            ws_outbox_push(o, f, 0, false);
            ws_frame_unref(f);
        }
        struct iovec iov[3];
        int n = ws_outbox_peek(o, iov, 3);
        ws_outbox_consume(o, (size_t)n * 3);
        memmove(expect, expect + n, strlen(expect + n) + 1);
    }
    drain_payloads(o, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, expect);
    ws_outbox_free(o);
}

static void test_bound_closes(void)
{
    ws_outbox *o = ws_outbox_new(10);
    ws_frame *f = text_frame("1234");   /* 6 bytes on the wire */
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, false), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, false), WS_OUTBOX_FULL);
    /* Unsent frames were dropped at once: the memory goes back. */
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 0);
    CU_ASSERT(ws_outbox_is_empty(o));
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, false), WS_OUTBOX_CLOSED);
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, true), WS_OUTBOX_CLOSED);
    ws_frame_unref(f);
    ws_outbox_free(o);
}

static void test_bound_keeps_partly_written_frame(void)
{
    ws_outbox *o = ws_outbox_new(10);
    ws_frame *f = text_frame("1234");
    ws_outbox_push(o, f, 0, false);
    struct iovec iov[4];
    ws_outbox_peek(o, iov, 4);
    ws_outbox_consume(o, 3);            /* half written */
    ws_outbox_push(o, f, 0, false);     /* 3 + 6 = 9: fits */
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, false), WS_OUTBOX_FULL);
    /* The half-written frame stays so the stream is not cut mid-frame. */
    CU_ASSERT_EQUAL(ws_outbox_count(o), 1);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 3);
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 4), 1);
    CU_ASSERT_EQUAL(iov[0].iov_len, 3);
    ws_outbox_consume(o, 3);
    CU_ASSERT(ws_outbox_is_empty(o));
    ws_frame_unref(f);
    ws_outbox_free(o);
}

/* A frame bigger than the bound is queued when nothing else is: alone it
 * says nothing about the peer being slow. A second one is over. */
static void test_empty_outbox_takes_a_big_frame(void)
{
    ws_outbox *o = ws_outbox_new(10);
    ws_frame *big = text_frame("more than ten bytes"), *small = text_frame("x");
    CU_ASSERT_EQUAL(ws_outbox_push(o, big, 0, false), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 21);
    CU_ASSERT_EQUAL(ws_outbox_push(o, small, 0, false), WS_OUTBOX_FULL);
    ws_outbox_free(o);

    /* Once it is written, the next big frame is welcome again. */
    o = ws_outbox_new(10);
    ws_outbox_push(o, big, 0, false);
    char out[32];
    drain_payloads(o, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "more than ten bytes");
    CU_ASSERT_EQUAL(ws_outbox_push(o, big, 0, false), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_limit(o), 10);
    ws_outbox_free(o);
    ws_frame_unref(big);
    ws_frame_unref(small);
}

/* A partly written frame is never replaced by a newer "latest state",
 * even after the consume that ended the write (the next peek must go on
 * with the rest of the same frame). */
static void test_partly_written_frame_not_replaced(void)
{
    char payload[61];
    memset(payload, 'k', 60);
    payload[60] = '\0';
    ws_frame *k1 = text_frame(payload);                 /* 62 bytes */
    ws_frame *other = text_frame("twenty-two byte frame!"); /* 24 bytes */
    ws_frame *k2 = text_frame("new state!");            /* 12 bytes */
    CU_ASSERT_EQUAL_FATAL(ws_frame_size(k1), 62);
    CU_ASSERT_EQUAL_FATAL(ws_frame_size(other), 24);
    CU_ASSERT_EQUAL_FATAL(ws_frame_size(k2), 12);

    ws_outbox *o = ws_outbox_new(64);
    CU_ASSERT_EQUAL(ws_outbox_push(o, k1, 7, false), WS_OUTBOX_QUEUED);
    struct iovec iov[4];
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 4), 1);
    ws_outbox_consume(o, 30);                           /* 32 bytes left */
    CU_ASSERT_EQUAL(ws_outbox_push(o, other, 0, false), WS_OUTBOX_QUEUED);
    /* 32 + 24 + 12 > 64, and no untouched frame has key 7: full. */
    CU_ASSERT_EQUAL(ws_outbox_push(o, k2, 7, false), WS_OUTBOX_FULL);

    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 32);
    CU_ASSERT_EQUAL_FATAL(ws_outbox_peek(o, iov, 4), 1);
    CU_ASSERT_EQUAL(iov[0].iov_len, 32);
    CU_ASSERT_PTR_EQUAL(iov[0].iov_base, ws_frame_bytes(k1) + 30);
    ws_outbox_consume(o, 32);
    CU_ASSERT(ws_outbox_is_empty(o));
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 0);

    /* Behind a partly written frame, an untouched one with the key is
     * still replaced. */
    ws_outbox *o2 = ws_outbox_new(64);
    ws_outbox_push(o2, other, 0, false);
    ws_outbox_peek(o2, iov, 4);
    ws_outbox_consume(o2, 5);                           /* 19 bytes left */
    CU_ASSERT_EQUAL(ws_outbox_push(o2, k2, 7, false), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_push(o2, k1, 7, false), WS_OUTBOX_REPLACED);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o2), 19 + 62);
    CU_ASSERT_EQUAL(ws_outbox_peek(o2, iov, 4), 2);
    CU_ASSERT_EQUAL(iov[0].iov_len, 19);
    CU_ASSERT_EQUAL(iov[1].iov_len, 62);
    ws_outbox_consume(o2, 81);
    CU_ASSERT(ws_outbox_is_empty(o2));

    ws_outbox_free(o);
    ws_outbox_free(o2);
    ws_frame_unref(k1);
    ws_frame_unref(other);
    ws_frame_unref(k2);
}

static void test_unbounded_push(void)
{
    ws_outbox *o = ws_outbox_new(4);
    ws_frame *f = text_frame("a long reply");
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, true), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_push(o, f, 0, true), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 28);
    ws_frame_unref(f);
    ws_outbox_free(o); /* frees queued frames (checked by ASan) */
}

static void test_latest_state_replaces(void)
{
    ws_outbox *o = ws_outbox_new(14);   /* room for two 6-byte frames */
    ws_frame *s1 = text_frame("st-1"), *chat = text_frame("chat"), *s2 = text_frame("st-2"),
             *s3 = text_frame("st-3"), *other = text_frame("xxxx");
    CU_ASSERT_EQUAL(ws_outbox_push(o, s1, 7, false), WS_OUTBOX_QUEUED);
    CU_ASSERT_EQUAL(ws_outbox_push(o, chat, 0, false), WS_OUTBOX_QUEUED);
    /* Over the bound: the newer state replaces the unsent older one. */
    CU_ASSERT_EQUAL(ws_outbox_push(o, s2, 7, false), WS_OUTBOX_REPLACED);
    CU_ASSERT_EQUAL(ws_outbox_push(o, s3, 7, false), WS_OUTBOX_REPLACED);
    CU_ASSERT_EQUAL(ws_outbox_count(o), 2);
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 12);
    char out[32];
    drain_payloads(o, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "st-3chat");

    /* A frame being written is never replaced; with no other frame of
     * the key the bound closes the outbox. */
    ws_outbox_push(o, s1, 7, false);
    ws_outbox_push(o, chat, 0, false);
    struct iovec iov[4];
    ws_outbox_peek(o, iov, 4);              /* both handed to the socket */
    CU_ASSERT_EQUAL(ws_outbox_push(o, s2, 7, false), WS_OUTBOX_FULL);
    ws_outbox_consume(o, 12);

    /* A different key is not a replacement either. */
    ws_outbox *o2 = ws_outbox_new(14);
    ws_outbox_push(o2, s1, 7, false);
    ws_outbox_push(o2, chat, 0, false);
    CU_ASSERT_EQUAL(ws_outbox_push(o2, other, 8, false), WS_OUTBOX_FULL);

    ws_frame_unref(s1);
    ws_frame_unref(chat);
    ws_frame_unref(s2);
    ws_frame_unref(s3);
    ws_frame_unref(other);
    ws_outbox_free(o);
    ws_outbox_free(o2);
}

static void test_close_with_last_frame(void)
{
    ws_frame *a = text_frame("a"), *bye = ws_frame_new_close(1001, NULL);
    ws_outbox *o = ws_outbox_new(100);
    ws_outbox_push(o, a, 0, false);
    ws_outbox_close(o, bye, false);         /* keep "a", then the close */
    CU_ASSERT_EQUAL(ws_outbox_count(o), 2);
    CU_ASSERT_EQUAL(ws_outbox_push(o, a, 0, false), WS_OUTBOX_CLOSED);
    ws_outbox_free(o);

    o = ws_outbox_new(100);
    ws_outbox_push(o, a, 0, false);
    ws_outbox_close(o, bye, true);          /* drop "a": close only */
    struct iovec iov[4];
    CU_ASSERT_EQUAL(ws_outbox_peek(o, iov, 4), 1);
    CU_ASSERT_EQUAL(((uint8_t *)iov[0].iov_base)[0], 0x88);
    ws_outbox_consume(o, iov[0].iov_len);
    ws_outbox_free(o);
    ws_frame_unref(a);
    ws_frame_unref(bye);
}

/* ---- many producers, one consumer ---------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 5000

typedef struct producer_arg {
    ws_outbox *o;
    int id;
} producer_arg;

static void *producer(void *arg)
{
    producer_arg *a = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        char s[32];
        snprintf(s, sizeof s, "%d:%05d;", a->id, i);
        ws_frame *f = text_frame(s);
        while (ws_outbox_push(a->o, f, 0, false) != WS_OUTBOX_QUEUED)
            ; /* the bound is huge: never taken */
        ws_frame_unref(f);
    }
    return NULL;
}

static void test_concurrent_producers(void)
{
    ws_outbox *o = ws_outbox_new((size_t)1 << 30);
    pthread_t t[PRODUCERS];
    producer_arg args[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg){ o, i };
        pthread_create(&t[i], NULL, producer, &args[i]);
    }
    /* Consume while they push; check each producer's order. */
    int next[PRODUCERS] = { 0 }, total = 0, bad = 0;
    struct iovec iov[32];
    while (total < PRODUCERS * PER_PRODUCER) {
        int n = ws_outbox_peek(o, iov, 32);
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            const char *p = (const char *)iov[i].iov_base + 2;
            const char *end = (const char *)iov[i].iov_base + iov[i].iov_len;
            int id = p[0] - '0', seq = 0;
            for (const char *d = p + 2; d < end && *d >= '0' && *d <= '9'; d++)
                seq = seq * 10 + (*d - '0'); /* the payload has no NUL */
            if (id < 0 || id >= PRODUCERS || seq != next[id])
                bad++;
            else
                next[id]++;
            bytes += iov[i].iov_len;
        }
        ws_outbox_consume(o, bytes);
        total += n;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(ws_outbox_is_empty(o));
    CU_ASSERT_EQUAL(ws_outbox_bytes(o), 0);
    ws_outbox_free(o);
}

UNIT_SUITE(ws_outbox) {
    CU_pSuite s = CU_add_suite("ws_outbox", NULL, NULL);
    CU_add_test(s, "frame encoding", test_frame_encoding);
    CU_add_test(s, "close frame", test_close_frame);
    CU_add_test(s, "fifo and partial writes", test_fifo_and_partial_writes);
    CU_add_test(s, "ring wraps and grows", test_ring_wraps_and_grows);
    CU_add_test(s, "bound closes the outbox", test_bound_closes);
    CU_add_test(s, "bound keeps a partly written frame", test_bound_keeps_partly_written_frame);
    CU_add_test(s, "an empty outbox takes a big frame", test_empty_outbox_takes_a_big_frame);
    CU_add_test(s, "a partly written frame is not replaced", test_partly_written_frame_not_replaced);
    CU_add_test(s, "unbounded push", test_unbounded_push);
    CU_add_test(s, "latest state replaces", test_latest_state_replaces);
    CU_add_test(s, "close with a last frame", test_close_with_last_frame);
    CU_add_test(s, "concurrent producers", test_concurrent_producers);
}
