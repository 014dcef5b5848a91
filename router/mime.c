/*
 * mime.c - the Content-Type of a static file, chosen by its extension.
 *
 * A short fixed table covers what a browser game needs; everything else is
 * "application/octet-stream", which browsers download rather than render
 * (the safe default for an unknown type). Text types carry
 * "; charset=utf-8" so browsers never guess the encoding. Extensions are
 * compared case-insensitively ("LOGO.PNG" is a PNG).
 *
 * static.c calls this once per file when it builds its cached headers, so
 * a linear scan is plenty.
 */
#include "router.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *ext;
    const char *type;
} mime_table[] = {
    { "html",  "text/html; charset=utf-8" },
    { "htm",   "text/html; charset=utf-8" },
    { "css",   "text/css; charset=utf-8" },
    { "js",    "text/javascript; charset=utf-8" },
    { "mjs",   "text/javascript; charset=utf-8" },
    { "json",  "application/json; charset=utf-8" },
    { "map",   "application/json; charset=utf-8" },
    { "txt",   "text/plain; charset=utf-8" },
    { "svg",   "image/svg+xml; charset=utf-8" },
    { "png",   "image/png" },
    { "jpg",   "image/jpeg" },
    { "jpeg",  "image/jpeg" },
    { "gif",   "image/gif" },
    { "ico",   "image/x-icon" },
    { "webp",  "image/webp" },
    { "wasm",  "application/wasm" },
    { "woff2", "font/woff2" },
};

#define MIME_DEFAULT "application/octet-stream"

const char *rt_mime_type(const char *filename)
{
    if (filename == NULL)
        return MIME_DEFAULT;
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base)     /* "README", ".bashrc" */
        return MIME_DEFAULT;
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
        if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
            return mime_table[i].type;
    return MIME_DEFAULT;
}
