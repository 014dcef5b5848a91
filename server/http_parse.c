/*
 * http_parse.c - the HTTP/1.1 request head parser (RFC 9112 sections 2-6).
 *
 * http_conn.c reads bytes until http_head_end() finds the empty line that
 * ends the header section, then calls http_parse_head() on those bytes.
 * The parser works in place: it writes NUL bytes into the buffer so that
 * method, path, query and every header name and value become C strings,
 * and it never allocates. Anything that does not follow the grammar is
 * refused with a status code instead of being guessed at, because a
 * lenient parser that disagrees with a proxy in front of it about where a
 * message ends is how request smuggling happens.
 *
 * Semantics that decide how the body is framed (Content-Length,
 * Transfer-Encoding) and whether the connection stays open (Connection)
 * are worked out here too, so the request loop only reads the flags.
 */
#include "server.h"

#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Character classes (RFC 9110 section 5.6.2)                          */
/* ------------------------------------------------------------------ */

/* tchar: the characters of a token (method names, header names). */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Characters allowed in a field value: VCHAR, obs-text, SP and HTAB. */
static bool is_field_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Characters allowed in a request-target: visible ASCII, no '#'. */
static bool is_target_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '#';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ------------------------------------------------------------------ */
/* Finding the end of the head                                         */
/* ------------------------------------------------------------------ */

/* Length of the empty lines (CRLF or bare LF) at buf[0..len) that RFC
 * 9112 section 2.2 lets a server skip before a request line. */
static size_t leading_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    for (;;) {
        if (i < len && buf[i] == '\n')
            i += 1;
        else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

size_t http_head_end(const char *buf, size_t len)
{
    size_t i = leading_empty_lines(buf, len);
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        /* A line just ended; an empty line right after it ends the head. */
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

/* Cuts the line that starts at *pos out of buf[0..len), which ends with
 * LF: NUL-terminates it (dropping CRLF or LF), advances *pos past it and
 * returns its start. Returns NULL when the line holds a NUL or a CR that
 * is not part of the line ending: both are invalid (RFC 9112 2.2). */
static char *next_line(char *buf, size_t len, size_t *pos)
{
    char *line = buf + *pos;
    size_t i = *pos;
    for (; i < len && buf[i] != '\n'; i++)
        if (buf[i] == '\0' || (buf[i] == '\r' && buf[i + 1] != '\n'))
            return NULL;
    if (i > *pos && buf[i - 1] == '\r')
        buf[i - 1] = '\0';
    buf[i] = '\0';
    *pos = i + 1;
    return line;
}

/* ------------------------------------------------------------------ */
/* The request line (RFC 9112 section 3)                               */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int id;
} known_methods[] = {
    {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
    {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
    {"PATCH", HTTP_PATCH},     {"TRACE", HTTP_TRACE},   {"CONNECT", HTTP_CONNECT},
};

/* Method names are case-sensitive: "get" is an unknown method. */
static int method_id(const char *method)
{
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
        if (strcmp(method, known_methods[i].name) == 0)
            return known_methods[i].id;
    return HTTP_OTHER;
}

/* "HTTP/1.1" -> minor 1. Returns 0, 400 for a malformed version or 505
 * for a well-formed one we do not speak (HTTP/2.0, HTTP/1.2). */
static int parse_version(const char *v, int *minor)
{
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9' || v[8] != '\0')
        return 400;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return 505;
    *minor = v[7] - '0';
    return 0;
}

/* Splits the target at its first '?' into path and query. The '?' becomes
 * the NUL that ends the path, so target and path then read the same: in
 * place there is no room for both the whole target and a separate path,
 * and routing needs the path. The target as received is path, then '?'
 * and query when query is not empty. */
static void split_target(char *target, http_request *req)
{
    char *q = strchr(target, '?');
    req->path = target;
    if (q) {
        *q = '\0';
        req->query = q + 1;
    }
}

/* Checks the request-target form (RFC 9112 section 3.2). We are an origin
 * server, not a proxy: only origin-form ("/path?query") and, for OPTIONS,
 * asterisk-form ("*") are served. absolute-form ("http://host/x") is what
 * clients send to a proxy and authority-form ("host:443") is for CONNECT
 * through one; serving them would mean trusting a second, possibly
 * conflicting, host name beside the Host header, so both get 400. */
static int check_target(const char *target, size_t max_uri_bytes, int method)
{
    size_t n = strlen(target);
    if (n == 0)
        return 400;
    if (n > max_uri_bytes)
        return 414;
    for (size_t i = 0; i < n; i++)
        if (!is_target_char((unsigned char)target[i]))
            return 400;
    if (strcmp(target, "*") == 0)
        return method == HTTP_OPTIONS ? 0 : 400;
    return target[0] == '/' ? 0 : 400;
}

/* method SP request-target SP HTTP-version, exactly one SP each. */
static int parse_request_line(char *line, http_request *req, size_t max_uri_bytes)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return 400;
    *sp1 = '\0';
    for (char *c = line; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return 400;
    req->method = line;
    req->method_id = method_id(line);

    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2)
        return 400;
    *sp2 = '\0';
    int status = check_target(target, max_uri_bytes, req->method_id);
    if (status)
        return status;
    req->target = target;
    split_target(target, req);
    return parse_version(sp2 + 1, &req->version_minor);
}

/* ------------------------------------------------------------------ */
/* Header fields (RFC 9112 section 5)                                  */
/* ------------------------------------------------------------------ */

/* field-name ":" OWS field-value OWS. No whitespace before the colon and
 * no obs-fold (a line starting with SP or HTAB): both are 400. */
static int parse_header_line(char *line, http_header *h)
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return 400;
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return 400;
    *colon = '\0';

    char *value = colon + 1;
    while (is_ows(*value))
        value++;
    char *end = value + strlen(value);
    while (end > value && is_ows(end[-1]))
        end--;
    *end = '\0';
    for (char *c = value; c < end; c++)
        if (!is_field_char((unsigned char)*c))
            return 400;
    h->name = line;
    h->value = value;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header semantics                                                    */
/* ------------------------------------------------------------------ */

const char *http_header_get(const http_request *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* True if the comma-separated list holds token (case-insensitive). */
static bool list_has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ',' || is_ows(*p))
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && is_ows(end[-1]))
            end--;
        if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
            return true;
    }
    return false;
}

