/*
 * test_module.c - unit tests for route module naming and resolution
 * (router/name.c), the .methods list (router/module.c), query
 * parameters and header limits (router/module_api.c) and the check of a module file before
 * dlopen (router/module_elf.c).
 *
 * Resolution is tested on a real temporary directory with files,
 * symlinks inside and outside it, and a subdirectory.
 */
#include "unit.h"
#include "../../router/router.h"
#include "../../router/route.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_name_valid(void)
{
    CU_ASSERT_TRUE(rt_name_is_valid("hello"));
    CU_ASSERT_TRUE(rt_name_is_valid("Hello_World-2"));
    CU_ASSERT_TRUE(rt_name_is_valid("a"));
    char longest[RT_NAME_MAX + 2];
    memset(longest, 'x', RT_NAME_MAX);
    longest[RT_NAME_MAX] = '\0';
    CU_ASSERT_TRUE(rt_name_is_valid(longest));
    longest[RT_NAME_MAX] = 'x';
    longest[RT_NAME_MAX + 1] = '\0';
    CU_ASSERT_FALSE(rt_name_is_valid(longest));
}

static void test_name_invalid(void)
{
    static const char *const bad[] = {
        "", ".", "..", ".hidden", "hello.so", "a/b", "../x", "..%2fx",
        "a b", "a\\b", "x\n", "caf\xc3\xa9", "a:b", "~root", "*",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(rt_name_is_valid(bad[i]));
    CU_ASSERT_FALSE(rt_name_is_valid(NULL));
}

/* A scratch tree: <tmp>/cgi/{mod.so, sub/, in.so -> mod.so,
 * out.so -> ../secret.so, loop.so -> loop.so}, <tmp>/secret.so */
static char tmp[64], cgi[128];

static void touch(const char *dir, const char *file)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("x", f);
    fclose(f);
}

static int make_tree(void)
{
    char path[PATH_MAX * 2];
    snprintf(tmp, sizeof tmp, "/tmp/og-unit-module-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    snprintf(cgi, sizeof cgi, "%s/cgi", tmp);
    snprintf(path, sizeof path, "%s/sub.so", cgi);
    if (mkdir(cgi, 0700) != 0 || mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/in.so", cgi);
    int rc = symlink("mod.so", path);
    snprintf(path, sizeof path, "%s/out.so", cgi);
    rc |= symlink("../secret.so", path);
    snprintf(path, sizeof path, "%s/loop.so", cgi);
    rc |= symlink("loop.so", path);
    return rc;
}

static void remove_tree(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (tmp[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
}

static void test_resolve(void)
{
    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    touch(cgi, "mod.so");
    touch(tmp, "secret.so");
    char real[PATH_MAX], want[PATH_MAX + 16], out[PATH_MAX];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(cgi, real));
    snprintf(want, sizeof want, "%s/mod.so", real);

    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "mod.so", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, want);
    /* A symlink to a file inside the directory resolves to that file. */
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "in.so", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, want);
    /* Missing file: ENOENT (the router falls through to static files). */
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "none.so", out, sizeof out), -1);
    CU_ASSERT_EQUAL(errno, ENOENT);
    /* Out of the directory, a directory, a symlink loop: refused. */
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "out.so", out, sizeof out), -1);
    CU_ASSERT_EQUAL(errno, EACCES);
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "sub.so", out, sizeof out), -1);
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "loop.so", out, sizeof out), -1);
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "../secret.so", out, sizeof out), -1);
    /* The output buffer is never overrun. */
    CU_ASSERT_EQUAL(rt_resolve_in_dir(cgi, "mod.so", out, 4), -1);
    CU_ASSERT_EQUAL(errno, ENAMETOOLONG);
    remove_tree();
}

static void test_methods(void)
{
    CU_ASSERT_TRUE(rt_methods_allow(NULL, "DELETE"));
    CU_ASSERT_TRUE(rt_methods_allow("GET, POST", "GET"));
    CU_ASSERT_TRUE(rt_methods_allow("GET, POST", "POST"));
    CU_ASSERT_TRUE(rt_methods_allow("GET,POST", "POST"));
    CU_ASSERT_TRUE(rt_methods_allow("GET, POST", "HEAD")); /* HEAD with GET */
    CU_ASSERT_FALSE(rt_methods_allow("POST", "HEAD"));
    CU_ASSERT_FALSE(rt_methods_allow("GET, POST", "PUT"));
    CU_ASSERT_FALSE(rt_methods_allow("GET, POST", "get"));  /* case matters */
    CU_ASSERT_FALSE(rt_methods_allow("GETX", "GET"));       /* whole words */
    CU_ASSERT_FALSE(rt_methods_allow("GET", "GE"));

    CU_ASSERT_TRUE(rt_methods_valid(NULL));
    CU_ASSERT_TRUE(rt_methods_valid("GET, POST"));
    CU_ASSERT_FALSE(rt_methods_valid(""));
    CU_ASSERT_FALSE(rt_methods_valid(", "));
    CU_ASSERT_FALSE(rt_methods_valid("GET\r\nSet-Cookie: x=1"));
}

