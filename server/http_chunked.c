/*
 * http_chunked.c - decodes a chunked request body (RFC 9112 section 7.1).
 *
 *     chunked-body = *chunk last-chunk trailer-section CRLF
 *     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *     last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * http_conn.c feeds the bytes as they arrive from the socket; the decoder
 * is a byte-at-a-time state machine (data is copied in runs), so it gives
 * the same answer however the input is split between calls. It is strict:
 * every line must end with CRLF and every chunk must end exactly where
 * its size says. Disagreeing with another HTTP parser about where a
 * chunked body ends is a request smuggling vector, so anything unusual is
 * HTTP_CHUNKED_BAD (400) rather than a guess. Chunk extensions and
 * trailer fields are read and ignored, within bounds.
 */
#include "server.h"

#include <string.h>

/* Longest chunk-size line (size, extensions) and trailer section. */
#define CHUNK_LINE_MAX 4096
#define CHUNK_TRAILER_MAX 8192

enum chunked_state {
    ST_SIZE_FIRST,  /* first hex digit of a chunk-size        */
    ST_SIZE,        /* more hex digits, ';', BWS or CR         */
    ST_SIZE_BWS,    /* blanks after the size: only ';' may follow */
    ST_EXT,         /* inside chunk extensions, up to CR       */
    ST_SIZE_LF,     /* the LF ending the chunk-size line       */
    ST_DATA,        /* chunk_left bytes of data                */
    ST_DATA_CR,     /* the CRLF after the data                 */
    ST_DATA_LF,
    ST_TRAILER,     /* start of a trailer line (or the end)    */
    ST_TRAILER_LINE,/* inside a trailer field line, up to CR   */
    ST_TRAILER_LF,  /* the LF ending a trailer field line      */
    ST_END_LF,      /* the LF of the final empty line          */
    ST_DONE,
    ST_BAD
};

void http_chunked_init(http_chunked *st)
{
    st->state = ST_SIZE_FIRST;
    st->chunk_left = 0;
    st->line_len = 0;
}

/* Bytes allowed inside a chunk extension or a trailer field line. */
static bool is_line_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

/* One byte of the chunk-size line. Returns the next state. */
static int size_line_byte(http_chunked *st, char c)
{
    if (++st->line_len > CHUNK_LINE_MAX)
        return ST_BAD;
    int v = http_hex_digit(c);
    switch (st->state) {
    case ST_SIZE_FIRST:
        if (v < 0)
            return ST_BAD;
        st->chunk_left = (uint64_t)v;
        return ST_SIZE;
    case ST_SIZE:
        if (v >= 0) {
            if (st->chunk_left > (UINT64_MAX >> 4))
                return ST_BAD; /* the size would overflow 64 bits */
            st->chunk_left = st->chunk_left << 4 | (uint64_t)v;
            return ST_SIZE;
        }
        if (c == ';')
            return ST_EXT; /* chunk extensions are ignored */
        if (c == ' ' || c == '\t')
            return ST_SIZE_BWS;
        return c == '\r' ? ST_SIZE_LF : ST_BAD;
    case ST_SIZE_BWS:
        if (c == ' ' || c == '\t')
            return ST_SIZE_BWS;
        return c == ';' ? ST_EXT : ST_BAD;
    case ST_EXT:
        if (c == '\r')
            return ST_SIZE_LF;
        return is_line_char(c) ? ST_EXT : ST_BAD;
    default:
        return ST_BAD;
    }
}

/* The LF after a chunk-size line: data follows, or the trailer. */
static int size_line_done(http_chunked *st, char c, size_t room)
{
    if (c != '\n')
        return ST_BAD;
    st->line_len = 0;
    if (st->chunk_left == 0)
        return ST_TRAILER; /* last-chunk; line_len now counts trailer bytes */
    if (st->chunk_left > room)
        return HTTP_CHUNKED_TOO_LARGE;
    return ST_DATA;
}

/* One byte of the trailer section, which is read and discarded. */
static int trailer_byte(http_chunked *st, char c)
{
    if (++st->line_len > CHUNK_TRAILER_MAX)
        return ST_BAD;
    switch (st->state) {
    case ST_TRAILER:
        if (c == '\r')
            return ST_END_LF;
        return is_line_char(c) && c != ' ' && c != '\t' ? ST_TRAILER_LINE : ST_BAD;
    case ST_TRAILER_LINE:
        if (c == '\r')
            return ST_TRAILER_LF;
        return is_line_char(c) ? ST_TRAILER_LINE : ST_BAD;
    case ST_TRAILER_LF:
        return c == '\n' ? ST_TRAILER : ST_BAD;
    case ST_END_LF:
        return c == '\n' ? ST_DONE : ST_BAD;
    default:
        return ST_BAD;
    }
}

/* Copies as much chunk data as is available; returns bytes used. */
static size_t copy_data(http_chunked *st, const char *in, size_t avail, char *out,
                        size_t *out_len)
{
    size_t n = st->chunk_left < avail ? (size_t)st->chunk_left : avail;
    memcpy(out + *out_len, in, n);
    *out_len += n;
    st->chunk_left -= n;
    if (st->chunk_left == 0)
        st->state = ST_DATA_CR;
    return n;
}

/* The state after byte c, outside chunk data. */
static int next_state(http_chunked *st, char c, size_t room)
{
    switch (st->state) {
    case ST_SIZE_FIRST:
    case ST_SIZE:
    case ST_SIZE_BWS:
    case ST_EXT:
        return size_line_byte(st, c);
    case ST_SIZE_LF:
        return size_line_done(st, c, room);
    case ST_DATA_CR:
        return c == '\r' ? ST_DATA_LF : ST_BAD;
    case ST_DATA_LF:
        return c == '\n' ? ST_SIZE_FIRST : ST_BAD;
    default:
        return trailer_byte(st, c);
    }
}

int http_chunked_decode(http_chunked *st, const char *in, size_t in_len, size_t *consumed,
                        char *out, size_t *out_len, size_t out_cap)
{
    size_t i = 0;
    while (i < in_len && st->state != ST_DONE && st->state != ST_BAD) {
        if (st->state == ST_DATA) {
            i += copy_data(st, in + i, in_len - i, out, out_len);
            continue;
        }
        int next = next_state(st, in[i], out_cap - *out_len);
        if (next == HTTP_CHUNKED_TOO_LARGE) {
            *consumed = i;
            return HTTP_CHUNKED_TOO_LARGE;
        }
        st->state = next;
        i++;
    }
    *consumed = i;
    if (st->state == ST_DONE)
        return HTTP_CHUNKED_DONE;
    return st->state == ST_BAD ? HTTP_CHUNKED_BAD : HTTP_CHUNKED_MORE;
}
