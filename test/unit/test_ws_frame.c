/*
 * test_ws_frame.c - frame header encoding/decoding and masking
 * (websocket/ws_frame.c), and the ws_err names and close codes.
 */
#include "unit.h"
#include "../../websocket/websocket.h"

#include <stdlib.h>
#include <string.h>

static const uint64_t boundaries[] = {
    0, 1, 125, 126, 127, 65535, 65536, 65537, 0xFFFFFFFFull, 0x100000000ull,
    0x7FFFFFFFFFFFFFFFull
};
#define NBOUNDARIES (sizeof boundaries / sizeof boundaries[0])

static size_t expected_header_len(uint64_t len, bool masked)
{
    size_t n = len <= 125 ? 2 : len <= 0xFFFF ? 4 : 10;
    return n + (masked ? 4 : 0);
}

/* Encoding uses the minimal length form, and decoding gives back every
 * field, at every length boundary, masked or not. */
static void test_roundtrip_boundaries(void)
{
    const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    for (size_t i = 0; i < NBOUNDARIES; i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t buf[WS_FRAME_HEADER_MAX];
            size_t n = ws_frame_encode_header(buf, true, WS_OP_BINARY,
                                              boundaries[i], m ? mask : NULL);
            CU_ASSERT_EQUAL(n, expected_header_len(boundaries[i], m));
            ws_frame_header h;
            CU_ASSERT_EQUAL(ws_frame_decode_header(buf, n, &h), (int)n);
            CU_ASSERT_EQUAL(h.payload_len, boundaries[i]);
            CU_ASSERT_TRUE(h.fin);
            CU_ASSERT_EQUAL(h.rsv, 0);
            CU_ASSERT_EQUAL(h.opcode, WS_OP_BINARY);
            CU_ASSERT_EQUAL(h.masked, m != 0);
            if (m)
                CU_ASSERT_EQUAL(memcmp(h.mask, mask, 4), 0);
        }
    }
}

/* Every proper prefix of a header asks for more bytes. */
static void test_incomplete_headers(void)
{
    const uint8_t mask[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < NBOUNDARIES; i++) {
        uint8_t buf[WS_FRAME_HEADER_MAX];
        size_t n = ws_frame_encode_header(buf, false, WS_OP_TEXT,
                                          boundaries[i], mask);
        for (size_t k = 0; k < n; k++) {
            ws_frame_header h;
            CU_ASSERT_EQUAL(ws_frame_decode_header(buf, k, &h), 0);
        }
    }
}

/* Known bytes from RFC 6455 5.7. */
static void test_rfc_examples(void)
{
    ws_frame_header h;
    /* A single-frame unmasked text message "Hello". */
    const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    CU_ASSERT_EQUAL(ws_frame_decode_header(hello, sizeof hello, &h), 2);
    CU_ASSERT_TRUE(h.fin);
    CU_ASSERT_EQUAL(h.opcode, WS_OP_TEXT);
    CU_ASSERT_FALSE(h.masked);
    CU_ASSERT_EQUAL(h.payload_len, 5);

    /* A single-frame masked text message "Hello". */
    uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                        0x7f, 0x9f, 0x4d, 0x51, 0x58};
    CU_ASSERT_EQUAL(ws_frame_decode_header(masked, sizeof masked, &h), 6);
    CU_ASSERT_TRUE(h.masked);
    ws_frame_mask(masked + 6, 5, h.mask, 0);
    CU_ASSERT_EQUAL(memcmp(masked + 6, "Hello", 5), 0);

    /* 256 bytes binary in a single unmasked message: 16-bit length. */
    const uint8_t b256[] = {0x82, 0x7E, 0x01, 0x00};
    CU_ASSERT_EQUAL(ws_frame_decode_header(b256, sizeof b256, &h), 4);
    CU_ASSERT_EQUAL(h.payload_len, 256);

    /* 64 KiB: 64-bit length. */
    const uint8_t b64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    CU_ASSERT_EQUAL(ws_frame_decode_header(b64k, sizeof b64k, &h), 10);
    CU_ASSERT_EQUAL(h.payload_len, 65536);

    /* Our encoder writes the same bytes. */
    uint8_t out[WS_FRAME_HEADER_MAX];
    CU_ASSERT_EQUAL(ws_frame_encode_header(out, true, WS_OP_BINARY, 256, NULL), 4);
    CU_ASSERT_EQUAL(memcmp(out, b256, 4), 0);
    CU_ASSERT_EQUAL(ws_frame_encode_header(out, true, WS_OP_BINARY, 65536, NULL), 10);
    CU_ASSERT_EQUAL(memcmp(out, b64k, 10), 0);
}

