/*
 * ws_endpoints.c - the table of WebSocket endpoints and the built-in ones.
 *
 *   /echo   echoes every text and binary message (the conformance and
 *           benchmark target: one ws_send per message, nothing else)
 *   /chat   every text message goes to every /chat client, sender included
 *           (the seed's chat server grown from the echo server)
 *   /lobby  typed JSON packets (ws_dispatch) over hub rooms:
 *             {"type":"join","payload":{"room":"r"}}   -> joined {room, members}
 *             {"type":"leave","payload":{"room":"r"}}  -> left {room}
 *             {"type":"say","payload":{"room":"r","text":"hi"}}
 *                 -> every member gets said {room, from, text}
 *             {"type":"echo","payload":anything}       -> echo (same payload)
 *           A client is in at most WS_HUB_MAX_GROUPS rooms (too_many_rooms).
 *
 * A broadcast must fit in one member's outbox bound (ws_outbox_bytes):
 * a bigger one would get every member that still has anything queued
 * closed as "too slow" because of one sender. So /chat closes the sender
 * of such a message with 1009 and the lobby answers too_big; nobody else
 * notices.
 *
 * Other code (game/) adds its endpoints with ws_endpoint_register before
 * the server starts.
 *
 * Shared state: the endpoint table. Writers take table_lock; readers
 * (ws_endpoint_find, on every HTTP request) read `count` with acquire
 * ordering and never lock: an entry is written before count publishes it
 * and never changes afterwards.
 */
#include "websocket.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define WS_MAX_ENDPOINTS 32

static const ws_endpoint *table[WS_MAX_ENDPOINTS];
static atomic_size_t count;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void register_builtins(void);

static const ws_endpoint *lookup(const char *path, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i]->path, path) == 0)
            return table[i];
    return NULL;
}

