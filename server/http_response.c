/*
 * http_response.c - writes HTTP/1.1 responses (RFC 9110, RFC 9112 s. 4).
 *
 * Handlers fill an http_response (status, content type, headers, a body
 * in memory or a file range) and call http_send(), which adds the headers
 * every response carries (Date, Server, Content-Length, Connection),
 * writes everything with one writev() (plus sendfile() for a file body),
 * and records the access log line. Nothing here allocates: the status
 * line and the generated headers are built in stack buffers and the
 * caller's header blocks and body are written straight from where they
 * are. http_send_error() is the short way to answer with an error page.
 *
 * The date helpers at the end format and parse HTTP dates (RFC 9110
 * section 5.6.7), for the Date header and for If-Modified-Since.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The status line, Date, Server and Content-Type. */
#define HEAD_START_MAX 2048
/* Content-Length, Connection and the empty line. */
#define HEAD_END_MAX 128

void http_response_init(http_response *resp, int status)
{
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    resp->file_fd = -1;
}

int http_response_add_header(http_response *resp, const char *name, const char *fmt, ...)
{
    size_t room = sizeof resp->extra - resp->extra_len;
    char *at = resp->extra + resp->extra_len;
    int n = snprintf(at, room, "%s: ", name);
    if (n < 0 || (size_t)n >= room)
        goto does_not_fit;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(at + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m) + 2 >= room)
        goto does_not_fit;
    /* A CR or LF in a value would let it start a header of its own. */
    if (strpbrk(at, "\r\n"))
        goto does_not_fit;
    memcpy(at + n + m, "\r\n", 3);
    resp->extra_len += (size_t)(n + m) + 2;
    return 0;
does_not_fit:
    *at = '\0';
    return -1;
}

/* ------------------------------------------------------------------ */
/* Status texts (RFC 9110 section 15)                                  */
/* ------------------------------------------------------------------ */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* 1xx, 204 and 304 responses never have content (RFC 9110 6.4.1). */
static bool status_forbids_body(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

static bool is_head_request(const http_request *req)
{
    return req->method != NULL && req->method_id == HTTP_HEAD;
}

/* The current time as an IMF-fixdate, formatted at most once a second
 * per thread (a busy thread sends many responses within one second). */
static const char *date_now(void)
{
    static _Thread_local time_t cached_at = -1;
    static _Thread_local char cached[30];
    time_t now = time(NULL);
    if (now != cached_at) {
        http_format_date((int64_t)now, cached);
        cached_at = now;
    }
    return cached;
}

/* Builds "HTTP/1.1 200 OK" + Date + Server + Content-Type. Returns the
 * length, or 0 if it does not fit (an absurd content type). */
static size_t format_head_start(char *out, size_t cap, const http_response *resp)
{
    int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: " SRV_NAME "/" SRV_VERSION "\r\n",
                     resp->status, http_status_text(resp->status), date_now());
    if (n > 0 && resp->content_type && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, "Content-Type: %s\r\n", resp->content_type);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Builds Content-Length, Connection and the empty line. */
static size_t format_head_end(char *out, size_t cap, const http_request *req,
                              const http_response *resp, bool closing)
{
    size_t n = 0;
    if (!resp->no_body && !status_forbids_body(resp->status)) {
        size_t length = resp->file_fd >= 0 ? resp->file_len : resp->body_len;
        n += (size_t)snprintf(out + n, cap - n, "Content-Length: %zu\r\n", length);
    }
    if (closing)
        n += (size_t)snprintf(out + n, cap - n, "Connection: close\r\n");
    else if (req->version_minor == 0)
        n += (size_t)snprintf(out + n, cap - n, "Connection: keep-alive\r\n");
    n += (size_t)snprintf(out + n, cap - n, "\r\n");
    return n;
}

static int send_error_page(http_request *req, int status, const char *allow);

/* Writes head (and a memory body) with one writev, then a file body. */
static int write_response(srv_conn *c, struct iovec *iov, int iovcnt, const http_response *resp,
                          bool send_file)
{
    if (srv_conn_writev_all(c, iov, iovcnt) < 0)
        return -1;
    if (send_file && resp->file_len > 0)
        return srv_conn_sendfile_all(c, resp->file_fd, resp->file_off, resp->file_len);
    return 0;
}

int http_send(http_request *req, http_response *resp)
{
    char start[HEAD_START_MAX], end[HEAD_END_MAX];
    bool closing = resp->close || !req->keep_alive;
    bool with_body = !resp->no_body && !status_forbids_body(resp->status) && !is_head_request(req);
    bool send_file = with_body && resp->file_fd >= 0;
    uint64_t body_bytes = 0;

    size_t start_len = format_head_start(start, sizeof start, resp);
    if (start_len == 0) {
        /* Only an absurd Content-Type gets here; the error page's fits. */
        srv_log(SRV_LOG_ERROR, req->conn ? req->conn->id : 0,
                "response head too large (Content-Type of %zu bytes): 500 instead of %d",
                resp->content_type ? strlen(resp->content_type) : 0, resp->status);
        return send_error_page(req, 500, NULL);
    }
    struct iovec iov[5] = {
        {start, start_len},
        {(void *)resp->fixed_headers, resp->fixed_headers ? resp->fixed_len : 0},
        {resp->extra, resp->extra_len},
        {end, format_head_end(end, sizeof end, req, resp, closing)},
        {(void *)resp->body, with_body && !send_file && resp->body ? resp->body_len : 0},
    };
    int rc = req->conn ? write_response(req->conn, iov, 5, resp, send_file) : -1;
    if (rc == 0 && with_body)
        body_bytes = send_file ? resp->file_len : (resp->body ? resp->body_len : 0);
    else if (rc < 0 && req->conn)
        srv_log(SRV_LOG_DEBUG, req->conn->id, "response not sent: %s", strerror(errno));

    srv_log_access(req->conn, req, resp->status, body_bytes);
    req->status_sent = resp->status;
    return rc < 0 || closing ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Error pages                                                         */
/* ------------------------------------------------------------------ */

/* After these the request's framing or the client is in doubt, so the
 * connection is closed rather than trusted with another request. */
static bool error_closes(const http_request *req, int status)
{
    switch (status) {
    case 400: case 408: case 413: case 414: case 431:
        return true;
    default:
        return status >= 500 || req->method == NULL;
    }
}

static int send_error_page(http_request *req, int status, const char *allow)
{
    char body[256];
    const char *text = http_status_text(status);
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, text, status, text);
    http_response resp;
    http_response_init(&resp, status);
    resp.content_type = "text/html; charset=utf-8";
    resp.body = body;
    resp.body_len = (size_t)n;
    resp.close = error_closes(req, status);
    if (allow)
        http_response_add_header(&resp, "Allow", "%s", allow);
    return http_send(req, &resp);
}

int http_send_error(http_request *req, int status)
{
    return send_error_page(req, status, NULL);
}

int http_send_405(http_request *req, const char *allow)
{
    return send_error_page(req, 405, allow);
}

/* ------------------------------------------------------------------ */
/* Dates (RFC 9110 section 5.6.7)                                      */
/* ------------------------------------------------------------------ */

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Names are spelled out here: strftime's %a and %b follow the locale. */
char *http_format_date(int64_t t, char out[30])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    char buf[64]; /* roomier than needed: the compiler cannot see the ranges */
    snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday],
             tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, 29);
    out[29] = '\0';
    return out;
}

