/*
 * ws_frame.c - the RFC 6455 frame header (section 5.2) and payload
 * masking (section 5.3), plus the error names and close codes of ws_err.
 *
 *   0               1               2               3
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *   | |1|2|3|       |K|             |                               |
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |     Masking-key (4 bytes, only if MASK is set)                |
 *   +---------------------------------------------------------------+
 *
 * Nothing here does I/O or enforces protocol rules beyond the header's
 * own encoding; ws_parser.c decides what a header is allowed to say.
 */
#include "websocket.h"

#include <string.h>

int ws_err_close_code(ws_err err)
{
    switch (err) {
    case WS_OK:           return WS_CLOSE_NORMAL;
    case WS_ERR_PROTOCOL: return WS_CLOSE_PROTOCOL;
    case WS_ERR_UTF8:     return WS_CLOSE_BAD_DATA;
    case WS_ERR_TOO_BIG:  return WS_CLOSE_TOO_BIG;
    case WS_ERR_NOMEM:    return WS_CLOSE_INTERNAL;
    case WS_ERR_CALLBACK: return WS_CLOSE_INTERNAL;
    }
    return WS_CLOSE_INTERNAL;
}

const char *ws_err_str(ws_err err)
{
    switch (err) {
    case WS_OK:           return "ok";
    case WS_ERR_PROTOCOL: return "protocol error";
    case WS_ERR_UTF8:     return "invalid UTF-8 in text";
    case WS_ERR_TOO_BIG:  return "message too big";
    case WS_ERR_NOMEM:    return "out of memory";
    case WS_ERR_CALLBACK: return "stopped by callback";
    }
    return "unknown error";
}

/* Reads an n-byte big-endian integer (network byte order). */
static uint64_t read_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void write_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int ws_frame_decode_header(const uint8_t *buf, size_t len, ws_frame_header *h)
{
    if (len < 2)
        return 0;
    uint8_t len7 = buf[1] & 0x7F;
    int ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    bool masked = (buf[1] & 0x80) != 0;
    size_t need = 2 + (size_t)ext + (masked ? 4 : 0);
    if (len < need)
        return 0;

    h->fin = (buf[0] & 0x80) != 0;
    h->rsv = (buf[0] >> 4) & 0x07;
    h->opcode = buf[0] & 0x0F;
    h->masked = masked;
    h->payload_len = ext ? read_be(buf + 2, ext) : len7;
    /* "the most significant bit MUST be 0" (5.2) */
    if (h->payload_len >> 63)
        return WS_ERR_PROTOCOL;
    if (masked)
        memcpy(h->mask, buf + 2 + ext, 4);
    else
        memset(h->mask, 0, 4);
    return (int)need;
}

size_t ws_frame_encode_header(uint8_t out[WS_FRAME_HEADER_MAX], bool fin,
                              int opcode, uint64_t payload_len,
                              const uint8_t *mask)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t mask_bit = mask ? 0x80 : 0;
    if (payload_len <= 125) {
        out[1] = mask_bit | (uint8_t)payload_len;
    } else if (payload_len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        write_be(out + 2, payload_len, 2);
        n += 2;
    } else {
        out[1] = mask_bit | 127;
        write_be(out + 2, payload_len, 8);
        n += 8;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/*
 * Payload byte i is XORed with mask[i % 4] (5.3). `offset` is the index
 * of data[0] within the payload, so a payload may be unmasked piece by
 * piece as it arrives. Bytes are handled one at a time up to an 8-byte
 * boundary, then a word at a time with the mask repeated twice (memcpy
 * keeps the word access free of alignment and aliasing UB; compilers turn
 * it into plain loads and stores).
 */
void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   uint64_t offset)
{
    size_t i = 0;
    unsigned k = (unsigned)(offset & 3);
    while (i < len && ((uintptr_t)(data + i) & 7) != 0) {
        data[i++] ^= mask[k];
        k = (k + 1) & 3;
    }
    if (len - i >= 8) {
        uint8_t pattern[8];
        for (unsigned j = 0; j < 8; j++)
            pattern[j] = mask[(k + j) & 3];
        uint64_t key;
        memcpy(&key, pattern, sizeof key);
        for (; len - i >= 8; i += 8) {
            uint64_t word;
            memcpy(&word, data + i, sizeof word);
            word ^= key;
            memcpy(data + i, &word, sizeof word);
        }
    }
    /* A multiple of 8 bytes went by: k is unchanged. */
    for (; i < len; i++) {
        data[i] ^= mask[k];
        k = (k + 1) & 3;
    }
}
