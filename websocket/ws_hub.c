/*
 * ws_hub.c - named groups of connections (chat rooms, game rooms,
 * spectators) and broadcast to a group.
 *
 * A broadcast encodes its frame once and queues a reference to it in each
 * member's outbox (ws_send_frame): it never touches a socket, so a member
 * that stops reading cannot delay the others - its own outbox fills up and
 * it alone is closed with 1008.
 *
 * Two hash tables make every lookup O(1) however many groups exist:
 *   groups       name -> ws_group (its member array)
 *   memberships  connection -> the groups it is in (at most
 *                WS_HUB_MAX_GROUPS: a client cannot grow the hub without
 *                bound, and leave-all visits only its own groups)
 * Group names are hashed with a per-process random seed, so a client
 * cannot pick names that all land in one bucket on every server.
 *
 * Shared state and its lock:
 *   both tables, every group and membership record     hub_lock
 * Each membership holds a reference to the connection (ws_conn_ref), so a
 * member is never freed while it is in a group. A broadcast copies the
 * member list under hub_lock and sends after releasing it, so hub_lock is
 * never held while an outbox is locked or a thread is woken.
 * A connection leaves every group when it closes (ws_conn_serve calls
 * ws_hub_leave_all after marking itself closed, and join refuses closed
 * connections, so no membership outlives its connection).
 */
#include "websocket.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- a small chained hash table ------------------------------------ */

/* The first member of every entry: the chain link and the entry's hash. */
typedef struct hub_node {
    struct hub_node *next;
    uint64_t hash;
} hub_node;

typedef struct hub_table {
    hub_node **buckets;        /* a power of two of them, or NULL      */
    size_t size, count;
} hub_table;

typedef bool (*hub_match_fn)(const hub_node *n, const void *key);

static hub_node *table_find(const hub_table *t, uint64_t hash, hub_match_fn match,
                            const void *key)
{
    if (!t->buckets)
        return NULL;
    for (hub_node *n = t->buckets[hash & (t->size - 1)]; n; n = n->next)
        if (n->hash == hash && match(n, key))
            return n;
    return NULL;
}

/* Doubles the bucket array (or makes the first one). */
static int table_grow(hub_table *t)
{
    size_t size = t->size ? t->size * 2 : 64;
    hub_node **b = calloc(size, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < t->size; i++) {
        for (hub_node *n = t->buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (size - 1)];
            b[n->hash & (size - 1)] = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->size = size;
    return 0;
}

/* Adds n (its hash set); keeps at most one entry per bucket on average. */
static int table_insert(hub_table *t, hub_node *n)
{
    if (t->count >= t->size && table_grow(t) < 0)
        return -1;
    hub_node **head = &t->buckets[n->hash & (t->size - 1)];
    n->next = *head;
    *head = n;
    t->count++;
    return 0;
}

static void table_remove(hub_table *t, hub_node *n)
{
    for (hub_node **p = &t->buckets[n->hash & (t->size - 1)]; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            t->count--;
            return;
        }
    }
}

/* ---- groups and memberships ---------------------------------------- */

typedef struct ws_group {
    hub_node node;             /* first: the table entry               */
    char name[WS_GROUP_NAME_MAX + 1];
    ws_conn **members;
    size_t count, cap;
} ws_group;

/* The groups one connection is in. */
typedef struct hub_membership {
    hub_node node;             /* first: the table entry               */
    const ws_conn *conn;
    ws_group *groups[WS_HUB_MAX_GROUPS];
    size_t count;
} hub_membership;

static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static hub_table groups, memberships;
static uint64_t name_seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void make_seed(void)
{
    if (getrandom(&name_seed, sizeof name_seed, GRND_NONBLOCK) != sizeof name_seed)
        name_seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&name_seed;
}

