/*
 * fuzz_http_parse.c - fuzzes the HTTP request head parser
 * (server/http_parse.c): http_head_end finds the end of the head in the
 * raw bytes, http_parse_head parses it in place, exactly as the request
 * loop in http_conn.c does.
 *
 * Beyond "no crash, no out-of-bounds access", it checks what the rest of
 * the server relies on after a 0 return: method, target and path are
 * non-empty C strings inside the buffer, the path starts with "/" (or
 * is "*"), the header count is in range and Content-Length is -1 or >= 0,
 * and an error is one of the documented statuses.
 */
#include "fuzz.h"
#include "../../server/server.h"

#include <string.h>

static int inside(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

static void check_request(const http_request *req, const char *buf,
                          size_t len)
{
    FUZZ_CHECK(req->method && inside(req->method, buf, len));
    FUZZ_CHECK(req->method[0] != '\0');
    FUZZ_CHECK(req->target && inside(req->target, buf, len));
    FUZZ_CHECK(req->path && inside(req->path, buf, len));
    FUZZ_CHECK(req->path[0] == '/' || strcmp(req->path, "*") == 0);
    FUZZ_CHECK(req->query != NULL);
    FUZZ_CHECK(req->version_minor == 0 || req->version_minor == 1);
    FUZZ_CHECK(req->nheaders >= 0 && req->nheaders <= HTTP_MAX_HEADERS);
    FUZZ_CHECK(req->content_length >= -1);
    FUZZ_CHECK(!(req->chunked && req->content_length >= 0));
    for (int i = 0; i < req->nheaders; i++) {
        FUZZ_CHECK(inside(req->headers[i].name, buf, len));
        FUZZ_CHECK(inside(req->headers[i].value, buf, len));
        FUZZ_CHECK(req->headers[i].name[0] != '\0');
        FUZZ_CHECK(http_header_get(req, req->headers[i].name) != NULL);
    }
    (void)http_header_has_token(req, "Connection", "upgrade");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    /* The first byte picks the URI limit: small limits reach the 414
     * path with short inputs. */
    size_t max_uri = 1 + fuzz_take_byte(&in) * 16u;

    char *raw = fuzz_dup(in.data, in.size, 0);
    size_t head = http_head_end(raw, in.size);
    FUZZ_CHECK(head <= in.size);
    free(raw);
    if (head == 0)
        return 0;

    /* The parser writes into its buffer, as it does in the server. */
    char *buf = fuzz_dup(in.data, head, 0);
    http_request req;
    memset(&req, 0, sizeof req);
    int status = http_parse_head(buf, head, &req, max_uri);
    if (status == 0)
        check_request(&req, buf, head);
    else
        FUZZ_CHECK(status == 400 || status == 414 || status == 431 ||
                   status == 501 || status == 505);
    free(buf);
    return 0;
}
