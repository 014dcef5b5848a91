/*
 * range.c - the Range request header (RFC 9110 section 14.2), for
 * static.c's 206 Partial Content answers.
 *
 * One range of bytes is honoured, in any of its three forms:
 *   "bytes=10-19"   bytes 10..19          (the end is clamped to size-1)
 *   "bytes=10-"     byte 10 to the end
 *   "bytes=-10"     the last 10 bytes     (the whole file if it is shorter)
 *
 * A server may ignore Range, and RFC 9110 says it must ignore one it
 * cannot parse, so every malformed header, another unit, and a list of
 * several ranges (multipart/byteranges is not worth its complexity here)
 * return 0: "send the whole file with 200". Only a well-formed range that
 * selects no byte returns -1 (416): a start at or past the end, a suffix
 * of length 0, or any range of a zero-length file.
 *
 * Numbers saturate at UINT64_MAX instead of overflowing, which gives the
 * right answer for absurdly large values: a huge start is past the end,
 * a huge end or suffix means "to the end".
 */
#include "router.h"

#include <string.h>
#include <strings.h>

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Parses 1*DIGIT at *s, saturating. Returns false if there is no digit. */
static bool parse_number(const char **s, uint64_t *value)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        v = (v > (UINT64_MAX - digit) / 10) ? UINT64_MAX : v * 10 + digit;
    }
    *value = v;
    *s = p;
    return true;
}

int rt_parse_range(const char *header, uint64_t size, uint64_t *start,
                   uint64_t *len)
{
    if (header == NULL || strncasecmp(header, "bytes=", 6) != 0)
        return 0;
    const char *p = skip_spaces(header + 6);
    if (strchr(p, ',') != NULL)
        return 0;                       /* several ranges: ignored */

    uint64_t first = 0, last = UINT64_MAX;
    bool has_first = parse_number(&p, &first);
    if (*p != '-')
        return 0;
    p++;
    bool has_last = parse_number(&p, &last);
    if (*skip_spaces(p) != '\0' || (!has_first && !has_last))
        return 0;
    if (has_first && has_last && last < first)
        return 0;                       /* "bytes=5-3" is invalid: ignored */

    if (!has_first) {                   /* suffix: the last `last` bytes */
        if (last == 0 || size == 0)
            return -1;
        first = last >= size ? 0 : size - last;
        last = size - 1;
    }
    if (first >= size)
        return -1;
    if (last > size - 1)
        last = size - 1;
    *start = first;
    *len = last - first + 1;
    return 1;
}
