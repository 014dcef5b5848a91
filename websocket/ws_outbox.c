/*
 * ws_outbox.c - what a connection still has to send: shared frames and
 * the bounded per-connection queue that holds them.
 *
 * A ws_frame is one server frame, encoded once (header + payload in a
 * single buffer) and never modified afterwards, so any number of outboxes
 * may point at it: a broadcast to 1,000 clients encodes one frame and
 * takes 1,000 references. The last ws_frame_unref frees it.
 *
 * A ws_outbox is a ring of (frame, latest_key) slots. Any thread pushes;
 * only the connection's own thread peeks and consumes (it writes the
 * bytes to the socket with no lock held, then consumes what was written).
 * The bound: a push that would take the unsent bytes past `limit` either
 * replaces an older unsent frame with the same "latest state" key, or
 * fails with WS_OUTBOX_FULL and closes the outbox; the caller then closes
 * the connection with 1008. An empty outbox takes any one frame, however
 * big: a peer with nothing pending is not slow. A push never blocks on I/O.
 *
 * A frame of which any byte went to the socket is never replaced nor
 * dropped (the stream would be cut mid-frame). Two things protect it:
 * `head_sent` (bytes of the head frame written, kept across consumes)
 * and `started` (frames handed out by a peek whose write is still in
 * progress).
 *
 * Shared state and its lock:
 *   ws_frame.refs      atomic, no lock
 *   ws_outbox.*        ws_outbox.lock, except `count_hint` (atomic, read
 *                      without the lock by the consumer as a fast check)
 */
#include "websocket.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ws_frame {
    atomic_int refs;
    int opcode;
    size_t size;           /* header + payload bytes in data */
    uint8_t data[];
};

ws_frame *ws_frame_new(int opcode, const void *payload, size_t len)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hlen = ws_frame_encode_header(hdr, true, opcode, len, NULL);
    ws_frame *f = malloc(sizeof *f + hlen + len);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->opcode = opcode;
    f->size = hlen + len;
    memcpy(f->data, hdr, hlen);
    if (len)
        memcpy(f->data + hlen, payload, len);
    return f;
}

