/*
 * test_ws_utf8.c - the incremental UTF-8 validator (websocket/ws_utf8.c).
 *
 * A table of valid and invalid sequences in the spirit of Markus Kuhn's
 * UTF-8 stress test, each checked one-shot, byte by byte (it must fail on
 * exactly the first impossible byte) and split in two at every position;
 * then every 1-, 2- and 3-byte sequence and a large sample of 4-byte ones
 * compared with a straightforward reference decoder written from RFC 3629.
 */
#include "unit.h"
#include "../../websocket/websocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *bytes;
    int fail_at;        /* index of the first impossible byte; -1 = valid,
                           -2 = every byte is possible but the end is not */
} utf8_case;

static const utf8_case cases[] = {
    {"empty", "", -1},
    {"ascii", "Hello, world! 0123456789", -1},
    {"greek kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", -1},
    {"U+0080 first 2-byte", "\xC2\x80", -1},
    {"U+07FF last 2-byte", "\xDF\xBF", -1},
    {"U+0800 first 3-byte", "\xE0\xA0\x80", -1},
    {"U+D7FF before surrogates", "\xED\x9F\xBF", -1},
    {"U+E000 after surrogates", "\xEE\x80\x80", -1},
    {"U+FFFD replacement", "\xEF\xBF\xBD", -1},
    {"U+FFFE noncharacter", "\xEF\xBF\xBE", -1},
    {"U+FFFF last 3-byte", "\xEF\xBF\xBF", -1},
    {"U+10000 first 4-byte", "\xF0\x90\x80\x80", -1},
    {"U+10FFFF last", "\xF4\x8F\xBF\xBF", -1},
    {"euro and ascii", "price: \xE2\x82\xAC" "42", -1},
    {"emoji", "\xF0\x9F\x98\x80", -1},

    {"lone continuation 80", "\x80", 0},
    {"lone continuation BF", "\xBF", 0},
    {"continuation after ascii", "abc\x80", 3},
    {"extra continuation", "\xC2\x80\x80", 2},
    {"overlong / as C0 AF", "\xC0\xAF", 0},
    {"overlong C1 BF", "\xC1\xBF", 0},
    {"overlong / as E0 80 AF", "\xE0\x80\xAF", 1},
    {"overlong U+07FF E0 9F BF", "\xE0\x9F\xBF", 1},
    {"overlong / as F0 80 80 AF", "\xF0\x80\x80\xAF", 1},
    {"overlong U+FFFF F0 8F BF BF", "\xF0\x8F\xBF\xBF", 1},
    {"5-byte overlong F8", "\xF8\x80\x80\x80\xAF", 0},
    {"6-byte overlong FC", "\xFC\x80\x80\x80\x80\xAF", 0},
    {"surrogate U+D800", "\xED\xA0\x80", 1},
    {"surrogate U+DBFF", "\xED\xAF\xBF", 1},
    {"surrogate U+DC00", "\xED\xB0\x80", 1},
    {"surrogate U+DFFF", "\xED\xBF\xBF", 1},
    {"surrogate pair", "\xED\xA0\x80\xED\xB0\x80", 1},
    {"U+110000 F4 90", "\xF4\x90\x80\x80", 1},
    {"F5 lead", "\xF5\x80\x80\x80", 0},
    {"F7 BF BF BF", "\xF7\xBF\xBF\xBF", 0},
    {"FE", "\xFE", 0},
    {"FF", "\xFF", 0},
    {"2-byte lead then ascii", "\xC2\x41", 1},
    {"3-byte lead then ascii", "\xE1\x80\x41", 2},
    {"4-byte lead then ascii", "\xF1\x80\x80\x41", 3},
    {"lead then lead", "\xC2\xC2\x80", 1},
    {"kosme then bad", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80", 12},

    {"truncated 2-byte", "\xC2", -2},
    {"truncated 3-byte", "\xE0\xA0", -2},
    {"truncated 4-byte", "\xF0\x90\x80", -2},
    {"ascii then truncated euro", "hello\xE2\x82", -2},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* Reports a failed table case by name. */
static void fail_case(const utf8_case *c, const char *how)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s (%s)", c->name, how);
    CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
}

static void check_case(const utf8_case *c, const uint8_t *b, size_t len,
                       int fail_at)
{
    bool valid = fail_at == -1;
    if (ws_utf8_valid(b, len) != valid)
        fail_case(c, "one-shot");

    /* Byte by byte: accepted up to fail_at, rejected there, and stays
     * rejected. */
    ws_utf8 v;
    ws_utf8_init(&v);
    for (size_t i = 0; i < len; i++) {
        bool ok = ws_utf8_feed(&v, b + i, 1);
        bool expect = fail_at < 0 || (int)i < fail_at;
        if (ok != expect) {
            fail_case(c, "byte by byte");
            return;
        }
    }
    if (ws_utf8_complete(&v) != valid)
        fail_case(c, "complete");

    /* Split in two at every position gives the same answer. */
    for (size_t cut = 0; cut <= len; cut++) {
        ws_utf8_init(&v);
        bool ok = ws_utf8_feed(&v, b, cut) && ws_utf8_feed(&v, b + cut, len - cut)
                  && ws_utf8_complete(&v);
        if (ok != valid) {
            fail_case(c, "split in two");
            return;
        }
    }
}

static void test_table(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        const utf8_case *c = &cases[i];
        check_case(c, (const uint8_t *)c->bytes, strlen(c->bytes), c->fail_at);
    }
}

