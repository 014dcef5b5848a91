/*
 * test_mime.c - rt_mime_type (router/mime.c): the extension table.
 */
#include "unit.h"
#include "../../router/router.h"

static void test_known_types(void)
{
    static const struct { const char *name, *type; } cases[] = {
        { "index.html", "text/html; charset=utf-8" },
        { "old.htm", "text/html; charset=utf-8" },
        { "style.css", "text/css; charset=utf-8" },
        { "app.js", "text/javascript; charset=utf-8" },
        { "mod.mjs", "text/javascript; charset=utf-8" },
        { "data.json", "application/json; charset=utf-8" },
        { "app.js.map", "application/json; charset=utf-8" },
        { "notes.txt", "text/plain; charset=utf-8" },
        { "logo.svg", "image/svg+xml; charset=utf-8" },
        { "a.png", "image/png" },
        { "a.jpg", "image/jpeg" },
        { "a.jpeg", "image/jpeg" },
        { "a.gif", "image/gif" },
        { "favicon.ico", "image/x-icon" },
        { "a.webp", "image/webp" },
        { "game.wasm", "application/wasm" },
        { "font.woff2", "font/woff2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_ASSERT_STRING_EQUAL(rt_mime_type(cases[i].name), cases[i].type);
}

static void test_case_insensitive(void)
{
    CU_ASSERT_STRING_EQUAL(rt_mime_type("LOGO.PNG"), "image/png");
    CU_ASSERT_STRING_EQUAL(rt_mime_type("Index.HtMl"), "text/html; charset=utf-8");
}

static void test_paths_and_unknown(void)
{
    CU_ASSERT_STRING_EQUAL(rt_mime_type("/www/sub/page.css"), "text/css; charset=utf-8");
    /* The extension is that of the last path segment only. */
    CU_ASSERT_STRING_EQUAL(rt_mime_type("/www/v1.css/README"), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type("archive.tar.gz"), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type("noext"), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type(".css"), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type("trailing."), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type("x.html5"), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type(""), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(rt_mime_type(NULL), "application/octet-stream");
}

UNIT_SUITE(mime) {
    CU_pSuite s = CU_add_suite("mime", NULL, NULL);
    CU_add_test(s, "known extensions", test_known_types);
    CU_add_test(s, "case-insensitive", test_case_insensitive);
    CU_add_test(s, "paths and unknown names", test_paths_and_unknown);
}
