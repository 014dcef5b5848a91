/*
 * test_path.c - rt_path_normalize (router/path.c): decoding, dot segments
 * and every spelling of a traversal attempt.
 */
#include "unit.h"
#include "../../router/router.h"

#include <string.h>

struct path_case {
    const char *raw;
    int status;             /* expected return                  */
    const char *expected;   /* expected output when status == 0 */
};

static void check_cases(const struct path_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[256];
        int status = rt_path_normalize(cases[i].raw, out, sizeof out);
        CU_ASSERT_EQUAL(status, cases[i].status);
        if (status != cases[i].status)
            fprintf(stderr, "\n  %s: got %d, want %d\n", cases[i].raw, status,
                    cases[i].status);
        if (status == 0 && cases[i].status == 0) {
            CU_ASSERT_STRING_EQUAL(out, cases[i].expected);
            if (strcmp(out, cases[i].expected) != 0)
                fprintf(stderr, "\n  %s: got %s, want %s\n", cases[i].raw, out,
                        cases[i].expected);
        }
    }
}

#define CHECK(cases) check_cases(cases, sizeof cases / sizeof cases[0])

static void test_plain_paths(void)
{
    static const struct path_case cases[] = {
        { "/", 0, "/" },
        { "/index.html", 0, "/index.html" },
        { "/a/b/c.txt", 0, "/a/b/c.txt" },
        { "/.well-known/x", 0, "/.well-known/x" },
        { "/...", 0, "/..." },
        { "/..foo", 0, "/..foo" },
    };
    CHECK(cases);
}

static void test_decoding(void)
{
    static const struct path_case cases[] = {
        { "/a%20b", 0, "/a b" },
        { "/%41%62", 0, "/Ab" },
        { "/%e2%82%ac", 0, "/\xe2\x82\xac" },
        { "/%", 400, NULL },
        { "/%4", 400, NULL },
        { "/%zz", 400, NULL },
        { "/%4g", 400, NULL },
        { "/a%00b", 400, NULL },
        { "/%0a", 400, NULL },
        { "/%7F", 400, NULL },
        { "/a\tb", 400, NULL },
    };
    CHECK(cases);
}

static void test_dot_segments(void)
{
    static const struct path_case cases[] = {
        { "//", 0, "/" },
        { "/a//b", 0, "/a/b" },
        { "///a///b///", 0, "/a/b/" },
        { "/./a", 0, "/a" },
        { "/a/./b", 0, "/a/b" },
        { "/a/.", 0, "/a/" },
        { "/a/b/..", 0, "/a/" },
        { "/a/b/../c", 0, "/a/c" },
        { "/a/../../", 403, NULL },
        { "/a/..", 0, "/" },
        { "/a/%2e/b", 0, "/a/b" },
        { "/a/b/%2e%2e/c", 0, "/a/c" },
    };
    CHECK(cases);
}

static void test_trailing_slash(void)
{
    static const struct path_case cases[] = {
        { "/docs/", 0, "/docs/" },
        { "/docs", 0, "/docs" },
        { "/docs/sub/", 0, "/docs/sub/" },
    };
    CHECK(cases);
}

static void test_traversal(void)
{
    static const struct path_case cases[] = {
        { "/..", 403, NULL },
        { "/../", 403, NULL },
        { "/../etc/passwd", 403, NULL },
        { "/a/../../etc/passwd", 403, NULL },
        { "/%2e%2e/etc/passwd", 403, NULL },
        { "/%2E%2E/etc/passwd", 403, NULL },
        { "/.%2e/etc/passwd", 403, NULL },
        { "/%2e./etc/passwd", 403, NULL },
        { "/a/./../..", 403, NULL },
        { "/..%2fetc/passwd", 403, NULL },
        { "/..%2Fetc", 403, NULL },
        { "/a%2fb", 403, NULL },
        { "/..%5cetc", 403, NULL },
        { "/..\\etc", 403, NULL },
        { "/a\\b", 403, NULL },
        { "/%252e%252e/x", 0, "/%2e%2e/x" },    /* decoded once only */
    };
    CHECK(cases);
}

static void test_bad_start(void)
{
    static const struct path_case cases[] = {
        { "", 400, NULL },
        { "index.html", 400, NULL },
        { "http://host/a", 400, NULL },
        { "*", 400, NULL },
    };
    CHECK(cases);
}

static void test_output_too_small(void)
{
    char out[8];
    CU_ASSERT_EQUAL(rt_path_normalize("/abcdef", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "/abcdef");
    CU_ASSERT_EQUAL(rt_path_normalize("/abcdefg", out, sizeof out), 400);
    CU_ASSERT_EQUAL(rt_path_normalize("/abcdef/", out, sizeof out), 400);
    /* Dot segments that shrink the output still fit. */
    CU_ASSERT_EQUAL(rt_path_normalize("/abc/../de", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "/de");
}

UNIT_SUITE(path) {
    CU_pSuite s = CU_add_suite("path", NULL, NULL);
    CU_add_test(s, "plain paths", test_plain_paths);
    CU_add_test(s, "percent-decoding", test_decoding);
    CU_add_test(s, "dot segments and double slashes", test_dot_segments);
    CU_add_test(s, "trailing slash kept", test_trailing_slash);
    CU_add_test(s, "traversal in every encoding", test_traversal);
    CU_add_test(s, "must start with /", test_bad_start);
    CU_add_test(s, "output buffer bound", test_output_too_small);
}