/* The same table inside long ASCII text, so the word-at-a-time ASCII
 * fast path runs before and after each sequence. */
static void test_table_in_ascii(void)
{
    static const char pad[] = "The quick brown fox jumps!";
    for (size_t i = 0; i < NCASES; i++) {
        const utf8_case *c = &cases[i];
        size_t n = strlen(c->bytes), plen = strlen(pad);
        uint8_t buf[128];
        memcpy(buf, pad, plen);
        memcpy(buf + plen, c->bytes, n);
        size_t len = plen + n;
        int fail_at = c->fail_at >= 0 ? c->fail_at + (int)plen : c->fail_at;
        if (c->fail_at == -1) {             /* valid: ascii may follow */
            memcpy(buf + len, pad, plen);
            len += plen;
        }
        check_case(c, buf, len, fail_at);
    }
}

static void test_nul_bytes_are_valid(void)
{
    const uint8_t zeros[20] = {0};
    CU_ASSERT_TRUE(ws_utf8_valid(zeros, sizeof zeros));
}

/* ---- comparison with a reference decoder ---- */

/* RFC 3629 section 3, literally: decode the sequence length from the
 * lead byte, collect the bits, then reject overlongs, surrogates and
 * values beyond U+10FFFF. Returns whether buf[0..len) is valid. */
static bool reference_valid(const uint8_t *b, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp, min;
        size_t n;
        if (b[i] < 0x80) { i++; continue; }
        else if ((b[i] & 0xE0) == 0xC0) { n = 2; cp = b[i] & 0x1F; min = 0x80; }
        else if ((b[i] & 0xF0) == 0xE0) { n = 3; cp = b[i] & 0x0F; min = 0x800; }
        else if ((b[i] & 0xF8) == 0xF0) { n = 4; cp = b[i] & 0x07; min = 0x10000; }
        else return false;
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((b[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (b[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

static void test_all_short_sequences(void)
{
    unsigned mismatches = 0;
    uint8_t b[3];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        mismatches += ws_utf8_valid(b, 1) != reference_valid(b, 1);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            mismatches += ws_utf8_valid(b, 2) != reference_valid(b, 2);
            if (x < 0xE0 || x > 0xEF)
                continue;               /* 3-byte leads in full below */
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (uint8_t)z;
                mismatches += ws_utf8_valid(b, 3) != reference_valid(b, 3);
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_four_byte_sample(void)
{
    unsigned mismatches = 0;
    srand(4);
    uint8_t b[4];
    for (unsigned lead = 0xF0; lead <= 0xF7; lead++) {
        for (unsigned second = 0x70; second <= 0xCF; second++) {
            for (int r = 0; r < 64; r++) {
                b[0] = (uint8_t)lead;
                b[1] = (uint8_t)second;
                b[2] = (uint8_t)(0x70 + rand() % 0x60);
                b[3] = (uint8_t)(0x70 + rand() % 0x60);
                mismatches += ws_utf8_valid(b, 4) != reference_valid(b, 4);
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* Every code point, encoded, is valid except the surrogates. */
static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static void test_every_code_point(void)
{
    unsigned wrong = 0;
    uint8_t b[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF + 0x100; cp++) {
        size_t n = encode(cp, b);
        bool expect = cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        wrong += ws_utf8_valid(b, n) != expect;
    }
    CU_ASSERT_EQUAL(wrong, 0);
}

UNIT_SUITE(ws_utf8) {
    CU_pSuite s = CU_add_suite("ws_utf8", NULL, NULL);
    CU_add_test(s, "table of sequences, whole, bytewise, split", test_table);
    CU_add_test(s, "table inside ascii text", test_table_in_ascii);
    CU_add_test(s, "NUL bytes are valid", test_nul_bytes_are_valid);
    CU_add_test(s, "all 1-3 byte sequences vs reference", test_all_short_sequences);
    CU_add_test(s, "4-byte sample vs reference", test_four_byte_sample);
    CU_add_test(s, "every code point", test_every_code_point);
}
