/*
 * ws_hub.c - named groups of connections (chat rooms, game rooms,
 * spectators) and broadcast to a group.
 *
 * A broadcast encodes its frame once and queues a reference to it in each
 * member's outbox (ws_send_frame): it never touches a socket, so a member
 * that stops reading cannot delay the others - its own outbox fills up and
 * it alone is closed with 1008.
 *
 * Shared state and its lock:
 *   groups (the list, every group's member array)   hub_lock
 * Each membership holds a reference to the connection (ws_conn_ref), so a
 * member is never freed while it is in a group. Lock order: hub_lock, then
 * an outbox's lock (inside ws_send_frame); nothing here waits on I/O.
 * A connection leaves every group when it closes (ws_conn_serve calls
 * ws_hub_leave_all after marking itself closed, and join refuses closed
 * connections, so no membership outlives its connection).
 */
#include "websocket.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ws_group {
    char name[WS_GROUP_NAME_MAX + 1];
    ws_conn **members;
    size_t count, cap;
    struct ws_group *next;
} ws_group;

static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static ws_group *groups;

/* Caller holds hub_lock. */
static ws_group *find_group(const char *name)
{
    for (ws_group *g = groups; g; g = g->next)
        if (strcmp(g->name, name) == 0)
            return g;
    return NULL;
}

static ws_group *create_group(const char *name)
{
    ws_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    memcpy(g->name, name, strlen(name) + 1);
    g->next = groups;
    groups = g;
    return g;
}

static void destroy_group(ws_group *g)
{
    for (ws_group **p = &groups; *p; p = &(*p)->next) {
        if (*p == g) {
            *p = g->next;
            break;
        }
    }
    free(g->members);
    free(g);
}

static ssize_t member_index(const ws_group *g, const ws_conn *c)
{
    for (size_t i = 0; i < g->count; i++)
        if (g->members[i] == c)
            return (ssize_t)i;
    return -1;
}

static int add_member(ws_group *g, ws_conn *c)
{
    if (g->count == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        ws_conn **m = realloc(g->members, cap * sizeof *m);
        if (!m)
            return -1;
        g->members = m;
        g->cap = cap;
    }
    g->members[g->count++] = ws_conn_ref(c);
    return 0;
}

/* Removes c if present (order is not kept); frees an emptied group. */
static void remove_member(ws_group *g, const ws_conn *c)
{
    ssize_t i = member_index(g, c);
    if (i < 0)
        return;
    ws_conn *m = g->members[i];
    g->members[i] = g->members[--g->count];
    ws_conn_unref(m);
    if (g->count == 0)
        destroy_group(g);
}

int ws_hub_join(ws_conn *c, const char *group)
{
    if (strlen(group) > WS_GROUP_NAME_MAX)
        return -1;
    int rc = 0;
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    if (!ws_conn_is_open(c))
        rc = -1;
    else if (g && member_index(g, c) >= 0)
        rc = 0;
    else if (!g && !(g = create_group(group)))
        rc = -1;
    else if (add_member(g, c) < 0) {
        if (g->count == 0)
            destroy_group(g);
        rc = -1;
    }
    pthread_mutex_unlock(&hub_lock);
    return rc;
}

void ws_hub_leave(ws_conn *c, const char *group)
{
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    if (g)
        remove_member(g, c);
    pthread_mutex_unlock(&hub_lock);
}

void ws_hub_leave_all(ws_conn *c)
{
    pthread_mutex_lock(&hub_lock);
    ws_group *g = groups;
    while (g) {
        ws_group *next = g->next; /* remove_member may free g */
        remove_member(g, c);
        g = next;
    }
    pthread_mutex_unlock(&hub_lock);
}

int ws_hub_broadcast_frame(const char *group, ws_frame *f, const ws_conn *except,
                           uint64_t latest_key)
{
    int sent = 0;
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    for (size_t i = 0; g && i < g->count; i++) {
        ws_conn *m = g->members[i];
        if (m != except && ws_send_frame(m, f, latest_key) == WS_SEND_OK)
            sent++;
    }
    pthread_mutex_unlock(&hub_lock);
    return sent;
}

int ws_hub_broadcast(const char *group, int opcode, const void *data, size_t len,
                     const ws_conn *except, uint64_t latest_key)
{
    ws_frame *f = ws_frame_new(opcode, data, len);
    if (!f)
        return -1;
    int sent = ws_hub_broadcast_frame(group, f, except, latest_key);
    ws_frame_unref(f);
    return sent;
}

size_t ws_hub_size(const char *group)
{
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    size_t n = g ? g->count : 0;
    pthread_mutex_unlock(&hub_lock);
    return n;
}

bool ws_hub_is_member(const ws_conn *c, const char *group)
{
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    bool in = g && member_index(g, c) >= 0;
    pthread_mutex_unlock(&hub_lock);
    return in;
}
