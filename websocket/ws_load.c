/*
 * ws_load.c - is the server busy delivering WebSocket frames between
 * threads? ws_conn.c asks, to decide whether to coalesce wake-ups.
 *
 * Each wake-up of a connection thread costs a context switch, and on a
 * busy server (a broadcast to 1,000 players, 100 times a second) those
 * switches are most of the work. So the server counts the frames threads
 * queue for each other (ws_load_count_send); above WS_BUSY_SENDS a second
 * it is "busy", and a connection thread that gets a wake-up goes "deaf"
 * instead of writing at once: it leaves its wake-up pending, so senders
 * queue without signalling, and every WS_COALESCE_MS (a timer, not a
 * signal) writes all that queued up in one writev, for as long as frames
 * keep coming (see ws_conn.c). Latency grows by at most WS_COALESCE_MS,
 * and only under that load; a quiet server writes at once.
 *
 * Shared state: the three atomics below, any thread, no lock. The rate
 * is measured over windows of WS_RATE_WINDOW_MS, closed by whichever
 * connection thread asks first after a window ends.
 */
#include "websocket.h"

#include <stdatomic.h>

#define WS_BUSY_SENDS 20000    /* frames per second queued between threads */
#define WS_RATE_WINDOW_MS 20

static atomic_llong sends_in_window;
static atomic_llong window_start_ms;
static atomic_bool server_busy;

void ws_load_count_send(void)
{
    atomic_fetch_add_explicit(&sends_in_window, 1, memory_order_relaxed);
}

bool ws_load_busy(int64_t now_ms)
{
    long long start = atomic_load_explicit(&window_start_ms, memory_order_relaxed);
    if (now_ms - start >= WS_RATE_WINDOW_MS &&
        atomic_compare_exchange_strong(&window_start_ms, &start, now_ms)) {
        long long n = atomic_exchange(&sends_in_window, 0);
        bool busy = n * 1000 / (now_ms - start) > WS_BUSY_SENDS;
        atomic_store_explicit(&server_busy, busy, memory_order_relaxed);
    }
    return atomic_load_explicit(&server_busy, memory_order_relaxed);
}
