/*
 * fuzz_cgi_parse.c - fuzzes the CGI response header parser
 * (router/cgi_parse.c): the bytes a CGI script prints are untrusted, and
 * what the parser accepts is copied into the response to the client.
 *
 * After a 0 return: the status is 200..599, the body offset is inside
 * the buffer, and every header name/value (and Content-Type, Location)
 * is a string inside the buffer that passes rt_header_name_valid /
 * rt_header_value_valid, so no CR or LF can be smuggled into the
 * client's response. After -1 there is a reason for the log.
 */
#include "fuzz.h"
#include "../../router/router.h"

#include <string.h>

static bool inside(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

static void check_value(const char *value, const char *buf, size_t len)
{
    FUZZ_CHECK(inside(value, buf, len));
    FUZZ_CHECK(rt_header_value_valid(value));
    FUZZ_CHECK(strpbrk(value, "\r\n") == NULL);
}

static void check_head(const rt_cgi_head *head, const char *buf, size_t len)
{
    FUZZ_CHECK(head->status >= 200 && head->status <= 599);
    FUZZ_CHECK(head->body_offset <= len);
    FUZZ_CHECK(head->nheaders >= 0 && head->nheaders <= RT_CGI_MAX_HEADERS);
    if (head->content_type)
        check_value(head->content_type, buf, len);
    if (head->location)
        check_value(head->location, buf, len);
    for (int i = 0; i < head->nheaders; i++) {
        FUZZ_CHECK(inside(head->headers[i].name, buf, len));
        FUZZ_CHECK(rt_header_name_valid(head->headers[i].name));
        check_value(head->headers[i].value, buf, len);
        (void)rt_header_is_server_owned(head->headers[i].name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NUL-terminated: cgi.c hands over the bytes read so far. */
    char *buf = fuzz_dup(data, size, 0);
    rt_cgi_head head;
    const char *why = NULL;
    int r = rt_cgi_parse_head(buf, size, &head, &why);
    if (r == 0)
        check_head(&head, buf, size);
    else
        FUZZ_CHECK(r == -1 && why != NULL && why[0] != '\0');
    free(buf);
    return 0;
}
