/*
 * path.c - turns the raw path of a request into a safe, canonical one.
 *
 * The router and static.c only ever see the output of rt_path_normalize,
 * so this file is the one place that decides what a path means:
 *
 *   "/a%20b//c/./d/../e"  ->  "/a b/c/e"
 *   "/docs/"              ->  "/docs/"   (a trailing "/" is kept: it asks
 *                                          for a directory)
 *   "/a/.."               ->  "/"        (so is the "/" left by "." / "..")
 *
 * Refused (the status is returned, out is left unspecified):
 *   400  no leading "/", a bad escape ("%4", "%zz"), a decoded NUL or
 *        other control byte (0x01-0x1f, 0x7f: no file name needs one and
 *        they would corrupt logs and headers), or a result that does not
 *        fit in out
 *   403  an encoded "/" (%2F) or any "\" (raw or %5C): a separator hidden
 *        inside a segment is how traversal filters are usually fooled, so
 *        it never becomes a separator here; and a ".." that would climb
 *        above "/", in any spelling ("..", "%2e%2e", ".%2E", ...), since
 *        segments are compared after decoding.
 *
 * The work is one pass over raw, writing into out; nothing is allocated.
 * Invariant of the loop: out[0..o) is the normalised prefix and always
 * ends with "/" before a segment is decoded.
 */
#include "router.h"

#include <string.h>

/* Decodes one character of a segment at *p (a plain byte or "%XY"),
 * advances *p and stores the byte in *c. Returns 0 or an HTTP status. */
static int decode_char(const char **p, char *c)
{
    const char *s = *p;
    unsigned char byte;
    bool encoded = (s[0] == '%');

    if (encoded) {
        int hi = http_hex_digit(s[1]);
        int lo = hi < 0 ? -1 : http_hex_digit(s[2]);
        if (lo < 0)
            return 400;
        byte = (unsigned char)(hi * 16 + lo);
        *p = s + 3;
    } else {
        byte = (unsigned char)s[0];
        *p = s + 1;
    }
    if (byte == '/' && encoded)
        return 403;
    if (byte == '\\')
        return 403;
    if (byte < 0x20 || byte == 0x7f)
        return 400;
    *c = (char)byte;
    return 0;
}

/* Removes the last segment of out[0..o) ("/a/b/" -> "/a/"); returns the
 * new length. o > 1 and out[o - 1] == '/'. */
static size_t pop_segment(const char *out, size_t o)
{
    o--;                        /* drop the "/" that ends the segment */
    while (out[o - 1] != '/')
        o--;
    return o;
}

int rt_path_normalize(const char *raw, char *out, size_t out_size)
{
    if (raw == NULL || raw[0] != '/' || out_size < 2)
        return 400;
    size_t o = 0;
    out[o++] = '/';
    const char *p = raw + 1;

    while (*p != '\0') {
        size_t seg = o;         /* where this segment starts in out */
        while (*p != '\0' && *p != '/') {
            char c;
            int status = decode_char(&p, &c);
            if (status != 0)
                return status;
            if (o + 2 > out_size)   /* room for c and the final NUL */
                return 400;
            out[o++] = c;
        }
        bool slash_follows = (*p == '/');
        if (slash_follows)
            p++;

        size_t len = o - seg;
        if (len == 1 && out[seg] == '.') {
            o = seg;                        /* "." : stay here */
        } else if (len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 1)
                return 403;                 /* ".." above the root */
            o = pop_segment(out, seg);
        } else if (len > 0 && slash_follows) {
            if (o + 2 > out_size)
                return 400;
            out[o++] = '/';
        }
        /* len == 0: an empty segment ("//") collapses into one "/". */
    }
    out[o] = '\0';
    return 0;
}
