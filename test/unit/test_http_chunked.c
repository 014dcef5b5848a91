/*
 * test_http_chunked.c - unit tests for server/http_chunked.c: decoding,
 * the same answer for every way of splitting the input, and refusals.
 */
#include "unit.h"
#include "../../server/server.h"

#include <stdio.h>
#include <string.h>

typedef struct decoded {
    int rc;           /* last return of http_chunked_decode        */
    size_t consumed;  /* total bytes consumed                       */
    size_t out_len;
    char out[512];
} decoded;

/* Decodes in[0..len) given as pieces ending at the offsets in cuts[]
 * (the last piece ends at len). Stops at the first result other than
 * MORE, like the request loop does. */
static void decode_pieces(const char *in, size_t len, const size_t *cuts, int ncuts,
                          size_t out_cap, decoded *d)
{
    http_chunked st;
    http_chunked_init(&st);
    memset(d, 0, sizeof *d);
    d->rc = HTTP_CHUNKED_MORE;
    size_t from = 0;
    for (int i = 0; i <= ncuts && d->rc == HTTP_CHUNKED_MORE; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        size_t used = 0;
        d->rc = http_chunked_decode(&st, in + from, to - from, &used, d->out, &d->out_len,
                                    out_cap);
        CU_ASSERT(used <= to - from);
        /* MORE means everything offered was taken. */
        if (d->rc == HTTP_CHUNKED_MORE)
            CU_ASSERT_EQUAL(used, to - from);
        d->consumed = from + used;
        from = to;
    }
}

static void decode_whole(const char *in, size_t out_cap, decoded *d)
{
    decode_pieces(in, strlen(in), NULL, 0, out_cap, d);
}

static void assert_same(const decoded *a, const decoded *b)
{
    CU_ASSERT_EQUAL(a->rc, b->rc);
    CU_ASSERT_EQUAL(a->out_len, b->out_len);
    CU_ASSERT(memcmp(a->out, b->out, a->out_len) == 0);
    if (a->rc == HTTP_CHUNKED_DONE)
        CU_ASSERT_EQUAL(a->consumed, b->consumed);
}

/* Every split into two pieces, and byte by byte, matches one piece. */
static void check_all_splits(const char *in, size_t out_cap)
{
    size_t len = strlen(in);
    decoded whole, part;
    decode_whole(in, out_cap, &whole);
    for (size_t cut = 0; cut <= len; cut++) {
        decode_pieces(in, len, &cut, 1, out_cap, &part);
        assert_same(&whole, &part);
    }
    size_t cuts[512];
    for (size_t i = 0; i < len && i < 512; i++)
        cuts[i] = i + 1;
    decode_pieces(in, len, cuts, (int)(len < 512 ? len : 512), out_cap, &part);
    assert_same(&whole, &part);
}

static void test_simple_body(void)
{
    decoded d;
    const char *in = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    decode_whole(in, 100, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(d.out_len, 12);
    CU_ASSERT(memcmp(d.out, "hello, world", 12) == 0);
    /* Bytes after the body (a pipelined request) are not consumed. */
    CU_ASSERT_EQUAL(d.consumed, strlen(in) - strlen("GET / HTTP/1.1\r\n"));
}

static void test_extensions_trailers_hex(void)
{
    decoded d;
    decode_whole("A;name=value;q=\"x y\"\r\n0123456789\r\n"
                 "00000\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", 100, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(d.out_len, 10);
    decode_whole("1f \t;ext\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n", 100, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(d.out_len, 31);
    decode_whole("0\r\n\r\n", 0, &d); /* an empty body fits in no room at all */
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(d.out_len, 0);
}

static void test_incomplete(void)
{
    decoded d;
    const char *pieces[] = {"", "5", "5\r\n", "5\r\nhel", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n",
                            "5\r\nhello\r\n0\r\nX: y\r\n", "5\r\nhello\r\n0\r\n\r"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        decode_whole(pieces[i], 100, &d);
        CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_MORE);
    }
}

static const char *const valid_bodies[] = {
    "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
    "3;a=b\r\nabc\r\n0;last\r\nTrailer-A: 1\r\nTrailer-B: two words\r\n\r\nNEXT",
    "1\r\n\n\r\n2\r\n\r\n\r\n0\r\n\r\n", /* data that looks like line ends */
};

static const char *const bad_bodies[] = {
    "\r\n",                           /* no size                        */
    ";x\r\n",                         /* extension without size        */
    "g\r\n",                          /* not hex                        */
    "0x5\r\nhello\r\n0\r\n\r\n",      /* no 0x prefix                   */
    "-5\r\n",
    "5 6\r\nhello\r\n",               /* junk after the size            */
    "5\nhello\r\n0\r\n\r\n",          /* bare LF after the size         */
    "5\rhello",                       /* CR not followed by LF          */
    "5\r\nhelloX\r\n",                /* data longer than its size      */
    "5\r\nhello\n0\r\n\r\n",          /* bare LF after the data         */
    "5\r\nhell\r\n0\r\n\r\n",         /* data shorter than its size     */
    "5;a\x01\r\nhello\r\n",           /* control byte in an extension   */
    "0\r\n Folded: x\r\n\r\n",        /* trailer line starting blank    */
    "0\r\nX: a\rb\r\n\r\n",           /* bare CR in a trailer           */
    "0\r\n\n",                        /* bare LF ending the body        */
    "10000000000000000\r\n",          /* 2^64: overflows                */
    "fffffffffffffffff\r\n",
};

static void test_bad_bodies(void)
{
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        decoded d;
        decode_whole(bad_bodies[i], 100, &d);
        if (d.rc != HTTP_CHUNKED_BAD)
            fprintf(stderr, "\n  bad body %zu: got %d\n", i, d.rc);
        CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_BAD);
    }
}