/* A small cursor parser: each step consumes its text or fails. */
typedef struct date_cursor {
    const char *p;
    bool ok;
} date_cursor;

static void expect_text(date_cursor *c, const char *text)
{
    size_t n = strlen(text);
    if (c->ok && strncmp(c->p, text, n) == 0)
        c->p += n;
    else
        c->ok = false;
}

/* Exactly `digits` digits (a leading space counts as a zero when
 * space_pad is set: asctime writes " 6" for the 6th). */
static int expect_number(date_cursor *c, int digits, bool space_pad)
{
    int v = 0;
    for (int i = 0; i < digits && c->ok; i++) {
        char ch = c->p[i];
        if (ch >= '0' && ch <= '9')
            v = v * 10 + (ch - '0');
        else if (!(space_pad && i == 0 && ch == ' '))
            c->ok = false;
    }
    if (c->ok)
        c->p += digits;
    return v;
}

/* One of names[count]; returns its index. */
static int expect_name(date_cursor *c, const char *const *names, int count)
{
    for (int i = 0; i < count && c->ok; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(c->p, names[i], n) == 0) {
            c->p += n;
            return i;
        }
    }
    c->ok = false;
    return 0;
}

static void expect_clock(date_cursor *c, struct tm *tm)
{
    tm->tm_hour = expect_number(c, 2, false);
    expect_text(c, ":");
    tm->tm_min = expect_number(c, 2, false);
    expect_text(c, ":");
    tm->tm_sec = expect_number(c, 2, false);
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf_fixdate(const char *s, struct tm *tm)
{
    date_cursor c = {s, true};
    expect_name(&c, day_names, 7);
    expect_text(&c, ", ");
    tm->tm_mday = expect_number(&c, 2, false);
    expect_text(&c, " ");
    tm->tm_mon = expect_name(&c, month_names, 12);
    expect_text(&c, " ");
    tm->tm_year = expect_number(&c, 4, false) - 1900;
    expect_text(&c, " ");
    expect_clock(&c, tm);
    expect_text(&c, " GMT");
    return c.ok && *c.p == '\0';
}

/* Two-digit years (RFC 9110 5.6.7): a year that looks more than 50
 * years in the future is the most recent past year with those digits. */
static int full_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int this_year = tm.tm_year + 1900;
    int year = this_year - this_year % 100 + yy;
    return year > this_year + 50 ? year - 100 : year;
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850_date(const char *s, struct tm *tm)
{
    date_cursor c = {s, true};
    expect_name(&c, long_day_names, 7);
    expect_text(&c, ", ");
    tm->tm_mday = expect_number(&c, 2, false);
    expect_text(&c, "-");
    tm->tm_mon = expect_name(&c, month_names, 12);
    expect_text(&c, "-");
    tm->tm_year = full_year(expect_number(&c, 2, false)) - 1900;
    expect_text(&c, " ");
    expect_clock(&c, tm);
    expect_text(&c, " GMT");
    return c.ok && *c.p == '\0';
}

/* asctime: "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime_date(const char *s, struct tm *tm)
{
    date_cursor c = {s, true};
    expect_name(&c, day_names, 7);
    expect_text(&c, " ");
    tm->tm_mon = expect_name(&c, month_names, 12);
    expect_text(&c, " ");
    tm->tm_mday = expect_number(&c, 2, true);
    expect_text(&c, " ");
    expect_clock(&c, tm);
    expect_text(&c, " ");
    tm->tm_year = expect_number(&c, 4, false) - 1900;
    return c.ok && *c.p == '\0';
}

static bool tm_in_range(const struct tm *tm)
{
    return tm->tm_mday >= 1 && tm->tm_mday <= 31 && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
           tm->tm_sec <= 60;
}

int64_t http_parse_date(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s)
        return -1;
    if (!parse_imf_fixdate(s, &tm) && !parse_rfc850_date(s, &tm) && !parse_asctime_date(s, &tm))
        return -1;
    if (!tm_in_range(&tm))
        return -1;
    return (int64_t)timegm(&tm);
}
