/*
 * ws_dispatch.c - typed application messages: {"type": ..., "payload": ...}.
 *
 * The seed's echo server kept one handler per packet type; here an
 * endpoint passes a table of (type, handler) pairs and ws_dispatch parses
 * each text message with jansson and calls the matching handler. Bad
 * input never closes the connection: the client gets an error packet
 *   {"type":"error","payload":{"code":"bad_json","message":"..."}}
 * and may go on. Codes: bad_json, not_object, no_type, unknown_type.
 *
 * jansson parses recursively, one call level per nested array or object,
 * and a connection thread has a small stack (server.h): a few kilobytes
 * of "[[[[..." would overflow it. So a cheap scan measures the nesting
 * first, and text nested deeper than WS_JSON_MAX_DEPTH is refused as
 * bad_json before jansson sees it.
 *
 * No shared state: everything here runs on the caller's thread (ws_send*
 * are safe from any thread).
 */
#include "websocket.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ws_frame *ws_json_frame(const char *type, json_t *payload)
{
    json_t *msg = json_pack("{s:s, s:o}", "type", type, "payload",
                            payload ? payload : json_null());
    if (!msg)
        return NULL;
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return NULL;
    ws_frame *f = ws_frame_new(WS_OP_TEXT, text, strlen(text));
    free(text);
    return f;
}

int ws_send_json(ws_conn *c, const char *type, json_t *payload)
{
    json_t *msg = json_pack("{s:s, s:o}", "type", type, "payload",
                            payload ? payload : json_null());
    if (!msg)
        return WS_SEND_NOMEM;
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return WS_SEND_NOMEM;
    int rc = ws_send(c, WS_OP_TEXT, text, strlen(text));
    free(text);
    return rc;
}

/* Copies text into out, replacing every byte that does not start a valid
 * UTF-8 character with '?': an error message may quote the client's bad
 * bytes, and JSON strings must be valid UTF-8. */
static void copy_valid_utf8(char *out, size_t out_size, const char *text)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t n = strlen(text), o = 0;
    for (size_t i = 0; i < n && o + 4 < out_size;) {
        size_t len = s[i] < 0x80 ? 1 : s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
        if (i + len <= n && ws_utf8_valid(s + i, len)) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
}

int ws_send_error(ws_conn *c, const char *code, const char *message)
{
    char clean[512];
    copy_valid_utf8(clean, sizeof clean, message);
    return ws_send_json(c, "error", json_pack("{s:s, s:s}", "code", code, "message", clean));
}

static const ws_handler *find_handler(const ws_handler *table, size_t count,
                                      const char *type)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(table[i].type, type) == 0)
            return &table[i];
    return NULL;
}

/* True if arrays and objects in text nest deeper than max. Brackets
 * inside strings do not count; an escaped character (\" or \\) never
 * ends a string. The scan tokenizes strings as a JSON parser does, so
 * the parser can never go deeper than what it measures. */
static bool nested_deeper_than(const uint8_t *text, size_t len, size_t max)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* skip the escaped character */
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                return true;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

int ws_dispatch(ws_conn *c, const ws_handler *table, size_t count,
                const uint8_t *text, size_t len)
{
    if (nested_deeper_than(text, len, WS_JSON_MAX_DEPTH)) {
        char why[100];
        snprintf(why, sizeof why, "JSON nested deeper than %d levels", WS_JSON_MAX_DEPTH);
        ws_send_error(c, "bad_json", why);
        return -1;
    }
    json_error_t jerr;
    json_t *msg = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!msg) {
        char why[200];
        snprintf(why, sizeof why, "invalid JSON at line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        ws_send_error(c, "bad_json", why);
        return -1;
    }

    int rc = -1;
    json_t *type = json_is_object(msg) ? json_object_get(msg, "type") : NULL;
    const ws_handler *h = json_is_string(type)
                              ? find_handler(table, count, json_string_value(type))
                              : NULL;
    if (!json_is_object(msg)) {
        ws_send_error(c, "not_object", "a message must be a JSON object {\"type\", \"payload\"}");
    } else if (!json_is_string(type)) {
        ws_send_error(c, "no_type", "the message has no string \"type\"");
    } else if (!h) {
        char why[200];
        snprintf(why, sizeof why, "unknown message type \"%.100s\"", json_string_value(type));
        ws_send_error(c, "unknown_type", why);
    } else {
        json_t *payload = json_object_get(msg, "payload");
        json_t *none = payload ? NULL : json_null();
        h->fn(c, payload ? payload : none);
        json_decref(none);
        rc = 0;
    }
    json_decref(msg);
    return rc;
}
