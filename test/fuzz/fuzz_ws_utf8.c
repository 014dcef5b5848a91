/*
 * fuzz_ws_utf8.c - fuzzes the incremental UTF-8 validator
 * (websocket/ws_utf8.c) against a reference written here, straight from
 * the UTF8-char grammar of RFC 3629 section 4:
 *
 *   UTF8-1 = %x00-7F
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 *   UTF8-tail = %x80-BF
 *
 * The reference is slow and obvious; the validator under test is a fast
 * DFA with an ASCII shortcut. For every input they must agree on:
 *   - valid and complete (ws_utf8_valid, and feed + complete);
 *   - "cannot become valid" (RFC 6455 8.1 wants the connection failed
 *     as soon as invalid bytes arrive, so feed must fail on exactly the
 *     first byte after which no continuation could make it valid);
 * and feeding the bytes in pieces (split points from the input) must
 * give the same answers as feeding them at once.
 */
#include "fuzz.h"
#include "../../websocket/websocket.h"

#include <stdbool.h>

enum ref_result { REF_INVALID, REF_VALID, REF_TRUNCATED };

/* Allowed range of the second byte of a sequence starting with lead, and
 * the sequence length; length 0 = lead is not a valid first byte. */
static int ref_sequence(uint8_t lead, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (lead <= 0x7F) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead == 0xE0) { *lo = 0xA0; return 3; }
    if (lead >= 0xE1 && lead <= 0xEC) return 3;
    if (lead == 0xED) { *hi = 0x9F; return 3; }
    if (lead >= 0xEE && lead <= 0xEF) return 3;
    if (lead == 0xF0) { *lo = 0x90; return 4; }
    if (lead >= 0xF1 && lead <= 0xF3) return 4;
    if (lead == 0xF4) { *hi = 0x8F; return 4; }
    return 0;
}

/* Classifies data[0..len); *bad_at is set to the index of the first byte
 * that makes it invalid (for REF_INVALID). */
static enum ref_result ref_check(const uint8_t *data, size_t len,
                                 size_t *bad_at)
{
    size_t i = 0;
    while (i < len) {
        uint8_t lo, hi;
        int n = ref_sequence(data[i], &lo, &hi);
        if (n == 0) {
            *bad_at = i;
            return REF_INVALID;
        }
        for (int k = 1; k < n; k++) {
            if (i + (size_t)k == len)
                return REF_TRUNCATED;
            uint8_t b = data[i + (size_t)k];
            uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
            if (b < min || b > max) {
                *bad_at = i + (size_t)k;
                return REF_INVALID;
            }
        }
        i += (size_t)n;
    }
    return REF_VALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t step = fuzz_take_byte(&in);
    const uint8_t *text = (const uint8_t *)fuzz_dup(in.data, in.size, 0);
    size_t len = in.size;

    size_t bad_at = 0;
    enum ref_result ref = ref_check(text, len, &bad_at);

    /* One shot. */
    FUZZ_CHECK(ws_utf8_valid(text, len) == (ref == REF_VALID));

    /* In pieces of 1..32 bytes (sizes cycle through the step byte). */
    ws_utf8 v;
    ws_utf8_init(&v);
    size_t pos = 0, piece = 1 + step % 32u;
    bool ok = true;
    while (ok && pos < len) {
        size_t n = len - pos < piece ? len - pos : piece;
        ok = ws_utf8_feed(&v, text + pos, n);
        if (!ok) {
            /* Failed fast: the bad byte is inside this piece. */
            FUZZ_CHECK(ref == REF_INVALID);
            FUZZ_CHECK(bad_at >= pos && bad_at < pos + n);
        }
        pos += n;
        piece = 1 + (piece * 7 + step) % 32u;
    }
    if (ok) {
        FUZZ_CHECK(ref != REF_INVALID);
        FUZZ_CHECK(ws_utf8_complete(&v) == (ref == REF_VALID));
    }

    /* Byte at a time: fails exactly at the first bad byte. */
    ws_utf8_init(&v);
    for (size_t i = 0; i < len; i++) {
        if (!ws_utf8_feed(&v, text + i, 1)) {
            FUZZ_CHECK(ref == REF_INVALID && bad_at == i);
            break;
        }
        FUZZ_CHECK(!(ref == REF_INVALID && bad_at == i));
    }
    free((void *)text);
    return 0;
}
