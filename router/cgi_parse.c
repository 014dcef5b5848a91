/*
 * cgi_parse.c - reads the header block a CGI script prints before its
 * body (RFC 3875 section 6), and the header syntax rules shared with
 * route modules.
 *
 *     Status: 404 Not Found          -> the response status
 *     Content-Type: text/plain       -> required when there is a body
 *     Location: /elsewhere           -> 302 unless Status says otherwise
 *     X-Anything: value              -> passed through
 *     <empty line>, then the body
 *
 * Pure functions on a buffer (no I/O), so they are unit-tested and safe
 * to fuzz. Anything unexpected is "malformed": cgi.c answers 502, never
 * forwards a broken or smuggled header to the client.
 */
#include "router.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

bool rt_header_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!is_tchar(*p))
            return false;
    return true;
}

static bool value_char_ok(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

bool rt_header_value_valid(const char *value)
{
    if (value == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (!value_char_ok(*p))
            return false;
    return true;
}

bool rt_header_is_server_owned(const char *name)
{
    static const char *const owned[] = {
        "Content-Length", "Transfer-Encoding", "Connection",
        "Keep-Alive", "Date", "Server",
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcasecmp(name, owned[i]) == 0)
            return true;
    return false;
}

/* "404" or "404 Not Found" -> 404; -1 if malformed or not 200..599
 * (1xx cannot be a script's final answer). */
static int parse_status(const char *value)
{
    for (int i = 0; i < 3; i++)
        if (value[i] < '0' || value[i] > '9')
            return -1;
    if (value[3] != '\0' && value[3] != ' ')
        return -1;
    int status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
                 (value[2] - '0');
    return status >= 200 && status <= 599 ? status : -1;
}

/* Records one "name: value" field; -1 with *why on a rule broken. */
static int add_field(rt_cgi_head *head, char *name, char *value,
                     const char **why)
{
    if (strcasecmp(name, "Status") == 0) {
        if (head->status != 0) {
            *why = "duplicate Status";
            return -1;
        }
        head->status = parse_status(value);
        if (head->status < 0) {
            *why = "bad Status value";
            return -1;
        }
    } else if (strcasecmp(name, "Content-Type") == 0) {
        if (head->content_type != NULL || value[0] == '\0') {
            *why = "duplicate or empty Content-Type";
            return -1;
        }
        head->content_type = value;
    } else if (strcasecmp(name, "Location") == 0) {
        if (head->location != NULL || value[0] == '\0') {
            *why = "duplicate or empty Location";
            return -1;
        }
        head->location = value;
    } else {
        if (head->nheaders == RT_CGI_MAX_HEADERS) {
            *why = "too many header fields";
            return -1;
        }
        head->headers[head->nheaders].name = name;
        head->headers[head->nheaders].value = value;
        head->nheaders++;
    }
    return 0;
}

/* Splits line[0..len) (no line ending) into name and value in place. */
static int parse_line(char *line, size_t len, rt_cgi_head *head,
                      const char **why)
{
    if (line[0] == ' ' || line[0] == '\t') {
        *why = "folded header line";
        return -1;
    }
    if (memchr(line, '\0', len) != NULL) {
        *why = "NUL byte in the header block";
        return -1;
    }
    char *colon = memchr(line, ':', len);
    if (colon == NULL) {
        *why = "header line without a colon";
        return -1;
    }
    char *value = colon + 1, *end = line + len;
    *colon = '\0';
    if (!rt_header_name_valid(line)) {
        *why = "bad header name";
        return -1;
    }
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *p = value; p < end; p++)
        if (!value_char_ok((unsigned char)*p)) {
            *why = "control character in a header value";
            return -1;
        }
    *end = '\0';
    return add_field(head, line, value, why);
}

int rt_cgi_parse_head(char *buf, size_t len, rt_cgi_head *head,
                      const char **why)
{
    memset(head, 0, sizeof *head);
    size_t pos = 0;
    for (;;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (nl == NULL) {
            *why = pos == 0 && len == 0 ? "no output"
                                        : "header block not ended by an empty line";
            return -1;
        }
        size_t line_len = (size_t)(nl - (buf + pos));
        if (line_len > 0 && buf[pos + line_len - 1] == '\r')
            line_len--;
        if (line_len == 0) {
            head->body_offset = (size_t)(nl - buf) + 1;
            break;
        }
        if (parse_line(buf + pos, line_len, head, why) != 0)
            return -1;
        pos = (size_t)(nl - buf) + 1;
    }
    if (head->status == 0 && head->content_type == NULL &&
        head->location == NULL) {
        *why = "no Status, Content-Type or Location";
        return -1;
    }
    if (head->content_type == NULL && head->body_offset < len) {
        *why = "a body without Content-Type";
        return -1;
    }
    if (head->status == 0)
        head->status = head->location != NULL ? 302 : 200;
    return 0;
}