static int add_endpoint(const ws_endpoint *ep)
{
    int rc = -1;
    pthread_mutex_lock(&table_lock);
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    if (n < WS_MAX_ENDPOINTS && !lookup(ep->path, n)) {
        table[n] = ep;
        atomic_store_explicit(&count, n + 1, memory_order_release);
        rc = 0;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

int ws_endpoint_register(const ws_endpoint *ep)
{
    pthread_once(&builtins_once, register_builtins);
    return add_endpoint(ep);
}

const ws_endpoint *ws_endpoint_find(const char *path)
{
    pthread_once(&builtins_once, register_builtins);
    return lookup(path, atomic_load_explicit(&count, memory_order_acquire));
}

/* ---- /echo ------------------------------------------------------------ */

static void echo_message(ws_conn *c, int opcode, const uint8_t *data, size_t len)
{
    if (ws_send(c, opcode, data, len) == WS_SEND_NOMEM)
        ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
}

static const ws_endpoint echo_endpoint = {
    .path = "/echo",
    .on_message = echo_message,
};

/* True if frame f fits in c's outbox bound, so it may be broadcast to
 * c's peers (every connection has the same bound). */
static bool fits_broadcast(ws_conn *c, const ws_frame *f)
{
    return ws_frame_size(f) <= ws_outbox_limit(ws_conn_outbox(c));
}

/* ---- /chat ------------------------------------------------------------ */

#define CHAT_GROUP "chat"

static void chat_open(ws_conn *c)
{
    if (ws_hub_join(c, CHAT_GROUP) < 0)
        ws_close(c, WS_CLOSE_INTERNAL, "cannot join the chat");
}

static void chat_message(ws_conn *c, int opcode, const uint8_t *data, size_t len)
{
    if (opcode != WS_OP_TEXT) {
        ws_close(c, WS_CLOSE_UNSUPPORTED, "chat takes text messages only");
        return;
    }
    ws_frame *f = ws_frame_new(WS_OP_TEXT, data, len);
    if (!f) {
        ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
    } else if (!fits_broadcast(c, f)) {
        srv_log(SRV_LOG_INFO, ws_conn_id(c),
                "chat message of %zu bytes is over the outbox bound: closing with 1009", len);
        ws_close(c, WS_CLOSE_TOO_BIG, "message too big for the chat");
    } else {
        ws_hub_broadcast_frame(CHAT_GROUP, f, NULL, 0);
    }
    ws_frame_unref(f);
}

static const ws_endpoint chat_endpoint = {
    .path = "/chat",
    .on_open = chat_open,
    .on_message = chat_message,
};

/* ---- /lobby ----------------------------------------------------------- */

#define LOBBY_PREFIX "lobby:"
/* The longest room name in bytes: its hub group is "lobby:<room>". */
#define LOBBY_ROOM_MAX (WS_GROUP_NAME_MAX - (sizeof LOBBY_PREFIX - 1))

/* The hub group of a lobby room, or NULL (error sent) if the payload has
 * no usable "room". group has WS_GROUP_NAME_MAX + 1 bytes. */
static const char *lobby_room(ws_conn *c, json_t *payload, char *group)
{
    const char *room = json_string_value(json_object_get(payload, "room"));
    if (!room || !room[0] || strlen(room) > LOBBY_ROOM_MAX) {
        char why[100];
        snprintf(why, sizeof why, "payload needs a \"room\" name of 1 to %zu bytes",
                 (size_t)LOBBY_ROOM_MAX);
        ws_send_error(c, "bad_payload", why);
        return NULL;
    }
    snprintf(group, WS_GROUP_NAME_MAX + 1, LOBBY_PREFIX "%s", room);
    return room;
}

static void lobby_join(ws_conn *c, json_t *payload)
{
    char group[WS_GROUP_NAME_MAX + 1];
    const char *room = lobby_room(c, payload, group);
    if (!room)
        return;
    int rc = ws_hub_join(c, group);
    if (rc == WS_HUB_TOO_MANY) {
        char why[100];
        snprintf(why, sizeof why, "a client may be in at most %d rooms: leave one first",
                 WS_HUB_MAX_GROUPS);
        ws_send_error(c, "too_many_rooms", why);
        return;
    }
    if (rc != WS_HUB_OK) {
        ws_send_error(c, "join_failed", "could not join the room");
        return;
    }
    ws_send_json(c, "joined", json_pack("{s:s, s:I}", "room", room,
                                        "members", (json_int_t)ws_hub_size(group)));
}

static void lobby_leave(ws_conn *c, json_t *payload)
{
    char group[WS_GROUP_NAME_MAX + 1];
    const char *room = lobby_room(c, payload, group);
    if (!room)
        return;
    ws_hub_leave(c, group);
    ws_send_json(c, "left", json_pack("{s:s}", "room", room));
}

static void lobby_say(ws_conn *c, json_t *payload)
{
    char group[WS_GROUP_NAME_MAX + 1];
    const char *room = lobby_room(c, payload, group);
    if (!room)
        return;
    json_t *text = json_object_get(payload, "text");
    if (!json_is_string(text)) {
        ws_send_error(c, "bad_payload", "payload needs a string \"text\"");
        return;
    }
    if (!ws_hub_is_member(c, group)) {
        ws_send_error(c, "not_member", "join the room first");
        return;
    }
    ws_frame *f = ws_json_frame("said", json_pack("{s:s, s:I, s:O}", "room", room,
                                                  "from", (json_int_t)ws_conn_id(c),
                                                  "text", text));
    if (!f) {
        ws_send_error(c, "internal", "out of memory");
    } else if (!fits_broadcast(c, f)) {
        char why[100];
        snprintf(why, sizeof why, "a \"said\" packet may be at most %zu bytes",
                 ws_outbox_limit(ws_conn_outbox(c)));
        ws_send_error(c, "too_big", why);
    } else {
        ws_hub_broadcast_frame(group, f, NULL, 0);
    }
    ws_frame_unref(f);
}

static void lobby_echo(ws_conn *c, json_t *payload)
{
    ws_send_json(c, "echo", json_incref(payload));
}

static const ws_handler lobby_handlers[] = {
    { "join", lobby_join },
    { "leave", lobby_leave },
    { "say", lobby_say },
    { "echo", lobby_echo },
};

static void lobby_message(ws_conn *c, int opcode, const uint8_t *data, size_t len)
{
    if (opcode != WS_OP_TEXT) {
        ws_send_error(c, "bad_json", "send JSON text messages, not binary");
        return;
    }
    ws_dispatch(c, lobby_handlers, sizeof lobby_handlers / sizeof lobby_handlers[0], data, len);
}

static const ws_endpoint lobby_endpoint = {
    .path = "/lobby",
    .on_message = lobby_message,
};

/* The built-in endpoints, added on the first lookup or registration. */
static void register_builtins(void)
{
    add_endpoint(&echo_endpoint);
    add_endpoint(&chat_endpoint);
    add_endpoint(&lobby_endpoint);
}