static void test_splits(void)
{
    for (size_t i = 0; i < sizeof valid_bodies / sizeof valid_bodies[0]; i++) {
        decoded d;
        decode_whole(valid_bodies[i], 100, &d);
        CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
        check_all_splits(valid_bodies[i], 100);
    }
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++)
        check_all_splits(bad_bodies[i], 100);
    check_all_splits("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 7); /* TOO_LARGE */
}

static void test_too_large(void)
{
    decoded d;
    /* Exactly at the cap is fine; one byte over is not. */
    decode_whole("5\r\nhello\r\n0\r\n\r\n", 5, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_DONE);
    decode_whole("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n", 5, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_TOO_LARGE);
    CU_ASSERT_EQUAL(d.out_len, 5); /* nothing past out_cap was written */
    /* A huge (but not overflowing) size is refused before any data. */
    decode_whole("ffffffffffffffff\r\nabc", 100, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_TOO_LARGE);
    CU_ASSERT_EQUAL(d.out_len, 0);
}

/* TOO_LARGE leaves the decoder where it was: the request loop grows its
 * buffer and calls again with the input not consumed, and decoding goes
 * on as if the buffer had been big enough from the start. */
static void test_resume_after_growing(void)
{
    const char *in = "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
    size_t len = strlen(in), at = 0, used = 0, out_len = 0;
    char out[32];
    http_chunked st;
    http_chunked_init(&st);
    int rc = http_chunked_decode(&st, in, len, &used, out, &out_len, 8);
    CU_ASSERT_EQUAL_FATAL(rc, HTTP_CHUNKED_TOO_LARGE);
    CU_ASSERT_EQUAL(out_len, 3);
    CU_ASSERT_EQUAL(st.chunk_left, 10); /* what the refused chunk needs */
    at += used;
    rc = http_chunked_decode(&st, in + at, len - at, &used, out, &out_len, 3 + 10);
    CU_ASSERT_EQUAL(rc, HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(at + used, len);
    CU_ASSERT_EQUAL(out_len, 13);
    CU_ASSERT(memcmp(out, "abc0123456789", 13) == 0);
}

static void test_trailer_bound(void)
{
    static char in[20000];
    size_t n = (size_t)snprintf(in, sizeof in, "0\r\n");
    while (n < sizeof in - 100)
        n += (size_t)snprintf(in + n, sizeof in - n, "X-Padding: %s\r\n",
                              "0123456789012345678901234567890123456789");
    snprintf(in + n, sizeof in - n, "\r\n");
    decoded d;
    decode_whole(in, 100, &d);
    CU_ASSERT_EQUAL(d.rc, HTTP_CHUNKED_BAD);
}

/* After DONE the decoder takes nothing more. */
static void test_done_is_final(void)
{
    http_chunked st;
    char out[16];
    size_t out_len = 0, used = 0;
    http_chunked_init(&st);
    CU_ASSERT_EQUAL(http_chunked_decode(&st, "0\r\n\r\n", 5, &used, out, &out_len, 16),
                    HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(used, 5);
    CU_ASSERT_EQUAL(http_chunked_decode(&st, "1\r\na\r\n", 6, &used, out, &out_len, 16),
                    HTTP_CHUNKED_DONE);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(out_len, 0);
}

UNIT_SUITE(http_chunked)
{
    CU_pSuite s = CU_add_suite("http_chunked", NULL, NULL);
    CU_add_test(s, "simple body, leftover not consumed", test_simple_body);
    CU_add_test(s, "extensions, trailers, hex sizes", test_extensions_trailers_hex);
    CU_add_test(s, "incomplete input asks for more", test_incomplete);
    CU_add_test(s, "malformed bodies", test_bad_bodies);
    CU_add_test(s, "every split gives the same result", test_splits);
    CU_add_test(s, "too large", test_too_large);
    CU_add_test(s, "decoding resumes after the buffer grows", test_resume_after_growing);
    CU_add_test(s, "trailer section is bounded", test_trailer_bound);
    CU_add_test(s, "done is final", test_done_is_final);
}
