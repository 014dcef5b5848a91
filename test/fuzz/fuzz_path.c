/*
 * fuzz_path.c - fuzzes the request path normaliser (router/path.c),
 * the one function that decides which file a URL may reach.
 *
 * For every input that it accepts (returns 0), the result must:
 *   - start with "/" and fit in the output buffer (NUL-terminated);
 *   - have no "." or ".." segment ("/./", "/../", or at the end), no
 *     empty segment ("//"), no "\" and no control byte;
 * and normalising it again must give the same path when it holds no
 * "%" (decoding is not idempotent: "%2525" -> "%25" -> "%"). A refused
 * input gets 400 or 403 and nothing else. The output buffer size comes
 * from the input and is an exact-size heap block, so an off-by-one
 * write is an AddressSanitizer report.
 */
#include "fuzz.h"
#include "../../router/router.h"

#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void check_normal_form(const char *out, size_t out_size)
{
    size_t n = strnlen(out, out_size);
    FUZZ_CHECK(n < out_size);               /* NUL-terminated inside */
    FUZZ_CHECK(out[0] == '/');
    FUZZ_CHECK(strstr(out, "/../") == NULL);
    FUZZ_CHECK(strstr(out, "/./") == NULL);
    FUZZ_CHECK(strstr(out, "//") == NULL);
    FUZZ_CHECK(!ends_with(out, "/..") && !ends_with(out, "/."));
    FUZZ_CHECK(strchr(out, '\\') == NULL);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    size_t out_size = fuzz_take_byte(&in);  /* 0..255, tiny ones too */
    char *raw = fuzz_dup(in.data, in.size, 1);
    char *out = malloc(out_size ? out_size : 1);
    FUZZ_CHECK(out != NULL);

    int status = rt_path_normalize(raw, out, out_size);
    FUZZ_CHECK(status == 0 || status == 400 || status == 403);
    if (status == 0) {
        check_normal_form(out, out_size);
        if (strchr(out, '%') == NULL) {
            char *again = malloc(out_size);
            FUZZ_CHECK(again != NULL);
            FUZZ_CHECK(rt_path_normalize(out, again, out_size) == 0);
            FUZZ_CHECK(strcmp(out, again) == 0);
            free(again);
        }
    }
    free(out);
    free(raw);
    return 0;
}
