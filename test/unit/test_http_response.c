/*
 * test_http_response.c - unit tests for server/http_response.c. Responses
 * are sent over a real socketpair through the plain-TCP srv_conn and read
 * back from the other end, so the test sees exactly the bytes a client
 * would.
 */
#include "unit.h"
#include "../../server/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One client/server socket pair with a request bound to the server end. */
typedef struct pair {
    int client;
    srv_conn conn;
    http_request req;
    char got[8192];
    size_t got_len;
} pair;

static void pair_open(pair *p, const char *method, int method_id, int minor, bool keep_alive)
{
    int sv[2];
    memset(p, 0, sizeof *p);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    p->client = sv[1];
    srv_conn_init_tcp(&p->conn, sv[0], 7);
    p->req.conn = &p->conn;
    p->req.method = method;
    p->req.method_id = method_id;
    p->req.target = p->req.path = "/t";
    p->req.query = "";
    p->req.version_minor = minor;
    p->req.keep_alive = keep_alive;
    p->req.content_length = -1;
}

/* Everything the server end has written so far, NUL-terminated. */
static const char *pair_read(pair *p)
{
    for (;;) {
        ssize_t n = recv(p->client, p->got + p->got_len, sizeof p->got - 1 - p->got_len,
                         MSG_DONTWAIT);
        if (n <= 0)
            break;
        p->got_len += (size_t)n;
    }
    p->got[p->got_len] = '\0';
    return p->got;
}

static void pair_close(pair *p)
{
    srv_conn_close(&p->conn);
    close(p->client);
}

static const char *body_of(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    return b ? b + 4 : "";
}

static bool has_header_line(const char *response, const char *line)
{
    char needle[256];
    snprintf(needle, sizeof needle, "\r\n%s\r\n", line);
    const char *end = strstr(response, "\r\n\r\n");
    const char *at = strstr(response, needle);
    return at && end && at < end + 2;
}

/* ---- http_send ----------------------------------------------------- */

static void test_memory_body(void)
{
    pair p;
    http_response resp;
    pair_open(&p, "GET", HTTP_GET, 1, true);
    http_response_init(&resp, 200);
    resp.content_type = "text/plain";
    resp.body = "hello";
    resp.body_len = 5;
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
    CU_ASSERT_EQUAL(p.req.status_sent, 200);
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Server: online-game/0.1.0"));
    CU_ASSERT_TRUE(has_header_line(r, "Content-Type: text/plain"));
    CU_ASSERT_TRUE(has_header_line(r, "Content-Length: 5"));
    CU_ASSERT_PTR_NULL(strstr(r, "Connection:"));
    CU_ASSERT_STRING_EQUAL(body_of(r), "hello");
    /* The Date header is now, as an IMF-fixdate. */
    const char *date = strstr(r, "\r\nDate: ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(date);
    char value[64];
    CU_ASSERT_EQUAL(sscanf(date + 8, "%63[^\r]", value), 1);
    int64_t t = http_parse_date(value);
    CU_ASSERT(t > 0 && llabs(t - (int64_t)time(NULL)) <= 2);
    pair_close(&p);
}

/* A head too large for http_send's buffers (an absurd Content-Type) is
 * answered with a 500, never with silence. */
static void test_head_too_large(void)
{
    pair p;
    http_response resp;
    static char type[4096];
    memset(type, 'x', sizeof type - 1);
    pair_open(&p, "GET", HTTP_GET, 1, true);
    http_response_init(&resp, 200);
    resp.content_type = type;
    resp.body = "hello";
    resp.body_len = 5;
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), -1); /* 500 closes */
    CU_ASSERT_EQUAL(p.req.status_sent, 500);
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Connection: close"));
    CU_ASSERT_PTR_NULL(strstr(r, "xxxx"));
    CU_ASSERT_PTR_NULL(strstr(r, "hello"));
    pair_close(&p);
}