static void test_flags_and_opcodes(void)
{
    ws_frame_header h;
    const uint8_t rsv[] = {0x70 | 0x01, 0x00};   /* FIN=0, RSV=7, text */
    CU_ASSERT_EQUAL(ws_frame_decode_header(rsv, 2, &h), 2);
    CU_ASSERT_FALSE(h.fin);
    CU_ASSERT_EQUAL(h.rsv, 7);
    CU_ASSERT_EQUAL(h.opcode, 1);
    for (int op = 0; op < 16; op++) {
        const uint8_t b[] = {(uint8_t)(0x80 | op), 0x00};
        CU_ASSERT_EQUAL(ws_frame_decode_header(b, 2, &h), 2);
        CU_ASSERT_EQUAL(h.opcode, op);
    }
}

/* "the most significant bit MUST be 0" */
static void test_64bit_msb_is_protocol_error(void)
{
    ws_frame_header h;
    const uint8_t b[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(ws_frame_decode_header(b, sizeof b, &h), WS_ERR_PROTOCOL);
    const uint8_t top[] = {0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                           1, 2, 3, 4};
    CU_ASSERT_EQUAL(ws_frame_decode_header(top, sizeof top, &h), WS_ERR_PROTOCOL);
}

/* ---- masking ---- */

static void naive_mask(uint8_t *d, size_t len, const uint8_t m[4], uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        d[i] ^= m[(off + i) % 4];
}

/* The fast version equals the byte-at-a-time definition for every start
 * alignment, length and offset. */
static void test_mask_matches_definition(void)
{
    const uint8_t mask[4] = {0xA5, 0x3C, 0x0F, 0xF0};
    uint8_t fast[128 + 16], slow[128 + 16];
    unsigned wrong = 0;
    for (size_t align = 0; align < 16; align++) {
        for (size_t len = 0; len <= 100; len++) {
            for (uint64_t off = 0; off < 8; off++) {
                for (size_t i = 0; i < sizeof fast; i++)
                    fast[i] = slow[i] = (uint8_t)(i * 7 + len);
                ws_frame_mask(fast + align, len, mask, off);
                naive_mask(slow + align, len, mask, off);
                wrong += memcmp(fast, slow, sizeof fast) != 0;
            }
        }
    }
    CU_ASSERT_EQUAL(wrong, 0);
}

/* Masking a payload in random pieces, each at its offset, equals masking
 * it whole; masking twice gives back the original. */
static void test_mask_in_pieces(void)
{
    const uint8_t mask[4] = {0xDE, 0xAD, 0xBE, 0xEF};
    enum { N = 5000 };
    static uint8_t orig[N], whole[N], pieces[N];
    srand(7);
    for (size_t i = 0; i < N; i++)
        orig[i] = (uint8_t)rand();
    for (int seed = 0; seed < 50; seed++) {
        srand((unsigned)seed);
        memcpy(whole, orig, N);
        memcpy(pieces, orig, N);
        ws_frame_mask(whole, N, mask, 0);
        for (size_t pos = 0; pos < N;) {
            size_t n = (size_t)(rand() % 40);
            if (n > N - pos)
                n = N - pos;
            ws_frame_mask(pieces + pos, n, mask, pos);
            pos += n;
        }
        CU_ASSERT_EQUAL(memcmp(whole, pieces, N), 0);
        ws_frame_mask(whole, N, mask, 0);
        CU_ASSERT_EQUAL(memcmp(whole, orig, N), 0);
    }
}

static void test_err_codes(void)
{
    CU_ASSERT_EQUAL(ws_err_close_code(WS_ERR_PROTOCOL), 1002);
    CU_ASSERT_EQUAL(ws_err_close_code(WS_ERR_UTF8), 1007);
    CU_ASSERT_EQUAL(ws_err_close_code(WS_ERR_TOO_BIG), 1009);
    CU_ASSERT_EQUAL(ws_err_close_code(WS_ERR_NOMEM), 1011);
    CU_ASSERT_TRUE(ws_close_code_valid(ws_err_close_code(WS_ERR_CALLBACK)));
    const ws_err all[] = {WS_OK, WS_ERR_PROTOCOL, WS_ERR_UTF8, WS_ERR_TOO_BIG,
                          WS_ERR_NOMEM, WS_ERR_CALLBACK};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL(ws_err_str(all[i]));
        for (size_t j = 0; j < i; j++)
            CU_ASSERT_STRING_NOT_EQUAL(ws_err_str(all[i]), ws_err_str(all[j]));
    }
}

UNIT_SUITE(ws_frame) {
    CU_pSuite s = CU_add_suite("ws_frame", NULL, NULL);
    CU_add_test(s, "encode/decode at every length boundary", test_roundtrip_boundaries);
    CU_add_test(s, "incomplete headers need more", test_incomplete_headers);
    CU_add_test(s, "RFC 6455 5.7 examples", test_rfc_examples);
    CU_add_test(s, "flags and opcodes", test_flags_and_opcodes);
    CU_add_test(s, "64-bit length with top bit set", test_64bit_msb_is_protocol_error);
    CU_add_test(s, "mask equals definition, any alignment", test_mask_matches_definition);
    CU_add_test(s, "mask in pieces by offset", test_mask_in_pieces);
    CU_add_test(s, "error close codes and names", test_err_codes);
}