static void test_query(void)
{
    char out[64];
    const char *q = "a=1&name=J%C3%BCrgen+M&flag&empty=&a=2&enc%20key=v";
    CU_ASSERT_EQUAL(rt_query_get(q, "a", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "1"); /* the first of repeated keys */
    CU_ASSERT_EQUAL(rt_query_get(q, "name", out, sizeof out), 9);
    CU_ASSERT_STRING_EQUAL(out, "J\xc3\xbcrgen M");
    CU_ASSERT_EQUAL(rt_query_get(q, "flag", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(rt_query_get(q, "empty", out, sizeof out), 0);
    CU_ASSERT_EQUAL(rt_query_get(q, "enc key", out, sizeof out), 1);
    CU_ASSERT_EQUAL(rt_query_get(q, "missing", out, sizeof out), -1);
    CU_ASSERT_EQUAL(rt_query_get("", "a", out, sizeof out), -1);
    /* Bad escapes, an encoded NUL, no room: refused, never truncated. */
    CU_ASSERT_EQUAL(rt_query_get("a=%4", "a", out, sizeof out), -2);
    CU_ASSERT_EQUAL(rt_query_get("a=%zz", "a", out, sizeof out), -2);
    CU_ASSERT_EQUAL(rt_query_get("a=x%00y", "a", out, sizeof out), -2);
    CU_ASSERT_EQUAL(rt_query_get("a=123456", "a", out, 4), -2);
}

/* Writes the first len bytes of src into a temporary file; returns it
 * open for reading, or -1. */
static int truncated_copy(const char *src, long len)
{
    FILE *in = fopen(src, "rb");
    FILE *out = tmpfile();
    if (in == NULL || out == NULL) {
        if (in) fclose(in);
        if (out) fclose(out);
        return -1;
    }
    int ch;
    for (long i = 0; (len < 0 || i < len) && (ch = fgetc(in)) != EOF; i++)
        fputc(ch, out);
    fclose(in);
    fflush(out);
    int fd = dup(fileno(out));
    fclose(out);
    return fd;
}

/* A real module (built by make before the unit tests), whole and cut. */
static void test_elf_check(void)
{
    const char *so = "cgi-bin/hello.so";
    char why[256];
    int whole = truncated_copy(so, -1);
    CU_ASSERT_FATAL(whole >= 0);
    CU_ASSERT_EQUAL(rt_module_elf_check(whole, why, sizeof why), 0);
    off_t size = lseek(whole, 0, SEEK_END);
    close(whole);
    /* Cut anywhere - the ELF header, the program headers, a segment, the
     * section headers at the end - it is refused before dlopen. */
    const long cuts[] = { 0, 10, 63, 64, 200, 1000, 4000, (long)size / 2,
                          (long)size - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        int fd = truncated_copy(so, cuts[i]);
        CU_ASSERT_FATAL(fd >= 0);
        why[0] = '\0';
        CU_ASSERT_EQUAL(rt_module_elf_check(fd, why, sizeof why), -1);
        CU_ASSERT_NOT_EQUAL(why[0], '\0');
        close(fd);
    }
    /* A text file, and an executable rather than a shared object. */
    int text = truncated_copy("cgi-bin/README.md", -1);
    CU_ASSERT_FATAL(text >= 0);
    CU_ASSERT_EQUAL(rt_module_elf_check(text, why, sizeof why), -1);
    CU_ASSERT_STRING_EQUAL(why, "not an ELF file");
    close(text);
}

/* A module cannot set a header value too long for the response head:
 * set_header refuses it (so the module sees -1), instead of http_send
 * failing later. */
static void test_header_value_limit(void)
{
    http_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.method_id = HTTP_GET;
    req.target = req.path = "/m";
    req.query = "";
    rt_call *call = rt_call_begin(&req, "", "m");
    CU_ASSERT_PTR_NOT_NULL_FATAL(call);
    rt_response *resp = rt_call_response(call);
    static char value[1026];
    memset(value, 'v', 1024);
    CU_ASSERT_EQUAL(resp->api->set_header(resp, "X-Long", value), 0);
    CU_ASSERT_EQUAL(resp->api->set_header(resp, "Content-Type", value), 0);
    value[1024] = 'v'; /* 1025 bytes */
    CU_ASSERT_EQUAL(resp->api->set_header(resp, "X-Long", value), -1);
    CU_ASSERT_EQUAL(resp->api->set_header(resp, "Content-Type", value), -1);
    rt_call_end(call);
}

UNIT_SUITE(module) {
    CU_pSuite s = CU_add_suite("module", NULL, NULL);
    CU_add_test(s, "plain names are valid", test_name_valid);
    CU_add_test(s, "traversal and odd names are refused", test_name_invalid);
    CU_add_test(s, "files resolve only inside cgi-bin", test_resolve);
    CU_add_test(s, "method lists", test_methods);
    CU_add_test(s, "query parameters", test_query);
    CU_add_test(s, "header values are limited", test_header_value_limit);
    CU_add_test(s, "truncated modules are refused before dlopen", test_elf_check);
}
