/*
 * test_range.c - rt_parse_range (router/range.c): every form of a single
 * byte range, and the headers that must be ignored or refused.
 */
#include "unit.h"
#include "../../router/router.h"

struct range_case {
    const char *header;
    uint64_t size;
    int result;             /* 1 = 206, 0 = ignore (200), -1 = 416 */
    uint64_t start, len;    /* when result == 1                     */
};

static void check_cases(const struct range_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t start = 12345, len = 12345;
        int r = rt_parse_range(cases[i].header, cases[i].size, &start, &len);
        CU_ASSERT_EQUAL(r, cases[i].result);
        if (r != cases[i].result)
            fprintf(stderr, "\n  \"%s\" size %llu: got %d, want %d\n",
                    cases[i].header ? cases[i].header : "(null)",
                    (unsigned long long)cases[i].size, r, cases[i].result);
        if (r == 1 && cases[i].result == 1) {
            CU_ASSERT_EQUAL(start, cases[i].start);
            CU_ASSERT_EQUAL(len, cases[i].len);
        }
    }
}

#define CHECK(cases) check_cases(cases, sizeof cases / sizeof cases[0])

static void test_satisfiable(void)
{
    static const struct range_case cases[] = {
        { "bytes=0-0", 100, 1, 0, 1 },
        { "bytes=0-99", 100, 1, 0, 100 },
        { "bytes=10-19", 100, 1, 10, 10 },
        { "bytes=10-", 100, 1, 10, 90 },
        { "bytes=99-", 100, 1, 99, 1 },
        { "bytes=-10", 100, 1, 90, 10 },
        { "bytes=-1", 100, 1, 99, 1 },
        { "BYTES=1-2", 100, 1, 1, 2 },           /* the unit is case-insensitive */
        { "bytes= 1-2 ", 100, 1, 1, 2 },
    };
    CHECK(cases);
}

static void test_clamping(void)
{
    static const struct range_case cases[] = {
        { "bytes=50-1000", 100, 1, 50, 50 },     /* end clamped to size-1 */
        { "bytes=0-18446744073709551615", 100, 1, 0, 100 },
        { "bytes=0-99999999999999999999999", 100, 1, 0, 100 },  /* saturates */
        { "bytes=-1000", 100, 1, 0, 100 },       /* suffix longer: whole file */
        { "bytes=-99999999999999999999999", 100, 1, 0, 100 },
        { "bytes=-100", 100, 1, 0, 100 },
    };
    CHECK(cases);
}

static void test_unsatisfiable(void)
{
    static const struct range_case cases[] = {
        { "bytes=100-", 100, -1, 0, 0 },         /* start == size */
        { "bytes=100-200", 100, -1, 0, 0 },
        { "bytes=99999999999999999999999-", 100, -1, 0, 0 },
        { "bytes=-0", 100, -1, 0, 0 },
        { "bytes=0-", 0, -1, 0, 0 },             /* empty file */
        { "bytes=-5", 0, -1, 0, 0 },
        { "bytes=0-0", 0, -1, 0, 0 },
    };
    CHECK(cases);
}

static void test_ignored(void)
{
    static const struct range_case cases[] = {
        { NULL, 100, 0, 0, 0 },
        { "", 100, 0, 0, 0 },
        { "bytes=", 100, 0, 0, 0 },
        { "bytes=-", 100, 0, 0, 0 },
        { "bytes=a-b", 100, 0, 0, 0 },
        { "bytes=1-x", 100, 0, 0, 0 },
        { "bytes=5-3", 100, 0, 0, 0 },           /* last < first */
        { "bytes=1-2-3", 100, 0, 0, 0 },
        { "bytes=+1-2", 100, 0, 0, 0 },
        { "bytes=--1", 100, 0, 0, 0 },
        { "bytes 1-2", 100, 0, 0, 0 },
        { "items=1-2", 100, 0, 0, 0 },
        { "bytes=0-1,5-6", 100, 0, 0, 0 },       /* several ranges */
        { "bytes=0-1, 5-", 100, 0, 0, 0 },
        { "bytes=200-300,0-1", 100, 0, 0, 0 },
    };
    CHECK(cases);
}

UNIT_SUITE(range) {
    CU_pSuite s = CU_add_suite("range", NULL, NULL);
    CU_add_test(s, "satisfiable single ranges", test_satisfiable);
    CU_add_test(s, "end and suffix clamped", test_clamping);
    CU_add_test(s, "unsatisfiable -> 416", test_unsatisfiable);
    CU_add_test(s, "malformed or multiple -> ignored", test_ignored);
}
