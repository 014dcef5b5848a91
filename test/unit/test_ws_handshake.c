/*
 * test_ws_handshake.c - Sec-WebSocket-Accept, Sec-WebSocket-Key checks
 * and close-code validity (websocket/ws_handshake.c).
 */
#include "unit.h"
#include "../../websocket/websocket.h"

#include <string.h>

/* RFC 6455 section 1.3's own example, and two more computed with
 * `printf '%s' "$key$GUID" | openssl sha1 -binary | base64`. */
static void test_accept_known_values(void)
{
    static const struct { const char *key, *accept; } v[] = {
        {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
        {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
        {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[29];
        memset(out, 'X', sizeof out);
        ws_handshake_accept(v[i].key, out);
        CU_ASSERT_STRING_EQUAL(out, v[i].accept);
    }
}

static void test_key_valid(void)
{
    static const char *good[] = {
        "dGhlIHNhbXBsZSBub25jZQ==",
        "x3JJHMbDL1EzLkh9GBhXDw==",
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "++++//////0123456789zw==",
    };
    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",          /* 23 characters */
        "dGhlIHNhbXBsZSBub25jZQ===",        /* 25 */
        "dGhlIHNhbXBsZSBub25jZQ",           /* no padding */
        "dGhlIHNhbXBsZSBub25jZQAA",         /* 18 bytes, not 16 */
        "dGhlIHNhbXBsZSBub25jZ===",         /* 15 bytes */
        "dGhlIHNhbXBsZSBub25j ZQ=",         /* space inside */
        "dGhlIHNhbXBsZSBub25jZ-==",         /* base64url is not base64 */
        "dGhlIHNhbXBsZSBub25jZ\x80==",
        "the sample nonce",                 /* the raw 16 bytes */
        " dGhlIHNhbXBsZSBub25jZQ==",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_TRUE(ws_handshake_key_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(ws_handshake_key_valid(bad[i]));
    CU_ASSERT_FALSE(ws_handshake_key_valid(NULL));
}

static void test_close_codes(void)
{
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                               1011, 1012, 1013, 1014, 3000, 3500, 3999, 4000,
                               4999};
    static const int bad[] = {-1, 0, 1, 999, 1004, 1005, 1006, 1015, 1016,
                              1100, 2000, 2999, 5000, 65535, 70000};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_TRUE(ws_close_code_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(ws_close_code_valid(bad[i]));
}

UNIT_SUITE(ws_handshake) {
    CU_pSuite s = CU_add_suite("ws_handshake", NULL, NULL);
    CU_add_test(s, "Sec-WebSocket-Accept known values", test_accept_known_values);
    CU_add_test(s, "Sec-WebSocket-Key shape", test_key_valid);
    CU_add_test(s, "close code validity", test_close_codes);
}