static void test_head_has_length_no_body(void)
{
    pair p;
    http_response resp;
    pair_open(&p, "HEAD", HTTP_HEAD, 1, true);
    http_response_init(&resp, 200);
    resp.body = "hello";
    resp.body_len = 5;
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
    const char *r = pair_read(&p);
    CU_ASSERT_TRUE(has_header_line(r, "Content-Length: 5"));
    CU_ASSERT_STRING_EQUAL(body_of(r), "");
    pair_close(&p);
}

static void test_statuses_without_body(void)
{
    int statuses[] = {204, 304};
    for (size_t i = 0; i < 2; i++) {
        pair p;
        http_response resp;
        pair_open(&p, "GET", HTTP_GET, 1, true);
        http_response_init(&resp, statuses[i]);
        resp.body = "must not be sent";
        resp.body_len = 16;
        CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
        const char *r = pair_read(&p);
        CU_ASSERT_PTR_NULL(strstr(r, "Content-Length"));
        CU_ASSERT_STRING_EQUAL(body_of(r), "");
        pair_close(&p);
    }
    pair p;
    http_response resp;
    pair_open(&p, "GET", HTTP_GET, 1, true);
    http_response_init(&resp, 101);
    resp.no_body = true;
    http_response_add_header(&resp, "Upgrade", "websocket");
    http_response_add_header(&resp, "Connection", "Upgrade");
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Connection: Upgrade"));
    CU_ASSERT_PTR_NULL(strstr(r, "Content-Length"));
    CU_ASSERT_PTR_NULL(strstr(r, "Connection: close"));
    pair_close(&p);
}

