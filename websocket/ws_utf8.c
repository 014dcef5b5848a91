/*
 * ws_utf8.c - incremental UTF-8 validation for WebSocket text messages.
 *
 * RFC 6455 8.1: a text message must be valid UTF-8 (RFC 3629) and an
 * endpoint must fail the connection (1007) as soon as it sees bytes that
 * cannot be. Messages arrive in pieces (frames, and TCP reads inside
 * frames), so the validator keeps its state between calls to
 * ws_utf8_feed and rejects at the first byte that cannot continue a
 * valid sequence: 0xF4 0x90 fails on the 0x90, not at the end.
 *
 * How it works: a small deterministic automaton. Each byte is first
 * mapped to one of 12 classes (ASCII, three ranges of continuation
 * bytes, the different lead bytes, never-valid bytes); the state says
 * how many continuation bytes are still expected and which range the
 * next one must fall in. The narrow ranges after E0, ED, F0 and F4 are
 * what rule out overlong forms, the surrogates U+D800..U+DFFF and code
 * points above U+10FFFF (RFC 3629 section 4, the UTF8-octets grammar).
 */
#include "websocket.h"

#include <string.h>

/* Byte classes. */
enum {
    C_ASCII,    /* 00..7F                               */
    C_CONT_LO,  /* 80..8F continuation                  */
    C_CONT_MID, /* 90..9F continuation                  */
    C_CONT_HI,  /* A0..BF continuation                  */
    C_BAD,      /* C0, C1 (overlong), F5..FF (too big)  */
    C_LEAD2,    /* C2..DF: 2-byte sequence              */
    C_E0,       /* E0: 3 bytes, next A0..BF             */
    C_LEAD3,    /* E1..EC, EE, EF: 3 bytes              */
    C_ED,       /* ED: 3 bytes, next 80..9F             */
    C_F0,       /* F0: 4 bytes, next 90..BF             */
    C_LEAD4,    /* F1..F3: 4 bytes                      */
    C_F4,       /* F4: 4 bytes, next 80..8F             */
    C_COUNT
};

/* States: ACCEPT means "at a character boundary". */
enum {
    S_ACCEPT,   /* expecting a new character            */
    S_REJECT,   /* invalid: stays here forever          */
    S_NEED1,    /* 1 continuation byte left, any        */
    S_NEED2,    /* 2 left, any                          */
    S_E0,       /* 2 left, the next one A0..BF          */
    S_ED,       /* 2 left, the next one 80..9F          */
    S_NEED3,    /* 3 left, any                          */
    S_F0,       /* 3 left, the next one 90..BF          */
    S_F4,       /* 3 left, the next one 80..8F          */
    S_COUNT
};

static uint8_t utf8_class(uint8_t b)
{
    if (b < 0x80) return C_ASCII;
    if (b < 0x90) return C_CONT_LO;
    if (b < 0xA0) return C_CONT_MID;
    if (b < 0xC0) return C_CONT_HI;
    if (b < 0xC2) return C_BAD;
    if (b < 0xE0) return C_LEAD2;
    if (b == 0xE0) return C_E0;
    if (b == 0xED) return C_ED;
    if (b < 0xF0) return C_LEAD3;
    if (b == 0xF0) return C_F0;
    if (b < 0xF4) return C_LEAD4;
    if (b == 0xF4) return C_F4;
    return C_BAD;
}

#define R S_REJECT
/* next_state[state][class] */
static const uint8_t next_state[S_COUNT][C_COUNT] = {
    /*            ASCII     LO       MID      HI       BAD LEAD2    E0    LEAD3    ED    F0    LEAD4    F4 */
    [S_ACCEPT] = {S_ACCEPT, R,       R,       R,       R, S_NEED1, S_E0, S_NEED2, S_ED, S_F0, S_NEED3, S_F4},
    [S_REJECT] = {R,        R,       R,       R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_NEED1]  = {R,        S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R,    R,    R,       R,    R,    R,       R},
    [S_NEED2]  = {R,        S_NEED1, S_NEED1, S_NEED1, R, R,       R,    R,       R,    R,    R,       R},
    [S_E0]     = {R,        R,       R,       S_NEED1, R, R,       R,    R,       R,    R,    R,       R},
    [S_ED]     = {R,        S_NEED1, S_NEED1, R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_NEED3]  = {R,        S_NEED2, S_NEED2, S_NEED2, R, R,       R,    R,       R,    R,    R,       R},
    [S_F0]     = {R,        R,       S_NEED2, S_NEED2, R, R,       R,    R,       R,    R,    R,       R},
    [S_F4]     = {R,        S_NEED2, R,       R,       R, R,       R,    R,       R,    R,    R,       R},
};
#undef R

/* Payload bits of a byte: 6 for continuations, the rest for leads. */
static uint32_t utf8_payload_bits(uint8_t b, uint32_t state)
{
    if (state != S_ACCEPT) return b & 0x3Fu;
    if (b >= 0xF0) return b & 0x07u;
    if (b >= 0xE0) return b & 0x0Fu;
    return b & 0x1Fu;
}

void ws_utf8_init(ws_utf8 *v)
{
    v->state = S_ACCEPT;
    v->codepoint = 0;
}

/* Number of leading bytes of data that are plain ASCII, checked eight at
 * a time (the common case for chat and JSON game messages). */
static size_t ascii_prefix(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (len - i >= 8) {
        uint64_t word;
        memcpy(&word, data + i, sizeof word);   /* any alignment, no UB */
        if (word & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < len && data[i] < 0x80)
        i++;
    return i;
}

bool ws_utf8_feed(ws_utf8 *v, const uint8_t *data, size_t len)
{
    uint32_t state = v->state;
    uint32_t cp = v->codepoint;
    size_t i = 0;
    while (i < len) {
        if (state == S_ACCEPT && data[i] < 0x80) {
            i += ascii_prefix(data + i, len - i);
            continue;
        }
        uint8_t b = data[i++];
        cp = (state == S_ACCEPT ? 0 : cp << 6) | utf8_payload_bits(b, state);
        state = next_state[state][utf8_class(b)];
        if (state == S_REJECT)
            break;
    }
    v->state = state;
    v->codepoint = cp;
    return state != S_REJECT;
}

bool ws_utf8_complete(const ws_utf8 *v)
{
    return v->state == S_ACCEPT;
}

bool ws_utf8_valid(const uint8_t *data, size_t len)
{
    ws_utf8 v;
    ws_utf8_init(&v);
    return ws_utf8_feed(&v, data, len) && ws_utf8_complete(&v);
}
