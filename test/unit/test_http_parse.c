/*
 * test_http_parse.c - unit tests for server/http_parse.c: finding the end
 * of a request head, parsing it, and every status it can refuse with.
 */
#include "unit.h"
#include "../../server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URI 4096

/* Parses text (copied, since parsing writes into the buffer). The copy
 * stays alive in *buf so the request's strings can be checked. */
static int parse(const char *text, http_request *req, char *buf, size_t cap)
{
    size_t len = strlen(text);
    CU_ASSERT_FATAL(len < cap);
    memcpy(buf, text, len + 1);
    memset(req, 0, sizeof *req);
    return http_parse_head(buf, len, req, MAX_URI);
}

static int status_of(const char *text)
{
    static char buf[16384];
    static http_request req;
    return parse(text, &req, buf, sizeof buf);
}

/* ---- http_head_end ------------------------------------------------- */

static void test_head_end_forms(void)
{
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27), 27);
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\nHost: a\n\n", 24), 24);
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\r\nHost: a\n\r\n", 26), 26);
    /* Bytes after the head (a body, a pipelined request) are not part of it. */
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.0\r\n\r\nGET /", 23), 18);
    /* Incomplete heads. */
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r", 26), 0);
    CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\r\nHost: a\r\n", 25), 0);
    CU_ASSERT_EQUAL(http_head_end("", 0), 0);
    /* Empty lines before the request line do not end an (empty) head. */
    CU_ASSERT_EQUAL(http_head_end("\r\n\r\n", 4), 0);
    CU_ASSERT_EQUAL(http_head_end("\r\nGET / HTTP/1.0\r\n\r\n", 20), 20);
}

/* What a parse produced, flattened to one string for comparisons. */
static void describe(const http_request *req, int status, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%d|%s|%d|%s|%s|1.%d|%lld|%d%d%d%d", status,
                     req->method ? req->method : "-", req->method_id, req->path ? req->path : "-",
                     req->query ? req->query : "-", req->version_minor,
                     (long long)req->content_length, req->chunked, req->keep_alive,
                     req->expect_continue, req->upgrade);
    for (int i = 0; i < req->nheaders && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "|%s=%s", req->headers[i].name,
                      req->headers[i].value);
}

static const char *const valid_requests[] = {
    ("GET /index.html?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n"
     "Accept: */*\r\n\r\n"),
    "POST /api/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    "GET /chat HTTP/1.1\nHost: h\nConnection: keep-alive, Upgrade\nUpgrade: websocket\n\n",
    "\r\nHEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\n",
};

/* Feeds a request the way a socket might: first `split` bytes, then the
 * rest, then byte by byte. The head must be found only once complete,
 * and the parse must be the same as for the whole request at once. */
static void check_split(const char *text, size_t split, const char *expected)
{
    size_t len = strlen(text);
    char buf[2048], got[4096];
    http_request req;

    memcpy(buf, text, len);
    CU_ASSERT_EQUAL(http_head_end(buf, split), split == len ? len : 0);
    CU_ASSERT_EQUAL(http_head_end(buf, len), len);
    memset(&req, 0, sizeof req);
    int status = http_parse_head(buf, len, &req, MAX_URI);
    describe(&req, status, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, expected);
}

static void test_every_split_gives_same_result(void)
{
    for (size_t r = 0; r < sizeof valid_requests / sizeof valid_requests[0]; r++) {
        const char *text = valid_requests[r];
        char buf[2048], expected[4096];
        http_request req;
        int status = parse(text, &req, buf, sizeof buf);
        CU_ASSERT_EQUAL(status, 0);
        describe(&req, status, expected, sizeof expected);
        for (size_t split = 0; split <= strlen(text); split++)
            check_split(text, split, expected);
    }
}

/* ---- successful parses --------------------------------------------- */

