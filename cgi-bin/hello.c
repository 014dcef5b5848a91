/*
 * hello.c - the example route module: GET or POST /hello[/...] answers
 * with a JSON picture of the request it received.
 *
 *   $ curl 'http://localhost:8080/hello/there?name=Ada' -H 'X-Demo: 1'
 *   {"greeting":"hello, Ada","method":"GET","path":"/hello/there", ...}
 *
 * Copy this file to start your own module (see cgi-bin/README.md): `make`
 * builds it into cgi-bin/<name>.so and the running server picks it up.
 */
#include "../router/route.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Adds key: string, or null when the text is not valid UTF-8. */
static void set_text(json_t *obj, const char *key, const char *text,
                     size_t len)
{
    json_t *value = text ? json_stringn(text, len) : NULL;
    json_object_set_new(obj, key, value ? value : json_null());
}

static void set_str(json_t *obj, const char *key, const char *text)
{
    set_text(obj, key, text, text ? strlen(text) : 0);
}

static json_t *some_headers(const rt_request *req)
{
    static const char *const names[] = { "Host", "User-Agent", "Accept",
                                         "Content-Type", "X-Demo" };
    json_t *headers = json_object();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = req->api->header(req, names[i]);
        if (value != NULL)
            set_str(headers, names[i], value);
    }
    return headers;
}

static int handle(const rt_request *req, rt_response *resp)
{
    const char *name = req->api->query_param(req, "name");
    char *greeting = req->api->alloc(req, 64 + (name ? strlen(name) : 5));
    if (greeting == NULL)
        return RT_ERROR;
    sprintf(greeting, "hello, %s", name && name[0] ? name : "world");

    json_t *answer = json_object();
    set_str(answer, "greeting", greeting);
    set_str(answer, "method", req->method);
    set_str(answer, "path", req->path);
    set_str(answer, "path_info", req->path_info);
    set_str(answer, "query", req->query);
    json_object_set_new(answer, "headers", some_headers(req));
    set_text(answer, "body", req->body, req->body_len);
    json_object_set_new(answer, "body_bytes", json_integer((json_int_t)req->body_len));
    set_str(answer, "client", req->remote_addr);

    int rc = resp->api->json(resp, 200, answer);
    json_decref(answer);
    return rc == 0 ? RT_OK : RT_ERROR;
}

const rt_module online_game_module = {
    .abi_version = RT_ABI_VERSION,
    .name = "hello",
    .methods = "GET, POST",
    .handle = handle,
};
