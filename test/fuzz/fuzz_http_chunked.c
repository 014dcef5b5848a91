/*
 * fuzz_http_chunked.c - fuzzes the chunked body decoder
 * (server/http_chunked.c).
 *
 * The decoder promises the same answer however the body is split
 * between calls (bytes arrive from the socket in arbitrary pieces). So
 * each input is decoded twice: in one call, and in two calls split at a
 * point taken from the input. Both runs must agree on the result, the
 * bytes consumed and the decoded body, never write past out_cap and
 * never consume more than they were given.
 */
#include "fuzz.h"
#include "../../server/server.h"

#include <string.h>

typedef struct decode_result {
    int status;
    size_t consumed;
    size_t out_len;
} decode_result;

static void decode_step(http_chunked *st, const char *in, size_t len,
                        char *out, size_t cap, decode_result *r)
{
    size_t consumed = 0;
    r->status = http_chunked_decode(st, in, len, &consumed, out, &r->out_len,
                                    cap);
    FUZZ_CHECK(consumed <= len);
    FUZZ_CHECK(r->out_len <= cap);
    FUZZ_CHECK(r->status >= HTTP_CHUNKED_TOO_LARGE &&
               r->status <= HTTP_CHUNKED_DONE);
    if (r->status == HTTP_CHUNKED_MORE)
        FUZZ_CHECK(consumed == len);   /* "need more" means all was used */
    r->consumed += consumed;
}

static decode_result decode_split(const char *in, size_t len, size_t split,
                                  char *out, size_t cap)
{
    http_chunked st;
    decode_result r = {0, 0, 0};
    http_chunked_init(&st);
    decode_step(&st, in, split, out, cap, &r);
    if (r.status == HTTP_CHUNKED_MORE)
        decode_step(&st, in + split, len - split, out, cap, &r);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    size_t cap = fuzz_take_byte(&in) * 4u;     /* 0..1020: reaches 413 */
    size_t split = in.size ? fuzz_take_byte(&in) % (in.size + 1) : 0;
    if (split > in.size)
        split = in.size;

    char *body = fuzz_dup(in.data, in.size, 0);
    char *out1 = malloc(cap + 1), *out2 = malloc(cap + 1);
    FUZZ_CHECK(out1 && out2);

    decode_result whole = decode_split(body, in.size, in.size, out1, cap);
    decode_result parts = decode_split(body, in.size, split, out2, cap);

    FUZZ_CHECK(whole.status == parts.status);
    FUZZ_CHECK(whole.out_len == parts.out_len);
    FUZZ_CHECK(memcmp(out1, out2, whole.out_len) == 0);
    FUZZ_CHECK(whole.consumed == parts.consumed);

    free(out1);
    free(out2);
    free(body);
    return 0;
}