static void test_request_line_and_headers(void)
{
    char buf[1024];
    http_request req;
    int st = parse("GET /a%20b?x=1?y HTTP/1.1\r\nHost:  example.com \t\r\n"
                   "X-Thing:\tsome value\r\ncontent-length: 0\r\n\r\n",
                   &req, buf, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    CU_ASSERT_STRING_EQUAL(req.method, "GET");
    CU_ASSERT_EQUAL(req.method_id, HTTP_GET);
    CU_ASSERT_STRING_EQUAL(req.path, "/a%20b");
    CU_ASSERT_STRING_EQUAL(req.query, "x=1?y");
    CU_ASSERT_EQUAL(req.version_minor, 1);
    CU_ASSERT_EQUAL(req.nheaders, 3);
    CU_ASSERT_STRING_EQUAL(http_header_get(&req, "HOST"), "example.com");
    CU_ASSERT_STRING_EQUAL(http_header_get(&req, "x-thing"), "some value");
    CU_ASSERT_PTR_NULL(http_header_get(&req, "X-Missing"));
    CU_ASSERT_EQUAL(req.content_length, 0);
    CU_ASSERT_FALSE(req.chunked);
    CU_ASSERT_TRUE(req.keep_alive);
}

static void test_no_query_and_methods(void)
{
    char buf[256];
    http_request req;
    CU_ASSERT_EQUAL(parse("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.method_id, HTTP_DELETE);
    CU_ASSERT_STRING_EQUAL(req.path, "/x");
    CU_ASSERT_STRING_EQUAL(req.query, "");
    CU_ASSERT_EQUAL(req.content_length, -1);
    /* A valid but unknown method parses; the request loop answers 501. */
    CU_ASSERT_EQUAL(parse("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.method_id, HTTP_OTHER);
    CU_ASSERT_STRING_EQUAL(req.method, "BREW");
    /* Methods are case-sensitive. */
    CU_ASSERT_EQUAL(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.method_id, HTTP_OTHER);
    CU_ASSERT_EQUAL(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.method_id, HTTP_OPTIONS);
    CU_ASSERT_STRING_EQUAL(req.path, "*");
}

static void test_keep_alive_rules(void)
{
    char buf[256];
    http_request req;
    parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf);
    CU_ASSERT_TRUE(req.keep_alive);
    parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", &req, buf, sizeof buf);
    CU_ASSERT_FALSE(req.keep_alive);
    parse("GET / HTTP/1.0\r\n\r\n", &req, buf, sizeof buf);
    CU_ASSERT_FALSE(req.keep_alive);
    CU_ASSERT_EQUAL(req.version_minor, 0);
    parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req, buf, sizeof buf);
    CU_ASSERT_TRUE(req.keep_alive);
    parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n", &req, buf,
          sizeof buf);
    CU_ASSERT_FALSE(req.keep_alive);
}

static void test_flags_and_token_lists(void)
{
    char buf[512];
    http_request req;
    CU_ASSERT_EQUAL(parse("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                          "Upgrade: websocket\r\nExpect: 100-Continue\r\n"
                          "Accept: text/html ,  application/json,,text/plain\r\n"
                          "Accept: image/png\r\n\r\n",
                          &req, buf, sizeof buf),
                    0);
    CU_ASSERT_TRUE(req.upgrade);
    CU_ASSERT_TRUE(req.expect_continue);
    CU_ASSERT_TRUE(http_header_has_token(&req, "connection", "UPGRADE"));
    CU_ASSERT_TRUE(http_header_has_token(&req, "Connection", "keep-alive"));
    CU_ASSERT_FALSE(http_header_has_token(&req, "Connection", "keep"));
    CU_ASSERT_FALSE(http_header_has_token(&req, "Connection", "close"));
    CU_ASSERT_TRUE(http_header_has_token(&req, "Accept", "application/json"));
    CU_ASSERT_TRUE(http_header_has_token(&req, "Accept", "text/plain"));
    CU_ASSERT_TRUE(http_header_has_token(&req, "Accept", "image/png")); /* second line */
    CU_ASSERT_FALSE(http_header_has_token(&req, "Upgrade", "h2c"));
    CU_ASSERT_FALSE(http_header_has_token(&req, "X-None", "a"));

    parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req, buf, sizeof buf);
    CU_ASSERT_FALSE(req.upgrade);
    CU_ASSERT_FALSE(req.expect_continue);
}

static void test_content_length_and_chunked(void)
{
    char buf[512];
    http_request req;
    CU_ASSERT_EQUAL(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n"
                          "Content-Length: 42\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.content_length, 42);
    CU_ASSERT_EQUAL(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
                          &req, buf, sizeof buf), 0);
    CU_ASSERT_TRUE(req.chunked);
    CU_ASSERT_EQUAL(req.content_length, -1);
    /* Well formed but absurd: kept as the largest value (413 later). */
    CU_ASSERT_EQUAL(parse("POST / HTTP/1.1\r\nHost: h\r\n"
                          "Content-Length: 99999999999999999999999\r\n\r\n", &req, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(req.content_length, INT64_MAX);
}

static void test_header_limit(void)
{
    static char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "X-%d: %d\r\n", i, i);
    snprintf(text + n, sizeof text - n, "\r\n");
    CU_ASSERT_EQUAL(status_of(text), 0); /* exactly HTTP_MAX_HEADERS */
    snprintf(text + n, sizeof text - n, "X-Last: 1\r\n\r\n");
    CU_ASSERT_EQUAL(status_of(text), 431);
}

static void test_uri_limit(void)
{
    char text[512], buf[512];
    http_request req;
    char path[101];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[100] = '\0';
    snprintf(text, sizeof text, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    memcpy(buf, text, strlen(text) + 1);
    memset(&req, 0, sizeof req);
    CU_ASSERT_EQUAL(http_parse_head(buf, strlen(text), &req, 100), 0);
    memcpy(buf, text, strlen(text) + 1);
    CU_ASSERT_EQUAL(http_parse_head(buf, strlen(text), &req, 99), 414);
}

/* ---- refusals -------------------------------------------------------- */

static const struct {
    const char *request;
    int status;
} bad_requests[] = {
    /* Request line. */
    {"GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400},
    {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
    {" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /\r\nHost: h\r\n\r\n", 400},
    {"GET\r\n\r\n", 400},
    {"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET http://evil.example/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
    {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
    {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
    /* Bare CR, NUL. */
    {"GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
    /* Header syntax. */
    {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\n: empty-name\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400},
    /* Host. */
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400},
    /* Content-Length. */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
    /* Transfer-Encoding. */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
};

static void test_bad_requests(void)
{
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        int got = status_of(bad_requests[i].request);
        if (got != bad_requests[i].status)
            fprintf(stderr, "\n  request %zu: got %d, want %d\n", i, got, bad_requests[i].status);
        CU_ASSERT_EQUAL(got, bad_requests[i].status);
    }
}

/* A failed parse leaves the fields it did not reach in a safe state. */
static void test_failed_parse_is_safe(void)
{
    char buf[256];
    http_request req;
    CU_ASSERT_EQUAL(parse("GET / HTTP/3.0\r\nHost: h\r\n\r\n", &req, buf, sizeof buf), 505);
    CU_ASSERT_STRING_EQUAL(req.method, "GET");
    CU_ASSERT_FALSE(req.keep_alive);
    CU_ASSERT_EQUAL(req.nheaders, 0);
    CU_ASSERT_EQUAL(parse("\x01GET / HTTP/1.1\r\n\r\n", &req, buf, sizeof buf), 400);
    CU_ASSERT_PTR_NULL(req.method);
    CU_ASSERT_STRING_EQUAL(req.query, "");
}

UNIT_SUITE(http_parse)
{
    CU_pSuite s = CU_add_suite("http_parse", NULL, NULL);
    CU_add_test(s, "head end: CRLF, LF, incomplete", test_head_end_forms);
    CU_add_test(s, "every split gives the same result", test_every_split_gives_same_result);
    CU_add_test(s, "request line and headers", test_request_line_and_headers);
    CU_add_test(s, "methods and targets", test_no_query_and_methods);
    CU_add_test(s, "keep-alive rules", test_keep_alive_rules);
    CU_add_test(s, "flags and token lists", test_flags_and_token_lists);
    CU_add_test(s, "content length and chunked", test_content_length_and_chunked);
    CU_add_test(s, "header count limit (431)", test_header_limit);
    CU_add_test(s, "target length limit (414)", test_uri_limit);
    CU_add_test(s, "malformed requests", test_bad_requests);
    CU_add_test(s, "failed parse leaves safe fields", test_failed_parse_is_safe);
}