bool http_header_has_token(const http_request *req, const char *name, const char *token)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0 &&
            list_has_token(req->headers[i].value, token))
            return true;
    return false;
}

static int count_headers(const http_request *req, const char *name)
{
    int n = 0;
    for (int i = 0; i < req->nheaders; i++)
        n += strcasecmp(req->headers[i].name, name) == 0;
    return n;
}

/* Content-Length = 1*DIGIT (RFC 9110 section 8.6). A value too large for
 * int64 is kept as INT64_MAX: it is well formed, just too big, so the
 * request loop answers 413 like for any body over --max-body-size. */
static int parse_content_length(const char *v, int64_t *out)
{
    if (*v == '\0')
        return 400;
    int64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return 400;
        int digit = *v - '0';
        n = n > (INT64_MAX - digit) / 10 ? INT64_MAX : n * 10 + digit;
    }
    *out = n;
    return 0;
}

/* Every Content-Length must agree; several equal ones are tolerated. */
static int check_content_length(http_request *req)
{
    for (int i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "Content-Length") != 0)
            continue;
        int64_t n;
        if (parse_content_length(req->headers[i].value, &n))
            return 400;
        if (req->content_length >= 0 && req->content_length != n)
            return 400;
        req->content_length = n;
    }
    return 0;
}

/* Only "Transfer-Encoding: chunked" is understood (RFC 9112 section 6.1).
 * Together with Content-Length, or in an HTTP/1.0 request, the framing is
 * ambiguous: a classic request smuggling vector, so 400. Another coding
 * (gzip, "chunked, chunked", ...) is 501 Not Implemented. */
static int check_transfer_encoding(http_request *req)
{
    int n = count_headers(req, "Transfer-Encoding");
    if (n == 0)
        return 0;
    if (req->content_length >= 0 || req->version_minor == 0)
        return 400;
    if (n > 1 || strcasecmp(http_header_get(req, "Transfer-Encoding"), "chunked") != 0)
        return 501;
    req->chunked = true;
    return 0;
}

/* Persistence (RFC 9112 section 9.3): HTTP/1.1 stays open unless the
 * client says "close"; HTTP/1.0 closes unless it says "keep-alive". */
static void set_connection_flags(http_request *req)
{
    if (http_header_has_token(req, "Connection", "close"))
        req->keep_alive = false;
    else if (req->version_minor >= 1)
        req->keep_alive = true;
    else
        req->keep_alive = http_header_has_token(req, "Connection", "keep-alive");
    req->upgrade = http_header_has_token(req, "Connection", "upgrade");
    const char *expect = http_header_get(req, "Expect");
    req->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;
}

static int check_semantics(http_request *req)
{
    int hosts = count_headers(req, "Host");
    if (hosts > 1 || (hosts == 0 && req->version_minor >= 1))
        return 400;
    int status = check_content_length(req);
    if (!status)
        status = check_transfer_encoding(req);
    if (!status)
        set_connection_flags(req);
    return status;
}

/* ------------------------------------------------------------------ */
/* The whole head                                                      */
/* ------------------------------------------------------------------ */

/* Resets what http_parse_head sets; body, conn and status_sent belong to
 * the request loop and are left alone. */
static void reset_parsed_fields(http_request *req)
{
    req->method = NULL;
    req->method_id = HTTP_OTHER;
    req->target = NULL;
    req->path = NULL;
    req->query = "";
    req->version_minor = 1;
    req->nheaders = 0;
    req->content_length = -1;
    req->chunked = false;
    req->keep_alive = false;
    req->expect_continue = false;
    req->upgrade = false;
}

int http_parse_head(char *buf, size_t len, http_request *req, size_t max_uri_bytes)
{
    reset_parsed_fields(req);
    if (len == 0 || buf[len - 1] != '\n')
        return 400; /* not a head that http_head_end accepted */
    size_t pos = leading_empty_lines(buf, len);
    if (pos == len)
        return 400;

    char *line = next_line(buf, len, &pos);
    if (!line)
        return 400;
    int status = parse_request_line(line, req, max_uri_bytes);
    if (status)
        return status;

    while (pos < len) {
        line = next_line(buf, len, &pos);
        if (!line)
            return 400;
        if (line[0] == '\0')
            break; /* the empty line that ends the head */
        if (req->nheaders == HTTP_MAX_HEADERS)
            return 431;
        status = parse_header_line(line, &req->headers[req->nheaders]);
        if (status)
            return status;
        req->nheaders++;
    }
    return check_semantics(req);
}