ws_frame *ws_frame_new_close(int code, const char *reason)
{
    uint8_t body[125];
    size_t len = 0;

    if (code > 0) {
        body[0] = (uint8_t)(code >> 8);
        body[1] = (uint8_t)(code & 0xff);
        len = 2;
        size_t full = reason ? strlen(reason) : 0, rlen = full;
        if (rlen > sizeof body - 2)
            rlen = sizeof body - 2;
        /* Never cut a UTF-8 sequence in half: back off continuation bytes. */
        while (rlen > 0 && rlen < full && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
            rlen--;
        if (rlen)
            memcpy(body + 2, reason, rlen);
        len += rlen;
    }
    return ws_frame_new(WS_OP_CLOSE, body, len);
}

ws_frame *ws_frame_ref(ws_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void ws_frame_unref(ws_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

const uint8_t *ws_frame_bytes(const ws_frame *f) { return f->data; }
size_t ws_frame_size(const ws_frame *f) { return f->size; }
int ws_frame_opcode(const ws_frame *f) { return f->opcode; }

/* ---- the outbox ---------------------------------------------------- */

typedef struct outbox_slot {
    ws_frame *frame;
    uint64_t key;          /* 0 = no "latest state" key */
} outbox_slot;

struct ws_outbox {
    pthread_mutex_t lock;
    outbox_slot *slots;    /* ring buffer of cap slots */
    size_t head, count, cap;
    size_t head_sent;      /* bytes of slots[head] already written      */
    size_t started;        /* slots at the head handed out by the last
                              peek: they must not be replaced          */
    size_t bytes;          /* unsent bytes of all queued frames         */
    size_t limit;
    bool closed;
    atomic_size_t count_hint;
};

ws_outbox *ws_outbox_new(size_t limit_bytes)
{
    ws_outbox *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    pthread_mutex_init(&o->lock, NULL);
    o->limit = limit_bytes;
    atomic_init(&o->count_hint, 0);
    return o;
}

static outbox_slot *slot_at(ws_outbox *o, size_t i)
{
    return &o->slots[(o->head + i) % o->cap];
}

void ws_outbox_free(ws_outbox *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->count; i++)
        ws_frame_unref(slot_at(o, i)->frame);
    free(o->slots);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

/* Doubles the ring, unrolling it so the head is at index 0. */
static int grow(ws_outbox *o)
{
    size_t ncap = o->cap ? o->cap * 2 : 8;
    outbox_slot *n = malloc(ncap * sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < o->count; i++)
        n[i] = *slot_at(o, i);
    free(o->slots);
    o->slots = n;
    o->cap = ncap;
    o->head = 0;
    return 0;
}

/* The first slot no byte of which may have reached the socket: slots
 * before it are being written (last peek) or partly written. Caller
 * holds the lock. */
static size_t first_untouched(const ws_outbox *o)
{
    size_t n = o->started;
    if (n == 0 && o->count > 0 && o->head_sent > 0)
        n = 1;
    return n;
}

/* Replaces the newest untouched frame with this key. Returns true if
 * found. */
static bool replace_latest(ws_outbox *o, ws_frame *f, uint64_t key)
{
    size_t first = first_untouched(o);
    for (size_t i = o->count; i-- > first;) {
        outbox_slot *s = slot_at(o, i);
        if (s->key != key)
            continue;
        o->bytes = o->bytes - s->frame->size + f->size;
        ws_frame_unref(s->frame);
        s->frame = ws_frame_ref(f);
        return true;
    }
    return false;
}

static void append(ws_outbox *o, ws_frame *f, uint64_t key)
{
    outbox_slot *s = slot_at(o, o->count);
    s->frame = ws_frame_ref(f);
    s->key = key;
    o->count++;
    o->bytes += f->size;
    atomic_store_explicit(&o->count_hint, o->count, memory_order_relaxed);
}

/* Releases every untouched frame. Caller holds the lock. */
static void drop_unstarted(ws_outbox *o)
{
    size_t keep = first_untouched(o);
    for (size_t i = keep; i < o->count; i++) {
        outbox_slot *s = slot_at(o, i);
        o->bytes -= s->frame->size;
        ws_frame_unref(s->frame);
    }
    o->count = keep;
    atomic_store_explicit(&o->count_hint, o->count, memory_order_relaxed);
}

int ws_outbox_push(ws_outbox *o, ws_frame *f, uint64_t latest_key, bool unbounded)
{
    int rc = WS_OUTBOX_QUEUED;

    pthread_mutex_lock(&o->lock);
    if (o->closed) {
        rc = WS_OUTBOX_CLOSED;
    } else if (!unbounded && o->count > 0 && o->bytes + f->size > o->limit) {
        if (latest_key && replace_latest(o, f, latest_key)) {
            rc = WS_OUTBOX_REPLACED;
        } else {
            /* The peer is not keeping up: free its memory now. */
            drop_unstarted(o);
            o->closed = true;
            rc = WS_OUTBOX_FULL;
        }
    } else if (o->count == o->cap && grow(o) < 0) {
        rc = WS_OUTBOX_NOMEM;
    } else {
        append(o, f, latest_key);
    }
    pthread_mutex_unlock(&o->lock);
    return rc;
}

void ws_outbox_close(ws_outbox *o, ws_frame *last, bool drop_unsent)
{
    pthread_mutex_lock(&o->lock);
    if (drop_unsent)
        drop_unstarted(o);
    if (last && (o->count < o->cap || grow(o) == 0))
        append(o, last, 0);
    o->closed = true;
    pthread_mutex_unlock(&o->lock);
}

bool ws_outbox_is_empty(ws_outbox *o)
{
    return atomic_load_explicit(&o->count_hint, memory_order_relaxed) == 0;
}

size_t ws_outbox_bytes(ws_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->bytes;
    pthread_mutex_unlock(&o->lock);
    return n;
}

size_t ws_outbox_limit(ws_outbox *o)
{
    return o->limit; /* set at creation, never changed */
}

size_t ws_outbox_count(ws_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->count;
    pthread_mutex_unlock(&o->lock);
    return n;
}

int ws_outbox_peek(ws_outbox *o, struct iovec *iov, int max)
{
    int n = 0;

    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->count && n < max; i++, n++) {
        ws_frame *f = slot_at(o, i)->frame;
        size_t skip = i == 0 ? o->head_sent : 0;
        iov[n].iov_base = f->data + skip;
        iov[n].iov_len = f->size - skip;
    }
    o->started = (size_t)n;
    pthread_mutex_unlock(&o->lock);
    return n;
}

void ws_outbox_consume(ws_outbox *o, size_t written)
{
    pthread_mutex_lock(&o->lock);
    o->bytes -= written;
    while (written > 0 && o->count > 0) {
        outbox_slot *s = slot_at(o, 0);
        size_t left = s->frame->size - o->head_sent;
        if (written < left) {
            o->head_sent += written;
            break;
        }
        written -= left;
        ws_frame_unref(s->frame);
        o->head = (o->head + 1) % o->cap;
        o->count--;
        o->head_sent = 0;
    }
    o->started = 0;
    atomic_store_explicit(&o->count_hint, o->count, memory_order_relaxed);
    pthread_mutex_unlock(&o->lock);
}