static void test_connection_header(void)
{
    struct {
        int minor;
        bool keep_alive, close;
        const char *line; /* expected Connection line, NULL for none */
        int rc;
    } cases[] = {
        {1, true, false, NULL, 0},
        {1, true, true, "Connection: close", -1},
        {1, false, false, "Connection: close", -1},
        {0, false, false, "Connection: close", -1},
        {0, true, false, "Connection: keep-alive", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pair p;
        http_response resp;
        pair_open(&p, "GET", HTTP_GET, cases[i].minor, cases[i].keep_alive);
        http_response_init(&resp, 200);
        resp.close = cases[i].close;
        CU_ASSERT_EQUAL(http_send(&p.req, &resp), cases[i].rc);
        const char *r = pair_read(&p);
        if (cases[i].line) {
            CU_ASSERT_TRUE(has_header_line(r, cases[i].line));
        } else {
            CU_ASSERT_PTR_NULL(strstr(r, "Connection:"));
        }
        CU_ASSERT_TRUE(has_header_line(r, "Content-Length: 0"));
        pair_close(&p);
    }
}

static void test_fixed_and_extra_headers(void)
{
    pair p;
    http_response resp;
    const char fixed[] = "ETag: \"abc\"\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
    pair_open(&p, "GET", HTTP_GET, 1, true);
    http_response_init(&resp, 200);
    resp.fixed_headers = fixed;
    resp.fixed_len = sizeof fixed - 1;
    CU_ASSERT_EQUAL(http_response_add_header(&resp, "X-Count", "%d", 42), 0);
    CU_ASSERT_EQUAL(http_response_add_header(&resp, "Cache-Control", "no-cache"), 0);
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
    const char *r = pair_read(&p);
    CU_ASSERT_TRUE(has_header_line(r, "ETag: \"abc\""));
    CU_ASSERT_TRUE(has_header_line(r, "X-Count: 42"));
    CU_ASSERT_TRUE(has_header_line(r, "Cache-Control: no-cache"));
    CU_ASSERT(strstr(r, "ETag") < strstr(r, "X-Count"));
    pair_close(&p);
}

static void test_add_header_limits(void)
{
    http_response resp;
    http_response_init(&resp, 200);
    /* A value with CR or LF would smuggle in a header of its own. */
    CU_ASSERT_EQUAL(http_response_add_header(&resp, "X-Evil", "a\r\nSet-Cookie: x=1"), -1);
    CU_ASSERT_EQUAL(resp.extra_len, 0);
    char big[HTTP_EXTRA_HEADERS_MAX];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(http_response_add_header(&resp, "X-Small", "1"), 0);
    size_t before = resp.extra_len;
    CU_ASSERT_EQUAL(http_response_add_header(&resp, "X-Big", "%s", big), -1);
    CU_ASSERT_EQUAL(resp.extra_len, before);
    CU_ASSERT_STRING_EQUAL(resp.extra, "X-Small: 1\r\n");
}

static void test_file_body(void)
{
    char path[] = "/tmp/og-test-response-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    unlink(path);
    CU_ASSERT_EQUAL(write(fd, "0123456789", 10), 10);

    const char *methods[] = {"GET", "HEAD"};
    for (int i = 0; i < 2; i++) {
        pair p;
        http_response resp;
        pair_open(&p, methods[i], i == 0 ? HTTP_GET : HTTP_HEAD, 1, true);
        http_response_init(&resp, 206);
        resp.file_fd = fd;
        resp.file_off = 2;
        resp.file_len = 5;
        CU_ASSERT_EQUAL(http_send(&p.req, &resp), 0);
        const char *r = pair_read(&p);
        CU_ASSERT(strncmp(r, "HTTP/1.1 206 Partial Content\r\n", 30) == 0);
        CU_ASSERT_TRUE(has_header_line(r, "Content-Length: 5"));
        CU_ASSERT_STRING_EQUAL(body_of(r), i == 0 ? "23456" : "");
        pair_close(&p);
    }
    close(fd);
}

/* A write to a closed peer fails cleanly with -1 (memory bodies go out
 * with sendmsg(MSG_NOSIGNAL), so there is no SIGPIPE either). */
static void test_peer_gone(void)
{
    pair p;
    http_response resp;
    pair_open(&p, "GET", HTTP_GET, 1, true);
    close(p.client);
    http_response_init(&resp, 200);
    resp.body = "x";
    resp.body_len = 1;
    CU_ASSERT_EQUAL(http_send(&p.req, &resp), -1);
    srv_conn_close(&p.conn);
}

/* ---- error pages ----------------------------------------------------- */

static void test_error_pages(void)
{
    pair p;
    pair_open(&p, "GET", HTTP_GET, 1, true);
    CU_ASSERT_EQUAL(http_send_error(&p.req, 404), 0); /* the connection goes on */
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Content-Type: text/html; charset=utf-8"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body_of(r), "<h1>404 Not Found</h1>"));
    char length[64];
    snprintf(length, sizeof length, "Content-Length: %zu", strlen(body_of(r)));
    CU_ASSERT_TRUE(has_header_line(r, length));
    pair_close(&p);

    int closing[] = {400, 408, 413, 414, 431, 500, 501, 505};
    for (size_t i = 0; i < sizeof closing / sizeof closing[0]; i++) {
        pair_open(&p, "GET", HTTP_GET, 1, true);
        CU_ASSERT_EQUAL(http_send_error(&p.req, closing[i]), -1);
        r = pair_read(&p);
        CU_ASSERT_TRUE(has_header_line(r, "Connection: close"));
        CU_ASSERT_EQUAL(p.req.status_sent, closing[i]);
        pair_close(&p);
    }
}

static void test_error_after_failed_parse(void)
{
    pair p;
    pair_open(&p, NULL, HTTP_OTHER, 1, false);
    p.req.target = p.req.path = NULL;
    CU_ASSERT_EQUAL(http_send_error(&p.req, 403), -1);
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Connection: close"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body_of(r), "<h1>403 Forbidden</h1>"));
    pair_close(&p);
}

static void test_405(void)
{
    pair p;
    pair_open(&p, "POST", HTTP_POST, 1, true);
    CU_ASSERT_EQUAL(http_send_405(&p.req, "GET, HEAD"), 0);
    const char *r = pair_read(&p);
    CU_ASSERT(strncmp(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    CU_ASSERT_TRUE(has_header_line(r, "Allow: GET, HEAD"));
    pair_close(&p);
}

static void test_status_text(void)
{
    CU_ASSERT_STRING_EQUAL(http_status_text(200), "OK");
    CU_ASSERT_STRING_EQUAL(http_status_text(404), "Not Found");
    CU_ASSERT_STRING_EQUAL(http_status_text(413), "Content Too Large");
    CU_ASSERT_STRING_EQUAL(http_status_text(431), "Request Header Fields Too Large");
    CU_ASSERT_STRING_EQUAL(http_status_text(299), "");
}

/* ---- the access log ---------------------------------------------------- */

static void test_access_log_line(void)
{
    char dir[] = "/tmp/og-test-log-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    srv_config cfg;
    srv_config_defaults(&cfg);
    snprintf(cfg.access_log, sizeof cfg.access_log, "%s/access.log", dir);
    snprintf(cfg.error_log, sizeof cfg.error_log, "%s/error.log", dir);
    CU_ASSERT_FATAL(srv_log_open(&cfg) == 0);

    pair p;
    http_response resp;
    pair_open(&p, "HEAD", HTTP_HEAD, 1, true);
    http_response_init(&resp, 200);
    resp.body = "hello";
    resp.body_len = 5;
    http_send(&p.req, &resp);
    pair_close(&p);
    pair_open(&p, "GET", HTTP_GET, 1, true);
    http_send_error(&p.req, 404);
    pair_close(&p);
    srv_log_close();

    char file[PATH_MAX + 16], log[1024] = "";
    snprintf(file, sizeof file, "%s/access.log", dir);
    FILE *f = fopen(file, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    /* HEAD sent no body bytes; the 404 page did. */
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"HEAD /t HTTP/1.1\" 200 0 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"GET /t HTTP/1.1\" 404 "));
    CU_ASSERT_PTR_NULL(strstr(log, "\" 404 0 "));
    remove(file);
    snprintf(file, sizeof file, "%s/error.log", dir);
    remove(file);
    rmdir(dir);
}

/* ---- dates ------------------------------------------------------------- */

static void test_dates(void)
{
    char out[30];
    CU_ASSERT_STRING_EQUAL(http_format_date(784111777, out), "Sun, 06 Nov 1994 08:49:37 GMT");
    CU_ASSERT_STRING_EQUAL(http_format_date(0, out), "Thu, 01 Jan 1970 00:00:00 GMT");
    CU_ASSERT_EQUAL(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CU_ASSERT_EQUAL(http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CU_ASSERT_EQUAL(http_parse_date("Sun Nov  6 08:49:37 1994"), 784111777);
    CU_ASSERT_EQUAL(http_parse_date("Sat, 29 Feb 2020 23:59:59 GMT"), 1583020799);

    /* Round trip across decades, leap days and the end of years. */
    for (int64_t t = 0; t < 4102444800; t += 86400 * 37 + 3671) {
        char s[30];
        http_format_date(t, s);
        CU_ASSERT_EQUAL(http_parse_date(s), t);
    }

    const char *bad[] = {
        "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994", "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(http_parse_date(bad[i]), -1);
    CU_ASSERT_EQUAL(http_parse_date(NULL), -1);
}

UNIT_SUITE(http_response)
{
    CU_pSuite s = CU_add_suite("http_response", NULL, NULL);
    CU_add_test(s, "memory body, Date, Server", test_memory_body);
    CU_add_test(s, "head too large: 500", test_head_too_large);
    CU_add_test(s, "HEAD: length but no body", test_head_has_length_no_body);
    CU_add_test(s, "101/204/304 carry no body", test_statuses_without_body);
    CU_add_test(s, "Connection header and return", test_connection_header);
    CU_add_test(s, "fixed and extra headers", test_fixed_and_extra_headers);
    CU_add_test(s, "add_header limits", test_add_header_limits);
    CU_add_test(s, "file body with sendfile", test_file_body);
    CU_add_test(s, "peer gone", test_peer_gone);
    CU_add_test(s, "error pages", test_error_pages);
    CU_add_test(s, "error after a failed parse", test_error_after_failed_parse);
    CU_add_test(s, "405 with Allow", test_405);
    CU_add_test(s, "status texts", test_status_text);
    CU_add_test(s, "access log line", test_access_log_line);
    CU_add_test(s, "dates", test_dates);
}