/* FNV-1a over the name, started from the random seed. */
static uint64_t name_hash(const char *name)
{
    pthread_once(&seed_once, make_seed);
    uint64_t h = 0xcbf29ce484222325u ^ name_seed;
    for (const uint8_t *p = (const uint8_t *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    return h;
}

static uint64_t conn_hash(const ws_conn *c)
{
    uint64_t h = (uint64_t)(uintptr_t)c;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu; /* a 64-bit mixer: pointers share low bits */
    return h ^ (h >> 33);
}

static bool group_matches(const hub_node *n, const void *name)
{
    return strcmp(((const ws_group *)n)->name, name) == 0;
}

static bool membership_matches(const hub_node *n, const void *conn)
{
    return ((const hub_membership *)n)->conn == conn;
}

/* Caller holds hub_lock (as for everything below). */
static ws_group *find_group(const char *name)
{
    return (ws_group *)table_find(&groups, name_hash(name), group_matches, name);
}

static hub_membership *find_membership(const ws_conn *c)
{
    return (hub_membership *)table_find(&memberships, conn_hash(c), membership_matches, c);
}

static ws_group *create_group(const char *name)
{
    ws_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    memcpy(g->name, name, strlen(name) + 1);
    g->node.hash = name_hash(name);
    if (table_insert(&groups, &g->node) < 0) {
        free(g);
        return NULL;
    }
    return g;
}

static void destroy_group(ws_group *g)
{
    table_remove(&groups, &g->node);
    free(g->members);
    free(g);
}

static hub_membership *create_membership(const ws_conn *c)
{
    hub_membership *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->conn = c;
    m->node.hash = conn_hash(c);
    if (table_insert(&memberships, &m->node) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void destroy_membership(hub_membership *m)
{
    table_remove(&memberships, &m->node);
    free(m);
}

static bool membership_has(const hub_membership *m, const ws_group *g)
{
    for (size_t i = 0; m && i < m->count; i++)
        if (m->groups[i] == g)
            return true;
    return false;
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

/* Takes c out of g's member array (order is not kept). */
static void remove_member(ws_group *g, const ws_conn *c)
{
    for (size_t i = 0; i < g->count; i++) {
        if (g->members[i] == c) {
            ws_conn *member = g->members[i];
            g->members[i] = g->members[--g->count];
            ws_conn_unref(member);
            return;
        }
    }
}

/* Removes c from the i-th group of its membership m; frees an emptied
 * group and an emptied membership. */
static void leave_at(hub_membership *m, size_t i, ws_conn *c)
{
    ws_group *g = m->groups[i];
    m->groups[i] = m->groups[--m->count];
    remove_member(g, c);
    if (g->count == 0)
        destroy_group(g);
    if (m->count == 0)
        destroy_membership(m);
}

/* Joins c to the group called name; the caller checked it is open. */
static int join_locked(ws_conn *c, const char *name)
{
    ws_group *g = find_group(name);
    hub_membership *m = find_membership(c);
    if (g && membership_has(m, g))
        return WS_HUB_OK;
    if (m && m->count == WS_HUB_MAX_GROUPS)
        return WS_HUB_TOO_MANY;

    bool new_group = !g, new_membership = !m;
    if (new_group && !(g = create_group(name)))
        return WS_HUB_ERROR;
    if (new_membership && !(m = create_membership(c))) {
        if (new_group)
            destroy_group(g);
        return WS_HUB_ERROR;
    }
    if (add_member(g, c) < 0) {
        if (new_group)
            destroy_group(g);
        if (new_membership)
            destroy_membership(m);
        return WS_HUB_ERROR;
    }
    m->groups[m->count++] = g;
    return WS_HUB_OK;
}

/* ---- the public functions ------------------------------------------ */

int ws_hub_join(ws_conn *c, const char *group)
{
    if (strlen(group) > WS_GROUP_NAME_MAX)
        return WS_HUB_ERROR;
    pthread_mutex_lock(&hub_lock);
    int rc = ws_conn_is_open(c) ? join_locked(c, group) : WS_HUB_ERROR;
    pthread_mutex_unlock(&hub_lock);
    return rc;
}

void ws_hub_leave(ws_conn *c, const char *group)
{
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    hub_membership *m = g ? find_membership(c) : NULL;
    for (size_t i = 0; m && i < m->count; i++) {
        if (m->groups[i] == g) {
            leave_at(m, i, c);
            break;
        }
    }
    pthread_mutex_unlock(&hub_lock);
}

void ws_hub_leave_all(ws_conn *c)
{
    pthread_mutex_lock(&hub_lock);
    hub_membership *m = find_membership(c);
    if (m) {
        size_t n = m->count;
        while (n-- > 0)
            leave_at(m, n, c); /* the last one also frees m */
    }
    pthread_mutex_unlock(&hub_lock);
}

/* Copies the group's members (each with a reference) so that the sends,
 * with their wake-up system calls, happen after hub_lock is released:
 * joins, leaves and other broadcasts never wait behind them. */
static ws_conn **snapshot_members(const char *group, size_t *count)
{
    ws_conn **copy = NULL;
    *count = 0;
    pthread_mutex_lock(&hub_lock);
    ws_group *g = find_group(group);
    if (g && g->count > 0 && (copy = malloc(g->count * sizeof *copy)) != NULL) {
        for (size_t i = 0; i < g->count; i++)
            copy[i] = ws_conn_ref(g->members[i]);
        *count = g->count;
    }
    pthread_mutex_unlock(&hub_lock);
    return copy;
}

int ws_hub_broadcast_frame(const char *group, ws_frame *f, const ws_conn *except,
                           uint64_t latest_key)
{
    size_t n;
    ws_conn **members = snapshot_members(group, &n);
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (members[i] != except && ws_send_frame(members[i], f, latest_key) == WS_SEND_OK)
            sent++;
        ws_conn_unref(members[i]);
    }
    free(members);
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
    bool in = g && membership_has(find_membership(c), g);
    pthread_mutex_unlock(&hub_lock);
    return in;
}
